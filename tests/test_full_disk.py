"""Full disks and unwritable folders (issue 19, defects 2, 5, 9, 13): one line naming the file
and the free space, exit 2, no traceback, no crash, the earlier complete file intact; trained
files written atomically; small spike datasets stay small; outputs checked before computing.

A full disk is a real one: a size-limited tmpfs (mounted here when the tests run as root, skipped
with a message where mounting is not allowed); a read-only folder is a tmpfs remounted read-only
(permission bits do not stop root)."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurodyn.cli import main
from neurodyn.errors import OutputError

ROOT = Path(__file__).resolve().parents[1]
KURAMOTO = ROOT / "models" / "kuramoto_all_to_all.toml"
NARMA = ROOT / "models" / "esn_narma10.toml"
RUN = ["--set", "populations.oscillators.n=200", "--set", "chunk=200", "--set", "record.transient=0", "--quiet"]


def _mount(folder: Path, *options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=2m",) + options), "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here ({done.stderr.strip() or 'not root'}); "
                    f"the full-disk tests need one")


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB file system."""
    folder = tmp_path / "disk"
    _mount(folder)
    yield folder
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def read_only(tmp_path):
    """A folder on a read-only file system holding a run file ``r.h5``."""
    folder = tmp_path / "ro"
    _mount(folder)
    from neurodyn.io.hdf5 import RunWriter

    w = RunWriter(folder / "r.h5", meta={"dt": 1.0, "steps": 4}, shapes={"p.x": (3,)}, units={}, time=(0.0, 1.0))
    w.append(None, {"p.x": np.arange(12.0).reshape(4, 3)}, {})
    w.close()
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    yield folder
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path, leave: int) -> None:
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    (folder / "filler").write_bytes(b"\0" * max(0, free - leave))


def _digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


FULL = r"neurodyn: error: cannot write output file {path}: the disk is full \(\d[\d.]* k?B free there\); nothing " \
       r"was written under that name and any earlier file of that name is unchanged\n"


def test_a_run_filling_the_disk_is_one_line_and_the_earlier_file_is_intact(small_disk, capsys):
    """Before: a chain of HDF5 RuntimeError tracebacks, then a segmentation fault (exit 139).
    The write that would fill the disk is refused before HDF5 starts it."""
    out = small_disk / "k.h5"
    assert main(["run", str(KURAMOTO), *RUN, "--steps", "400", "--out", str(out)]) == 0
    earlier = _digest(out)
    _fill(small_disk, 200_000)
    capsys.readouterr()
    assert main(["run", str(KURAMOTO), *RUN, "--steps", "2000", "--force", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(FULL.format(path=re.escape(str(out))), err), err
    assert _digest(out) == earlier and sorted(p.name for p in small_disk.iterdir()) == ["filler", "k.h5"]


WITHOUT_PRECHECK = """
import sys
import neurodyn.files, neurodyn.io.hdf5
neurodyn.io.hdf5.ensure_space = lambda *a, **k: None  # let HDF5 itself hit the full disk
sys.argv = ["neurodyn", *sys.argv[1:]]
from neurodyn.cli import console
console()
"""


def test_hdf5_hitting_the_full_disk_itself_is_one_line_and_no_crash(small_disk):
    """The same with the space check disabled: HDF5's failed write is caught, the temporary file
    emptied and closed, and the process exits 2 (a real process: a crash would show as -11)."""
    out = small_disk / "k.h5"
    (small_disk / "k.h5").write_bytes(b"an earlier file")
    _fill(small_disk, 100_000)
    done = subprocess.run([sys.executable, "-c", WITHOUT_PRECHECK, "run", str(KURAMOTO), *RUN, "--steps", "4000",
                           "--force", "--out", str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr[-3000:]
    assert re.fullmatch(FULL.format(path=re.escape(str(out))), done.stderr), done.stderr[-3000:]
    assert out.read_bytes() == b"an earlier file"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "k.h5"]


SAVE_TRAINED = """
import sys
import numpy as np
import neurodyn.io.trained as t
from neurodyn.errors import OutputError
if sys.argv[2] == "raw":
    t.ensure_space = lambda *a, **k: None  # let HDF5 itself hit the full disk
try:
    t.save_trained(sys.argv[1], weights=np.ones(int(sys.argv[3])), ridge=1e-6)
except OutputError as e:
    print(e, file=sys.stderr)
    sys.exit(2)
"""


@pytest.mark.parametrize("how", ["checked", "raw"])
def test_a_trained_file_is_written_atomically(small_disk, how):
    """Before: written in place (h5py mode "w"): on a full disk a good earlier trained file
    became unreadable while the run file beside it said "complete". ``checked``: refused by the
    space check; ``raw``: HDF5 itself hits the full disk (in a real process: a crash shows)."""
    from neurodyn.io.trained import load_trained, save_trained

    path = small_disk / "t.trained.h5"
    save_trained(path, weights=np.ones(1000), ridge=1e-6)
    earlier = _digest(path)
    _fill(small_disk, 60_000)
    if how == "checked":
        with pytest.raises(OutputError) as e:
            save_trained(path, weights=np.ones(200_000), ridge=1e-6)
        message = str(e.value) + "\n"
    else:
        done = subprocess.run([sys.executable, "-c", SAVE_TRAINED, str(path), how, "200000"], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 2, done.stderr[-3000:]  # 1.6 MB of weights: more than is free
        message = done.stderr
    assert re.fullmatch(rf"cannot write trained file {re.escape(str(path))}: the disk is full [^\n]+\n", message), message
    assert _digest(path) == earlier
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "t.trained.h5"]
    assert load_trained(path)["weights"].shape == (1000,)


def test_spike_datasets_are_chunked_by_their_expected_count(tmp_path):
    """Before: every spike dataset had 65,536-element chunks (512 kB each, two per population),
    so the smallest COBA file took 2.2 MB."""
    from neurodyn.io.hdf5 import RunWriter, spike_chunk

    assert [spike_chunk(n) for n in (None, 0, 1, 1024, 1025, 40_000, 10**9)] == \
        [65536, 1024, 1024, 1024, 2048, 65536, 65536]
    sizes = {}
    for expected in (None, 200):
        path = tmp_path / f"s{expected}.h5"
        w = RunWriter(path, meta={}, shapes={}, units={}, spikes=("a.spike", "b.spike"), time=(0.0, 1.0),
                      expected_spikes=None if expected is None else {"a.spike": expected, "b.spike": expected})
        w.append(None, {}, {"a.spike": (np.arange(150.0), np.arange(150)), "b.spike": (np.arange(3.0), np.zeros(3))})
        w.close()
        sizes[expected] = path.stat().st_size
        with h5py.File(path) as f:
            assert f["spikes/a/timestamps"].shape == (150,) and f["spikes/b/node_ids"].shape == (3,)
    assert sizes[200] < 100_000 < 2_000_000 < sizes[None], sizes


def test_plot_into_a_read_only_folder_is_one_line_before_drawing(read_only, capsys):
    """Before: an OSError traceback, exit 1."""
    assert main(["plot", str(read_only / "r.h5")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert re.fullmatch(r"neurodyn: error: cannot write figures such as \S+/r\.png: Read-only file system \(\S+ does "
                        r"not accept new files\); the figures are written beside the file: copy it to a writable "
                        r"folder and plot it there\n", err), err


def test_outputs_are_checked_before_computing(read_only, capsys, monkeypatch):
    """Before: a task run into an unwritable folder, and fit with an unwritable checkpoint path,
    failed only after computing everything."""
    import jax
    import jax.numpy as jnp
    import optax

    import neurodyn.runs.task as task
    from neurodyn.train import fit

    def computed(*a, **k):
        raise AssertionError("the task was computed before its output was checked")

    monkeypatch.setattr(task, "run_task", computed)
    monkeypatch.setattr(task, "harvest_task", computed)
    monkeypatch.setattr(task, "harvest_series", computed)
    monkeypatch.setattr(task, "train_and_score", computed)
    assert main(["run", str(NARMA), "--set", "populations.reservoir.n=20", "--out",
                 str(read_only / "task.h5")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neurodyn: error: cannot write output file {read_only / 'task.h5'}: Read-only file "
                          f"system") and err.count("\n") == 1, err
    calls = []

    def loss(model, batch, key):
        calls.append(1)
        return jnp.mean((batch @ model - 1.0) ** 2), {}

    with pytest.raises(OutputError, match=r"cannot write checkpoint .*c\.h5: Read-only file system"):
        fit(jnp.zeros(3), loss, jnp.ones((8, 3)), optimizer=optax.sgd(0.1), epochs=2, batch_size=4,
            key=jax.random.PRNGKey(0), checkpoint=read_only / "c.h5", progress=False)
    assert calls == []
