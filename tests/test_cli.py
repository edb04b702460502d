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
    (["--set", "populations.neurons.model=\"izhikevich\""], "unknown model 'izhikevich' (allowed: chialvo, rulkov"),
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
     "couplings.str: the spec has no coupling 'str' (couplings: star, ring, triadic)"),
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
    assert bad.stderr.strip() == "neurodyn: error: dt: must be > 0, got -1"


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
