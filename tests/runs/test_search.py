"""``neurodyn search``: optuna's TPE asking for batches of trials, each batch one compiled sweep
chunk; a search SIGKILLed mid-batch and resumed ends with the trials of an uninterrupted one; the
best spec reproduces its score through ``neurodyn run``'s task path; one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("optuna")

from neurodyn.errors import SpecError  # noqa: E402
from neurodyn.runs.search import Dimension, as_space, default_paths, parse_param, search  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPEC = """
name = "tiny_search"
steps = 500
seed = 1
precision = "float64"
[populations.reservoir]
model = "esn"
n = 20
spectral_radius = 0.9
leak = 1.0
input_scaling = 1.0
bias_scaling = 1.0
density = 0.2
[record]
variables = []
[task]
washout = 100
train = 300
test = 100
metrics = ["nrmse"]
[task.dataset]
kind = "narma"
order = 10
[task.readout]
ridge = [1e-8, 1e-5]
"""
SPACE = ["populations.reservoir.spectral_radius=0.1:1.5", "populations.reservoir.leak=log:0.05:1",
         "task.readout.ridge=log:1e-9:1e-2"]
TRIALS, BATCH = 24, 8


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC)
    return path


def _run(spec_file, out, **kw):
    return search(spec_file, SPACE, trials=TRIALS, batch=BATCH, out=out, seed=3, startup=8, progress=False, **kw)


def test_parse_param_kinds_and_one_line_errors():
    assert parse_param("a.b=0.1:1.5") == Dimension("a.b", "float", 0.1, 1.5)
    assert parse_param("a.b=log:1e-3:1") == Dimension("a.b", "log", 1e-3, 1.0)
    assert parse_param("a.seed=int:0:9") == Dimension("a.seed", "int", 0, 9)
    assert parse_param("a.b=0.1, 0.5,1").choices == (0.1, 0.5, 1)
    assert as_space({"a.b": (0, 1), "a.c": "log:1:2"})[1].kind == "log"
    for bad, why in [("a.b", "expected path=low:high"), ("a.b=1:0.5", "range is empty"),
                     ("a.b=log:0:1", "needs low > 0"), ("a.b=sqrt:1:2", "not a scale"),
                     ("a.b=int:0.5:3", "whole-number"), ("a.b=x:y", "cannot read"), ("=1:2", "empty parameter"),
                     ("a.b=1,1", "listed twice"), ("a.b=0:inf", "finite")]:
        with pytest.raises(SpecError, match=why) as e:
            parse_param(bad)
        assert "\n" not in str(e.value) and str(e.value).startswith("--param")
    with pytest.raises(SpecError, match="given twice"):
        as_space(["a.b=0:1", "a.b=log:1:2"])


def test_search_scores_and_the_best_spec_reproduces_its_score(spec_file, tmp_path):
    """Every trial's score is the sweep's task score of its parameters (one compiled chunk per
    batch); the best spec, run through ``neurodyn run``'s task path (the model rebuilt from the
    spec, the readout fitted by the host ridge), gives the same NRMSE."""
    import neurodyn.sweep.task as task_module
    from neurodyn.runs import run_task
    from neurodyn.spec import load_spec

    before = task_module.task_chunk._cache_size()
    res = _run(spec_file, tmp_path / "s.h5")
    assert task_module.task_chunk._cache_size() - before <= 1  # 3 batches, one compiled program
    assert len(res.numbers) == TRIALS and res.computed == TRIALS
    assert list(res.batches) == [b for b in range(TRIALS // BATCH) for _ in range(BATCH)]
    v = res.values
    assert np.all(np.isfinite(v))
    assert res.best["value"] == np.min(v) and res.best["number"] == res.numbers[np.argmin(v)]
    # the ridge is a searched field: each trial's readout used its own value
    np.testing.assert_array_equal(res.results["ridge"], res.params["task.readout.ridge"])
    _, best_path = default_paths(tmp_path / "s.h5")
    assert best_path.is_file() and res.best_spec == best_path
    best = load_spec(best_path)
    assert best.name == "tiny_search_best"
    assert best.data["populations"]["reservoir"]["leak"] == res.best["params"]["populations.reservoir.leak"]
    scores = run_task(best, tmp_path / "best.h5").task.scores
    assert abs(scores["nrmse"] - res.best["value"]) < 1e-8 * res.best["value"]
    # the HDF5 summary holds the same trials
    import h5py

    with h5py.File(tmp_path / "s.h5") as f:
        np.testing.assert_array_equal(f["search/results/nrmse"][()], v)
        assert f["search/best"].attrs["trial"] == res.best["number"]
        assert f["neurodyn"].attrs["kind"] == "search"
    from neurodyn.io.inspect import describe

    assert f"hyper-parameter search ({TRIALS} trials, best nrmse {res.best['value']:.6g}" in describe(tmp_path / "s.h5")
    from neurodyn.cli import main

    assert main(["plot", str(tmp_path / "s.h5")]) == 0  # the score per trial, and against each parameter
    for name in ("trials", "params"):
        assert (tmp_path / f"s.{name}.png").stat().st_size > 5_000
    # running the same search again finds it complete: nothing evaluated, same trials
    again = _run(spec_file, tmp_path / "s.h5")
    assert again.computed == 0
    np.testing.assert_array_equal(again.values, v)


WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from neurodyn.runs import search as module
    ready, hang_at = Path(sys.argv[1]), int(sys.argv[2])
    original, calls = module._Evaluator.__call__, []
    def evaluate(self, values):
        calls.append(1)
        if len(calls) == hang_at:  # the batch is asked and on disk: SIGKILL lands in its evaluation
            ready.write_text("asked")
            time.sleep(600)
        return original(self, values)
    module._Evaluator.__call__ = evaluate
    from neurodyn.cli import main
    sys.exit(main(sys.argv[3:]))
""")


def _trials(res):
    return ({k: v.tolist() for k, v in res.params.items()}, {k: v.tolist() for k, v in res.results.items()})


def test_sigkill_mid_batch_then_resume_gives_the_uninterrupted_trials(spec_file, tmp_path):
    """A real ``neurodyn search`` process is SIGKILLed while its third batch is being evaluated
    (the batch asked and in the journal); the same search resumed ends with exactly the trials --
    parameters, scores, trial numbers -- of an uninterrupted search."""
    import optuna

    killed = tmp_path / "killed.h5"
    ready = tmp_path / "ready"
    argv = ["search", str(spec_file), *[a for p in SPACE for a in ("--param", p)], "--trials", str(TRIALS),
            "--batch", str(BATCH), "--sampler-seed", "3", "--startup", "8", "--out", str(killed), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(ready), "3", *argv], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    journal, _ = default_paths(killed)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    states = [t.state.name for t in optuna.load_study(study_name="neurodyn-search", storage=storage).trials]
    assert states == ["COMPLETE"] * 2 * BATCH + ["RUNNING"] * BATCH  # killed inside batch 2's evaluation

    reference = _run(spec_file, tmp_path / "full.h5")
    resumed = _run(spec_file, killed)
    assert resumed.computed == BATCH  # only the killed batch was evaluated again
    assert _trials(resumed) == _trials(reference)
    assert resumed.numbers.tolist() == reference.numbers.tolist() == list(range(TRIALS))
    assert resumed.best == reference.best


def _interrupted(spec_file, out, monkeypatch) -> bytes:
    """The journal of a search stopped inside its third batch's evaluation (the batch asked and on
    disk, as the SIGKILL above leaves it), as bytes."""
    import importlib

    module = importlib.import_module("neurodyn.runs.search")
    original, calls = module._Evaluator.__call__, []

    def evaluate(self, values):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # stands for the kill: nothing of this batch is told
        return original(self, values)

    monkeypatch.setattr(module._Evaluator, "__call__", evaluate)
    with pytest.raises(KeyboardInterrupt):
        _run(spec_file, out)
    monkeypatch.setattr(module._Evaluator, "__call__", original)
    return default_paths(out)[0].read_bytes()


def test_a_journal_cut_while_asking_or_telling_resumes_to_the_same_trials(spec_file, tmp_path, monkeypatch):
    """A journal cut (a write cut short by a machine crash) inside the asking of a batch abandons
    the batch and asks it again; one cut inside the telling evaluates the batch again and tells
    only its untold trials. Both end with the evaluated trials of an uninterrupted search; only
    the abandoned trials' numbers are skipped."""
    import optuna

    reference = _run(spec_file, tmp_path / "full.h5")
    lines = _interrupted(spec_file, tmp_path / "stopped.h5", monkeypatch).split(b"\n")
    creates = [i for i, line in enumerate(lines) if b'"op_code":4,' in line]  # CREATE_TRIAL
    assert len(creates) == TRIALS

    def resume(name, keep):
        out = tmp_path / f"{name}.h5"
        default_paths(out)[0].write_bytes(b"\n".join(lines[:keep]) + b"\n" + lines[keep][:10])  # a cut last line
        res = _run(spec_file, out)
        assert _trials(res) == _trials(reference)
        assert res.best["value"] == reference.best["value"] and res.best["params"] == reference.best["params"]
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
            str(default_paths(out)[0])))
        return res, optuna.load_study(study_name="neurodyn-search", storage=storage).trials

    # cut inside batch 2's asking: its 5th trial created, its parameters not set
    res, trials = resume("asking", creates[2 * BATCH + 4] + 1)
    assert res.numbers.tolist() == list(range(2 * BATCH)) + list(range(2 * BATCH + 5, TRIALS + 5))
    abandoned = [t for t in trials if t.user_attrs.get("interrupted")]
    assert [t.number for t in abandoned] == list(range(2 * BATCH, 2 * BATCH + 5))
    assert all(t.state.name == "FAIL" for t in abandoned)
    # cut inside batch 1's telling: 4 of its trials told COMPLETE (state 1), the others not
    told = [i for i, line in enumerate(lines) if b'"op_code":6,' in line and b'"state":1' in line]
    res, trials = resume("telling", told[BATCH + 3] + 1)
    assert res.numbers.tolist() == list(range(TRIALS)) and res.computed == TRIALS - BATCH - 4
    assert not any(t.user_attrs.get("interrupted") for t in trials)


def test_cli_errors_are_one_line_with_exit_2(spec_file, tmp_path, capsys):
    from neurodyn.cli import main

    out = tmp_path / "e.h5"
    base = ["search", str(spec_file), "--out", str(out), "--trials", "4", "--batch", "4"]
    cases = [(["--param", "populations.reservoir.spectral_radiu=0.1:1"], "did you mean 'spectral_radius'"),
             (["--param", "populations.reservoir.n=int:10:20"], "changes the model's array shapes"),
             (["--param", "task.dataset.order=int:5:10"], "--param task.dataset.order: not sweepable"),
             (["--param", "populations.reservoir.leak=0:1", "--measure", "nrsme"], "did you mean 'nrmse'"),
             (["--param", "populations.reservoir.leak=2:1"], "range is empty"),
             (["--param", "populations.reservoir.density=0.1,2,0.3"], "density: must be in (0, 1], got 2.0"),
             ([], "at least one --param")]
    for extra, why in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert why in err and err.count("\n") == 1, err
    assert not default_paths(out)[0].exists()  # nothing checked late: no study was created
    out.write_bytes(b"not a search file")
    assert main(base + ["--param", "populations.reservoir.leak=0.1:1"]) == 2
    assert "is not a search file" in capsys.readouterr().err


def test_a_different_search_on_the_same_study_is_refused(spec_file, tmp_path, capsys, monkeypatch):
    import importlib

    from neurodyn.cli import main

    module = importlib.import_module("neurodyn.runs.search")  # scores without compiling: only the study matters
    monkeypatch.setattr(module._Evaluator, "__call__", lambda self, values: {"nrmse": values[:, 0] + 1.0})

    out = tmp_path / "d.h5"
    common = ["search", str(spec_file), "--out", str(out), "--trials", "2", "--batch", "2", "--quiet"]
    assert main(common + ["--param", "populations.reservoir.leak=0.1:1"]) == 0
    assert main(common + ["--param", "populations.reservoir.leak=0.2:1"]) == 2
    err = capsys.readouterr().err
    assert "holds a different search (its --param differs)" in err and err.count("\n") == 1


def test_import_and_cli_start_do_not_import_optuna():
    code = ("import sys, neurodyn, neurodyn.cli, neurodyn.runs; neurodyn.cli._parser(); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('optuna', 'sqlalchemy'))))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert json.loads(out.stdout) == []


def test_non_finite_scores_fail_and_r2_is_maximised(spec_file, tmp_path, monkeypatch):
    """A trial whose score is NaN (a diverging reservoir) is told FAIL: it counts towards the
    trials, is never the best, and stays NaN in the results; ``r2`` is maximised."""
    import importlib

    module = importlib.import_module("neurodyn.runs.search")
    score = lambda v: np.where(v[:, 0] > 1.0, np.nan, v[:, 0])  # noqa: E731  (NaN past a spectral radius of 1)
    monkeypatch.setattr(module._Evaluator, "__call__", lambda self, values: {"r2": score(values)})
    res = search(spec_file, SPACE[:1], "r2", trials=12, batch=4, out=tmp_path / "m.h5", progress=False)
    assert res.direction == "maximize" and len(res.values) == 12
    bad = res.params["populations.reservoir.spectral_radius"] > 1.0
    assert bad.any() and np.all(np.isnan(res.values[bad]))
    assert res.best["value"] == np.nanmax(res.values) <= 1.0
    import optuna

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(res.journal)))
    states = [t.state.name for t in optuna.load_study(study_name="neurodyn-search", storage=storage).trials]
    assert states.count("FAIL") == bad.sum() and states.count("COMPLETE") == (~bad).sum()


def test_a_second_process_on_the_same_study_is_refused(tmp_path):
    """The study's lock is a system lock held for the life of a search: a second search of the
    same study (another process) is refused with one line; the lock goes with its holder."""
    import importlib

    from neurodyn.errors import OutputError

    module = importlib.import_module("neurodyn.runs.search")
    path = tmp_path / "x.journal.search.lock"
    code = ("import sys, time; from pathlib import Path; from neurodyn.runs.search import _StudyLock; "
            "lock = _StudyLock(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match="another neurodyn search is using this study"):
            module._StudyLock(path)
    finally:
        holder.kill()
        holder.wait()
    module._StudyLock(path).release()  # the holder died: free again
