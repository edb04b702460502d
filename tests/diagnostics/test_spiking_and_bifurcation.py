import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from neurodyn.diagnostics import bifurcation_diagram, ei_balance, fano_factor, firing_rates, isi_cv
from neurodyn.models import Chialvo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from systems import Logistic  # noqa: E402


def _poisson(rate, n, duration, seed=0):
    rng = np.random.default_rng(seed)
    times, ids = [], []
    for i in range(n):
        t = np.cumsum(rng.exponential(1 / rate, int(rate * duration * 2)))
        t = t[t < duration]
        times.append(t)
        ids.append(np.full(len(t), i))
    return np.concatenate(times), np.concatenate(ids)


def test_poisson_and_regular_spike_statistics():
    t, ids = _poisson(0.02, 50, 200_000.0)  # 20 Hz for 200 s in ms
    assert np.all(np.abs(isi_cv(t, ids, 50) - 1) < 0.1)
    assert abs(np.nanmean(fano_factor(t, ids, 50, 100.0, 0.0, 200_000.0)) - 1) < 0.05
    np.testing.assert_allclose(firing_rates(t, ids, 50, 200_000.0), 20.0, rtol=0.1)  # Hz
    np.testing.assert_allclose(firing_rates(t / 1000.0, ids, 50, 200.0, time_unit="s"), 20.0, rtol=0.1)
    reg_t = np.tile(np.arange(0, 1000.0, 10.0), 3)
    reg_i = np.repeat(np.arange(3), 100)
    np.testing.assert_allclose(isi_cv(reg_t, reg_i, 3), 0, atol=1e-12)
    assert np.all(fano_factor(reg_t, reg_i, 3, 100.0, 0.0, 1000.0) == 0)


def test_ei_balance_on_constructed_currents():
    rng = np.random.default_rng(1)
    shared = rng.normal(size=(5000, 4))
    e = 2.0 + shared
    i = -(1.0 + 0.5 * shared + 0.1 * rng.normal(size=(5000, 4)))  # tracks E: tight balance
    b = ei_balance(e, i)
    np.testing.assert_allclose(b["ratio"], 2.0, rtol=0.05)
    assert np.all(b["correlation"] > 0.95)
    loose = ei_balance(e, -(1.0 + rng.normal(size=(5000, 4))))
    assert np.all(np.abs(loose["correlation"]) < 0.1)


def test_logistic_bifurcation_diagram_period_doubling_points():
    # one branch below r = 3, two between 3 and 1 + sqrt(6), period doublings detected within 1e-2
    values = np.arange(2.8, 3.5, 0.002)
    diag = bifurcation_diagram(Logistic(jnp.asarray(3.0)), "r", values, variable="x", transient=100_000, keep=64,
                               tol=1e-4)
    assert np.all(diag.periods[values < 2.99] == 1)
    assert np.all(diag.periods[(values > 3.01) & (values < 3.44)] == 2)
    changes = diag.period_changes()
    first = [v for v, a, b in changes if (a, b) == (1, 2)]
    second = [v for v, a, b in changes if (a, b) == (2, 4)]
    assert len(first) == 1 and abs(first[0] - 3.0) < 1e-2
    assert len(second) == 1 and abs(second[0] - (1 + np.sqrt(6))) < 1e-2


def test_bifurcation_over_per_neuron_parameter_of_chialvo():
    diag = bifurcation_diagram(Chialvo.create(1), "k", [0.01, 0.03], variable="x", transient=5000, keep=500)
    assert diag.orbits.shape == (2, 500)
    assert np.ptp(diag.orbits[1]) > 1.0  # k = 0.03, b = 0.6: the oscillation of docs/models/maps.md


def test_fixed_point_bifurcation_signatures():
    from neurodyn.diagnostics import fixed_points
    from neurodyn.models.maps import MapState

    # logistic: x* = 1 - 1/r has multiplier 2 - r: a flip (period doubling) at r = 3
    (fp,) = fixed_points(Logistic(jnp.asarray(3.0)), [jnp.asarray(0.6)])
    assert abs(float(fp.state) - 2 / 3) < 1e-12 and fp.signature() == "flip"
    # Chialvo: the focus loses stability between b = 0.6 (|lambda| = 0.992) and b = 0.18 (1.031)
    # through a complex pair crossing the unit circle: a Neimark-Sacker point, found by bisection
    guess = [MapState(jnp.array([0.5]), jnp.array([1.5]))]
    lo, hi = 0.18, 0.6
    # 25 halvings: b to 1.3e-8, |lambda| - 1 about 6e-10 at the midpoint (measured; 1e-13 after
    # 40), far inside the 1e-6 tolerance of the signature; 16 halvings would not do (1.3e-6)
    for _ in range(25):
        mid = 0.5 * (lo + hi)
        (fp,) = fixed_points(Chialvo.create(1, b=mid), guess)
        lo, hi = (lo, mid) if fp.stable else (mid, hi)
    (fp,) = fixed_points(Chialvo.create(1, b=0.5 * (lo + hi)), guess)
    assert fp.signature(1e-6) == "neimark-sacker"
    assert 0.18 < lo < 0.6


def test_edge_of_chaos_saves_and_plots(tmp_path):
    import h5py
    import matplotlib

    matplotlib.use("Agg")
    from neurodyn.diagnostics.edge import EdgeOfChaos

    res = EdgeOfChaos(np.array([0.5, 1.0, 1.5]), np.array([0.1, 0.2]), np.array([[-1.0, -0.5], [-0.1, 0.2], [0.3, 0.4]]),
                      np.array([np.nan, 0.1 + 0.1 * 0.1 / 0.3, np.nan]), "rho", "scale")
    res.save(tmp_path / "e.h5")
    with h5py.File(tmp_path / "e.h5") as f:
        np.testing.assert_array_equal(f["diagnostics/edge_of_chaos/exponent"][()], res.exponent)
        assert f["diagnostics/edge_of_chaos"].attrs["x_name"] == "rho"
    from neurodyn.plot import edge_of_chaos

    fig = edge_of_chaos(res)
    fig.savefig(tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 1000
