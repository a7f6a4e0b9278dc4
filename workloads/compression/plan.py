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
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hwsim.graph import Graph, NumberFormat, Op, OpKind, Precision, Sparsity, SparsityPattern
from hwsim.validation import load_yaml, only_keys
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
        _check_bits_fit_format(self, self.format)
        if self.pattern is not None:
            _parse_pattern(self.pattern)
        _check_sparsity_fits_pattern(self, self.pattern)

    def over(self, base: LayerSettings) -> LayerSettings:
        """These settings with unset fields taken from ``base``; what is set later wins.

        A float format set here without widths brings its own width, and a pattern set here
        without a sparsity brings its own (N:M: 1 - N/M, dense: 0). Widths set here must fit
        a float format taken from ``base``, and a sparsity an N:M pattern taken from it
        (``ValueError`` otherwise); a sparsity over a dense pattern makes it unstructured.
        """
        if self.format is None:
            _check_bits_fit_format(self, base.format, inherited=True)
        if self.pattern is None:
            _check_sparsity_fits_pattern(self, base.pattern, inherited=True)
        return replace(base, **{**self.set_fields(), **_implied(self, base)})

    def set_fields(self) -> dict[str, Any]:
        """The fields given a value (not ``None``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}

    def resolved(self) -> LayerSettings:
        """Every field set: unset widths are those of the format (32 bits for integers and
        fp32); no format means integers when a width is below 32 and fp32 otherwise; no
        pattern means unstructured when there is a sparsity and dense otherwise."""
        narrow = (self.weight_bits or 32, self.act_bits or 32) != (32, 32)
        fmt = self.format or ("int" if narrow else "fp32")
        if fmt == "int" and self.weight_bits is None and self.act_bits is None:
            raise ValueError("format int needs weight_bits and/or act_bits (1..32)")
        width = NumberFormat(fmt).fixed_bits or 32
        pattern = self.pattern or ("unstructured" if self.weight_sparsity else "dense")
        return replace(DEFAULTS, **{"format": fmt, "weight_bits": width, "act_bits": width,
                                    "pattern": pattern, **self.set_fields()})


def _implied(s: LayerSettings, base: LayerSettings) -> dict[str, Any]:
    """Fields that ``s`` implies for those it leaves unset (see ``LayerSettings.over``)."""
    out: dict[str, Any] = {}
    width = NumberFormat(s.format).fixed_bits if s.format else None
    if width is not None:
        out.update(weight_bits=s.weight_bits or width, act_bits=s.act_bits or width)
    if s.pattern is not None and s.weight_sparsity is None:
        pattern, n, m = _parse_pattern(s.pattern)
        if pattern is SparsityPattern.NM:
            out["weight_sparsity"] = 1.0 - n / m
        elif pattern is SparsityPattern.DENSE:
            out["weight_sparsity"] = 0.0
    if s.weight_sparsity and s.pattern is None and base.pattern in (None, "dense"):
        out["pattern"] = "unstructured"
    return out


def _check_bits_fit_format(s: LayerSettings, fmt: str | None, *, inherited: bool = False
                           ) -> None:
    width = NumberFormat(fmt).fixed_bits if fmt else None
    for name in ("weight_bits", "act_bits"):
        bits = getattr(s, name)
        if width is not None and bits is not None and bits != width:
            source = "inherited " if inherited else ""
            raise ValueError(f"{name}={bits} does not fit the {source}format {fmt} ({width} "
                             f"bits); set format: int for {bits}-bit integers")


def _check_sparsity_fits_pattern(s: LayerSettings, text: str | None, *,
                                 inherited: bool = False) -> None:
    sparsity = s.weight_sparsity
    if sparsity is None or text is None:
        return
    pattern, n, m = _parse_pattern(text)
    if pattern is SparsityPattern.DENSE and sparsity > 0 and not inherited:
        raise ValueError(f"weight_sparsity={sparsity} contradicts pattern dense; use "
                         "unstructured, channel or N:M")
    if pattern is SparsityPattern.NM and not math.isclose(sparsity, 1.0 - n / m):
        source = "inherited " if inherited else ""
        raise ValueError(f"weight_sparsity={sparsity} does not fit the {source}pattern {n}:{m} "
                         f"(sparsity {1.0 - n / m:g}); give a pattern with it")


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
        only_keys(data, {"defaults", "layers", "drop", "channel_prune"}, "plan")
        rules = []
        layers = data.get("layers") or []
        if not isinstance(layers, list):
            raise ValueError("layers must be a list of rules like {match: 'conv1', "
                             f"weight_bits: 4}}, got {type(layers).__name__}")
        for i, item in enumerate(layers):
            only_keys(item, {"match", *(f.name for f in fields(LayerSettings))}, f"layers[{i}]")
            if "match" not in item:
                raise ValueError(f"layers[{i}] needs a 'match' key (a layer name or pattern)")
            rules.append(Rule(match=str(item["match"]),
                              settings=_settings({k: v for k, v in item.items() if k != "match"},
                                                 f"layers[{i}]")))
        prune = []
        for i, item in enumerate(data.get("channel_prune") or []):
            only_keys(item, {"match", "keep"}, f"channel_prune[{i}]")
            prune.append(ChannelRule(match=str(item["match"]), keep=item.get("keep", 1.0)))
        return cls(defaults=_settings(data.get("defaults") or {}, "defaults"),
                   rules=tuple(rules), drop=tuple(str(d) for d in data.get("drop") or ()),
                   channel_prune=tuple(prune))

    @classmethod
    def from_yaml(cls, text: str) -> CompressionPlan:
        """A plan from YAML text."""
        data = load_yaml(text, "plan") or {}
        if not isinstance(data, Mapping):
            raise ValueError("plan YAML must be a mapping with defaults/layers/drop/channel_prune")
        return cls.from_dict(data)

    def settings_for(self, name: str) -> LayerSettings:
        """Effective settings of the op ``name`` (defaults, then matching rules in order),
        every field set (see ``LayerSettings.resolved``)."""
        s = self.defaults.over(LayerSettings())
        for i, rule in enumerate(self.rules):
            if _matches(rule.match, name):
                try:
                    s = rule.settings.over(s)
                except ValueError as exc:
                    raise ValueError(f"layers[{i}] ({rule.match!r}) on op {name!r}: "
                                     f"{exc}") from exc
        try:
            return s.resolved()
        except ValueError as exc:
            raise ValueError(f"op {name!r}: {exc}") from exc

    def validate(self, graph: Graph) -> None:
        """Raise ``ValueError`` if a rule matches no op, a channel-prune pattern matches no
        conv2d, or an op's settings contradict each other."""
        names = [op.name for op in graph.ops]
        for i, rule in enumerate(self.rules):
            if not any(_matches(rule.match, n) for n in names):
                raise ValueError(f"layers[{i}]: {rule.match!r} matches no op of {graph.name}")
        convs = [op.name for op in graph.ops if op.kind is OpKind.CONV2D]
        for i, prune in enumerate(self.channel_prune):
            if not any(_matches(prune.match, n) for n in convs):
                raise ValueError(f"channel_prune[{i}]: {prune.match!r} matches no conv2d op of "
                                 f"{graph.name} (channel pruning applies to convolutions)")
        for n in names:
            self.settings_for(n)

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
        _check_masks(g, masks)
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
            if pattern is SparsityPattern.DENSE and density < 1.0:
                pattern = SparsityPattern.UNSTRUCTURED  # measured zeros with no pattern
        if pattern is SparsityPattern.NM and mask is None:
            density = n / m
        if density == 1.0 and pattern is not SparsityPattern.NM:
            pattern = SparsityPattern.DENSE
        sparsity = Sparsity(weight_density=density, act_density=1.0 - float(s.act_sparsity or 0),
                            pattern=pattern, n=n, m=m)
        return op.replace(precision=precision, sparsity=sparsity)


def _matches(pattern: str, name: str) -> bool:
    return pattern == name or fnmatch.fnmatchcase(name, pattern)


def _settings(data: Mapping[str, Any], where: str) -> LayerSettings:
    only_keys(data, {f.name for f in fields(LayerSettings)}, where)
    try:
        return LayerSettings(**data)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _precision(s: LayerSettings) -> Precision:
    """Precision of resolved settings (widths already fit a float format)."""
    fmt = NumberFormat(str(s.format))
    if fmt is NumberFormat.INT:
        return Precision.integer(weight_bits=int(s.weight_bits or 32),
                                 act_bits=int(s.act_bits or 32))
    return Precision.of(fmt.value)


def _check_masks(g: Graph, masks: Mapping[str, np.ndarray]) -> None:
    """Masks must name conv2d / matmul ops with weights and hold one entry per weight."""
    unknown = sorted(set(masks) - {op.name for op in g.ops})
    if unknown:
        raise ValueError(f"masks name ops not in the graph: {', '.join(unknown[:5])}")
    for name, mask in masks.items():
        op = g[name]
        if op.kind not in (OpKind.CONV2D, OpKind.MATMUL) or not op.weight_shape:
            raise ValueError(f"masks[{name!r}]: op {name!r} is a {op.kind.value} without a "
                             "weight tensor to mask; masks apply to conv2d and matmul weights")
        if np.size(mask) != math.prod(op.weight_shape):
            raise ValueError(f"masks[{name!r}] has {np.size(mask)} entries but op {name!r} has "
                             f"{math.prod(op.weight_shape)} weights {op.weight_shape}")


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
            "stored_weight_bytes": sum(op.owned_weight_bytes * op.sparsity.weight_density
                                       for op in g.ops),
            "activation_bytes": sum(op.output_bytes for op in g.ops),
            "mac_weighted_density": sum(op.macs * op.sparsity.weight_density
                                        for op in mac_ops) / weighted if weighted else 1.0,
        }

    b, a = stats(before), stats(after)
    rows = [(k, b[k], a[k], a[k] / b[k] if b[k] else float("nan")) for k in b]
    return pd.DataFrame(rows, columns=["quantity", "before", "after", "ratio"])
