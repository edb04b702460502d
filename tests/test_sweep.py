import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.cli import main
from neurodyn.errors import SpecError
from neurodyn.diagnostics import max_lyapunov
from neurodyn.models import ESN
from neurodyn.spec import load_spec
from neurodyn.sweep import (Measure, cartesian, compile_count, latin_hypercube, parse_axis, random_sample, sweep)

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "models" / "chialvo_ring_star.toml"
WORKER = Path(__file__).with_name("sweep_worker.py")


def _read(path):
    with h5py.File(path) as f:
        g = f["sweep"]
        return ({k: v[()] for k, v in g["results"].items()}, g["done"][()], g["chunk_writes"][()],
                {k: v[()] for k, v in g["params"].items()})


def test_kill_and_resume_gives_identical_file(tmp_path):
    full = tmp_path / "full.h5"
    subprocess.run([sys.executable, str(WORKER), str(SPEC), str(full), "0"], check=True, capture_output=True)
    killed = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, str(WORKER), str(SPEC), str(killed), "30"], stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()  # "chunk 0 flushed": then it sleeps; kill it there
    assert "flushed" in line
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    results, done, writes, _ = _read(killed)
    assert 0 < done.sum() < len(done)  # the kill left a partly done, readable file
    subprocess.run([sys.executable, str(WORKER), str(SPEC), str(killed), "0"], check=True, capture_output=True)
    a, done_a, writes_a, params_a = _read(full)
    b, done_b, writes_b, params_b = _read(killed)
    assert done_a.all() and done_b.all()
    assert np.all(writes_b == 1)  # every chunk computed and written exactly once
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    for name in params_a:
        np.testing.assert_array_equal(params_a[name], params_b[name])


def test_vmapped_sweep_matches_single_runs_and_compiles_once(tmp_path):
    spec = load_spec(SPEC, steps=1500)
    grid = cartesian([parse_axis("couplings.star.strength=0:0.08:3"), parse_axis("populations.neurons.k=0.025:0.035:3")])
    before = compile_count()
    res = sweep(spec, grid, ["max_lyapunov", "mean:neurons.x"], out=tmp_path / "s.h5", chunk=2, progress=False,
                transient=200)
    assert compile_count() - before == 1  # 5 chunks (the last padded), one compilation
    from neurodyn.core.parameters import with_parameter

    for i in (0, 4, 8):
        star, k = grid.values[i]
        m = with_parameter(with_parameter(spec.model, "projections.star.strength", star), "populations.neurons.k", k)
        lam = float(max_lyapunov(m, 1300, transient=200, state=spec.state))
        assert abs(res.results["max_lyapunov"][i] - lam) < 1e-9
    again = sweep(spec, grid, ["max_lyapunov", "mean:neurons.x"], out=tmp_path / "s.h5", chunk=2, progress=False,
                  transient=200)
    assert again.computed == 0  # resumed: nothing left to do
    assert compile_count() - before == 1


def test_shared_matrix_reservoir_sweep_and_user_measure():
    base = ESN.create(30, spectral_radius=1.0, input_scaling=0.5, seed=1)

    def final_norm(records):
        return {"norm": jnp.linalg.norm(records["x"][-1])}

    grid = cartesian([parse_axis("recurrent_gain=0.5,0.9,1.4")])
    res = sweep(base, grid, ["max_lyapunov", Measure.function(final_norm, ("x",))], steps=300, progress=False,
                state=base.init(jax.random.PRNGKey(0))._replace(x=jnp.full(30, 0.5)))
    lam = res.results["max_lyapunov"]
    # no input and rho(gain W) = gain < 1: the state decays to 0 and lambda -> ln(gain) (docs/models/reservoirs.md)
    np.testing.assert_allclose(lam[:2], np.log([0.5, 0.9]), atol=0.03)
    assert np.isfinite(lam[2])
    assert res.results["final_norm.norm"].shape == (3,)
    assert res.results["final_norm.norm"][0] < 1e-3


def test_sweep_accepts_a_function_drive_like_simulate():
    # one drive convention for simulate, run, diagnostics and sweeps: a function of t equals its table
    base = ESN.create(20, spectral_radius=0.9, input_scaling=0.5, seed=2)
    grid = cartesian([parse_axis("input_gain=0.5,1.0,2.0")])
    u = jnp.sin(0.3 * jnp.arange(400.0))[:, None]
    table = sweep(base, grid, ["mean:x", "var:x"], steps=400, transient=50, drive=u, progress=False)
    fn = sweep(base, grid, ["mean:x", "var:x"], steps=400, transient=50, drive=lambda t: jnp.sin(0.3 * t)[None],
               progress=False)
    for name in table.results:
        np.testing.assert_allclose(fn.results[name], table.results[name], rtol=1e-12, atol=1e-14)
    # and each point equals simulate with the same function drive
    from neurodyn.core.parameters import with_parameter

    # a sweep measures the states after steps 50..399; simulate records the state before each step
    x = nd.simulate(with_parameter(base, "input_gain", 2.0), 401, transient=51,
                    drive=lambda t: jnp.sin(0.3 * t)[None])["x"]
    np.testing.assert_allclose(fn.results["var(x)"][2], np.mean(x.var(axis=0)), rtol=1e-9)
    with pytest.raises(SpecError, match="no input port 'w'"):
        sweep(base, grid, ["mean:x"], steps=400, drive={"w": u}, progress=False)


def test_structural_parameter_rebuilds_the_model(tmp_path):
    spec = tmp_path / "er.toml"
    spec.write_text("""
name = "er"
steps = 400
seed = 1
precision = "float64"
[populations.n]
model = "chialvo"
n = 12
b = 0.18
[couplings.c]
kind = "diffusive"
population = "n"
graph = { kind = "fixed_indegree", n = 12, k = 3, seed = 1 }
strength = 0.05
normalize = "degree"
""")
    grid = cartesian([parse_axis("couplings.c.graph.seed=1,2,3"), parse_axis("couplings.c.strength=0.05,0.1")])
    res = sweep(spec, grid, ["mean:n.x"], out=tmp_path / "er.sweep.h5", progress=False)
    means = res.results["mean(n.x)"].reshape(3, 2)
    assert np.all(np.isfinite(means))
    assert len(np.unique(means[:, 0].round(12))) == 3  # different graphs, different dynamics


def test_random_and_latin_hypercube_samples():
    bounds = {"a": (0.0, 1.0), "b": (-2.0, 2.0)}
    g = latin_hypercube(bounds, 50, seed=3)
    for j, (lo, hi) in enumerate(bounds.values()):
        strata = np.floor((g.values[:, j] - lo) / (hi - lo) * 50).astype(int)
        assert sorted(strata) == list(range(50))  # one point per stratum on every axis
    r = random_sample(bounds, 200, seed=1)
    assert r.values.shape == (200, 2) and np.all(r.values[:, 1] >= -2) and np.all(r.values[:, 1] <= 2)
    np.testing.assert_array_equal(r.values, random_sample(bounds, 200, seed=1).values)


def test_dask_local_cluster_gives_identical_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = load_spec(SPEC, steps=1200)
    grid = cartesian([parse_axis("couplings.star.strength=0:0.1:4"), parse_axis("populations.neurons.k=0.025:0.035:2")])
    local = sweep(spec, grid, ["max_lyapunov", "cross_correlation"], out=tmp_path / "a.h5", chunk=3, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = sweep(spec, grid, ["max_lyapunov", "cross_correlation"], out=tmp_path / "b.h5", chunk=3,
                           executor=client, progress=False)
    for name in local.results:
        np.testing.assert_array_equal(local.results[name], remote.results[name])
    assert remote.done.all()


BAD = [
    (["--grid", "couplings.nothing.strength=0:1:3", "--measure", "max_lyapunov"], "couplings.nothing"),
    (["--grid", "populations.neuron.b=0.1:0.2:2", "--measure", "max_lyapunov"],
     "the spec has no population 'neuron' (populations: neurons)"),
    (["--grid", "couplings.star.strength=0:1:0", "--measure", "max_lyapunov"], "the range is empty"),
    (["--grid", "couplings.star.strength=a:b:c", "--measure", "max_lyapunov"], "cannot read"),
    (["--grid", "couplings.star.strength=0:1:3", "--measure", "entropy"], "unknown measure 'entropy'"),
    (["--grid", "couplings.star.strength=0:1:3"], "needs at least one --measure"),
    (["--grid", "couplings.star.strength=0:1:3", "--measure", "max_lyapunov", "--scheduler", "tcp://127.0.0.1:1"],
     "cannot reach the Dask scheduler"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m for _, m in BAD])
def test_bad_sweep_input_exit_2_nothing_written(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    if "--scheduler" in args:  # the real connect, with 0.5 s instead of its default 5 s to give up
        import neurodyn.sweep
        from neurodyn.sweep.execute import connect
        monkeypatch.setattr(neurodyn.sweep, "connect", lambda address: connect(address, timeout=0.5))
    assert main(["sweep", str(SPEC), "--steps", "500", "--set", "record.transient=100", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurodyn: error:") and "\n" not in err and message in err, err
    assert not (tmp_path / "hdf5_outputs").exists() or not any((tmp_path / "hdf5_outputs").iterdir())


def test_cli_sweep_plot_and_refusal(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["sweep", str(SPEC), "--steps", "800", "--set", "record.transient=100", "--grid", "couplings.star.strength=0:0.1:3",
            "--grid", "populations.neurons.k=0.02:0.04:3", "--measure", "max_lyapunov", "--measure", "cross_correlation",
            "--quiet"]
    assert main(args) == 0
    path = tmp_path / "hdf5_outputs" / "chialvo_ring_star.sweep.h5"
    results, done, _, params = _read(path)
    assert done.all() and results["max_lyapunov"].shape == (9,)
    with h5py.File(path) as f:
        assert json.loads(f["sweep"].attrs["grid"])["kind"] == "cartesian"
        assert "[couplings.star]" in f["sweep"].attrs["spec"]
    assert main(["plot", str(path)]) == 0
    pngs = sorted(p.name for p in path.parent.glob("*.png"))
    assert "chialvo_ring_star.sweep.max_lyapunov.png" in pngs
    other = ["sweep", str(SPEC), "--steps", "800", "--set", "record.transient=100", "--grid",
             "couplings.star.strength=0:0.2:3", "--grid", "populations.neurons.k=0.02:0.04:3",
             "--measure", "max_lyapunov", "--measure", "cross_correlation", "--quiet"]
    assert main(other) == 2
    assert "holds a different sweep" in capsys.readouterr().err


def test_neurodyn_sweep_is_callable_with_plain_grid(tmp_path):
    import neurodyn

    res = neurodyn.sweep(SPEC, {"couplings.star.strength": [0.0, 0.05]}, ["mean:neurons.x"], steps=600,
                         transient=100, out=tmp_path / "x.h5", progress=False)
    assert res.done.all() and res.results["mean(neurons.x)"].shape == (2,)
    assert neurodyn.sweep.cartesian is cartesian


def test_dask_worker_death_mid_chunk_is_retried(tmp_path):
    distributed = pytest.importorskip("distributed")
    marker = tmp_path / "died-once"

    def dies_once(records):
        # runs while a chunk is traced; the first Dask worker to get here dies (never the client)
        try:
            distributed.get_worker()
        except ValueError:
            return {"last": records["neurons.x"][-1, 0]}
        if not marker.exists():
            marker.write_text("x")
            os._exit(1)
        return {"last": records["neurons.x"][-1, 0]}

    spec = load_spec(SPEC, steps=1200)
    grid = cartesian([parse_axis("couplings.star.strength=0:0.1:4")])
    measures = [Measure.function(dies_once, ("neurons.x",)), "mean:neurons.x"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = sweep(spec, grid, measures, out=tmp_path / "b.h5", chunk=2, executor=client, progress=False,
                           transient=100)
    assert marker.exists() and remote.done.all()
    local = sweep(spec, grid, measures, out=tmp_path / "a.h5", chunk=2, progress=False, transient=100)
    for name in local.results:
        np.testing.assert_array_equal(local.results[name], remote.results[name])


def test_a_whole_float_seed_the_spec_leaves_out_is_given_as_an_integer(tmp_path):
    """A grid holds floats: ``--grid populations.reservoir.seed=0,1`` on a spec that does not set
    the seed builds each point with the integer seed (it was refused: 'expected an integer, got
    float 0.0'); the built reservoir is the one of the spec with that seed written in; 0.5 is still
    refused."""
    import jax

    from neurodyn.errors import SpecError
    from neurodyn.spec.sweep import SpecSource

    text = ('steps = 50\n[populations.reservoir]\nmodel = "esn"\nn = 12\ndensity = 0.5\n'
            '[record]\nvariables = []\n')
    (tmp_path / "a.toml").write_text(text)
    (tmp_path / "b.toml").write_text(text.replace("density = 0.5", "density = 0.5\nseed = 3"))
    model, _ = SpecSource(load_spec(tmp_path / "a.toml")).rebuild({"populations.reservoir.seed": np.float64(3.0)})
    for x, y in zip(jax.tree_util.tree_leaves(model), jax.tree_util.tree_leaves(load_spec(tmp_path / "b.toml").model)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    with pytest.raises(SpecError, match="expected an integer, got float 0.5"):
        SpecSource(load_spec(tmp_path / "a.toml")).rebuild({"populations.reservoir.seed": 0.5})
