"""Reading and checking user files: YAML with one-line errors, mappings with known keys."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import yaml


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


class _Loader(yaml.SafeLoader):
    """Safe YAML that also reads ``1e8`` (exponent, no dot) as a float, as YAML 1.2 does."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str, what: str) -> Any:
    """The data in YAML ``text``; a syntax error raises a one-line ValueError naming ``what``.

    Numbers in exponent form without a dot (``1e8``) are floats, not strings.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no object tags
    except yaml.YAMLError as exc:
        raise ValueError(f"{what} {yaml_error_text(exc)}") from exc


def yaml_error_text(exc: Exception) -> str:
    """A YAML parser error in one line: where it is and what is wrong."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [""])[0]
    return f"is not valid YAML{where}: {problem}"
