"""scikit-learn's bundled handwritten digits, split and scaled for the accuracy models.

The 1,797 8x8 grey-level images ship inside scikit-learn, so loading them needs no
network. scikit-learn is the optional extra ``hwsim[digits]`` and is imported lazily.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

MISSING_SKLEARN = "the digits models need scikit-learn: pip install 'hwsim[digits]'"
TEST_SIZE = 450
SPLITS = ("train", "test")
_PIXEL_MAX = 16.0


@dataclass(frozen=True, kw_only=True, eq=False)
class DigitsSplit:
    """A stratified train/test split of the digits.

    Attributes
    ----------
    x_train, x_test : numpy.ndarray
        Images ``(N, 1, 8, 8)`` float32 scaled to [0, 1].
    y_train, y_test : numpy.ndarray
        Labels ``(N,)`` int64 in 0..9.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels of ``split`` ("train" or "test")."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if split == "train":
            return self.x_train, self.y_train
        return self.x_test, self.y_test


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """Raw pixels ``(1797, 64)`` in 0..16 and labels, from scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError(MISSING_SKLEARN) from err
    bunch = load_digits()
    return np.asarray(bunch.data), np.asarray(bunch.target, dtype=np.int64)


def _stratified_test_indices(labels: np.ndarray, test_size: int, seed: int) -> np.ndarray:
    """Indices of a test set of ``test_size`` holding each class in proportion."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * test_size / labels.size
    per_class = np.floor(quota).astype(np.int64)
    # Largest remainders get the seats left over by flooring.
    leftover = test_size - int(per_class.sum())
    per_class[np.argsort(-(quota - per_class), kind="stable")[:leftover]] += 1
    picked = [
        rng.permutation(np.flatnonzero(labels == cls))[:take]
        for cls, take in zip(classes, per_class, strict=True)
    ]
    return np.sort(np.concatenate(picked))


def _readonly(array: np.ndarray) -> np.ndarray:
    """``array`` marked read-only, so shared cached data cannot be altered."""
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=4)
def load_split(*, seed: int = 0) -> DigitsSplit:
    """The digits split into 1,347 training and 450 test images, stratified by class.

    Parameters
    ----------
    seed : int
        Seed of the split; the same seed always gives the same split.
    """
    pixels, labels = _sklearn_digits()
    test = np.zeros(labels.size, dtype=bool)
    test[_stratified_test_indices(labels, TEST_SIZE, seed)] = True
    images = (pixels / _PIXEL_MAX).astype(np.float32).reshape(-1, 1, 8, 8)
    return DigitsSplit(
        x_train=_readonly(images[~test]), y_train=_readonly(labels[~test]),
        x_test=_readonly(images[test]), y_test=_readonly(labels[test]),
    )
