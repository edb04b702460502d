"""Checkpoints of ``neurodyn run`` (issue 22): a plastic COBA run killed with SIGKILL at a random
moment and resumed by running the same command again ends with the file of an uninterrupted run
(every dataset -- reports, the sampled and final weights, spikes, diagnostics -- and their
attributes bit for bit, and the stored spec); a plain COBA run stopped by a signal keeps its
``.partial.h5`` and resumes from ``--resume``; a checkpoint of another spec, or a truncated or
flipped one, is refused with one line and exit 2 and left as it was."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurodyn.cli import main

ROOT = Path(__file__).resolve().parents[2]
STDP = ROOT / "models" / "coba_ei_stdp.toml"
COBA = ROOT / "models" / "coba_ei.toml"
# 200 neurons at 10 % connectivity (about 2,600 plastic E->E synapses), one chunk per 20 ms
SMALL = ["--set", "populations.exc.n=160", "--set", "populations.inh.n=40", "--set", "chunk=200"] + \
    [arg for c in ("ee", "ei", "ie", "ii") for arg in ("--set", f"couplings.{c}.p=0.1")]


def _contents(path) -> dict:
    """Every dataset's bytes, dtype and shape and every attribute, by path; of ``/neurodyn`` the
    attributes that describe the run (not when or how fast it ran, nor where its output went)."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, node):
            attrs = {k: str(v) for k, v in node.attrs.items()}
            if name == "neurodyn":
                attrs = {k: v for k, v in attrs.items() if k not in ("created", "wall_time_s")}
                attrs["spec"] = "\n".join(line for line in attrs["spec"].splitlines() if not line.startswith("output"))
            if isinstance(node, h5py.Dataset):
                value = node[()]
                out[name] = (np.asarray(value).tobytes(), str(node.dtype), node.shape, attrs)
            else:
                out[name] = attrs
        f.visititems(visit)
    return out


def _assert_same_run(a, b):
    ca, cb = _contents(a), _contents(b)
    assert sorted(ca) == sorted(cb)
    differ = [name for name in ca if ca[name] != cb[name]]
    assert not differ, f"differ: {differ}"


def _step(checkpoint) -> int:
    """The step of the checkpoint file (-1 while there is none); a new one is renamed over it."""
    try:
        with h5py.File(checkpoint, "r") as f:
            return int(f["checkpoint"].attrs["step"])
    except (OSError, KeyError):
        return -1


def _command(spec, out, *extra):
    return [sys.executable, "-m", "neurodyn", "run", str(spec), *SMALL, "--out", str(out), *extra]


def test_a_plastic_run_killed_at_a_random_moment_resumes_to_the_uninterrupted_file(tmp_path):
    out, reference = tmp_path / "stdp.h5", tmp_path / "reference.h5"
    checkpoint = tmp_path / "stdp.checkpoint.h5"
    # the killed run leaves its compiled code in a cache, so its resumption compiles nothing
    env = dict(os.environ, NEURODYN_CACHE_DIR=str(tmp_path / "cache"), NEURODYN_COMPILATION_CACHE="1")
    # 3,000 steps (300 ms), a checkpoint every 400 steps (two chunks): seven checkpoints, each
    # rewriting all that was recorded so far -- the run's main cost after starting and compiling
    command = _command(STDP, out, "--steps", "3000", "--checkpoint-every", "400steps", "--quiet")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    target = random.randrange(400, 2001, 400)  # a checkpoint step of the first two thirds of the run
    end = time.monotonic() + 240
    while _step(checkpoint) < target:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"no checkpoint at step {target}"
        time.sleep(0.005)
    time.sleep(random.uniform(0.0, 0.05))  # then anywhere: in a chunk, in a write, in the next checkpoint
    assert proc.poll() is None, "the run ended before it was killed"
    proc.kill()
    proc.communicate()
    assert not out.exists() and checkpoint.exists()
    with h5py.File(checkpoint, "r") as f:
        killed_at = int(f["checkpoint"].attrs["step"])
    assert 0 < killed_at < 3000
    resumed = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert main(["run", str(STDP), *SMALL, "--steps", "3000", "--out", str(reference), "--quiet"]) == 0
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"resuming from checkpoint {checkpoint} at step {killed_at:,}" in err
    _assert_same_run(out, reference)
    assert not checkpoint.exists()  # the run is complete
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["reference.h5", "stdp.h5"]  # no temporaries
    with h5py.File(out, "r") as f:  # the run learned: the final weights moved from their initial 0.6
        weights = f["diagnostics/ee.weights"][()]  # 2,575 synapses
        assert len(weights) > 1000 and np.abs(weights - 0.6).max() > 0.01
        assert len(f["spikes/exc/timestamps"]) > 1000  # 2,504 E spikes in 300 ms


class StopAfter:
    """A ``should_stop`` that asks to stop on its ``n``-th call (before the ``n``-th chunk)."""

    name = "SIGINT"

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self):
        self.calls += 1
        return self.calls >= self.n


@pytest.fixture(scope="module")
def stopped_coba(tmp_path_factory):
    """A plain COBA run stopped before its 6th chunk (a checkpoint at the stop) and its
    uninterrupted reference, in one process."""
    from neurodyn.runs import run_spec, spec_checkpoint
    from neurodyn.spec import load_spec

    folder = tmp_path_factory.mktemp("coba")
    overrides = [a for a in SMALL if a != "--set"]
    spec = load_spec(COBA, overrides=overrides, steps=3000, output=folder / "coba.h5")
    run_spec(spec, folder / "reference.h5")
    with pytest.raises(Exception, match="resumes it"):
        run_spec(spec, should_stop=StopAfter(6), checkpoint=spec_checkpoint(spec, every="10m"))
    return folder


def test_a_stopped_plain_run_keeps_its_partial_file_and_resumes_from_its_checkpoint(stopped_coba, tmp_path,
                                                                                     capsys):
    checkpoint = tmp_path / "saved.checkpoint.h5"
    checkpoint.write_bytes((stopped_coba / "coba.checkpoint.h5").read_bytes())
    assert (stopped_coba / "coba.partial.h5").is_file()
    assert main(["info", str(checkpoint)]) == 0  # stopped before its 6th chunk of 200 steps
    assert capsys.readouterr().out.startswith(f"{checkpoint}: run checkpoint (at step 1,000)")
    out = tmp_path / "coba.h5"
    assert main(["run", str(COBA), *SMALL, "--steps", "3000", "--out", str(out), "--resume", str(checkpoint),
                 "--quiet"]) == 0
    _assert_same_run(out, stopped_coba / "reference.h5")
    assert not checkpoint.exists()


def test_resume_without_the_spec_runs_the_checkpoints_own_spec_into_its_own_output(stopped_coba, tmp_path,
                                                                                     monkeypatch, capsys):
    checkpoint = tmp_path / "moved.checkpoint.h5"
    checkpoint.write_bytes((stopped_coba / "coba.checkpoint.h5").read_bytes())
    monkeypatch.chdir(tmp_path)  # another folder: the output is where the stopped run was writing
    for argv, message in ((["--resume", str(checkpoint), "--steps", "3000"], "--steps cannot change it"),
                          ([], "required: spec (or --resume CHECKPOINT")):
        with pytest.raises(SystemExit) as stop:
            main(["run", *argv])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and message in err, err
    assert main(["run", "--resume", str(checkpoint), "--quiet"]) == 0
    _assert_same_run(stopped_coba / "coba.h5", stopped_coba / "reference.h5")
    assert not checkpoint.exists() and list(tmp_path.iterdir()) == []


def test_a_checkpoint_of_another_spec_is_refused_with_one_line(stopped_coba, tmp_path, capsys):
    checkpoint = stopped_coba / "coba.checkpoint.h5"
    before = checkpoint.read_bytes()
    for change in (["--steps", "3001"], ["--steps", "3000", "--seed", "2"],
                   ["--steps", "3000", "--set", "populations.exc.i_ext=21"]):
        capsys.readouterr()
        status = main(["run", str(COBA), *SMALL, *change, "--out", str(tmp_path / "x.h5"), "--resume", str(checkpoint)])
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1 and "belongs to another run" in err, err
    capsys.readouterr()
    assert main(["run", str(STDP), *SMALL, "--steps", "3000", "--out", str(tmp_path / "x.h5"),
                 "--resume", str(checkpoint)]) == 2
    assert "belongs to another run" in capsys.readouterr().err
    assert checkpoint.read_bytes() == before
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_a_damaged_checkpoint_is_refused_and_never_overwritten(stopped_coba, tmp_path, capsys, damage):
    out = tmp_path / "coba.h5"
    checkpoint = tmp_path / "coba.checkpoint.h5"  # where rerunning the command looks for it
    raw = bytearray((stopped_coba / "coba.checkpoint.h5").read_bytes())
    if damage == "truncated":
        raw = raw[:len(raw) * 2 // 3]
    else:
        for i in range(len(raw) // 2, len(raw) // 2 + 4):
            raw[i] ^= 0x5A
    checkpoint.write_bytes(bytes(raw))
    status = main(["run", str(COBA), *SMALL, "--steps", "3000", "--out", str(out), "--checkpoint-every", "1steps"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and f"checkpoint {checkpoint} is damaged" in err, err
    assert checkpoint.read_bytes() == bytes(raw)
    assert not out.exists()


def test_bad_checkpoint_options_give_one_line(tmp_path, capsys):
    assert main(["run", str(COBA), *SMALL, "--steps", "300", "--out", str(tmp_path / "x.h5"),
                 "--checkpoint-every", "60"]) == 2
    assert "expected a wall time like 60s" in capsys.readouterr().err
    assert main(["run", str(COBA), *SMALL, "--steps", "300", "--out", str(tmp_path / "x.h5"),
                 "--resume", str(tmp_path / "missing.h5")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_streamed_diagnostics_resume_their_running_sums(tmp_path):
    """The order parameter and the cross-correlation matrix of a Kuramoto run, summed chunk by
    chunk on the host, are taken up from the checkpoint: the resumed file equals the
    uninterrupted one."""
    from neurodyn.runs import run_spec, spec_checkpoint
    from neurodyn.spec import load_spec

    spec = load_spec(ROOT / "models" / "kuramoto_all_to_all.toml", output=tmp_path / "k.h5",
                     overrides=["precision=float32", "populations.oscillators.n=40", "chunk=200",
                                "diagnostics.cross_correlation.population=oscillators",
                                "diagnostics.cross_correlation.variable=theta"])
    run_spec(spec, tmp_path / "reference.h5")
    with pytest.raises(Exception, match="resumes it"):  # stopped in the recorded part (after the transient of 3,000)
        run_spec(spec, should_stop=StopAfter(20), checkpoint=spec_checkpoint(spec))
    run_spec(spec, checkpoint=spec_checkpoint(spec))
    _assert_same_run(tmp_path / "k.h5", tmp_path / "reference.h5")
    with h5py.File(tmp_path / "k.h5", "r") as f:
        assert f["diagnostics/cross_correlation"].shape == (40, 40)
        assert f["diagnostics/order_parameter"].shape == (300,)


def test_a_task_spec_cannot_be_checkpointed(tmp_path, capsys):
    narma = ROOT / "models" / "esn_narma10.toml"
    assert main(["run", str(narma), "--set", "populations.reservoir.n=100", "--out", str(tmp_path / "t.h5"),
                 "--checkpoint-every", "60s"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a spec with a [task] cannot be checkpointed" in err, err
    assert list(tmp_path.iterdir()) == []
