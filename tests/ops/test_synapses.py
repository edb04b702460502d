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
