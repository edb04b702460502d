"""The benchmark runner: a missing peer library is skipped with a message, an unknown name is an
error; the reservoir harvest's hand-loop floor computes the recurrence it times."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import skip_missing_peer

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_benchmark_name_exits_2_and_lists_the_real_ones():
    out = subprocess.run([sys.executable, "-m", "benchmarks", "nosuch"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    names = sorted(p.stem[len("bench_"):] for p in (ROOT / "benchmarks").glob("bench_*.py"))
    assert {"chialvo_ring_star", "diagnostics", "kuramoto", "sweep"} <= set(names)
    assert out.stderr.strip() == f"python -m benchmarks: no benchmark matches 'nosuch' (available: {', '.join(names)})"


def test_a_peer_that_is_not_installed_is_skipped_with_a_message(monkeypatch):
    from benchmarks.bench_diagnostics import sample_entropy_against_nolds
    from benchmarks.bench_sweep import esn_sweep

    for name in [m for m in sys.modules if m.split(".")[0] in ("reservoirpy", "nolds")] + ["reservoirpy", "nolds"]:
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if it were not installed (submodules too)
    assert list(skip_missing_peer(esn_sweep(quick=True))) == [
        "  skipped: the peer library 'reservoirpy' is not installed (pip install -e '.[test]')"]
    assert list(skip_missing_peer(sample_entropy_against_nolds(quick=True))) == [
        "  skipped: the peer library 'nolds' is not installed (pip install -e '.[test]')"]


def test_other_import_errors_are_not_hidden(monkeypatch):
    def broken():
        import neurodyn_missing_module  # noqa: F401
        yield "never"

    try:
        list(skip_missing_peer(broken()))
    except ModuleNotFoundError as e:
        assert e.name == "neurodyn_missing_module"
    else:
        raise AssertionError("a missing module that is not a peer must raise")


def test_the_brian2_comparisons_without_their_environment_are_one_line_each(monkeypatch, tmp_path):
    from benchmarks import bench_coba, brian2_peer

    missing = tmp_path / "no-venv" / "bin" / "python"
    monkeypatch.setattr(brian2_peer, "BRIAN2_PYTHON", missing)
    monkeypatch.setattr(bench_coba, "BRIAN2_PYTHON", missing)
    line = f"  brian2    {brian2_peer.MISSING}"
    assert line.startswith("  brian2    skipped: no .venv-brian2/")
    for network in ("coba_stdp", "cobahh", "izhikevich"):
        assert list(brian2_peer.brian2_lines(network, 4000, 1.0, 0.1, 0.5, network)) == [line]
    assert list(bench_coba._brian2_lines((1.0,), {"simulate 1": 0.1})) == [line]


def test_the_brian2_networks_run_at_a_small_size_and_fire(monkeypatch):
    """The --quick path of bench_brian2's peer: each Brian2 network, small and short, on the cython
    target, prints its time, both populations' rates and the ratio; every population fires."""
    import re

    import pytest

    from benchmarks import brian2_peer

    if not brian2_peer.BRIAN2_PYTHON.exists():
        pytest.skip(brian2_peer.MISSING)
    for network, n, seconds, dt in (("coba", 400, 0.05, 0.1), ("coba_stdp", 400, 0.05, 0.1), ("cobahh", 400, 0.05, 0.1),
                                    ("izhikevich", 100, 0.2, 1.0)):
        lines = list(brian2_peer.brian2_lines(network, n, seconds, dt, 0.01, network,
                                              targets=brian2_peer.TARGETS[:1], rounds=1))
        assert len(lines) == 2, lines
        assert lines[0].startswith(f"  brian2    {network}, cython (float32): "), lines[0]
        rates = [float(x) for x in re.findall(r"(?:exc|inh) ([\d.]+) Hz", lines[0])]
        assert len(rates) == 2 and min(rates) > 0, lines[0]
        assert lines[1].startswith(f"  ratio brian2 best / neurodyn, {network}: "), lines[1]


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-13)])
def test_the_recurrence_floor_hand_loop_computes_the_recurrence(dtype, tol):
    # the floor's hand loop (one thread and two meeting every step) against the dense NumPy loop of
    # x_t = (1 - a) x_{t-1} + a tanh(W x_{t-1} + v_t): a floor must do the whole work
    import scipy.sparse as sp

    from benchmarks.bench_reservoir_harvest import hand_recurrence

    rng = np.random.default_rng(3)
    w = sp.random(300, 300, 0.1, random_state=3, format="csr", data_rvs=lambda k: rng.uniform(-0.3, 0.3, k))
    v, x0 = rng.normal(size=(40, 300)), rng.normal(size=300)
    want, x = [], x0
    for vt in v:
        x = 0.7 * x + 0.3 * np.tanh(w @ x + vt)
        want.append(x)
    single, two, y = hand_recurrence(w, v, x0, 0.3, dtype)
    for run in (single, two):
        y[:] = np.nan
        run()
        np.testing.assert_allclose(y, np.array(want), atol=tol * 10)
