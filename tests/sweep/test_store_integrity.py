"""The sweep store verifies itself before it is resumed (issue 19, defect 3 and 11): done flags
set by hand, garbage in them, a missing or misshapen ``/sweep/done`` and random damaged bytes
anywhere in the file are either recomputed to the identical file contents or refused with one
line, never reported as diverged points, never a traceback, never exit 0 with other results."""

import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurodyn.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "models" / "chialvo_single.toml"


def _args(out, *extra):
    return ["sweep", str(SPEC), "--steps", "300", "--set", "record.transient=100", "--chunk", "2",
            "--grid", "populations.neuron.k=0.02:0.04:5", "--measure", "mean:neuron.x",
            "--measure", "max_lyapunov", "--out", str(out), *extra]


def _contents(path) -> dict:
    with h5py.File(path, "r") as f:
        g = f["sweep"]
        out = {f"results/{k}": v[()] for k, v in g["results"].items()}
        out.update({f"params/{k}": v[()] for k, v in g["params"].items()})
        out["done"] = g["done"][()]
    return out


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and np.array_equal(a[k], b[k], equal_nan=True)
        for k in a)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "ref.h5"
    assert main(_args(path, "--quiet")) == 0
    contents = _contents(path)
    assert contents["done"].all() and np.isfinite(contents["results/max_lyapunov"]).all()
    return path, contents


def _damage_and_rerun(tmp_path, reference, change, *extra, capsys=None):
    path = tmp_path / "s.h5"
    path.write_bytes(reference[0].read_bytes())
    with h5py.File(path, "r+") as f:
        change(f)
    return main(_args(path, *extra)), path


def _nan_results(f):
    for ds in f["sweep/results"].values():
        ds[...] = np.nan


def _garbage_flags(f):
    with open(f.filename, "r+b") as raw:  # bytes that are neither 0 nor 1 in the bool flags
        raw.seek(f["sweep/done"].id.get_offset())
        raw.write(bytes([0x5A, 0x01, 0xFF, 0x80, 0x02]))


@pytest.mark.parametrize("quiet", [True, False])
@pytest.mark.parametrize("change", [
    pytest.param(lambda f: (_nan_results(f), f["sweep/done"].__setitem__(slice(None), True)), id="flags-set-by-hand"),
    pytest.param(_garbage_flags, id="garbage-flags"),
    pytest.param(lambda f: f["sweep/done"].__setitem__(slice(1, 3), True), id="flags-of-a-chunk-never-computed"),
    pytest.param(lambda f: f["sweep/results/max_lyapunov"].__setitem__(3, 0.125), id="one-result-changed"),
    pytest.param(lambda f: f["sweep/checksums"].__setitem__(2, 7), id="a-checksum-changed"),
])
def test_chunks_that_do_not_verify_are_recomputed_to_the_same_results(tmp_path, reference, capsys, change, quiet):
    """Done flags set after a kill -9 (or garbage in them) were trusted: exit 0, nothing computed,
    the never-computed points reported as "run diverged"."""
    def cut_then_change(f):  # as after a kill -9: the last two chunks never computed
        if "never computed" in str(change.__name__):
            return
        change(f)

    rc, path = _damage_and_rerun(tmp_path, reference, cut_then_change, *(["--quiet"] if quiet else []))
    out, err = capsys.readouterr()
    assert rc == 0 and err == "", err
    assert "diverged" not in out and "not computed" not in out
    assert _same(_contents(path), reference[1])
    with h5py.File(path) as f:
        assert f["sweep/done"].dtype == bool and f["sweep/checksums"].shape == (3, 16)


@pytest.mark.parametrize("change", [
    pytest.param(lambda f: f.__delitem__("sweep/done"), id="done-deleted"),
    pytest.param(lambda f: (f.__delitem__("sweep/done"), f.create_dataset("sweep/done", data=np.ones(3, bool))),
                 id="done-wrong-shape"),
    pytest.param(lambda f: (f.__delitem__("sweep/done"), f.create_dataset("sweep/done", data=np.ones(5, np.int64))),
                 id="done-wrong-type"),
    pytest.param(lambda f: f["sweep/params/populations.neuron.k"].__setitem__(1, 7.0), id="a-parameter-changed"),
    pytest.param(lambda f: f["sweep"].attrs.__setitem__("n_points", 4), id="an-attribute-changed"),
])
@pytest.mark.parametrize("quiet", [True, False])
def test_a_store_whose_structure_does_not_verify_is_refused_in_one_line(tmp_path, reference, capsys, change, quiet):
    """A missing /sweep/done gave a KeyError traceback, one of the wrong shape an IndexError
    traceback, or exit 0 under --quiet with NaN points."""
    rc, path = _damage_and_rerun(tmp_path, reference, change, *(["--quiet"] if quiet else []))
    out, err = capsys.readouterr()
    assert rc == 2 and out == "", (out, err)
    assert re.fullmatch(rf"neurodyn: error: {re.escape(str(path))} is a damaged sweep file [^\n]+; delete it "
                        rf"to start over, or give another --out\n", err), err


def test_a_store_of_an_earlier_version_is_recomputed_and_rebuilt(tmp_path, reference, capsys):
    """No user block and no checksums: nothing can be verified, so every chunk is recomputed."""
    path = tmp_path / "old.h5"
    with h5py.File(reference[0], "r") as src, h5py.File(path, "w") as dst:
        for name in src:
            src.copy(src[name], dst, name)
        del dst["sweep/checksums"]
        for ds in dst["sweep/results"].values():
            ds[...] = 1.5  # not what this sweep computes: must not survive
    assert main(_args(path, "--quiet")) == 0
    assert _same(_contents(path), reference[1])
    assert path.read_bytes().startswith(b"neurodyn-sweep-store-1")


def test_a_store_in_use_by_another_process_is_named_so(tmp_path, reference, capsys):
    path = tmp_path / "s.h5"
    path.write_bytes(reference[0].read_bytes())
    holder = subprocess.Popen([sys.executable, "-c", "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); "
                               "print('open', flush=True); sys.stdin.read()", str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert main(_args(path, "--quiet")) == 2
    finally:
        holder.communicate("", timeout=30)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in use by another process" in err, err
    assert "not a readable" not in err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_damage_is_refused_in_one_line_or_recomputed_identically(tmp_path, reference, capsys, data):
    """Overwrite 1-8 random runs of bytes of a complete store; the rerun either exits 2 with one
    line, or exits 0 and the file holds exactly the reference's parameters, results and flags."""
    raw = bytearray(reference[0].read_bytes())
    for _ in range(data.draw(st.integers(1, 8), label="runs")):
        at = data.draw(st.integers(0, len(raw) - 1), label="offset")
        new = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        raw[at:at + len(new)] = new
    path = tmp_path / "damaged.h5"
    path.write_bytes(bytes(raw[:len(reference[0].read_bytes())]))
    capsys.readouterr()
    rc = main(_args(path, "--quiet"))
    err = capsys.readouterr().err
    if rc == 2:
        assert re.fullmatch(r"neurodyn: error: [^\n]+\n", err), err
    else:
        assert rc == 0 and err == "", err
        assert _same(_contents(path), reference[1])
    path.unlink(missing_ok=True)
