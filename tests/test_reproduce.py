"""A run reproduces itself: `neurodyn run FILE.h5` re-runs a file's stored spec bit for bit, and
nd.load_spec gives from Python the run of the command line (the README's snippet included)."""

import hashlib
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.cli import main
from neurodyn.io import load

from bundled import SMALL_RUNS, SPECS, bundled_names

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _arrays(path) -> dict:
    """Every dataset under /report, /spikes and /diagnostics."""
    out = {}
    with h5py.File(path) as f:
        for top in ("report", "spikes", "diagnostics"):
            if top in f:
                f[top].visititems(lambda name, obj: out.__setitem__(f"{top}/{name}", obj[()])
                                  if isinstance(obj, h5py.Dataset) else None)
    return out


def _digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_every_bundled_spec_is_rerun_here():
    assert sorted(SMALL_RUNS) == bundled_names()


@pytest.mark.parametrize("spec", sorted(SMALL_RUNS))
def test_bundled_spec_with_overrides_reruns_from_its_stored_spec_bitwise(workdir, capsys, spec):
    assert main(["run", str(SPECS / f"{spec}.toml"), *SMALL_RUNS[spec], "--out", "first.h5", "--quiet"]) == 0
    before = _digest("first.h5")
    assert main(["run", "first.h5"]) == 0
    assert "wrote first.rerun.h5" in capsys.readouterr().out
    assert _digest("first.h5") == before  # the source is never touched
    first, again = _arrays("first.h5"), _arrays("first.rerun.h5")
    assert sorted(first) == sorted(again) and any(k.startswith("report/") for k in first)
    for name, values in first.items():
        assert values.dtype == again[name].dtype, name
        np.testing.assert_array_equal(values, again[name], err_msg=name)
    a, b = load("first.h5")["meta"], load("first.rerun.h5")["meta"]
    for key in ("name", "seed", "steps", "dt", "precision", "every", "transient", "time_unit"):
        assert a[key] == b[key], key
    # the re-run's stored spec is the source's, sent to the new file
    assert load_toml(b["spec"]) == {**load_toml(a["spec"]), "output": "first.rerun.h5"}


def load_toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


def test_rerun_takes_new_options_and_never_writes_over_its_source(workdir, capsys):
    assert main(["run", str(SPECS / "chialvo_single.toml"), "--steps", "1200", "--out", "a.h5", "--quiet"]) == 0
    before = _digest("a.h5")
    for args, given in ((["--out", "a.h5"], "a.h5"), (["--out", "./a.h5"], "./a.h5"),
                        (["--set", 'output="a.h5"'], "a.h5")):
        assert main(["run", "a.h5", *args]) == 2
        assert capsys.readouterr().err.strip() == (f"neurodyn: error: output {given}: that is the run file being "
                                                  f"re-run; write the new run elsewhere")
    assert _digest("a.h5") == before
    assert main(["run", "a.h5", "--seed", "4", "--out", "b.h5", "--quiet"]) == 0
    assert load("b.h5")["meta"]["seed"] == 4 and load("b.h5")["meta"]["steps"] == 1200
    with h5py.File("plain.h5", "w") as f:
        f.create_dataset("x", data=[1])
    assert main(["run", "plain.h5"]) == 2
    assert capsys.readouterr().err.strip() == ("neurodyn: error: plain.h5: holds no stored spec (the /neurodyn "
                                              "attribute 'spec' of a file written by neurodyn run)")


def test_load_spec_simulates_as_the_cli_for_the_same_seed(workdir):
    spec = SPECS / "chialvo_ring_star.toml"
    assert main(["run", str(spec), "--steps", "3000", "--seed", "5", "--out", "cli.h5", "--quiet"]) == 0
    cli = load("cli.h5")
    for run in (nd.load_spec(spec, steps=3000, seed=5), nd.load_spec("cli.h5")):
        traj = nd.runs.simulate_spec(run)
        for name in ("neurons.x", "neurons.y"):
            np.testing.assert_array_equal(traj[name], cli["report"]["neurons"][name.split(".")[1]]["data"])
        t, ids = traj.spikes["neurons.x"]
        np.testing.assert_array_equal(t, cli["spikes"]["neurons"]["timestamps"])
        np.testing.assert_array_equal(ids, cli["spikes"]["neurons"]["node_ids"])
        np.testing.assert_array_equal(traj.times, cli["report"]["neurons"]["x"]["times"])


def test_readme_python_snippet_gives_the_spikes_of_the_cli(workdir, capsys):
    readme = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "nd.load_spec" in b)
    namespace: dict = {}
    exec(compile(block.replace("models/", f"{SPECS}/"), "README.md", "exec"), namespace)
    assert main(["run", str(SPECS / "chialvo_ring_star.toml")]) == 0
    out = capsys.readouterr().out
    n_cli = int(re.search(r"/spikes/neurons\s+([\d,]+) spikes", out).group(1).replace(",", ""))
    traj = namespace["traj"]
    # the numbers the README states in its comments
    stated_spikes = re.search(r'len\(traj\.spikes\["neurons\.x"\]\[0\]\)\s*#\s*([\d,]+)', block).group(1)
    stated_shape = re.search(r'traj\["neurons\.x"\]\.shape\s*#\s*(\(.*?\))', block).group(1)
    assert len(traj.spikes["neurons.x"][0]) == n_cli == int(stated_spikes.replace(",", ""))
    assert str(traj["neurons.x"].shape) == stated_shape
    cli = load("hdf5_outputs/chialvo_ring_star.h5")
    np.testing.assert_array_equal(traj["neurons.x"], cli["report"]["neurons"]["x"]["data"])
