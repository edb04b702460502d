"""The benchmark runner: a missing peer library is skipped with a message, an unknown name is an
error; the reservoir harvest's hand-loop floor computes the recurrence it times, the plastic
network's floor its whole step."""

import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import neurodyn as nd

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


def test_the_plasticity_floor_hand_loop_does_the_networks_whole_step():
    # the floor of benchmarks/bench_plasticity.py replays the plastic COBA network's spikes through
    # one numba loop: a floor must do the whole work -- its E->E weights after 2,000 steps equal
    # the network's to float32 rounding (every delivery, presynaptic and postsynaptic update), and
    # its neurons, driven by the replayed inputs, end at the network's potentials
    from benchmarks.bench_plasticity import plastic, replay
    from neurodyn.models import coba_ei, coba_initial_state

    base = coba_ei(400, i_ext=20.0, seed=1, dtype=np.float32)  # the loop's float32 (the benchmark's dtype)
    net = plastic(base, fused=True)
    state = coba_initial_state(net, jax.random.PRNGKey(0))
    traj = nd.simulate(net, 2000, state=state, record=(), progress=False)
    _, w, v_e, v_i, counts = replay(base, net, traj, state, 2000)
    final = traj.final_state
    learned = np.asarray(final.projections["ee"].weights)
    assert np.abs(learned - 0.6).max() > 0.1 and counts[-2] > 2  # spikes (Hz) and learning happened
    np.testing.assert_allclose(w, learned, atol=1e-6)
    np.testing.assert_allclose(v_e, np.asarray(final.populations["exc"].v), atol=1e-3)
    np.testing.assert_allclose(v_i, np.asarray(final.populations["inh"].v), atol=1e-3)


def test_the_floors_csr_rate_times_rows_of_the_products_shape():
    # the floor's CSR rate (bench_reservoir_harvest.csr_rate) runs its loop on rows of the given
    # length and index width: that loop must compute the product of that matrix, whose rows each
    # hold exactly row_nnz distinct sorted columns below n_cols; and BestRates keeps the best measure
    import scipy.sparse as sp

    from benchmarks.bench_reservoir_harvest import BestRates, _machine_loops, csr_matrix_of_rows, csr_rate

    indptr, indices, data = csr_matrix_of_rows(80, 50, 500, np.float32, np.uint16)
    assert indices.dtype == np.uint16 and data.dtype == np.float32 and len(indptr) == 81
    assert np.all(np.diff(indptr) == 50) and indices.max() < 500
    for r in range(80):
        row = indices[indptr[r]:indptr[r + 1]]
        assert np.all(np.diff(row.astype(int)) > 0)
    *_, csr = _machine_loops()
    x = np.random.default_rng(1).normal(size=500).astype(np.float32)
    y = np.zeros(80, np.float32)
    csr(indptr, indices, data, x, y, 1)
    want = sp.csr_matrix((data, indices.astype(np.int64), indptr.astype(np.int64)), shape=(80, 500)) @ x
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    assert csr_rate(np.float64, None, 50, 500, np.uint16) > 1e7  # non-zeros a second: runs, and counts them
    best = BestRates()
    assert best("k", lambda: 2.0) == 2.0 and best("k", lambda: 1.0) == 2.0 and best("k", lambda: 3.0) == 3.0


def test_the_cores_together_measures_run_on_every_core(monkeypatch):
    # csr_rate_both_cores runs the floor's CSR loop on a thread per core at once (the loop must
    # release the GIL, or the threads would take turns) and read_bandwidth reads on a thread per
    # core too: each starts cores - 1 threads a timing, and both report rates of a plausible size
    import os
    import threading

    from benchmarks import bench_reservoir_harvest as bench

    started = []
    real = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self), real(self))[1])
    loops = bench._machine_loops()
    assert loops[2].targetoptions.get("nogil")  # the CSR loop runs on both threads at once
    rate = bench.csr_rate_both_cores(np.float32, loops, 50, 500, np.uint16, repeat=2)
    assert 1e7 < rate < 1e12 and len(started) == 2 * ((os.cpu_count() or 1) - 1)
    assert 1e8 < bench.read_bandwidth(4e6, repeat=2) < 1e13
    assert len(started) == 4 * ((os.cpu_count() or 1) - 1)
