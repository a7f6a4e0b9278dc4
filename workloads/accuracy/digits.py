"""Small real models trained on the handwritten digits, and their accuracy under compression.

Two models, ``"mlp"`` and ``"cnn"``, train in NumPy from a seed and are evaluated on a held-out
test split for real. Compression enters through plain callables and masks applied to the real
weights, so any quantizer or pruner can be measured without this module knowing about it.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import BinaryIO

import numpy as np

from workloads.accuracy import layers, models, training
from workloads.accuracy.blas import single_threaded
from workloads.accuracy.data import SPLITS, load_split

DEFAULT_EPOCHS = MappingProxyType({"mlp": 30, "cnn": 8})
LEARNING_RATE = 3e-3
FINETUNE_LEARNING_RATE = 2e-3
_EVAL_CHUNK = 512

WeightTransform = Callable[[str, np.ndarray], np.ndarray]
ActTransform = Callable[[str, np.ndarray], np.ndarray]


@dataclass(frozen=True, kw_only=True, eq=False)
class TrainedModel:
    """A digits model with trained float32 weights.

    Attributes
    ----------
    model_name : str
        ``"mlp"`` or ``"cnn"``.
    seed : int
        Seed of the weight initialisation and the batch order.
    epochs : int
        Passes over the training split.
    weights, biases : Mapping[str, numpy.ndarray]
        Read-only arrays keyed by layer name; weight shapes as in :func:`layer_shapes`.
    test_accuracy : float
        Top-1 accuracy of these weights on the test split, in [0, 1].
    """

    model_name: str
    seed: int
    epochs: int
    weights: Mapping[str, np.ndarray]
    biases: Mapping[str, np.ndarray]
    test_accuracy: float

    def __post_init__(self) -> None:
        """Check layer names and shapes; keep read-only float32 copies."""
        shapes = layer_shapes(self.model_name)
        _check_params("weights", self.weights, shapes)
        _check_params("biases", self.biases, {k: shape[:1] for k, shape in shapes.items()})
        object.__setattr__(self, "weights", _frozen(self.weights))
        object.__setattr__(self, "biases", _frozen(self.biases))

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Pickle through plain dicts, as read-only mappings do not pickle."""
        fields = (self.model_name, self.seed, self.epochs, dict(self.weights), dict(self.biases))
        return _rebuild, (*fields, self.test_accuracy)


def _rebuild(
    model_name: str,
    seed: int,
    epochs: int,
    weights: Mapping[str, np.ndarray],
    biases: Mapping[str, np.ndarray],
    test_accuracy: float,
) -> TrainedModel:
    """A :class:`TrainedModel` from positional fields (the unpickling hook)."""
    return TrainedModel(
        model_name=model_name, seed=seed, epochs=epochs, weights=weights, biases=biases,
        test_accuracy=test_accuracy,
    )


def _check_params(
    field: str, arrays: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]
) -> None:
    """Raise a ``ValueError`` unless ``arrays`` holds exactly ``shapes``' layers and shapes."""
    if set(arrays) != set(shapes):
        raise ValueError(f"{field} must hold layers {tuple(shapes)}, got {tuple(arrays)}")
    for name, shape in shapes.items():
        if np.shape(arrays[name]) != shape:
            raise ValueError(
                f"{field}[{name!r}] must have shape {shape}, got {np.shape(arrays[name])}"
            )


def _check_model(model_name: str) -> None:
    """Raise a ``ValueError`` unless ``model_name`` is a known model."""
    if model_name not in models.MODEL_NAMES:
        raise ValueError(f"model_name must be one of {models.MODEL_NAMES}, got {model_name!r}")


def _check_count(field: str, value: int, minimum: int) -> None:
    """Raise a ``ValueError`` unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{field} must be an integer >= {minimum}, got {value!r}")


def architecture(model_name: str) -> tuple[models.LayerSpec, ...]:
    """Layer specs of ``model_name`` in topological order, shapes at batch size 1."""
    _check_model(model_name)
    return models.specs(model_name)


def removable_layers(model_name: str) -> tuple[str, ...]:
    """Names of the blocks of ``model_name`` that :func:`evaluate` can drop."""
    blocks = (spec.block for spec in architecture(model_name) if spec.block is not None)
    return tuple(dict.fromkeys(blocks))


def layer_shapes(model_name: str) -> dict[str, tuple[int, ...]]:
    """Weight shape of every weighted layer of ``model_name``, keyed by layer name."""
    return {
        spec.name: spec.weight_shape
        for spec in architecture(model_name)
        if spec.weight_shape is not None
    }


def _frozen(arrays: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """Read-only float32 copies of ``arrays`` behind a read-only mapping."""
    out = {}
    for name, array in arrays.items():
        out[name] = np.array(array, dtype=np.float32)
        out[name].setflags(write=False)
    return MappingProxyType(out)


def _accuracy(
    model_name: str,
    weights: Mapping[str, np.ndarray],
    biases: Mapping[str, np.ndarray],
    split: str,
    *,
    act_transform: ActTransform | None = None,
    drop: Collection[str] = (),
) -> float:
    """Top-1 accuracy of the given weights on ``split``."""
    x, y = load_split().arrays(split)
    model_specs = models.specs(model_name)
    correct = 0
    with single_threaded():
        for start in range(0, len(y), _EVAL_CHUNK):
            chunk = slice(start, start + _EVAL_CHUNK)
            probs, _ = models.forward(
                model_specs, weights, biases, x[chunk], act_transform=act_transform, drop=drop
            )
            correct += int((probs.argmax(axis=1) == y[chunk]).sum())
    return correct / len(y)


def _train(model_name: str, seed: int, epochs: int) -> TrainedModel:
    """Train ``model_name`` from ``seed`` for ``epochs`` epochs, without memoisation."""
    rng = np.random.default_rng(seed)
    weights, biases = models.init_params(models.specs(model_name), rng)
    training.fit(model_name, weights, biases, epochs=epochs, rng=rng, lr=LEARNING_RATE)
    return TrainedModel(
        model_name=model_name, seed=seed, epochs=epochs, weights=weights,
        biases=biases, test_accuracy=_accuracy(model_name, weights, biases, "test"),
    )


_train_memo = functools.lru_cache(maxsize=16)(_train)


def train(model_name: str, *, seed: int = 0, epochs: int | None = None) -> TrainedModel:
    """A digits model trained deterministically from ``seed``, memoised within the process.

    Parameters
    ----------
    model_name : str
        ``"mlp"`` or ``"cnn"``.
    seed : int
        Seed of the weight initialisation and the batch order (>= 0).
    epochs : int, optional
        Passes over the 1,347 training images; ``DEFAULT_EPOCHS[model_name]`` if omitted.
    """
    _check_model(model_name)
    _check_count("seed", seed, 0)
    epochs = DEFAULT_EPOCHS[model_name] if epochs is None else epochs
    _check_count("epochs", epochs, 1)
    return _train_memo(model_name, int(seed), int(epochs))


def _check_split(split: str) -> None:
    """Raise a ``ValueError`` unless ``split`` names a data split."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _check_drop(model_name: str, drop: Collection[str]) -> frozenset[str]:
    """``drop`` as a set, after checking every name is a removable block."""
    removable = removable_layers(model_name)
    unknown = sorted(set(drop) - set(removable))
    if unknown:
        raise ValueError(f"drop must name removable layers {removable}, got {unknown}")
    return frozenset(drop)


def _check_masks(
    model_name: str, masks: Mapping[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """``masks`` as boolean arrays, after checking names and shapes against the model."""
    shapes = layer_shapes(model_name)
    out = {}
    for name, mask in (masks or {}).items():
        if name not in shapes:
            raise ValueError(f"masks keys must be weighted layers {tuple(shapes)}, got {name!r}")
        out[name] = np.asarray(mask, dtype=bool)
        if out[name].shape != shapes[name]:
            raise ValueError(
                f"masks[{name!r}] must have shape {shapes[name]}, got {out[name].shape}"
            )
    return out


def _compressed_weights(
    trained: TrainedModel,
    weight_transform: WeightTransform | None,
    masks: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Weights after masking and then ``weight_transform``, checked to keep their shapes."""
    out = {}
    for name, w in trained.weights.items():
        if name in masks:
            w = w * masks[name]
        if weight_transform is not None:
            w = np.asarray(weight_transform(name, w), dtype=np.float32)
            if w.shape != trained.weights[name].shape:
                raise ValueError(
                    f"weight_transform must keep the shape of {name!r} "
                    f"{trained.weights[name].shape}, got {w.shape}"
                )
        out[name] = w
    return out


def evaluate(
    trained: TrainedModel,
    *,
    weight_transform: WeightTransform | None = None,
    act_transform: ActTransform | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
    drop: Collection[str] = (),
    split: str = "test",
) -> float:
    """Top-1 accuracy, in [0, 1], of ``trained`` with compression applied to its real weights.

    Parameters
    ----------
    trained : TrainedModel
        The model and its float32 weights.
    weight_transform : callable, optional
        ``weight_transform(name, w) -> w'`` applied to every weighted layer's weights (after
        ``masks``); must keep the shape. Biases stay float32.
    act_transform : callable, optional
        ``act_transform(name, x) -> x'`` applied to the input activations of every weighted
        layer (the first layer sees the images scaled to [0, 1]).
    masks : mapping of str to array of bool, optional
        Per-layer masks multiplied into the weights (False = pruned).
    drop : collection of str
        Removable blocks (see :func:`removable_layers`) to skip entirely.
    split : str
        ``"test"`` (450 images) or ``"train"`` (1,347 images).
    """
    _check_split(split)
    checked = _check_masks(trained.model_name, masks)
    weights = _compressed_weights(trained, weight_transform, checked)
    dropped = _check_drop(trained.model_name, drop)
    return _accuracy(
        trained.model_name, weights, trained.biases, split, act_transform=act_transform,
        drop=dropped,
    )


def gradients(
    trained: TrainedModel, *, split: str = "train", masks: Mapping[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Mean cross-entropy gradient dL/dw over all images of ``split``, keyed by layer name.

    With ``masks`` the gradient is taken at the masked weights (pruned entries still get
    their gradient, as first-order Taylor importance of regrowing them needs).
    """
    _check_split(split)
    weights = _compressed_weights(trained, None, _check_masks(trained.model_name, masks))
    x, y = load_split().arrays(split)
    model_specs = models.specs(trained.model_name)
    with single_threaded():
        probs, caches = models.forward(model_specs, weights, trained.biases, x)
        _, dlogits = layers.cross_entropy(probs, y)
        dweights, _ = models.backward(model_specs, caches, dlogits)
    return dweights


def layer_importance(trained: TrainedModel, *, split: str = "test") -> dict[str, float]:
    """Accuracy lost on ``split`` when each removable block is dropped alone (may be < 0)."""
    base = evaluate(trained, split=split)
    return {
        name: base - evaluate(trained, drop=(name,), split=split)
        for name in removable_layers(trained.model_name)
    }


def finetune(
    trained: TrainedModel,
    *,
    masks: Mapping[str, np.ndarray],
    epochs: int = 2,
    seed: int = 0,
) -> TrainedModel:
    """``trained`` retrained for a few epochs with pruned weights held at zero.

    The result's weights already carry the masks, and its ``test_accuracy`` is measured with
    them; its ``epochs`` counts the original and the fine-tuning epochs.
    """
    _check_count("epochs", epochs, 1)
    _check_count("seed", seed, 0)
    checked = _check_masks(trained.model_name, masks)
    weights = {k: np.array(w) for k, w in trained.weights.items()}
    biases = {k: np.array(b) for k, b in trained.biases.items()}
    rng = np.random.default_rng(seed)
    training.fit(
        trained.model_name, weights, biases, epochs=epochs, rng=rng, lr=FINETUNE_LEARNING_RATE,
        masks=checked,
    )
    return TrainedModel(
        model_name=trained.model_name, seed=trained.seed, epochs=trained.epochs + epochs,
        weights=weights, biases=biases,
        test_accuracy=_accuracy(trained.model_name, weights, biases, "test"),
    )


def to_npz_bytes(trained: TrainedModel) -> bytes:
    """``trained`` serialised as the bytes of an ``.npz`` archive (no pickling)."""
    arrays = {f"w:{k}": w for k, w in trained.weights.items()}
    arrays.update({f"b:{k}": b for k, b in trained.biases.items()})
    arrays["meta:model_name"] = np.array(trained.model_name)
    arrays["meta:ints"] = np.array([trained.seed, trained.epochs], dtype=np.int64)
    arrays["meta:test_accuracy"] = np.array(trained.test_accuracy, dtype=np.float64)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def from_npz(source: bytes | str | os.PathLike[str] | BinaryIO) -> TrainedModel:
    """A :class:`TrainedModel` read back from :func:`to_npz_bytes` output (bytes, path or file)."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    with np.load(source, allow_pickle=False) as archive:
        model_name = str(archive["meta:model_name"])
        seed, epochs = (int(v) for v in archive["meta:ints"])
        weights = {k[2:]: archive[k] for k in archive.files if k.startswith("w:")}
        biases = {k[2:]: archive[k] for k in archive.files if k.startswith("b:")}
        accuracy = float(archive["meta:test_accuracy"])
    return _rebuild(model_name, seed, epochs, weights, biases, accuracy)
