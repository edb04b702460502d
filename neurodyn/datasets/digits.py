"""Classification sets built from scikit-learn's bundled 8x8 handwritten digits (UCI "Optical
Recognition of Handwritten Digits", 1,797 images, 10 classes, pixel values 0..16; shipped inside
scikit-learn, so nothing is downloaded).

They stand in for MNIST-family tasks on this machine: static images for feed-forward spiking
networks (rate-coded by :mod:`neurodyn.datasets.encoding` or the user), and sequences for
recurrent models and reservoirs -- row by row (8 steps of 8 values, like row-wise sMNIST),
pixel by pixel (64 steps of 1 value, like sMNIST) and pixel by pixel under a fixed random
permutation (like psMNIST; Le, Jaitly, Hinton 2015, arXiv:1504.00941).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

SEQUENCE_MODES = ("row", "pixel", "permuted")


class Split(NamedTuple):
    """A train/test split: ``x_train``, ``y_train`` (int labels 0..9), ``x_test``, ``y_test``."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _images() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError as err:  # pragma: no cover - scikit-learn is a dependency
        raise ImportError("the digits tasks need scikit-learn (pip install scikit-learn)") from err
    data = _load()
    return data.images.astype(np.float64) / 16.0, data.target.astype(np.int64)


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> Split:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return Split(x[train], y[train], x[test], y[test])


def digits(*, test_fraction: float = 0.25, seed: int = 0, flatten: bool = True) -> Split:
    """The 8x8 digits as static images, pixel values scaled to [0, 1] (value / 16).

    Returns a seeded shuffled split; ``x`` is ``(n, 64)`` when ``flatten`` else ``(n, 8, 8)``.
    The same ``seed`` always gives the same split (1,348 train / 449 test at the default 0.25).
    """
    images, labels = _images()
    x = images.reshape(len(images), 64) if flatten else images
    return _split(x, labels, test_fraction, seed)


def digits_sequences(mode: str = "row", *, test_fraction: float = 0.25, seed: int = 0,
                     permutation_seed: int = 1234) -> Split:
    """The 8x8 digits as input sequences ``(n, T, d)`` for sequence classification.

    ``mode``: ``"row"`` gives T = 8 steps of d = 8 pixels (one image row per step); ``"pixel"``
    T = 64 steps of d = 1 (row-major scan); ``"permuted"`` the pixel sequence under one fixed
    random permutation drawn from ``permutation_seed`` (the same for every image). Values in [0, 1].
    """
    if mode not in SEQUENCE_MODES:
        raise ValueError(f"unknown digits sequence mode {mode!r}; choose one of {SEQUENCE_MODES}")
    images, labels = _images()
    if mode == "row":
        x = images
    else:
        x = images.reshape(len(images), 64, 1)
        if mode == "permuted":
            x = x[:, np.random.default_rng(permutation_seed).permutation(64)]
    return _split(x, labels, test_fraction, seed)
