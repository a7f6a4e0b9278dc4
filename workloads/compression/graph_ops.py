"""Structural graph transforms: dropping removable units and pruning channels.

Both return a new, validated ``Graph``. A *removable unit* is a residual name scope (``layer3.2``,
``h5``): its ops take exactly one tensor from outside the scope, that tensor feeds a residual
add inside it, and the scope hands exactly one tensor of the same shape on. Removing it
rewires its consumers to its input, so every shape still holds (a residual block or a
transformer layer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from hwsim.graph import Graph, Op, OpKind


def _scopes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _unit_boundary(graph: Graph, prefix: str) -> tuple[str, str] | None:
    """(input op, output op) of the unit ``prefix``, or None if it is not removable."""
    inside = {op.name for op in graph.ops if op.name.startswith(prefix + ".")}
    if not inside:
        return None
    sources = {src for name in inside for src in graph[name].inputs if src not in inside}
    sinks = {name for name in inside
             if not graph.consumers(name) or any(c not in inside for c in graph.consumers(name))}
    if len(sources) != 1 or len(sinks) != 1:
        return None
    src, sink = next(iter(sources)), next(iter(sinks))
    residual = any(graph[c].func == "add" for c in graph.consumers(src) if c in inside)
    if not residual or graph[src].out_shape != graph[sink].out_shape:
        return None
    return src, sink


def removable_units(graph: Graph) -> tuple[str, ...]:
    """Scopes whose removal keeps the graph valid (residual blocks, transformer layers)."""
    prefixes = dict.fromkeys(p for op in graph.ops for p in _scopes(op.name))
    return tuple(p for p in prefixes if _unit_boundary(graph, p) is not None)


def drop_units(graph: Graph, units: list[str] | tuple[str, ...]) -> Graph:
    """The graph without ``units``; consumers of each unit read the unit's input instead."""
    ops = {op.name: op for op in graph.ops}
    allowed = removable_units(graph)
    for i, unit in enumerate(units):
        if unit not in allowed:
            raise ValueError(
                f"drop: {unit!r} is not a removable unit; removable: {', '.join(allowed) or '-'}"
            )
        overlap = next((u for u in units[:i] if _overlap(u, unit)), None)
        if overlap is not None:
            raise ValueError(f"drop: {unit!r} overlaps {overlap!r}, which is dropped already")
        current = Graph(tuple(ops.values()), name=graph.name)
        boundary = _unit_boundary(current, unit)
        if boundary is None:
            raise ValueError(f"drop: {unit!r} is no longer removable after earlier drops")
        src, sink = boundary
        ops = {n: op for n, op in ops.items() if not n.startswith(unit + ".")}
        ops = {n: _rewire(op, sink, src) for n, op in ops.items()}
    return Graph(tuple(ops.values()), name=graph.name)


def _overlap(a: str, b: str) -> bool:
    """True when unit scopes ``a`` and ``b`` are equal or one contains the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _rewire(op: Op, old: str, new: str) -> Op:
    if old not in op.inputs:
        return op
    return op.replace(inputs=tuple(new if s == old else s for s in op.inputs))


def prune_channels(graph: Graph, keep: Mapping[str, int]) -> Graph:
    """Shrink the output channels of convs (``keep[name]`` channels kept) and propagate.

    Consumers shrink accordingly: batch norms and activations follow, depthwise convs keep
    one group per channel, the next conv's (or linear's, after a flatten) input shrinks.
    A pruned tensor that meets an unpruned one (a residual add) raises ``ValueError``.
    """
    for name, k in keep.items():
        if name not in graph or graph[name].kind is not OpKind.CONV2D:
            raise ValueError(f"channel_prune: {name!r} is not a conv2d op of {graph.name}")
        if not 1 <= k <= graph[name].out_shape[1]:
            raise ValueError(
                f"channel_prune: {name!r} keeps {k} channels, allowed 1..{graph[name].out_shape[1]}"
            )
        if _is_depthwise(graph[name]) and k != graph[name].out_shape[1]:
            raise ValueError(f"channel_prune: {name!r} is a depthwise conv, whose channels "
                             "follow its input; prune the conv that feeds it instead")
    shapes: dict[str, tuple[int, ...]] = {}
    new_ops = []
    try:
        for op in graph.ops:
            in_shapes = tuple(shapes[s] for s in op.inputs)
            new = _reshape_op(op, in_shapes, keep.get(op.name))
            shapes[op.name] = new.out_shape
            new_ops.append(new)
        return Graph(tuple(new_ops), name=graph.name)
    except ValueError as exc:
        raise ValueError(f"channel_prune: pruned channels meet unpruned ones: {exc}") from exc


def _reshape_op(op: Op, in_shapes: tuple[tuple[int, ...], ...], keep: int | None) -> Op:
    if in_shapes == op.in_shapes and keep is None:
        return op
    if op.kind is OpKind.CONV2D:
        return _reshape_conv(op, in_shapes[0], keep)
    if op.kind is OpKind.MATMUL and op.weight_shape:
        k_in = in_shapes[0][-1]
        return op.replace(in_shapes=in_shapes, out_shape=(*in_shapes[0][:-1], op.out_shape[-1]),
                          weight_shape=(k_in, op.weight_shape[1]))
    if op.kind is OpKind.RESHAPE and op.func == "flatten":
        n = in_shapes[0][0]
        return op.replace(in_shapes=in_shapes, out_shape=(n, math.prod(in_shapes[0][1:])))
    if op.kind is OpKind.CONCAT:
        axis = int(op.func or 1) % len(op.out_shape)
        out = list(in_shapes[0])
        out[axis] = sum(s[axis] for s in in_shapes)
        return op.replace(in_shapes=in_shapes, out_shape=tuple(out))
    if op.kind is OpKind.POOL:
        out = (*in_shapes[0][:2], *op.out_shape[2:])
        return op.replace(in_shapes=in_shapes, out_shape=out)
    if op.kind is OpKind.NORM:
        c = in_shapes[0][1]
        return op.replace(in_shapes=in_shapes, out_shape=in_shapes[0],
                          weight_shape=(op.weight_shape[0], c))
    return op.replace(in_shapes=in_shapes, out_shape=in_shapes[0])


def _is_depthwise(op: Op) -> bool:
    """One group per input and per output channel."""
    return op.groups > 1 and op.groups == op.in_shapes[0][1] == op.out_shape[1]


def _reshape_conv(op: Op, x: tuple[int, ...], keep: int | None) -> Op:
    c_new = x[1]
    k_out = op.out_shape[1]
    groups = op.groups
    if _is_depthwise(op):  # follows its input
        groups = k_out = c_new
    if keep is not None:
        k_out = keep
    _, _, kh, kw = op.weight_shape
    return op.replace(in_shapes=(x,), out_shape=(x[0], k_out, *op.out_shape[2:]),
                      weight_shape=(k_out, c_new // groups, kh, kw), groups=groups)


def rank_units(graph: Graph, importance: Mapping[str, float]) -> tuple[str, ...]:
    """Removable units of ``graph`` ordered from least to most important.

    ``importance`` maps unit names to a score (e.g. the accuracy lost when the unit is
    dropped, or a gradient-based saliency); every removable unit must have one.
    """
    units = removable_units(graph)
    missing = [u for u in units if u not in importance]
    if missing:
        raise ValueError(f"importance has no score for removable unit(s) {missing[:5]}")
    unknown = sorted(set(importance) - set(units))
    if unknown:
        raise ValueError(f"importance names {unknown[:5]}, which are not removable units; "
                         f"removable: {', '.join(units) or '-'}")
    return tuple(sorted(units, key=lambda u: (importance[u], units.index(u))))


def drop_least_important(graph: Graph, importance: Mapping[str, float], n: int) -> Graph:
    """The graph without its ``n`` least important removable units (still valid).

    Units nest (a ResNet stage without a downsample holds removable blocks): a unit that
    overlaps one already chosen is passed over, so ``n`` counts disjoint units.
    """
    ranked = rank_units(graph, importance)
    chosen: list[str] = []
    for unit in ranked:
        if not any(_overlap(unit, c) for c in chosen):
            chosen.append(unit)
    if not isinstance(n, int) or not 0 <= n <= len(chosen):
        raise ValueError(f"n must be an integer in 0..{len(chosen)} (disjoint removable units), "
                         f"got {n!r}")
    return drop_units(graph, chosen[:n])
