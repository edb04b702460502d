"""The digits classification sets: sizes, value range, seeded splits and sequence layouts."""

import numpy as np
import pytest

from neurodyn.datasets import digits, digits_sequences


def test_digits_split_sizes_range_and_labels():
    s = digits()
    # scikit-learn ships 1,797 images of 8x8 pixels with values 0..16, ten classes
    assert s.x_train.shape == (1348, 64) and s.x_test.shape == (449, 64)
    assert s.x_train.min() == 0.0 and s.x_train.max() == 1.0
    assert set(np.unique(np.concatenate([s.y_train, s.y_test]))) == set(range(10))


def test_digits_split_is_seeded_and_disjoint():
    a, b, c = digits(seed=3), digits(seed=3), digits(seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.y_train, c.y_train)
    # the test images are not in the training set (rows are unique up to a few duplicates)
    train = {row.tobytes() for row in a.x_train}
    assert sum(row.tobytes() in train for row in a.x_test) <= 5


def test_digits_sequences_layouts_match_the_images():
    img = digits(flatten=False, seed=0)
    row, pixel, perm = (digits_sequences(m, seed=0) for m in ("row", "pixel", "permuted"))
    assert row.x_train.shape[1:] == (8, 8) and pixel.x_train.shape[1:] == (64, 1)
    np.testing.assert_array_equal(row.x_train, img.x_train)
    np.testing.assert_array_equal(pixel.x_train[:, :, 0], img.x_train.reshape(-1, 64))
    # one fixed permutation of the pixel sequence, the same for every image
    order = np.random.default_rng(1234).permutation(64)
    np.testing.assert_array_equal(perm.x_train[:, :, 0], pixel.x_train[:, order, 0])


def test_digits_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="mode"):
        digits_sequences("column")
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.5)
