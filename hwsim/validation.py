"""Checks shared by every reader of user mappings (plans, sweep configs, spaces)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


def only_keys(data: Any, allowed: Collection[str], where: str) -> Mapping[str, Any]:
    """``data`` if it is a mapping whose keys are all in ``allowed``.

    Raises ``ValueError`` naming ``where``, the first unknown key and the allowed ones.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(data).__name__}")
    extra = sorted(str(k) for k in data if k not in allowed)
    if extra:
        allowed_text = ", ".join(sorted(allowed))
        raise ValueError(f"{where}: unknown key {extra[0]!r}; allowed: {allowed_text}")
    return data
