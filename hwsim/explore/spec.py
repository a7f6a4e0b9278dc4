"""Declarations of design spaces in YAML (or the equivalent dict), validated once.

The accepted shape::

    parameters:
      rows: {values: [16, 32, 64, 128]}            # Choice
      cols: {low: 16, high: 256, log: true, type: int}   # IntRange
      clock_hz: {low: 2.0e8, high: 1.0e9}          # FloatRange (low/high not both ints)
      pes: {low: 4, high: 64, step: 4}             # IntRange with a step
    constraints: ["rows * cols <= 16384"]

A range's ``type`` is ``int`` or ``float``; without it the range is ``int`` when ``low``
and ``high`` are both integers and ``float`` otherwise. ``step`` applies to ``int`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwsim.explore.space import Choice, FloatRange, IntRange, Parameter, Space, _is_int
from hwsim.validation import load_yaml, only_keys

_TOP_KEYS = ("parameters", "constraints")
_CHOICE_FIELDS = ("values",)
_RANGE_FIELDS = ("low", "high", "step", "log", "type")


def space_from_yaml_text(text: str) -> Space:
    """Parse YAML text into a :class:`Space`; any malformed input raises ValueError."""
    return space_from_dict(load_yaml(text, "space"))


def space_from_dict(spec: Any) -> Space:
    """Build a :class:`Space` from a mapping with ``parameters`` and ``constraints``."""
    only_keys(spec, _TOP_KEYS, "space")
    parameters = spec.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValueError(
            f"space: 'parameters' must be a non-empty mapping of name -> fields, got {parameters!r}"
        )
    constraints = spec.get("constraints") or []
    if not isinstance(constraints, list) or not all(isinstance(c, str) for c in constraints):
        raise ValueError(
            f"space: 'constraints' must be a list of expression strings, got {constraints!r}"
        )
    params = [parameter_from_dict(name, fields) for name, fields in parameters.items()]
    return Space(params, constraints)


def parameter_from_dict(name: Any, fields: Any) -> Parameter:
    """Build one parameter from its declared fields (see the module docstring)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"parameter name must be a Python identifier, got {name!r}")
    if not isinstance(fields, Mapping):
        raise ValueError(
            f"parameter {name!r}: declaration must be a mapping with 'values' or 'low'/'high', "
            f"got {fields!r}"
        )
    if "values" in fields:
        _check_fields(name, fields, _CHOICE_FIELDS)
        if not isinstance(fields["values"], list):
            raise ValueError(
                f"parameter {name!r}: field 'values' must be a non-empty list, "
                f"got {fields['values']!r}"
            )
        return Choice(name, fields["values"])
    _check_fields(name, fields, _RANGE_FIELDS)
    return _range_from_dict(name, fields)


def _check_fields(name: str, fields: Mapping[Any, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(str(k) for k in fields if k not in allowed)
    if unknown:
        raise ValueError(
            f"parameter {name!r}: unknown field {unknown[0]!r}; allowed fields: 'values' "
            f"(a choice) or {', '.join(repr(f) for f in _RANGE_FIELDS)} (a range)"
        )


def _range_from_dict(name: str, fields: Mapping[str, Any]) -> Parameter:
    for required in ("low", "high"):
        if required not in fields:
            raise ValueError(
                f"parameter {name!r}: field {required!r} is missing; a range needs 'low' and "
                "'high', a choice needs 'values'"
            )
    low, high, log = fields["low"], fields["high"], fields.get("log", False)
    kind = fields.get("type", "int" if _is_int(low) and _is_int(high) else "float")
    if kind not in ("int", "float"):
        raise ValueError(f"parameter {name!r}: field 'type' must be 'int' or 'float', got {kind!r}")
    if kind == "float":
        if "step" in fields:
            raise ValueError(
                f"parameter {name!r}: field 'step' is allowed only with type 'int', "
                f"got step={fields['step']!r}"
            )
        return FloatRange(name, low, high, log=log)
    return IntRange(name, low, high, step=fields.get("step", 1), log=log)
