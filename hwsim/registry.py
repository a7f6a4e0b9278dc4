"""Names users type, mapped to workload builders, accelerator families and presets.

Lookups validate at the boundary: an unknown name or parameter raises ``ValueError`` that
lists what is allowed. Accelerator families are imported lazily so that ``hwsim list`` and
``hwsim graph`` start quickly.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from hwsim.graph import Graph

#: Accelerator families: name -> (module, config class, presets dict) attribute names.
ACCELERATORS: dict[str, tuple[str, str, str]] = {
    "systolic": ("accelerators.systolic", "SystolicConfig", "PRESETS"),
    "cpu": ("accelerators.cpu", "CPUConfig", "PRESETS"),
    "gpu": ("accelerators.gpu", "GPUConfig", "PRESETS"),
}


def models() -> dict[str, Callable[..., Graph]]:
    """Workload builders by name: the zoo plus the trained digits models."""
    from workloads.accuracy.lower import digits_cnn, digits_mlp
    from workloads.zoo import MODELS

    return {**MODELS, "digits_mlp": digits_mlp, "digits_cnn": digits_cnn}


def model_params(name: str) -> dict[str, Any]:
    """Keyword parameters of a model builder with their defaults."""
    builder = _lookup(models(), name, "model")
    return {
        p.name: p.default
        for p in inspect.signature(builder).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def build_model(name: str, params: Mapping[str, Any] | None = None) -> Graph:
    """Build the zoo model ``name`` with keyword ``params`` (validated against its signature)."""
    params = dict(params or {})
    allowed = model_params(name)
    for key in params:
        if key not in allowed:
            raise ValueError(
                f"unknown parameter {key!r} for model {name}; allowed: {', '.join(allowed)}"
            )
    return models()[name](**params)


def _lookup(table: Mapping[str, Any], name: str, what: str) -> Any:
    if name not in table:
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(sorted(table))}")
    return table[name]


def accelerator_family(family: str) -> tuple[type, dict[str, Any]]:
    """The config class and presets of an accelerator family."""
    module_name, cls_name, presets_name = _lookup(ACCELERATORS, family, "accelerator")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, cls_name), dict(getattr(module, presets_name, {}))
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"accelerator {family!r} is not available: {exc}") from exc


def available_accelerators() -> dict[str, list[str]]:
    """Families that import, each with its preset names."""
    out = {}
    for family in ACCELERATORS:
        try:
            _, presets = accelerator_family(family)
        except ValueError:
            continue
        out[family] = sorted(presets)
    return out


def make_accelerator(family: str, preset: str | None = None,
                     overrides: Mapping[str, Any] | None = None) -> Any:
    """A config of ``family`` from a preset (or the class defaults) with fields overridden."""
    cls, presets = accelerator_family(family)
    base = _lookup(presets, preset, f"{family} preset") if preset else cls()
    return replace_fields(base, overrides)


def replace_fields(base: Any, overrides: Mapping[str, Any] | None) -> Any:
    """``base`` (a config dataclass) with ``overrides`` applied; unknown fields are errors."""
    overrides = dict(overrides or {})
    names = {f.name for f in dataclasses.fields(base)}
    for key in overrides:
        if key not in names:
            allowed = ", ".join(sorted(names))
            raise ValueError(f"unknown field {key!r} for {type(base).__name__}; allowed: {allowed}")
    return dataclasses.replace(base, **overrides) if overrides else base


#: Families whose presets can be read from YAML: family -> (module, function).
PRESET_LOADERS = {"cpu": ("accelerators.calibrate", "load_preset")}


def preset_loader(family: str) -> Callable[[str], Any]:
    """The function that reads ``family`` presets from YAML text."""
    if family not in PRESET_LOADERS:
        raise ValueError(f"accelerator {family!r} has no YAML presets; "
                         f"families with them: {', '.join(PRESET_LOADERS)}")
    module, name = PRESET_LOADERS[family]
    return getattr(importlib.import_module(module), name)


def load_preset_file(family: str, text: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """A config of ``family`` from preset YAML text (e.g. written by `hwsim calibrate`)."""
    return replace_fields(preset_loader(family)(text), overrides)


def parse_value(text: str) -> Any:
    """A CLI value as int, float, bool or str (in that order of preference)."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            continue
    return text


def parse_assignments(items: list[str] | None, what: str = "--set") -> dict[str, Any]:
    """``['k=v', ...]`` as a dict of parsed values; a malformed item raises ``ValueError``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out
