"""The digits models lowered to op graphs (layers of a removable block live in a scope
named after the block, e.g. ``conv3.conv3``)."""

from __future__ import annotations

from hwsim.graph import Graph
from workloads.accuracy.models import LayerSpec, specs
from workloads.builder import GraphBuilder, Tensor


def op_name(spec: LayerSpec) -> str:
    """Graph op name of a digits layer (scoped by its removable block, if any)."""
    return f"{spec.block}.{spec.name}" if spec.block else spec.name


def _lower(b: GraphBuilder, spec: LayerSpec, xs: list[Tensor]) -> Tensor:
    name = op_name(spec)
    if spec.kind == "conv2d":
        return b.conv2d(xs[0], spec.out_channels, spec.kernel, stride=spec.stride,
                        padding=spec.padding, bias=True, name=name)
    if spec.kind == "linear":
        return b.linear(xs[0], spec.out_channels, name=name)
    if spec.kind == "maxpool":
        return b.pool(xs[0], spec.kernel, stride=spec.stride, name=name)
    if spec.kind == "add":
        return b.add(xs[0], xs[1], name=name)
    if spec.kind == "flatten":
        return b.flatten(xs[0], name=name)
    if spec.kind == "softmax":
        return b.softmax(xs[0], name=name)
    return b.relu(xs[0], name=name)


def digits_graph(model_name: str, *, batch: int = 1) -> Graph:
    """The op graph of digits model ``model_name`` ('mlp' or 'cnn') at ``batch``."""
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    layers = specs(model_name)
    b = GraphBuilder(f"digits_{model_name}")
    tensors = {"input": b.input((batch, *layers[0].input_shape[1:]))}
    for spec in layers:
        tensors[spec.name] = _lower(b, spec, [tensors[s] for s in spec.inputs])
    return b.build()


def digits_mlp(*, batch: int = 1) -> Graph:
    """The digits MLP (64-128-64-10) as an op graph."""
    return digits_graph("mlp", batch=batch)


def digits_cnn(*, batch: int = 1) -> Graph:
    """The digits CNN (two convs, max-pool, residual conv block, linear) as an op graph."""
    return digits_graph("cnn", batch=batch)
