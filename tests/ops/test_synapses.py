"""Builders of SynapseCSR connectivity."""

import numpy as np
import pytest

from neurodyn.errors import SpecError
from neurodyn.ops.synapses import SynapseCSR


def test_fixed_probability_synapses_have_the_binomial_in_degree():
    conn = SynapseCSR.fixed_probability(3200, 800, 0.02, weight=0.6, seed=5)
    counts = np.diff(np.asarray(conn.indptr))
    # E[out-degree] = 800 * 0.02 = 16, Var = 800 * 0.02 * 0.98 = 15.68 (Binomial)
    assert abs(counts.mean() - 16.0) < 0.3 and abs(counts.var() - 15.68) < 1.5
    dense = conn.todense()
    assert dense.max() == pytest.approx(0.6)  # no pair drawn twice
    no_self = SynapseCSR.fixed_probability(500, 500, 0.1, seed=1, self_connections=False)
    assert not np.any(np.diag(no_self.todense()))
    again = SynapseCSR.fixed_probability(3200, 800, 0.02, weight=0.6, seed=5)
    np.testing.assert_array_equal(np.asarray(again.indices), np.asarray(conn.indices))


def test_fixed_probability_rejects_a_probability_outside_0_1():
    with pytest.raises(SpecError, match="p must be in"):
        SynapseCSR.fixed_probability(10, 10, 1.5)


@pytest.mark.parametrize("available, k", [(180, 40), (400, 90), (100_000, 1_500)])
def test_rows_where_repeats_are_common_are_uniform_subsets_drawn_in_a_few_passes(available, k):
    # k (k - 1) > 8 available: a whole-row redraw would need exp(k^2 / 2 available) tries a row
    # (5e4 for k = 90 of 400, 1e5 for 1,500 of 100,000); the repeated entries are drawn again
    from neurodyn.ops.synapses import _sample_rows

    n_rows = 4000 if available < 1000 else 20
    rng = np.random.default_rng(0)
    calls = []
    integers = rng.integers
    rng_spy = type("Spy", (), {"integers": lambda self, *a, **kw: calls.append(1) or integers(*a, **kw)})()
    rows = _sample_rows(rng_spy, n_rows, available, k)
    assert rows.shape == (n_rows, k) and rows.dtype == np.int32
    assert np.all(np.diff(rows, axis=1) > 0) and rows.min() >= 0 and rows.max() < available
    assert len(calls) < 30  # passes over the repeated entries, not one per row redraw
    if available < 1000:
        # each value is in a row with probability k / available; each pair with k (k-1) / (a (a-1))
        hits = np.bincount(rows.ravel(), minlength=available) / n_rows
        p = k / available
        assert np.max(np.abs(hits - p)) < 5 * np.sqrt(p * (1 - p) / n_rows)
        pairs = {(0, 1), (0, available - 1), (available // 2, available // 2 + 1)}
        q = k * (k - 1) / (available * (available - 1))
        for i, j in pairs:
            both = np.mean(np.any(rows == i, axis=1) & np.any(rows == j, axis=1))
            assert abs(both - q) < 5 * np.sqrt(q * (1 - q) / n_rows), (i, j, both, q)
