"""Forward and backward passes of the primitive layers, in plain NumPy.

Every ``*_forward`` returns ``(out, cache)`` and the matching ``*_backward`` takes the
gradient of the loss with respect to ``out`` plus that cache. Arrays keep the dtype they
arrive in (float32 for training, float64 for gradient checks).

Shapes follow the NCHW convention: activations ``(N, C, H, W)``, convolution weights
``(C_out, C_in, K, K)``, linear weights ``(out_features, in_features)``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _im2col(x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Unfold ``(N, C, H, W)`` into patches ``(N, H_out, W_out, C * kernel * kernel)``."""
    pad = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    windows = sliding_window_view(np.pad(x, pad), (kernel, kernel), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    n, c, h_out, w_out = windows.shape[:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, h_out, w_out, c * kernel * kernel)


def _col2im(
    dcols: np.ndarray, x_shape: tuple[int, ...], kernel: int, stride: int, padding: int
) -> np.ndarray:
    """Fold patch gradients ``(N, H_out, W_out, C*K*K)`` back onto an ``x_shape`` input."""
    n, c, h, w = x_shape
    _, h_out, w_out, _ = dcols.shape
    patches = dcols.reshape(n, h_out, w_out, c, kernel, kernel).transpose(0, 3, 4, 5, 1, 2)
    dx = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=dcols.dtype)
    for ki in range(kernel):
        for kj in range(kernel):
            rows = slice(ki, ki + stride * h_out, stride)
            cols = slice(kj, kj + stride * w_out, stride)
            dx[:, :, rows, cols] += patches[:, :, ki, kj]
    return dx[:, :, padding : padding + h, padding : padding + w]


def conv2d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, *, stride: int, padding: int
) -> tuple[np.ndarray, tuple]:
    """2-D convolution (cross-correlation) of ``x`` with square kernels ``w`` plus bias ``b``."""
    kernel = w.shape[2]
    cols = _im2col(x, kernel, stride, padding)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    return out.transpose(0, 3, 1, 2), (x.shape, cols, w, stride, padding)


def conv2d_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dw, db)`` of a convolution from the output gradient ``dout``."""
    x_shape, cols, w, stride, padding = cache
    dout_rows = dout.transpose(0, 2, 3, 1)
    flat = dout_rows.reshape(-1, w.shape[0])
    dw = (flat.T @ cols.reshape(-1, cols.shape[-1])).reshape(w.shape)
    dcols = dout_rows @ w.reshape(w.shape[0], -1)
    dx = _col2im(dcols, x_shape, w.shape[2], stride, padding)
    return dx, dw, flat.sum(axis=0)


def linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Fully connected layer ``x @ w.T + b`` on ``(N, in_features)`` inputs."""
    return x @ w.T + b, (x, w)


def linear_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dw, db)`` of a fully connected layer."""
    x, w = cache
    return dout @ w, dout.T @ x, dout.sum(axis=0)


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit ``max(x, 0)``."""
    positive = x > 0
    return x * positive, positive


def relu_backward(dout: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Gradient of the ReLU: passes where the input was positive."""
    return dout * positive


def maxpool_forward(x: np.ndarray, *, size: int) -> tuple[np.ndarray, tuple]:
    """Non-overlapping ``size`` x ``size`` max pooling (stride = size; H, W divisible by size)."""
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // size, size, w // size, size).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h // size, w // size, size * size)
    winner = blocks.argmax(axis=-1)
    out = np.take_along_axis(blocks, winner[..., None], axis=-1)[..., 0]
    return out, (x.shape, winner, size)


def maxpool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of max pooling: routed to the first maximum of each window."""
    (n, c, h, w), winner, size = cache
    blocks = np.zeros((n, c, h // size, w // size, size * size), dtype=dout.dtype)
    np.put_along_axis(blocks, winner[..., None], dout[..., None], axis=-1)
    blocks = blocks.reshape(n, c, h // size, w // size, size, size).transpose(0, 1, 2, 4, 3, 5)
    return blocks.reshape(n, c, h, w)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, classes)`` logits, shifted for numerical safety."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax ``probs`` and its gradient with respect to the logits."""
    n = labels.shape[0]
    picked = probs[np.arange(n), labels]
    loss = float(-np.log(np.maximum(picked, 1e-12)).mean())
    dlogits = probs.copy()
    dlogits[np.arange(n), labels] -= 1.0
    return loss, dlogits / n
