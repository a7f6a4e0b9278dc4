"""``CompressionPlan``: a declarative, validated description of how to compress a model.

A plan has global defaults, per-layer overrides matched by exact name or glob pattern (later
rules win), layers (removable units) to drop and channel pruning. ``plan.apply(graph)``
returns the compressed op graph: precision and sparsity on each op, dropped units gone,
pruned channels reflected in shapes. With real masks, densities are the measured ones.

YAML form::

    defaults: {weight_bits: 8, act_bits: 8, format: int}
    layers:
      - {match: "conv1", weight_bits: 16, act_bits: 16}
      - {match: "layer4.*", weight_sparsity: 0.5, pattern: "2:4"}
    drop: [layer3.5]
    channel_prune:
      - {match: "layer1.*.conv1", keep: 0.5}
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hwsim.graph import Graph, NumberFormat, Op, OpKind, Precision, Sparsity, SparsityPattern
from workloads.compression.graph_ops import drop_units, prune_channels

if TYPE_CHECKING:
    import pandas as pd

_FORMATS = tuple(f.value for f in NumberFormat)
_PATTERNS = ("dense", "unstructured", "channel", "N:M (e.g. 2:4)")


def _parse_pattern(text: str) -> tuple[SparsityPattern, int, int]:
    if ":" in text:
        n, _, m = text.partition(":")
        if n.isdigit() and m.isdigit() and 1 <= int(n) < int(m):
            return SparsityPattern.NM, int(n), int(m)
    elif text in ("dense", "unstructured", "channel"):
        return SparsityPattern(text), 0, 0
    raise ValueError(f"pattern must be one of {', '.join(_PATTERNS)} with N < M, got {text!r}")


@dataclass(frozen=True, kw_only=True)
class LayerSettings:
    """Precision and sparsity settings; ``None`` fields inherit from the plan's defaults."""

    weight_bits: int | None = None
    act_bits: int | None = None
    format: str | None = None
    weight_sparsity: float | None = None
    act_sparsity: float | None = None
    pattern: str | None = None

    def __post_init__(self) -> None:
        for name in ("weight_bits", "act_bits"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)
                                  or not 1 <= v <= 32):
                raise ValueError(f"{name} must be an integer in 1..32, got {v!r}")
        for name in ("weight_sparsity", "act_sparsity"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int | float) or not 0.0 <= v < 1.0):
                raise ValueError(f"{name} must be in [0, 1), got {v!r}")
        if self.format is not None and self.format not in _FORMATS:
            raise ValueError(f"format must be one of {', '.join(_FORMATS)}, got {self.format!r}")
        if self.pattern is not None:
            _parse_pattern(self.pattern)

    def over(self, base: LayerSettings) -> LayerSettings:
        """These settings with unset fields taken from ``base``."""
        return replace(base, **{f.name: getattr(self, f.name) for f in fields(self)
                                if getattr(self, f.name) is not None})


DEFAULTS = LayerSettings(weight_bits=32, act_bits=32, format="fp32", weight_sparsity=0.0,
                         act_sparsity=0.0, pattern="dense")


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Settings applied to every op whose name matches ``match`` (exact or glob)."""

    match: str
    settings: LayerSettings


@dataclass(frozen=True, kw_only=True)
class ChannelRule:
    """Keep a fraction ``keep`` in (0, 1] of the output channels of matching convs."""

    match: str
    keep: float

    def __post_init__(self) -> None:
        if not isinstance(self.keep, int | float) or not 0.0 < self.keep <= 1.0:
            raise ValueError(f"channel_prune keep must be in (0, 1], got {self.keep!r}")


@dataclass(frozen=True, kw_only=True)
class CompressionPlan:
    """Global defaults, per-layer rules, units to drop and channel pruning."""

    defaults: LayerSettings = field(default_factory=LayerSettings)
    rules: tuple[Rule, ...] = ()
    drop: tuple[str, ...] = ()
    channel_prune: tuple[ChannelRule, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompressionPlan:
        """A plan from its dict form (as parsed from YAML); unknown keys are errors."""
        _only_keys(data, {"defaults", "layers", "drop", "channel_prune"}, "plan")
        rules = []
        for i, item in enumerate(data.get("layers") or []):
            if "match" not in item:
                raise ValueError(f"layers[{i}] needs a 'match' key (a layer name or pattern)")
            rules.append(Rule(match=str(item["match"]),
                              settings=_settings({k: v for k, v in item.items() if k != "match"},
                                                 f"layers[{i}]")))
        prune = []
        for i, item in enumerate(data.get("channel_prune") or []):
            _only_keys(item, {"match", "keep"}, f"channel_prune[{i}]")
            prune.append(ChannelRule(match=str(item["match"]), keep=item.get("keep", 1.0)))
        return cls(defaults=_settings(data.get("defaults") or {}, "defaults"),
                   rules=tuple(rules), drop=tuple(str(d) for d in data.get("drop") or ()),
                   channel_prune=tuple(prune))

    @classmethod
    def from_yaml(cls, text: str) -> CompressionPlan:
        """A plan from YAML text."""
        import yaml

        data = yaml.safe_load(text) or {}
        if not isinstance(data, Mapping):
            raise ValueError("plan YAML must be a mapping with defaults/layers/drop/channel_prune")
        return cls.from_dict(data)

    def settings_for(self, name: str) -> LayerSettings:
        """Effective settings of the op ``name`` (defaults, then matching rules in order)."""
        s = self.defaults.over(DEFAULTS)
        for rule in self.rules:
            if _matches(rule.match, name):
                s = rule.settings.over(s)
        return s

    def validate(self, graph: Graph) -> None:
        """Raise ``ValueError`` if a rule or a channel-prune pattern matches no op."""
        names = [op.name for op in graph.ops]
        for what, pattern in [("layers", r.match) for r in self.rules] + [
                ("channel_prune", r.match) for r in self.channel_prune]:
            if not any(_matches(pattern, n) for n in names):
                raise ValueError(f"{what}: {pattern!r} matches no op of {graph.name}")

    def apply(self, graph: Graph, masks: Mapping[str, np.ndarray] | None = None) -> Graph:
        """The compressed graph: units dropped, channels pruned, precision and sparsity set.

        ``masks`` maps op names to boolean weight masks; their measured density replaces
        the plan's nominal sparsity for those ops.
        """
        self.validate(graph)
        g = drop_units(graph, self.drop) if self.drop else graph
        if self.channel_prune:
            g = prune_channels(g, self._channel_keep(g))
        masks = masks or {}
        unknown = sorted(set(masks) - {op.name for op in g.ops})
        if unknown:
            raise ValueError(f"masks name ops not in the graph: {', '.join(unknown[:5])}")
        return g.map_ops(lambda op: self._compress_op(op, masks.get(op.name)))

    def _channel_keep(self, g: Graph) -> dict[str, int]:
        keep: dict[str, int] = {}
        for rule in self.channel_prune:
            for op in g.ops:
                if op.kind is OpKind.CONV2D and _matches(rule.match, op.name):
                    keep[op.name] = max(1, round(op.out_shape[1] * rule.keep))
        return keep

    def _compress_op(self, op: Op, mask: np.ndarray | None) -> Op:
        s = self.settings_for(op.name)
        precision = _precision(s)
        if op.kind is OpKind.INPUT or not op.weight_shape or op.kind not in (
                OpKind.CONV2D, OpKind.MATMUL):
            return op.replace(precision=precision)
        pattern, n, m = _parse_pattern(str(s.pattern))
        density = 1.0 - float(s.weight_sparsity or 0.0)
        if pattern is SparsityPattern.DENSE and density < 1.0:
            pattern = SparsityPattern.UNSTRUCTURED  # a sparsity without a pattern
        if mask is not None:
            density = max(float(np.count_nonzero(mask)) / mask.size, 1.0 / mask.size)
        if pattern is SparsityPattern.NM and mask is None:
            density = n / m
        if density == 1.0 and pattern is not SparsityPattern.NM:
            pattern = SparsityPattern.DENSE
        sparsity = Sparsity(weight_density=density, act_density=1.0 - float(s.act_sparsity or 0),
                            pattern=pattern, n=n, m=m)
        return op.replace(precision=precision, sparsity=sparsity)


def _matches(pattern: str, name: str) -> bool:
    return pattern == name or fnmatch.fnmatchcase(name, pattern)


def _only_keys(data: Any, allowed: set[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(data).__name__}")
    extra = sorted(set(data) - allowed)
    if extra:
        allowed_text = ", ".join(sorted(allowed))
        raise ValueError(f"{where}: unknown key {extra[0]!r}; allowed: {allowed_text}")


def _settings(data: Mapping[str, Any], where: str) -> LayerSettings:
    _only_keys(data, {f.name for f in fields(LayerSettings)}, where)
    try:
        return LayerSettings(**data)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _precision(s: LayerSettings) -> Precision:
    fmt = NumberFormat(s.format)
    # Bit widths below 32 without a format mean integers (fp32 has no other width).
    narrow = (s.weight_bits, s.act_bits) != (32, 32)
    if fmt is NumberFormat.INT or (fmt is NumberFormat.FP32 and narrow):
        return Precision.integer(weight_bits=int(s.weight_bits or 32),
                                 act_bits=int(s.act_bits or 32))
    return Precision.of(fmt.value)


def compare_graphs(before: Graph, after: Graph) -> pd.DataFrame:
    """What compression changed: ops, MACs, params, weight and activation bytes, density.

    One row per quantity with columns ``before``, ``after`` and ``ratio`` (after / before).
    """
    import pandas as pd

    def stats(g: Graph) -> dict[str, float]:
        mac_ops = [op for op in g.ops if op.macs and op.weight_shape]
        weighted = sum(op.macs for op in mac_ops)
        return {
            "ops": len(g),
            "macs": g.macs,
            "params": g.params,
            "weight_bytes": g.weight_bytes,
            "stored_weight_bytes": sum(op.weight_bytes * op.sparsity.weight_density
                                       for op in g.ops if not op.weight_tied_to),
            "activation_bytes": sum(op.output_bytes for op in g.ops),
            "mac_weighted_density": sum(op.macs * op.sparsity.weight_density
                                        for op in mac_ops) / weighted if weighted else 1.0,
        }

    b, a = stats(before), stats(after)
    rows = [(k, b[k], a[k], a[k] / b[k] if b[k] else float("nan")) for k in b]
    return pd.DataFrame(rows, columns=["quantity", "before", "after", "ratio"])
