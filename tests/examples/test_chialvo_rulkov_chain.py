"""``examples/chialvo_rulkov_chain.py --quick``: the coexisting period-4 and chaotic attractors and
the synchrony map."""

import importlib.util
from pathlib import Path

import h5py
import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chialvo_rulkov_chain.py"


def _chain_step(z, g, sigma):
    """The chain's equations (docs/models/maps.md) in NumPy, z = (x1, y1, x3, y3, x2, y2)."""
    a, b, c, k = 0.89, 0.6, 0.28, 0.03
    alpha, mu = 4.1, 0.001
    x1, y1, x3, y3, x2, y2 = z
    return np.array([x1 * x1 * np.exp(y1 - x1) + k + g * (x2 - x1), a * y1 - b * x1 + c,
                     x3 * x3 * np.exp(y3 - x3) + k + g * (x2 - x3), a * y3 - b * x3 + c,
                     alpha / (1 + x2 * x2) + y2 + g * (x1 - x2) + g * (x3 - x2), y2 - mu * (x2 - sigma)])


def test_quick_run_finds_a_period_4_orbit_beside_a_chaotic_attractor_and_draws_them(tmp_path):
    spec = importlib.util.spec_from_file_location("chialvo_rulkov_chain_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = example.main(["--quick", "--out", str(tmp_path)])
    assert out["figure"].is_file() and out["figure"].stat().st_size > 20_000
    with h5py.File(tmp_path / "chialvo_rulkov_chain.h5") as f:
        assert f["attractors/cls"].shape == (100,)
    a = out["attractors"]
    period4, chaotic = a["cls"] == example.CLASSES.index("period 4"), a["cls"] == example.CLASSES.index("chaotic")
    # both attractors are reached, each from a sizeable share of the initial conditions
    assert period4.sum() >= 20 and chaotic.sum() >= 20 and period4.sum() + chaotic.sum() == a["cls"].size
    # the periodic orbit is weakly stable (exponent set by the Rulkov slow scale mu = 0.001), the other chaotic
    assert np.all((a["lambda"][period4] < 0) & (a["lambda"][period4] > -0.01))
    assert np.all(a["lambda"][chaotic] > 0.2)
    # an independent NumPy iteration of the equations returns to the period-4 state after 4 steps, not before
    i = int(np.nonzero(period4)[0][0])
    o = a["orbits"]
    z0 = np.array([o["chialvo.x"][i, -1, 0], o["chialvo.y"][i, -1, 0], o["chialvo.x"][i, -1, 1],
                   o["chialvo.y"][i, -1, 1], o["rulkov.x"][i, -1, 0], o["rulkov.y"][i, -1, 0]])
    z, path = z0, []
    for _ in range(4):
        z = _chain_step(z, example.COUPLING, example.RULKOV_SIGMA)
        path.append(z)
    np.testing.assert_allclose(path[-1], z0, atol=1e-6)
    assert min(np.max(np.abs(p - z0)) for p in path[:3]) > 0.1
    # y2 returns only if the Rulkov x2 averages to sigma over the period: y2' - y2 = -mu (x2 - sigma)
    np.testing.assert_allclose(np.mean([p[4] for p in path]), example.RULKOV_SIGMA, atol=1e-5)
    s = out["synchrony"]
    assert s["gamma_cr"].shape == (7, 7) and np.all(np.abs(s["gamma_cr"]) <= 1 + 1e-12)
    # uncoupled (g = 0) Chialvo neurons do not feel the Rulkov neuron: the same Gamma_13 at every sigma,
    # and, started apart, not synchronous; any coupling of the grid synchronises them (identical units)
    assert np.ptp(s["gamma_cc"][0]) < 1e-9 and s["gamma_cc"][0, 0] < 0.9
    assert np.all(s["gamma_cc"][1:] > 0.999)
    assert set(np.unique(s["period"])) <= set(range(example.MAX_PERIOD + 1))
