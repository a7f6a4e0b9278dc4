"""The model zoo: standard networks as op graphs (shapes only; weights are optional elsewhere).

Every builder is a function of keyword parameters returning a ``Graph``; the names users
type are in ``MODELS``. Nothing is silently dropped: activations, residual adds, pools and
norms are ops. Batch norms are kept as separate ops (not folded into convolutions).
"""

from __future__ import annotations

from collections.abc import Callable

from hwsim.graph import Graph
from workloads.builder import GraphBuilder, Tensor
from workloads.transformer import bert_base, gpt2, llama

_IMAGENET_CLASSES = 1000


def _positive(**values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


def _conv_bn(b: GraphBuilder, x: Tensor, out: int, k: int, *, stride: int = 1,
             groups: int = 1, act: str | None = "relu", name: str = "conv") -> Tensor:
    """conv (no bias) -> batchnorm -> optional activation, as three ops."""
    y = b.conv2d(x, out, k, stride=stride, padding=k // 2, groups=groups, name=name)
    y = b.norm(y, "batchnorm", name=name.replace("conv", "bn"))
    return b.elementwise(act, y, name=name.replace("conv", act)) if act else y


def _basic_block(b: GraphBuilder, x: Tensor, out: int, stride: int) -> Tensor:
    y = _conv_bn(b, x, out, 3, stride=stride, name="conv1")
    y = _conv_bn(b, y, out, 3, act=None, name="conv2")
    skip = x
    if stride != 1 or x.shape[1] != out:
        skip = _conv_bn(b, x, out, 1, stride=stride, act=None, name="downsample.conv")
    return b.relu(b.add(y, skip, name="add"), name="relu")


def _bottleneck(b: GraphBuilder, x: Tensor, out: int, stride: int) -> Tensor:
    width = out // 4
    y = _conv_bn(b, x, width, 1, name="conv1")
    y = _conv_bn(b, y, width, 3, stride=stride, name="conv2")
    y = _conv_bn(b, y, out, 1, act=None, name="conv3")
    skip = x
    if stride != 1 or x.shape[1] != out:
        skip = _conv_bn(b, x, out, 1, stride=stride, act=None, name="downsample.conv")
    return b.relu(b.add(y, skip, name="add"), name="relu")


def _resnet(name: str, blocks: tuple[int, ...], bottleneck: bool, batch: int,
            image_size: int) -> Graph:
    _positive(batch=batch, image_size=image_size)
    b = GraphBuilder(name)
    x = b.input((batch, 3, image_size, image_size))
    x = _conv_bn(b, x, 64, 7, stride=2, name="conv1")
    x = b.pool(x, 3, stride=2, padding=1, name="maxpool")
    widths = (256, 512, 1024, 2048) if bottleneck else (64, 128, 256, 512)
    block = _bottleneck if bottleneck else _basic_block
    for stage, (n, width) in enumerate(zip(blocks, widths, strict=True)):
        for i in range(n):
            with b.scope(f"layer{stage + 1}.{i}"):
                x = block(b, x, width, 2 if i == 0 and stage > 0 else 1)
    x = b.flatten(b.global_avgpool(x))
    b.linear(x, _IMAGENET_CLASSES, name="fc")
    return b.build()


def resnet18(*, batch: int = 1, image_size: int = 224) -> Graph:
    """ResNet-18 (He et al. 2016; torchvision layout): 1.82 GMACs, 11.69 M params at 224."""
    return _resnet("resnet18", (2, 2, 2, 2), False, batch, image_size)


def resnet50(*, batch: int = 1, image_size: int = 224) -> Graph:
    """ResNet-50 v1.5 (stride on the 3x3 conv): 4.09 GMACs, 25.56 M params at 224."""
    return _resnet("resnet50", (3, 4, 6, 3), True, batch, image_size)


_MBV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                  (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2(*, batch: int = 1, image_size: int = 224) -> Graph:
    """MobileNetV2 1.0 (Sandler et al. 2018): about 300 MMACs, 3.50 M params at 224."""
    _positive(batch=batch, image_size=image_size)
    b = GraphBuilder("mobilenet_v2")
    x = b.input((batch, 3, image_size, image_size))
    x = _conv_bn(b, x, 32, 3, stride=2, act="relu6", name="features.0.conv")
    idx = 1
    for t, c, n, s in _MBV2_SETTINGS:
        for i in range(n):
            with b.scope(f"features.{idx}"):
                x = _inverted_residual(b, x, c, s if i == 0 else 1, t)
            idx += 1
    x = _conv_bn(b, x, 1280, 1, act="relu6", name=f"features.{idx}.conv")
    x = b.flatten(b.global_avgpool(x))
    b.linear(x, _IMAGENET_CLASSES, name="classifier")
    return b.build()


def _inverted_residual(b: GraphBuilder, x: Tensor, out: int, stride: int, t: int) -> Tensor:
    c = x.shape[1]
    y = _conv_bn(b, x, c * t, 1, act="relu6", name="expand.conv") if t != 1 else x
    y = _conv_bn(b, y, c * t, 3, stride=stride, groups=c * t, act="relu6", name="dw.conv")
    y = _conv_bn(b, y, out, 1, act=None, name="project.conv")
    return b.add(y, x, name="add") if stride == 1 and c == out else y


_VGG16: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M")


def _adaptive_avgpool(b: GraphBuilder, x: Tensor, size: int, model: str,
                      image_size: int) -> Tensor:
    """torchvision's ``AdaptiveAvgPool2d(size)`` before the classifier, so that its input
    (and its parameters) do not depend on the image size; the identity at 224x224."""
    h, w = x.shape[2:]
    if h < size or w < size:
        raise ValueError(f"image_size={image_size} gives {model} a {h}x{w} last feature map, "
                         f"smaller than the {size}x{size} its classifier reads")
    if (h, w) == (size, size):
        return x
    sh, sw = h // size, w // size
    return b.pool(x, (h - (size - 1) * sh, w - (size - 1) * sw), mode="avg", stride=(sh, sw),
                  name="avgpool")


def _classifier(b: GraphBuilder, x: Tensor, hidden: int) -> None:
    x = b.relu(b.linear(x, hidden, name="fc6"), name="fc6.relu")
    x = b.relu(b.linear(x, hidden, name="fc7"), name="fc7.relu")
    b.linear(x, _IMAGENET_CLASSES, name="fc8")


def vgg16(*, batch: int = 1, image_size: int = 224) -> Graph:
    """VGG-16 (Simonyan & Zisserman 2015): 15.47 GMACs, 138.36 M params at 224.

    As in torchvision, an adaptive average pool feeds the classifier a 7x7 map, so the
    parameters stay the same at larger images (``image_size`` must be >= 224).
    """
    _positive(batch=batch, image_size=image_size)
    b = GraphBuilder("vgg16")
    x = b.input((batch, 3, image_size, image_size))
    for i, v in enumerate(_VGG16):
        if v == "M":
            x = b.pool(x, 2, name=f"pool{i}")
        else:
            x = b.relu(b.conv2d(x, int(v), 3, padding=1, bias=True, name=f"conv{i}"),
                       name=f"relu{i}")
    x = _adaptive_avgpool(b, x, 7, "vgg16", image_size)
    _classifier(b, b.flatten(x), 4096)
    return b.build()


def alexnet(*, batch: int = 1, image_size: int = 224) -> Graph:
    """AlexNet (torchvision single-tower variant): about 0.71 GMACs, 61.1 M params at 224.

    An adaptive average pool feeds the classifier a 6x6 map, as in torchvision.
    """
    _positive(batch=batch, image_size=image_size)
    b = GraphBuilder("alexnet")
    x = b.input((batch, 3, image_size, image_size))
    layers = ((64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False),
              (256, 3, 1, 1, False), (256, 3, 1, 1, True))
    for i, (out, k, s, p, pool) in enumerate(layers, start=1):
        x = b.relu(b.conv2d(x, out, k, stride=s, padding=p, bias=True, name=f"conv{i}"),
                   name=f"relu{i}")
        if pool:
            x = b.pool(x, 3, stride=2, name=f"pool{i}")
    x = _adaptive_avgpool(b, x, 6, "alexnet", image_size)
    _classifier(b, b.flatten(x), 4096)
    return b.build()


def mlp(*, batch: int = 1, in_features: int = 784, hidden: int = 512, depth: int = 3,
        out_features: int = 10) -> Graph:
    """Multilayer perceptron: ``depth`` hidden ReLU layers of width ``hidden``."""
    _positive(batch=batch, in_features=in_features, hidden=hidden, depth=depth,
              out_features=out_features)
    b = GraphBuilder("mlp")
    x = b.input((batch, in_features))
    for i in range(depth):
        x = b.relu(b.linear(x, hidden, name=f"fc{i + 1}"), name=f"relu{i + 1}")
    b.linear(x, out_features, name=f"fc{depth + 1}")
    return b.build()


MODELS: dict[str, Callable[..., Graph]] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "vgg16": vgg16,
    "alexnet": alexnet,
    "mlp": mlp,
    "bert_base": bert_base,
    "gpt2": gpt2,
    "llama": llama,
}
