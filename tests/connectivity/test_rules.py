"""Connection rules and per-synapse draws of a spiking projection in a spec (issue 21, part 5):
fixed in-degree and fixed total are exact, one-to-one is the identity, distance-dependent
connectivity follows its probability profile (binned chi-square), drawn weights and delays follow
their distributions (KS test, scipy), delays in ms are rounded to the nearest step."""

import copy

import numpy as np
import pytest
from scipy import stats

from neurodyn.connectivity import connect_distance, graph_from_spec
from neurodyn.connectivity.builders import distance_probability, expected_synapses, pair_distances, positions
from neurodyn.errors import SpecError
from neurodyn.spec.build import build_spec

BASE = {"name": "rules", "steps": 10, "dt": 0.1, "seed": 0,
        "populations": {"a": {"model": "lif", "n": 60, "i_ext": 30.0}, "b": {"model": "lif", "n": 40}},
        "couplings": {}, "record": {"variables": []}}


def projection(**coupling):
    data = copy.deepcopy(BASE)
    data["couplings"]["c"] = {"kind": "spiking", "source": coupling.pop("source", "a"),
                              "target": coupling.pop("target", "b"), "port": "v", **coupling}
    conn = build_spec(data).model.projections["c"].synapses
    return conn.presynaptic(), np.asarray(conn.indices), conn


def test_fixed_indegree_is_exact_and_distinct():
    pre, post, _ = projection(indegree=7, weight=0.5, seed=3)
    assert np.all(np.bincount(post, minlength=40) == 7)
    assert len(set(zip(pre.tolist(), post.tolist()))) == pre.size
    pre, post, _ = projection(source="a", target="a", indegree=59, weight=0.5, autapses=False)
    assert np.all(np.bincount(post, minlength=60) == 59) and not np.any(pre == post)  # every other neuron
    pre, post, _ = projection(indegree=80, weight=0.5, multapses=True)  # more than the 60 sources: repeats
    assert np.all(np.bincount(post, minlength=40) == 80)
    with pytest.raises(SpecError, match="exceeds the 60 available"):
        projection(indegree=80, weight=0.5)


def test_fixed_total_one_to_one_and_rule_errors():
    pre, post, _ = projection(source="a", target="a", total=500, weight=0.5, autapses=False, seed=2)
    assert pre.size == 500 and len(set(zip(pre.tolist(), post.tolist()))) == 500 and not np.any(pre == post)
    pre, post, _ = projection(source="a", target="a", one_to_one=True, weight=1.0)
    assert np.array_equal(pre, np.arange(60)) and np.array_equal(post, np.arange(60))
    with pytest.raises(SpecError, match="exactly one of p, fanout"):
        projection(p=0.1, indegree=3, weight=1.0)
    with pytest.raises(SpecError, match="multapses"):
        projection(p=0.1, multapses=True, weight=1.0)


def _chi_square_profile(pre, post, xa, xb, extent, periodic, profile, p0, scale, bins):
    """Observed synapses per distance bin against the expected sum of p over the pairs in it,
    each bin a sum of independent Bernoulli draws (variance sum p (1 - p))."""
    d = pair_distances(xa, xb, extent, periodic)
    p = distance_probability(d, profile, p0, scale)
    which = np.digitize(d, bins) - 1
    observed = np.bincount(which[pre, post], minlength=len(bins) - 1)[:len(bins) - 1]
    expected = np.bincount(which.ravel(), p.ravel(), minlength=len(bins) - 1)[:len(bins) - 1]
    var = np.bincount(which.ravel(), (p * (1 - p)).ravel(), minlength=len(bins) - 1)[:len(bins) - 1]
    use = expected > 5
    chi2 = float(np.sum((observed[use] - expected[use]) ** 2 / var[use]))
    return chi2, int(use.sum()), observed.sum(), expected.sum()


@pytest.mark.parametrize("space,profile,periodic", [("sheet", "gaussian", True), ("ring", "exponential", False)])
def test_distance_rule_matches_its_probability_profile(space, profile, periodic):
    n, extent, p0, scale = 900, 1.0, 0.7, 0.08
    pre, post = connect_distance(n, n, profile=profile, p0=p0, scale=scale, space=space, periodic=periodic,
                                 extent=extent, seed=5, autapses=True)
    x = positions(n, space, extent)
    bins = np.linspace(0, 0.4, 17)
    chi2, dof, total, expected = _chi_square_profile(pre, post, x, x, extent, periodic, profile, p0, scale, bins)
    assert dof >= 8 and stats.chi2.sf(chi2, dof) > 1e-3, (chi2, dof)
    # the memory estimate made before drawing bounds the count from above (edges make it exact-ish)
    estimate = expected_synapses("distance", n, n, {"distance": {"p0": p0, "scale": scale, "extent": extent,
                                                               "space": space, "profile": profile}})
    assert total <= 1.1 * estimate and total > 0.5 * estimate
    # a wrong profile is rejected by the same statistic (the test can fail)
    chi2_wrong, dof_w, _, _ = _chi_square_profile(pre, post, x, x, extent, periodic, profile, p0, 1.3 * scale, bins)
    assert stats.chi2.sf(chi2_wrong, dof_w) < 1e-6


def test_distance_in_a_spec_and_as_a_graph():
    data = copy.deepcopy(BASE)
    data["populations"]["b"]["n"] = 36
    data["couplings"]["c"] = {"kind": "spiking", "source": "b", "target": "b", "port": "v", "weight": 0.2,
                              "autapses": False, "distance": {"profile": "gaussian", "p0": 0.9, "scale": 0.2}}
    conn = build_spec(data).model.projections["c"].synapses
    ref = connect_distance(36, 36, profile="gaussian", p0=0.9, scale=0.2, seed=0, autapses=False)
    assert sorted(zip(conn.presynaptic().tolist(), np.asarray(conn.indices).tolist())) == sorted(
        zip(ref[0].tolist(), ref[1].tolist()))
    data["populations"]["b"]["n"] = 35
    with pytest.raises(SpecError, match="not a perfect square"):
        build_spec(data)
    g = graph_from_spec("graph", {"kind": "fixed_total", "n": 12, "total": 30, "seed": 1})
    assert g.to_scipy().nnz == 30


@pytest.mark.parametrize("table,dist", [
    ({"dist": "normal", "mean": 0.5, "std": 0.1}, stats.norm(0.5, 0.1)),
    ({"dist": "lognormal", "mu": -1.0, "sigma": 0.4}, stats.lognorm(0.4, scale=np.exp(-1.0))),
    ({"dist": "uniform", "low": 0.2, "high": 0.9}, stats.uniform(0.2, 0.7)),
])
def test_drawn_weights_follow_their_distribution(table, dist):
    _, _, conn = projection(indegree=40, weight={**table, "seed": 4})
    w = np.asarray(conn.weights, np.float64)
    assert w.shape == (1600,)
    assert stats.kstest(w, dist.cdf).pvalue > 1e-3
    other = stats.norm(dist.mean() + 0.3 * dist.std(), dist.std())  # a shifted law is rejected
    assert stats.kstest(w, other.cdf).pvalue < 1e-6


def test_clipped_weights_and_delays_rounded_to_steps():
    _, _, conn = projection(total=2000, weight={"dist": "normal", "mean": 0.0, "std": 1.0, "clip": [-0.5, 2.0]},
                            delay_ms={"dist": "uniform", "low": 0.5, "high": 3.0, "seed": 7}, multapses=True)
    w = np.asarray(conn.weights, np.float64)
    assert w.min() == -0.5 and w.max() <= 2.0
    # the clipped mass sits at the bound: P(Z < -0.5) of the draws
    assert abs(np.mean(w == -0.5) - stats.norm.cdf(-0.5)) < 4 * np.sqrt(0.31 * 0.69 / w.size)
    inner = w[(w > -0.5) & (w < 2.0)]
    assert stats.kstest(inner, stats.truncnorm(-0.5, 2.0).cdf).pvalue > 1e-3
    steps = conn.synapse_delays()
    # rint(d / 0.1) of d ~ U(0.5, 3.0): step 5 and 30 get half a bin, 6..29 a full bin of 0.1 ms
    ks = np.arange(5, 31)
    probs = np.where((ks == 5) | (ks == 30), 0.05, 0.1) / 2.5
    observed = np.bincount(steps, minlength=31)[5:]
    assert observed.sum() == steps.size == 2000
    assert stats.chisquare(observed, probs * steps.size).pvalue > 1e-3
