"""The digits models as data: layer specs, initial weights, and a forward/backward interpreter.

A model is a tuple of :class:`LayerSpec` in topological order. The same tuple drives the
NumPy forward and backward passes here and, later, the lowering to an op graph. Layers
that carry weights (``conv2d``, ``linear``) are named ``conv1``, ``fc1``, ...; their
weights are keyed by that name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np

from workloads.accuracy import layers

KINDS = ("conv2d", "linear", "relu", "maxpool", "add", "flatten", "softmax")
WEIGHTED_KINDS = ("conv2d", "linear")
MODEL_NAMES = ("mlp", "cnn")
INPUT_SHAPE = (1, 1, 8, 8)
NUM_CLASSES = 10

ActTransform = Callable[[str, np.ndarray], np.ndarray]


@dataclass(frozen=True, kw_only=True)
class LayerSpec:
    """One layer of a model, with its tensor shapes at batch size 1.

    Attributes
    ----------
    name : str
        Unique layer name; weighted layers key their weights by it.
    kind : str
        One of ``KINDS``.
    inputs : tuple of str
        Names of the producing layers; ``"input"`` is the model input.
    input_shape, output_shape : tuple of int
        Shapes at batch size 1 (NCHW, or ``(1, features)`` after flatten). For ``add`` the
        input shape is that of each operand.
    in_channels, out_channels : int
        Channels (features for ``linear``).
    kernel, stride, padding : int
        Square kernel size, stride and zero padding (pixels); 1, 1, 0 where meaningless.
    block : str or None
        Name of the removable block this layer belongs to; dropping the block turns each of
        its layers into the identity on its first input.
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    in_channels: int
    out_channels: int
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    block: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kernel < 1 or self.stride < 1 or self.padding < 0:
            raise ValueError(
                f"kernel and stride must be >= 1 and padding >= 0, got kernel={self.kernel}, "
                f"stride={self.stride}, padding={self.padding}"
            )

    @property
    def weight_shape(self) -> tuple[int, ...] | None:
        """Shape of the weight tensor, or ``None`` for layers without weights."""
        if self.kind == "conv2d":
            return (self.out_channels, self.in_channels, self.kernel, self.kernel)
        if self.kind == "linear":
            return (self.out_channels, self.in_channels)
        return None


def _conv(
    name: str, src: str, shape: tuple[int, ...], out_channels: int, block: str | None = None
) -> LayerSpec:
    """A 3x3, stride-1, pad-1 convolution of ``shape`` produced by ``src`` (spatial size kept)."""
    n, c, h, w = shape
    return LayerSpec(
        name=name, kind="conv2d", inputs=(src,), input_shape=shape,
        output_shape=(n, out_channels, h, w), in_channels=c, out_channels=out_channels,
        kernel=3, stride=1, padding=1, block=block,
    )


def _same(name: str, kind: str, src: LayerSpec, block: str | None = None) -> LayerSpec:
    """A shape-preserving layer (relu, softmax) after ``src``."""
    channels = src.output_shape[1]
    return LayerSpec(
        name=name, kind=kind, inputs=(src.name,), input_shape=src.output_shape,
        output_shape=src.output_shape, in_channels=channels, out_channels=channels, block=block,
    )


def _flatten(name: str, src: str, shape: tuple[int, ...]) -> LayerSpec:
    """Flatten ``shape`` produced by ``src`` into ``(1, features)``."""
    features = int(np.prod(shape[1:]))
    return LayerSpec(
        name=name, kind="flatten", inputs=(src,), input_shape=shape,
        output_shape=(shape[0], features), in_channels=shape[1], out_channels=features,
    )


def _linear(name: str, src: LayerSpec, out_features: int) -> LayerSpec:
    """A fully connected layer after ``src``."""
    n, features = src.output_shape
    return LayerSpec(
        name=name, kind="linear", inputs=(src.name,), input_shape=src.output_shape,
        output_shape=(n, out_features), in_channels=features, out_channels=out_features,
    )


def _maxpool(name: str, src: LayerSpec) -> LayerSpec:
    """A 2x2, stride-2 max pooling after ``src``."""
    n, c, h, w = src.output_shape
    return LayerSpec(
        name=name, kind="maxpool", inputs=(src.name,), input_shape=src.output_shape,
        output_shape=(n, c, h // 2, w // 2), in_channels=c, out_channels=c, kernel=2, stride=2,
    )


def _residual(name: str, src: LayerSpec) -> tuple[LayerSpec, ...]:
    """Removable block ``relu(x + conv3x3(x))`` on the output of ``src`` (block ``name``)."""
    shape = src.output_shape
    conv = _conv(name, src.name, shape, shape[1], block=name)
    add = LayerSpec(
        name=f"add_{name}", kind="add", inputs=(src.name, name), input_shape=shape,
        output_shape=shape, in_channels=shape[1], out_channels=shape[1], block=name,
    )
    return conv, add, _same(f"relu_{name}", "relu", add, block=name)


def _mlp() -> tuple[LayerSpec, ...]:
    """64 -> 128 -> 64 -> 10 perceptron with ReLU."""
    flat = _flatten("flatten", "input", INPUT_SHAPE)
    fc1 = _linear("fc1", flat, 128)
    relu1 = _same("relu1", "relu", fc1)
    fc2 = _linear("fc2", relu1, 64)
    relu2 = _same("relu2", "relu", fc2)
    fc3 = _linear("fc3", relu2, NUM_CLASSES)
    return (flat, fc1, relu1, fc2, relu2, fc3, _same("softmax", "softmax", fc3))


def _cnn() -> tuple[LayerSpec, ...]:
    """conv(1->16) conv(16->32) maxpool, a removable residual conv(32->32), then fc -> 10."""
    conv1 = _conv("conv1", "input", INPUT_SHAPE, 16)
    relu1 = _same("relu1", "relu", conv1)
    conv2 = _conv("conv2", relu1.name, relu1.output_shape, 32)
    relu2 = _same("relu2", "relu", conv2)
    pool = _maxpool("pool", relu2)
    block = _residual("conv3", pool)
    flat = _flatten("flatten", block[-1].name, block[-1].output_shape)
    fc = _linear("fc", flat, NUM_CLASSES)
    tail = (flat, fc, _same("softmax", "softmax", fc))
    return (conv1, relu1, conv2, relu2, pool, *block, *tail)


_BUILDERS = {"mlp": _mlp, "cnn": _cnn}


def specs(model_name: str) -> tuple[LayerSpec, ...]:
    """Layer specs of ``model_name`` in topological order (the last one is the softmax)."""
    if model_name not in _BUILDERS:
        raise ValueError(f"model_name must be one of {MODEL_NAMES}, got {model_name!r}")
    return _BUILDERS[model_name]()


def init_params(
    model_specs: tuple[LayerSpec, ...], rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """He-normal float32 weights and zero biases for every weighted layer, drawn in order."""
    weights: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray] = {}
    for spec in model_specs:
        if spec.weight_shape is None:
            continue
        fan_in = int(np.prod(spec.weight_shape[1:]))
        draw = rng.standard_normal(spec.weight_shape) * np.sqrt(2.0 / fan_in)
        weights[spec.name] = draw.astype(np.float32)
        biases[spec.name] = np.zeros(spec.out_channels, dtype=np.float32)
    return weights, biases


def _forward_one(
    spec: LayerSpec, args: list[np.ndarray], w: np.ndarray | None, b: np.ndarray | None
) -> tuple[np.ndarray, object]:
    """Run one layer on its input arrays; returns the output and the backward cache."""
    x = args[0]
    if spec.kind == "conv2d":
        return layers.conv2d_forward(x, w, b, stride=spec.stride, padding=spec.padding)
    if spec.kind == "linear":
        return layers.linear_forward(x, w, b)
    if spec.kind == "relu":
        return layers.relu_forward(x)
    if spec.kind == "maxpool":
        return layers.maxpool_forward(x, size=spec.kernel)
    if spec.kind == "add":
        return x + args[1], None
    if spec.kind == "flatten":
        return x.reshape(x.shape[0], -1), x.shape
    return layers.softmax(x), None


def forward(
    model_specs: tuple[LayerSpec, ...],
    weights: Mapping[str, np.ndarray],
    biases: Mapping[str, np.ndarray],
    x: np.ndarray,
    *,
    act_transform: ActTransform | None = None,
    drop: Collection[str] = (),
) -> tuple[np.ndarray, dict[str, object]]:
    """Class probabilities ``(N, 10)`` for images ``x`` ``(N, 1, 8, 8)``, plus backward caches.

    ``act_transform(name, x)`` replaces the input of every weighted layer; layers of a
    block named in ``drop`` pass their first input through unchanged.
    """
    acts: dict[str, np.ndarray] = {"input": x}
    caches: dict[str, object] = {}
    for spec in model_specs:
        if spec.block in drop:
            acts[spec.name] = acts[spec.inputs[0]]
            continue
        args = [acts[src] for src in spec.inputs]
        if act_transform is not None and spec.weight_shape is not None:
            args[0] = np.asarray(act_transform(spec.name, args[0]), dtype=args[0].dtype)
        w, b = weights.get(spec.name), biases.get(spec.name)
        acts[spec.name], caches[spec.name] = _forward_one(spec, args, w, b)
    return acts[model_specs[-1].name], caches


def _backward_one(
    spec: LayerSpec, dout: np.ndarray, cache: object
) -> tuple[list[np.ndarray], np.ndarray | None, np.ndarray | None]:
    """Input gradients (one per input), weight gradient and bias gradient of one layer."""
    if spec.kind == "conv2d":
        dx, dw, db = layers.conv2d_backward(dout, cache)
        return [dx], dw, db
    if spec.kind == "linear":
        dx, dw, db = layers.linear_backward(dout, cache)
        return [dx], dw, db
    if spec.kind == "relu":
        return [layers.relu_backward(dout, cache)], None, None
    if spec.kind == "maxpool":
        return [layers.maxpool_backward(dout, cache)], None, None
    if spec.kind == "add":
        return [dout, dout], None, None
    return [dout.reshape(cache)], None, None


def backward(
    model_specs: tuple[LayerSpec, ...],
    caches: Mapping[str, object],
    dlogits: np.ndarray,
    *,
    drop: Collection[str] = (),
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Weight and bias gradients from the loss gradient at the softmax input ``dlogits``."""
    grads = {model_specs[-1].inputs[0]: dlogits}
    dweights: dict[str, np.ndarray] = {}
    dbiases: dict[str, np.ndarray] = {}
    for spec in reversed(model_specs[:-1]):
        dout = grads.pop(spec.name, None)
        if dout is None:
            continue
        if spec.block in drop:
            _accumulate(grads, spec.inputs[0], dout)
            continue
        dins, dw, db = _backward_one(spec, dout, caches[spec.name])
        for src, dx in zip(spec.inputs, dins, strict=True):
            _accumulate(grads, src, dx)
        if dw is not None and db is not None:
            dweights[spec.name], dbiases[spec.name] = dw, db
    return dweights, dbiases


def _accumulate(grads: dict[str, np.ndarray], name: str, value: np.ndarray) -> None:
    """Add ``value`` to the gradient flowing into layer output ``name``."""
    grads[name] = grads[name] + value if name in grads else value
