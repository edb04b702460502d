import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurodyn.cli import main
from neurodyn.io import load

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "models"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("spec,extra", [("chialvo_single", []), ("chialvo_ring_star", []),
                                        ("rulkov_chialvo_chain", ["--set", "record.transient=500"])])
def test_bundled_specs_run_and_write_sonata_layout(workdir, capsys, spec, extra):
    assert main(["run", str(SPECS / f"{spec}.toml"), "--steps", "3000", *extra]) == 0
    out = capsys.readouterr().out
    path = workdir / "hdf5_outputs" / f"{spec}.h5"
    assert f"wrote hdf5_outputs/{spec}.h5" in out and "steps/s" in out
    data = load(path)
    assert data["meta"]["status"] == "complete" and data["meta"]["steps"] == 3000
    for pop, variables in data["report"].items():
        for var, rep in variables.items():
            assert rep["data"].shape[0] == rep["times"].shape[0] > 0
            assert np.all(np.isfinite(rep["data"]))
    assert data["spikes"]  # every bundled spec records spikes


def test_info_shows_layout_units_and_spec(workdir, capsys):
    main(["run", str(SPECS / "chialvo_ring_star.toml"), "--steps", "2000", "--quiet"])
    capsys.readouterr()
    assert main(["info", "hdf5_outputs/chialvo_ring_star.h5"]) == 0
    out = capsys.readouterr().out
    for expected in ("report/", "neurons/", "data: float64 (1000, 4) [1]", "mapping/", "time: float64 (3,) [iteration]",
                     "spikes/", "timestamps", "node_ids", "seed = 1", "[couplings.triadic]"):
        assert expected in out, expected


def test_same_spec_and_seed_reproduce_bitwise_and_stored_spec_reproduces_itself(workdir):
    args = ["run", str(SPECS / "chialvo_ring_star.toml"), "--steps", "2500", "--quiet",
            "--set", "couplings.star.strength=0.02", "--set", "precision=\"float32\""]
    main(args + ["--out", "a.h5"])
    main(args + ["--out", "b.h5"])
    a, b = load("a.h5"), load("b.h5")
    np.testing.assert_array_equal(a["report"]["neurons"]["x"]["data"], b["report"]["neurons"]["x"]["data"])
    assert a["report"]["neurons"]["x"]["data"].dtype == np.float32
    # the stored spec (overrides applied) run again gives the same arrays
    Path("again.toml").write_text(a["meta"]["spec"])
    main(["run", "again.toml", "--out", "c.h5", "--quiet"])
    c = load("c.h5")
    np.testing.assert_array_equal(c["report"]["neurons"]["x"]["data"], a["report"]["neurons"]["x"]["data"])
    main(["run", str(SPECS / "chialvo_ring_star.toml"), "--steps", "2500", "--quiet", "--seed", "2", "--out", "d.h5"])
    assert not np.array_equal(load("d.h5")["report"]["neurons"]["x"]["data"][:10],
                              load("a.h5")["report"]["neurons"]["x"]["data"][:10])


BAD = [
    (["--set", "populations.neurons.model=\"izhikevic\""], "unknown model 'izhikevic' (allowed: chialvo, rulkov"),
    (["--set", "populations.neurons.bb=0.1"], "unknown field 'bb' (allowed: model, n, init, a, b, c, k)"),
    (["--set", "populations.neurons.a=\"abc\""], "populations.neurons.a: expected a number"),
    (["--set", "populations.neurons.n=0"], "populations.neurons.n: must be an integer in [1, 2147483647]"),
    (["--set", "populations.neurons.n=-3"], "populations.neurons.n: must be an integer in [1, 2147483647]"),
    (["--set", "populations.neurons.n=2.5"], "populations.neurons.n: expected an integer"),
    (["--set", "dt=0"], "dt: must be > 0"),
    (["--set", "dt=-1.0"], "dt: must be > 0"),
    (["--set", "populations.neurons.a=nan"], "populations.neurons.a: must be a finite number"),
    (["--set", "populations.neurons.b=[0.1, 0.2]"], "expected 4 values (one per neuron)"),
    (["--steps", "0"], "steps: must be an integer in [1, 2147483647]"),
    (["--set", "record.variables=[\"neurons.z\"]"], "unknown variable 'neurons.z'"),
    (["--set", "couplings.star.kind=\"magnetic\""], "couplings.star.kind: unknown value 'magnetic'"),
    (["--set", "couplings.star.graph.kind=\"torus\""], "couplings.star.graph.kind: unknown value 'torus'"),
    (["--set", "couplings.star.graph.ring=5"], "the graph has 6 nodes but the coupled populations have 4"),
    (["--set", "couplings.star.variable=\"v\""], "population 'neurons' has no variable 'v'"),
    (["--set", "precision=\"float16\""], "precision: unknown value 'float16'"),
    (["--set", "frobnicate=1"], "spec: unknown field 'frobnicate'"),
    (["--set", "noequals"], "expected key.path=value"),
    (["--set", "record.transient=50000"], "record.transient: must be smaller than steps"),
    (["--set", "populations.neurons.init.x={ dist = \"cauchy\" }"], "unknown value 'cauchy'"),
    (["--set", "populations.neuron.b=0.6"], "populations.neuron: the spec has no population 'neuron' (populations: neurons)"),
    (["--set", "couplings.str.strength=0.02"],
     "couplings.str: the spec has no coupling 'str' (couplings: star, ring, triadic); did you mean 'star'?"),
    # the closest allowed name is suggested, and an error a --set value caused names that --set
    (["--set", "couplings.star.strenght=0.02"], "couplings.star: unknown field 'strenght' (allowed: kind, population, "
     "populations, variable, graph, strength, normalize); did you mean 'strength'? "
     "(from --set couplings.star.strenght=0.02)"),
    (["--set", "populations.neurons.model=\"chialvoo\""], "did you mean 'chialvo'? (from --set populations.neurons."),
    (["--set", "dt=-1"], "dt: must be > 0, got -1 (from --set dt=-1)"),
    (["--set", "couplings.star.graph.ring=5", "--set", "populations.neurons.k=0.03"],
     "the coupled populations have 4 neurons (from --set couplings.star.graph.ring=5)"),
    # --steps shorter than the spec's transient: the --set that fixes it
    (["--steps", "600"], "record.transient: must be smaller than steps (600), got 1000: --steps 600 ends before the "
     "spec's record.transient; add --set record.transient=300 (any value below 600)"),
    (["--steps", "2000", "--set", "steps=100"], "--steps 2000 and --set steps=100 both set steps: give only one"),
    (["--seed", "2", "--set", "seed=3"], "--seed 2 and --set seed=3 both set seed: give only one"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_input_gives_one_line_and_exit_status_2(workdir, capsys, args, message):
    assert main(["run", str(SPECS / "chialvo_ring_star.toml"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurodyn: error:") and "\n" not in err
    assert message in err, err
    assert not (workdir / "hdf5_outputs").exists() or not any((workdir / "hdf5_outputs").iterdir())


def test_missing_spec_malformed_toml_and_unwritable_output(workdir, capsys):
    assert main(["run", "nowhere.toml"]) == 2
    assert "spec file not found: nowhere.toml" in capsys.readouterr().err
    Path("broken.toml").write_text("name = \nsteps = [")
    assert main(["run", "broken.toml"]) == 2
    assert "broken.toml: invalid TOML" in capsys.readouterr().err
    Path("afile").write_text("")
    assert main(["run", str(SPECS / "chialvo_single.toml"), "--out", "afile/run.h5"]) == 2
    assert "cannot write output file afile/run.h5" in capsys.readouterr().err
    Path("adir").mkdir()
    assert main(["run", str(SPECS / "chialvo_single.toml"), "--out", "adir"]) == 2
    assert "cannot write output file adir: it is a directory" in capsys.readouterr().err
    assert main(["info", "missing.h5"]) == 2
    assert "no such file: missing.h5" in capsys.readouterr().err


def test_diverging_run_keeps_what_was_computed(workdir, capsys):
    # y0 = 705: x1 = 0.25 e^{704.5} is finite, x2 = x1^2 e^{...} overflows
    rc = main(["run", str(SPECS / "chialvo_single.toml"), "--set", "populations.neuron.init.y=705.0",
               "--set", "record.transient=0"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "diverged at step 2" in err and "variable 'x' of population 'neuron'" in err
    # a diverged run never takes the output's name; the message names the file and counts its samples
    assert "kept 2 samples" in err and "they are in hdf5_outputs/chialvo_single.diverged.h5" in err
    assert not Path("hdf5_outputs/chialvo_single.h5").exists()
    data = load("hdf5_outputs/chialvo_single.diverged.h5")
    assert data["meta"]["status"] == "diverged" and data["meta"]["diverged_step"] == 2
    assert data["report"]["neuron"]["x"]["data"].shape == (2, 2)
    assert np.all(np.isfinite(data["report"]["neuron"]["x"]["data"]))


def test_console_script_runs_readme_command(workdir):
    exe = shutil.which("neurodyn") or str(Path(sys.executable).parent / "neurodyn")
    ok = subprocess.run([exe, "run", str(SPECS / "chialvo_ring_star.toml"), "--steps", "1500"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert (workdir / "hdf5_outputs" / "chialvo_ring_star.h5").is_file()
    bad = subprocess.run([exe, "run", str(SPECS / "chialvo_ring_star.toml"), "--set", "dt=-1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == "neurodyn: error: dt: must be > 0, got -1 (from --set dt=-1)"


def test_kuramoto_specs_write_phases_and_order_parameter(workdir, capsys):
    import h5py

    assert main(["run", str(SPECS / "kuramoto_all_to_all.toml"), "--steps", "4000"]) == 0
    assert "/diagnostics/order_parameter" in capsys.readouterr().out
    with h5py.File("hdf5_outputs/kuramoto_all_to_all.h5") as f:
        r = f["diagnostics/order_parameter"][()]
        assert f["report/oscillators/theta/data"].shape == (100, 2000)
        assert abs(f["diagnostics/order_parameter"].attrs["time_average"] - np.sqrt(0.5)) < 0.02  # K = 2 K_c
    np.testing.assert_allclose(r, load("hdf5_outputs/kuramoto_all_to_all.h5")["report"]["oscillators"]["r"]["data"][:, 0],
                               atol=1e-12)
    assert main(["run", str(SPECS / "kuramoto_lattice_kpz.toml"), "--steps", "2000", "--quiet"]) == 0
    data = load("hdf5_outputs/kuramoto_lattice_kpz.h5")
    assert data["report"]["lattice"]["theta"]["data"].shape == (20, 1024)
    assert "order_parameter" in data["diagnostics"]


def test_bad_kuramoto_fields(workdir, capsys):
    spec = str(SPECS / "kuramoto_all_to_all.toml")
    cases = [("populations.oscillators.frequencies.dist=\"cauchy\"", "unknown value 'cauchy'"),
             ("populations.oscillators.noise=-0.1", "noise: must be >= 0"),
             ("populations.oscillators.method=\"leapfrog\"", "method: unknown value 'leapfrog'"),
             ("diagnostics.order_parameter.population=\"nobody\"", "unknown value 'nobody'"),
             ("record.variables=[\"oscillators.r\"]", "needs 'oscillators.theta' in record.variables")]
    for assignment, message in cases:
        assert main(["run", spec, "--set", assignment]) == 2
        err = capsys.readouterr().err
        assert message in err, (assignment, err)


def test_version_prints_the_package_version(capsys):
    import neurodyn

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"neurodyn {neurodyn.__version__}"


def test_output_into_a_pipe_closed_early_ends_quietly_with_status_0(tmp_path):
    """`neurodyn info f.h5 | head -1`: the reader is gone before the summary is printed; the
    console script says nothing on stderr (no traceback) and exits 0."""
    out = tmp_path / "l.h5"
    assert main(["run", str(SPECS / "lif_rate.toml"), "--steps", "200", "--out", str(out), "--quiet"]) == 0
    exe = shutil.which("neurodyn") or str(Path(sys.executable).parent / "neurodyn")
    proc = subprocess.Popen([exe, "info", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # every write of the child now fails with EPIPE
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 0 and err == b"", err.decode()


HEAVY = ("jax", "numba", "dask", "matplotlib", "sklearn")


def test_help_info_and_argument_errors_import_no_heavy_library(tmp_path):
    """`neurodyn --help`, `neurodyn info` and a command line that argparse refuses start in a
    fraction of a second: neither JAX, numba, Dask, matplotlib nor scikit-learn is imported (in a
    fresh process), and `import neurodyn` alone imports none of them either."""
    import h5py

    path = tmp_path / "tiny.h5"
    with h5py.File(path, "w") as f:
        f.create_group("neurodyn").attrs.update(status="complete", spec="name = 'tiny'\nsteps = 3")
        f["diagnostics/nrmse"] = 0.25
        f["report/p/x/data"] = np.arange(40.0).reshape(20, 2)
    code = ("import sys\nfrom neurodyn.cli import main\n"
            "for argv in (['--help'], ['info', sys.argv[1]], ['info', '--json', sys.argv[1]], ['run'],\n"
            "             ['frobnicate']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "import neurodyn\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
    assert "nrmse: float64 () = 0.25" in done.stdout and '"kind": "run (complete)"' in done.stdout


def test_package_names_load_at_first_use():
    import neurodyn

    assert callable(neurodyn.simulate) and callable(neurodyn.sweep) and neurodyn.io.load is not None
    from neurodyn import Network, load_spec, set_precision  # noqa: F401
    assert {"simulate", "sweep", "io", "models"} <= set(dir(neurodyn))
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        neurodyn.simulat  # noqa: B018


def test_unknown_names_suggest_the_closest_allowed_one(workdir, capsys):
    from neurodyn.schema import did_you_mean

    assert did_you_mean("strenght", ["kind", "strength", "graph"]) == "; did you mean 'strength'?"
    assert did_you_mean("EXC.V", ["exc.v", "inh.v"]) == "; did you mean 'exc.v'?"  # case aside
    assert did_you_mean("zzz", ["kind", "strength"]) == ""  # nothing close: no guess
    spec = str(SPECS / "chialvo_single.toml")
    assert main(["sweep", spec, "--grid", "populations.neuron.k=0.02,0.03", "--measure", "meann", "--quiet"]) == 2
    assert "unknown measure 'meann'" in (err := capsys.readouterr().err) and "did you mean 'mean'?" in err
    assert main(["run", str(SPECS / "esn_narma10.toml"), "--set", "task.metrics=[\"nrmsee\"]"]) == 2
    assert "did you mean 'nrmse'?" in capsys.readouterr().err
    assert main(["run", str(SPECS / "cuba_ei.toml"), "--set", "couplings.ee.port=\"g_exx\""]) == 2
    err = capsys.readouterr().err
    assert "has no input port 'g_exx'" in err and "did you mean" in err, err


def test_run_summary_splits_compile_and_run_time_and_gives_rates_in_hz(workdir, capsys):
    assert main(["run", str(SPECS / "lif_rate.toml"), "--steps", "10000"]) == 0  # 100 ms
    out = capsys.readouterr().out
    import re

    head = re.match(r"lif_rate: 10,000 steps in ([\d.]+) s \(compile ([\d.]+) s, run ([\d.]+) s: [\d,]+ steps/s, "
                    r"([\d.e+-]+) s per simulated second\)", out)
    assert head, out
    wall, compile_s, run_s, per_second = map(float, head.groups())
    # the times are printed to 0.01 s; 10,000 steps of 0.01 ms are 0.1 simulated seconds
    assert compile_s > 0 and abs(compile_s + run_s - wall) < 0.02 and abs(per_second * 0.1 - run_s) < 0.006
    # the rate of the file, in Hz, as the summary says it (neurons at 45.5 and 98.6 Hz and a silent one:
    # docs/models/spiking.md; over 100 ms: 4 + 9 spikes -> (40 + 90 + 0) / 3 Hz)
    rate = load("hdf5_outputs/lif_rate.h5")["diagnostics"]["neurons.rate"]
    assert f"population_rate = {rate.mean():.4g} Hz" in out and abs(rate.mean() - 130 / 3) < 5
    chi = float(load("hdf5_outputs/lif_rate.h5")["diagnostics"]["neurons.synchrony"])
    assert f"/diagnostics/neurons.synchrony = {chi:.4g} (chi)" in out


@pytest.fixture(scope="module")
def every_file_kind(tmp_path_factory):
    """One file of every kind neurodyn writes: a run with spikes and diagnostics (lif_rate), its
    partial and diverged siblings, its SONATA export, a sweep, a task run and its trained
    reservoir + readout, a training checkpoint."""
    import os

    import jax
    import jax.numpy as jnp
    import optax

    from neurodyn.io.hdf5 import RunWriter
    from neurodyn.train import write_checkpoint

    d = tmp_path_factory.mktemp("kinds")
    old = os.getcwd()
    os.chdir(d)
    try:
        assert main(["run", str(SPECS / "lif_rate.toml"), "--steps", "3000", "--out", "run.h5", "--quiet"]) == 0
        for status, extra in (("interrupted", {"stopped_step": 7}), ("diverged", {"diverged_step": 9,
                                                                                  "diverged_variable": "p.x"})):
            w = RunWriter(d / "cut.h5", meta={"spec": "name = 'cut'\nsteps = 20"}, shapes={"p.x": (2,)},
                          units={"p.x": "mV"}, time=(0.0, 0.5), dtype="float64")
            w.append(None, {"p.x": np.array([[1.0, np.nan], [3.0, 4.0]])}, {})
            w.close(status, **extra)
        assert main(["export", "run.h5", "sonata"]) == 0
        assert main(["sweep", str(SPECS / "chialvo_single.toml"), "--grid", "populations.neuron.k=0.02,0.03",
                     "--measure", "mean", "--steps", "1200", "--out", "sweep.h5", "--quiet"]) == 0
        assert main(["run", str(SPECS / "esn_narma10.toml"), "--set", "populations.reservoir.n=20",
                     "--set", "task.readout.ridge=[1e-6]", "--steps", "600", "--set", "task.washout=100",
                     "--set", "task.train=300", "--set", "task.test=200", "--out", "task.h5", "--quiet"]) == 0
        params = {"w": jnp.ones((3, 2)), "b": jnp.arange(2.0)}
        write_checkpoint(d / "checkpoint.h5", params=params, opt_state=optax.adam(1e-3).init(params),
                         history={"loss": [1.0, 0.5]}, epoch=2, key=jax.random.key(0))
    finally:
        os.chdir(old)
    return d


KINDS = {"run.h5": "run (complete)", "cut.partial.h5": "partial run (interrupted at step 7)",
         "cut.diverged.h5": "diverged run (step 9, p.x)", "sonata/report_v.h5": "SONATA report",
         "sonata/spikes.h5": "SONATA spikes", "sweep.h5": "sweep (2 of 2 points done)",
         "task.h5": "run of a spec with a [task] (complete)", "task.trained.h5": "trained reservoir and readout",
         "checkpoint.h5": "training checkpoint"}


@pytest.mark.parametrize("name", list(KINDS))
def test_info_lists_every_group_and_dataset_of_every_file_kind(every_file_kind, capsys, name):
    import json

    import h5py

    path = every_file_kind / name
    assert main(["info", "--json", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"].startswith(KINDS[name])
    listed = {}

    def walk(node, where):
        for child, sub in node.get("members", {}).items():
            listed[f"{where}{child}"] = sub
            walk(sub, f"{where}{child}/")

    walk(info["root"], "")
    with h5py.File(path) as f:
        stored = {}
        f.visititems(lambda n, o: stored.__setitem__(n, o[()] if isinstance(o, h5py.Dataset) else None))
        assert set(listed) == set(stored)  # every group and dataset, nothing invented
        for n, value in stored.items():
            if value is None:
                continue
            node = listed[n]
            assert node["shape"] == list(value.shape) and node["dtype"] == str(value.dtype)
            if value.size <= 10:  # small values in full (a scalar diagnostic shows its number)
                expected = value.tolist()
                got = node["value"]
                if value.dtype.kind == "f":
                    # (JSON has no NaN: a non-finite value is the string "nan", "inf" or "-inf")
                    floats = np.vectorize(float, otypes=[float])(np.asarray(got, dtype=object))
                    np.testing.assert_allclose(floats, np.asarray(expected, float))
                else:
                    assert got == expected
            elif value.dtype.kind in "fiu":  # large arrays: min / mean / max of the finite values
                finite = value[np.isfinite(value)]
                s = node["summary"]
                np.testing.assert_allclose([s["min"], s["mean"], s["max"]],
                                           [finite.min(), finite.mean(), finite.max()], rtol=1e-6)
                assert s.get("non_finite", 0) == value.size - finite.size
    assert main(["info", str(path)]) == 0  # the text listing names every group and dataset too
    text = capsys.readouterr().out
    assert text.startswith(f"{path}: {KINDS[name]}")
    assert all(n.rsplit("/", 1)[-1] in text for n in stored)


def test_info_text_shows_values_methods_and_the_reservoir(every_file_kind, capsys):
    main(["info", str(every_file_kind / "task.trained.h5")])
    text = capsys.readouterr().out
    assert "reservoir/" in text and "class = neurodyn.models.reservoir:ESN" in text and "w: float64 (20, 20)" in text
    main(["info", str(every_file_kind / "task.h5")])
    text = capsys.readouterr().out
    nrmse = float(load(every_file_kind / "task.h5")["diagnostics"]["nrmse"])
    assert f"nrmse: float64 () = {nrmse:.6g}" in text and "definition = sqrt(mean((y_hat - y)^2) / var(y))" in text
    main(["info", str(every_file_kind / "run.h5")])
    text = capsys.readouterr().out
    assert "rate: float64 (3,) [Hz] = [" in text and "method = spikes per neuron per second" in text
    assert "spec (/neurodyn attribute):" in text and "| name = \"lif_rate\"" in text


def test_examples_refuse_unknown_options():
    """Every example parses its options with argparse's parse_args, through the examples' one
    command line (neurodyn.cli.example_options) or its own parser: an unknown flag such as a
    --quick the example lacks is an error, exit 2; never parse_known_args or sys.argv by hand."""
    import ast

    from neurodyn.cli import example_options

    for path in sorted((ROOT / "examples").glob("*.py")):
        tree = ast.parse(path.read_text())
        calls = {n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", None)
                 for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert {"parse_args", "example_options"} & calls and "parse_known_args" not in calls, path.name
        assert "sys.argv" not in path.read_text(), path.name
    with pytest.raises(SystemExit) as stop:
        example_options("An example.", "a small run", ["--quick", "--no-such-flag"], out=None)
    assert stop.value.code == 2
    assert example_options("An example.", "a small run", ["--quick"], out=None).quick


def test_one_convention_per_quantity_time_units_and_float32_steps(workdir):
    """A sweep of a model built in Python labels its figures with the time unit its spec would
    (the unit is stored with the sweep), and a float32 model's dt and spike times are written as
    the decimals they stand for (0.1 ms, not 0.10000000149011612)."""
    import h5py

    import neurodyn as nd
    from neurodyn.models import chialvo_ring_star
    from neurodyn.models.spiking import LIF
    from neurodyn.plot.sweep import colour_convention, read_sweep
    from neurodyn.sweep import cartesian, parse_axis

    assert main(["sweep", str(SPECS / "chialvo_single.toml"), "--grid", "populations.neuron.k=0.02,0.03",
                 "--measure", "mean", "--steps", "1200", "--out", "spec.sweep.h5", "--quiet"]) == 0
    net = chialvo_ring_star(3, b=0.18)
    grid = cartesian([parse_axis("populations.neurons.k=0.02,0.03")])
    nd.sweep(net, grid, ["max_lyapunov"], steps=300, out="python.sweep.h5", progress=False)
    units = {read_sweep(p)["time_unit"] for p in ("spec.sweep.h5", "python.sweep.h5")}
    assert units == {"iteration"}
    assert colour_convention("max_lyapunov", np.array([0.1, -0.1]), "iteration")["label"].endswith("(1 / iteration)")

    lif = LIF.create(3, i_ext=[25.0, 30.0, 35.0], dtype=np.float32)  # dt = float32(0.1)
    traj = nd.simulate(lif, 2000, every=10)
    with h5py.File(nd.runs.save(traj, "lif32.h5")) as f:
        assert f["neurodyn"].attrs["dt"] == 0.1
        t = f["spikes/population/timestamps"][()] if "population" in f["spikes"] else \
            next(iter(f["spikes"].values()))["timestamps"][()]
    assert len(t) > 10 and np.all(np.abs(t * 10 - np.round(t * 10)) < 1e-9)  # whole steps of 0.1 ms


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_output_on_a_file_system_without_size_says_it_cannot_write(workdir, capsys):
    assert main(["run", str(SPECS / "chialvo_single.toml"), "--steps", "1200", "--out", "/proc/x.h5"]) == 2
    err = capsys.readouterr().err
    assert "cannot write output file /proc/x.h5" in err and "free there" not in err, err


def test_info_lists_any_hdf5_file_even_with_missing_links(workdir, capsys):
    import h5py

    with h5py.File("odd.h5", "w") as f:
        f["a"] = np.array([1.0, np.nan, 3.0, np.inf] + [2.0] * 20)
        f["soft"] = h5py.SoftLink("/nowhere")
        f["ext"] = h5py.ExternalLink("missing.h5", "/x")
        f["t"] = np.dtype("f4")
        f.attrs["big"] = np.arange(100)
    assert main(["info", "odd.h5"]) == 0
    out = capsys.readouterr().out
    for line in ("odd.h5: HDF5 file (not written by neurodyn)", 'big = {"min": 0, "mean": 49.5, "max": 99}',
                 "a: float64 (24,)  min 1, mean 2, max 3, 2 non-finite", "ext: link to missing.h5:/x (missing)",
                 "soft: link to /nowhere (missing)", "t: datatype float32"):
        assert line in out, (line, out)
