"""Adam training of the digits models on the training split, optionally under pruning masks."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from workloads.accuracy import layers, models
from workloads.accuracy.blas import single_threaded
from workloads.accuracy.data import load_split

BATCH_SIZE = 32
_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8


def _prefixed(
    weights: Mapping[str, np.ndarray], biases: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """One flat mapping of parameters, keyed ``"w:<layer>"`` and ``"b:<layer>"``."""
    out = {f"w:{k}": w for k, w in weights.items()}
    out.update({f"b:{k}": b for k, b in biases.items()})
    return out


def _adam_step(
    params: dict[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    state: dict[str, list[np.ndarray]],
    step: int,
    lr: float,
) -> None:
    """Update ``params`` in place by one Adam step (``step`` counts from 1)."""
    beta1, beta2 = _ADAM_BETAS
    scale = lr * np.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)
    for key, grad in grads.items():
        m, v = state.setdefault(key, [np.zeros_like(grad), np.zeros_like(grad)])
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * grad * grad
        params[key] -= (scale * m / (np.sqrt(v) + _ADAM_EPS)).astype(params[key].dtype)


def fit(
    model_name: str,
    weights: dict[str, np.ndarray],
    biases: dict[str, np.ndarray],
    *,
    epochs: int,
    rng: np.random.Generator,
    lr: float,
    masks: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Train ``weights`` and ``biases`` in place with Adam and a cosine learning-rate decay.

    Masked weight entries are zeroed before training and after every step.
    """
    with single_threaded():
        _run_steps(model_name, weights, biases, epochs=epochs, rng=rng, lr=lr, masks=masks)


def _run_steps(
    model_name: str,
    weights: dict[str, np.ndarray],
    biases: dict[str, np.ndarray],
    *,
    epochs: int,
    rng: np.random.Generator,
    lr: float,
    masks: Mapping[str, np.ndarray] | None,
) -> None:
    """The training loop of :func:`fit`."""
    x, y = load_split().arrays("train")
    model_specs = models.specs(model_name)
    params = _prefixed(weights, biases)
    zeros = {f"w:{k}": ~np.asarray(m, dtype=bool) for k, m in (masks or {}).items()}
    state: dict[str, list[np.ndarray]] = {}
    batches_per_epoch = -(-len(y) // BATCH_SIZE)
    steps = epochs * batches_per_epoch
    _apply_zeros(params, zeros)
    for step in range(steps):
        if step % batches_per_epoch == 0:
            batches = np.array_split(rng.permutation(len(y)), batches_per_epoch)
        batch = batches[step % batches_per_epoch]
        probs, caches = models.forward(model_specs, weights, biases, x[batch])
        _, dlogits = layers.cross_entropy(probs, y[batch])
        dweights, dbiases = models.backward(model_specs, caches, dlogits)
        step_lr = lr * 0.5 * (1.0 + np.cos(np.pi * step / steps))
        _adam_step(params, _prefixed(dweights, dbiases), state, step + 1, step_lr)
        _apply_zeros(params, zeros)


def _apply_zeros(params: dict[str, np.ndarray], zeros: Mapping[str, np.ndarray]) -> None:
    """Set the entries of ``params`` selected by the boolean ``zeros`` masks to 0, in place."""
    for key, zero in zeros.items():
        params[key][zero] = 0.0
