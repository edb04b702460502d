import numpy as np
import pytest

from neurodyn.datasets import narma, narma_resesn


def _reference(u, order, a, b, c, d):
    """The NARMA recurrence written out with an explicit sum (no running window)."""
    y = np.zeros(len(u) + 1)
    for t in range(len(u)):
        window = sum(y[t - i] for i in range(order) if t - i >= 0)
        past = u[t - order + 1] if t - order + 1 >= 0 else 0.0
        y[t + 1] = a * y[t] + b * y[t] * window + c * past * u[t] + d
    return y[1:]


@pytest.mark.parametrize("order,coefficients", [(10, (0.3, 0.05, 1.5, 0.1)), (30, (0.3, 0.01, 1.5, 0.1))])
def test_narma_matches_explicit_recurrence(order, coefficients):
    # Atiya & Parlos (2000) NARMA-10; NARMA-30 with the ResESN data's coefficients (docs/models/reservoirs.md, Tasks)
    u, y = narma(2000, order, seed=1)
    np.testing.assert_allclose(y[:, 0], _reference(u[:, 0], order, *coefficients), rtol=1e-12)
    assert u.min() >= 0 and u.max() <= 0.5


def test_narma10_statistics():
    # docs/models/reservoirs.md (Tasks; independent computation): mean ~0.384, std ~0.109
    _, y = narma(10000, seed=0)
    assert abs(y[200:].mean() - 0.384) < 0.01 and abs(y[200:].std() - 0.109) < 0.01


def test_narma_resesn_variant_has_no_sum_term():
    # docs/models/reservoirs.md (Tasks): the ResESN code's narma10 is y(t+1) = 0.3 y(t) + 1.5 u(t-9) u(t) + 0.1
    u, y = narma_resesn(500, seed=2)
    np.testing.assert_allclose(y[:, 0], _reference(u[:, 0], 10, 0.3, 0.0, 1.5, 0.1), rtol=1e-12)
    _, y30 = narma_resesn(500, 30, seed=2)
    np.testing.assert_array_equal(y30, narma(500, 30, seed=2)[1])
    with pytest.raises(ValueError, match="orders 10 and 30"):
        narma_resesn(10, 20)
