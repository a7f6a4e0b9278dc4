"""Atomic writes: complete files or none, and errors that name the file asked for."""

import pytest

from hwsim.fileio import atomic_write_bytes, atomic_write_text


def test_write_creates_folders_and_leaves_no_temporary(tmp_path):
    """Missing folders are created and only the target remains."""
    target = atomic_write_text(tmp_path / "a" / "b" / "out.csv", "x\n1\n")
    assert target.read_text() == "x\n1\n"
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["out.csv"]


@pytest.mark.parametrize("where", ["folder", "under_a_file"])
def test_failed_write_names_the_target_not_the_temporary(tmp_path, where):
    """Writing over a folder or below a file raises OSError naming the target only."""
    (tmp_path / "taken").mkdir()
    (tmp_path / "file.txt").write_text("x")
    target = tmp_path / ("taken" if where == "folder" else "file.txt/out.csv")
    with pytest.raises(OSError, match=f"cannot write '{target}'") as info:
        atomic_write_bytes(target, b"data")
    assert ".tmp" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "taken"]
    assert not list((tmp_path / "taken").iterdir())
