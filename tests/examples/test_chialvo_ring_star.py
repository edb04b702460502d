"""``examples/chialvo_ring_star.py --quick``: the route along k and the synchrony map it draws."""

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chialvo_ring_star.py"


def test_quick_run_finds_the_route_fixed_point_chaos_quasi_periodic_and_writes_its_figures(tmp_path):
    spec = importlib.util.spec_from_file_location("chialvo_ring_star_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = example.main(["--quick", "--out", str(tmp_path)])
    for path in out["figures"].values():
        assert path.is_file() and path.stat().st_size > 20_000
    r = out["route"]
    k, lam = r["k"], r["lambda"]
    # a stable fixed point for small k: one orbit value and a negative exponent (both couplings)
    small = k < 0.02
    assert np.all(lam[small] < -0.1) and np.all(np.ptp(r["orbits"][small], axis=-1) < 1e-9)
    # chaos just above the loss of stability, seen alike by lambda_max and the 0-1 test
    band = (k > 0.023) & (k < 0.03)
    assert np.all(lam[band] > 0.02) and np.all(r["zero_one"][band] > 0.9)
    # quasi-periodic closed invariant curves at large k: lambda_max near zero, orbits not periodic
    for s2, found in out["transitions"].items():
        assert 0.02 < found["first_chaotic_k"] < 0.025, (s2, found)
        assert found["quasi_periodic_k"] is not None and found["quasi_periodic_k"][1] == k[-1]
    # the triadic coupling lowers lambda_max in the chaotic band
    assert np.mean(lam[band, 1]) < 0.8 * np.mean(lam[band, 0])
    gamma = out["synchrony"]["gamma"]
    assert gamma.shape == (9, 9, 2) and np.all(np.abs(gamma) <= 1 + 1e-12)
    assert gamma[-1, -1, 0] > 0.99  # strong star and ring coupling synchronise the network
