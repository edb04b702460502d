import numpy as np
import pytest

from neurodyn.diagnostics import sample_entropy, zero_one_test


def _logistic(r, n=5000, transient=1000, x0=0.3):
    x = np.empty(n + transient)
    x[0] = x0
    for i in range(len(x) - 1):
        x[i + 1] = r * x[i] * (1 - x[i])
    return x[transient:]


def test_zero_one_test_separates_chaos_from_periodic():
    # V17 (docs/diagnostics.md, measured): r = 3.5, 3.55 (periodic) K ~ 0; r = 3.9, 4 (chaotic) K ~ 1
    assert zero_one_test(_logistic(4.0)) > 0.9
    assert zero_one_test(_logistic(3.9)) > 0.9
    assert abs(zero_one_test(_logistic(3.5))) < 0.1
    assert abs(zero_one_test(_logistic(3.83))) < 0.1  # period-3 window


def _sampen_reference(x, m, r, closed=True):
    """Straightforward O(N^2) Richman-Moorman sample entropy, written independently."""
    n = len(x) - m
    a = b = 0
    for i in range(n):
        for j in range(i + 1, n):
            d = max(abs(x[i + k] - x[j + k]) for k in range(m))
            if d <= r if closed else d < r:
                b += 1
                d1 = max(d, abs(x[i + m] - x[j + m]))
                if d1 <= r if closed else d1 < r:
                    a += 1
    return -np.log(a / b)


@pytest.mark.parametrize("m", [1, 2, 3])
def test_sample_entropy_equals_quadratic_reference(m):
    x = np.random.default_rng(m).normal(size=400)
    r = 0.2 * x.std()
    assert abs(sample_entropy(x, m, r) - _sampen_reference(x, m, r)) < 1e-12
    xr = np.round(x, 1)  # ties: closed (<=) and strict (<) conventions differ
    assert abs(sample_entropy(xr, m, 0.2, closed=False) - _sampen_reference(xr, m, 0.2, closed=False)) < 1e-12
    assert abs(sample_entropy(xr, m, 0.2) - _sampen_reference(xr, m, 0.2)) < 1e-12


def test_sample_entropy_equals_nolds_and_gaussian_theory():
    import nolds

    x = np.random.default_rng(7).normal(size=3000)
    r = 0.2 * np.std(x)
    # nolds counts distances strictly below the tolerance (closed=False)
    assert abs(sample_entropy(x, 2, r, closed=False) - nolds.sampen(x, emb_dim=2, tolerance=r)) < 1e-12
    # i.i.d. Gaussian: SampEn = -ln erf(0.1) = 2.185 (docs/diagnostics.md; measured 2.204 at N = 3000)
    assert abs(sample_entropy(x) - 2.185) < 0.05
    assert sample_entropy(np.sin(2 * np.pi * np.arange(3000) / 50)) < 0.4
