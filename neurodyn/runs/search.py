"""Hyper-parameter search of a spec's task score with optuna's TPE sampler, a batch of trials per
compiled, vmapped sweep chunk, resumable after a kill (``neurodyn search``).

The loop (ask, evaluate, tell): optuna's Tree-structured Parzen Estimator (Bergstra, Bardenet,
Bengio, Kegl, NeurIPS 2011; multivariate form of Falkner, Klein, Hutter, ICML 2018) proposes
``batch`` trials; the batch is evaluated as ONE chunk of :mod:`neurodyn.sweep` (the points of a
:class:`~neurodyn.sweep.Grid`, :func:`neurodyn.sweep.job.prepare`, one call of the compiled,
vmapped task chunk :func:`neurodyn.sweep.task.task_chunk`: every trial harvests its reservoir on
the spec's ``[task]`` data and fits and scores its ridge readout inside that call); the scores
are told to optuna, and the next batch is asked. Every batch has the same size (the last one is
padded), so the chunk compiles once per search. Within a batch the sampler's *constant liar*
treats the trials already asked as bad ones, so a batch spreads over the space instead of
repeating one proposal.

The objective is the task score ``measure`` (``nrmse`` by default: the first of the spec's
``task.metrics``) on the spec's test rows (``task.test``) -- in a search those rows are the
validation set: keep a test set of your own out of the spec to report the chosen model on.
``nrmse``, ``nrmse_rms`` and ``mse`` are minimised, ``r2``, ``accuracy`` and
``memory_capacity`` maximised. A trial whose score is not finite (a diverging reservoir) is told
as FAIL: it counts towards ``trials`` but TPE learns nothing from it.

Storage: the study is an optuna ``JournalStorage`` in a file beside the output,
``<out stem>.journal``, in the format of optuna's ``JournalFileBackend`` (one JSON operation per
line, append-only; ``optuna.load_study(study_name="neurodyn-search",
storage=JournalStorage(JournalFileBackend(path)))`` reads it). Chosen over ``RDBStorage`` with
SQLite because it needs no SQLAlchemy (imported at every open; its schema migrations run when a
file is created), is one plain file that a kill cannot leave inconsistent (only a last line can
be cut short, and it is cut off on resume), and is what optuna recommends for a study on a file
system. The operations of a batch are appended in one write and ``fsync`` (:class:`_Journal`):
one after the batch is asked, one after it is told. One process at a time: the search holds an
exclusive lock on ``<out stem>.journal.search.lock`` (released by the system when the process
dies, so a killed search never blocks its resume).

Resuming: running the same search again (same spec, space, measure, direction, seed, batch,
startup) continues the study. The guarantee, tested by killing a real process with SIGKILL:
**the evaluated trials of a search that was killed and resumed -- their parameters and scores,
in order -- equal those of an uninterrupted search with the same arguments**, because

- batch ``b`` is asked from a TPE sampler seeded with ``(seed, b)`` made for that batch alone, so
  its proposals depend only on the seed, the batch index and the trials finished before it
  (TPE with a fixed seed is deterministic given the same history);
- a batch killed while it was being evaluated or told (all its trials asked) is evaluated again
  as the same chunk (same trials at the same positions: the same compiled call, the same numbers)
  and only its trials not yet told are told;
- a batch killed while it was being asked (some trials asked, others not) is abandoned: its
  trials are told FAIL with the user attribute ``interrupted``, which TPE ignores, and the batch is
  asked again from its own seed. The optuna trial *numbers* then skip the abandoned ones; the
  sequence of evaluated trials is unchanged.

Outputs, rewritten (atomically) after every batch: the HDF5 summary ``out`` (``/search``: one row
per evaluated trial) and the best configuration as a spec, ``<out stem>.best.toml``: the
spec with the best trial's values set (``neurodyn run`` on it reproduces the trial's score).
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import Interrupted, NeurodynError, OutputError, SpecError
from ..files import atomic_write

#: task scores that are maximised (every other task score is an error: minimised)
MAXIMISED = ("r2", "accuracy", "memory_capacity")
STUDY = "neurodyn-search"  # the study's name inside the journal
KINDS = ("float", "log", "int", "choice")


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: a spec field ``path`` drawn uniformly in ``[low, high]``
    (``kind="float"``), log-uniformly (``"log"``: ``log x`` uniform, ``0 < low``), as an integer in
    ``[low, high]`` (``"int"``), or from a list of numbers (``"choice"``)."""

    path: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    def distribution(self):
        """The optuna distribution of the dimension."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high))
        return FloatDistribution(self.low, self.high, log=self.kind == "log")

    def text(self) -> str:
        """The ``--param`` text of the dimension (its identity in the study)."""
        if self.kind == "choice":
            return f"{self.path}={','.join(repr(c) for c in self.choices)}"
        prefix = "" if self.kind == "float" else f"{self.kind}:"
        return f"{self.path}={prefix}{self.low!r}:{self.high!r}"


def parse_param(text: str) -> Dimension:
    """``"path=low:high"`` (uniform), ``"path=log:low:high"`` (log-uniform), ``"path=int:low:high"``
    (integers, both ends included) or ``"path=v1,v2,..."`` (a choice among numbers) -> a
    :class:`Dimension`; one-line :class:`~neurodyn.errors.SpecError` naming the argument otherwise."""
    if "=" not in text:
        raise SpecError(f"--param {text!r}: expected path=low:high, path=log:low:high, path=int:low:high "
                        f"or path=v1,v2,...")
    path, _, spec = (s.strip() for s in text.partition("="))
    if not path or any(not p for p in path.split(".")):
        raise SpecError(f"--param {text!r}: empty parameter path")
    parts = spec.split(":")
    kind = "float"
    if len(parts) == 3 and parts[0] in ("log", "int"):
        kind, parts = parts[0], parts[1:]
    elif len(parts) == 3:
        raise SpecError(f"--param {text!r}: {parts[0]!r} is not a scale (log or int); expected path=low:high, "
                        f"path=log:low:high or path=int:low:high")
    try:
        if len(parts) == 2:
            low, high = float(parts[0]), float(parts[1])
        elif len(parts) == 1:
            choices = tuple(float(v) for v in spec.strip("[]").split(",") if v.strip())
            if not choices:
                raise SpecError(f"--param {text!r}: the list of values is empty")
            if not all(math.isfinite(c) for c in choices):
                raise SpecError(f"--param {text!r}: values must be finite numbers")
            if len(set(choices)) != len(choices):
                raise SpecError(f"--param {text!r}: a value is listed twice")
            return Dimension(path, "choice", choices=tuple(int(c) if c.is_integer() else c for c in choices))
        else:
            raise ValueError
    except SpecError:
        raise
    except ValueError:
        raise SpecError(f"--param {text!r}: cannot read {spec!r} as low:high, log:low:high, int:low:high or a "
                        f"list of numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise SpecError(f"--param {text!r}: the bounds must be finite numbers")
    if not low < high:
        raise SpecError(f"--param {text!r}: the range is empty (low {low:g} must be below high {high:g})")
    if kind == "log" and low <= 0:
        raise SpecError(f"--param {text!r}: a log range needs low > 0 (got {low:g})")
    if kind == "int" and not (low.is_integer() and high.is_integer()):
        raise SpecError(f"--param {text!r}: an int range needs whole-number bounds")
    return Dimension(path, kind, low, high)


def as_space(space) -> tuple[Dimension, ...]:
    """Dimensions from a list of ``--param`` texts or :class:`Dimension` objects, or a dict
    ``{path: (low, high)}`` (uniform) / ``{path: "log:1e-3:1"}`` (the text after ``=``)."""
    if isinstance(space, str):
        space = [space]
    if isinstance(space, dict):
        space = [f"{p}={v}" if isinstance(v, str) else f"{p}={v[0]!r}:{v[1]!r}" for p, v in space.items()]
    dims = tuple(d if isinstance(d, Dimension) else parse_param(d) for d in space)
    if not dims:
        raise SpecError("a search needs at least one --param")
    paths = [d.path for d in dims]
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise SpecError(f"--param {twice[0]}: the parameter is given twice")
    return dims


@dataclass
class SearchResult:
    """Every evaluated trial (in order) and the best one.

    ``params`` ``{path: (n,)}`` and ``results`` ``{name: (n,)}`` (the objective and the other
    outputs of the chunk, e.g. the readout's ``ridge``; NaN for a FAIL trial), ``numbers`` the
    optuna trial numbers, ``batches`` the batch of each trial; ``best``: ``{"number", "value",
    "params"}``; the files written; how many trials this call evaluated and its wall time."""

    measure: str
    direction: str
    params: dict[str, np.ndarray]
    results: dict[str, np.ndarray]
    numbers: np.ndarray
    batches: np.ndarray
    best: dict | None
    path: Path | None
    journal: Path
    best_spec: Path | None
    computed: int
    wall_time: float
    compile_time: float = 0.0
    history: list = field(default_factory=list)  # (seconds since this call started, best so far) per batch

    @property
    def values(self) -> np.ndarray:
        """The objective of every evaluated trial (NaN for FAIL)."""
        return self.results[self.measure]


class _Journal:
    """optuna's journal backend (``BaseJournalBackend``: ``read_logs``, ``append_logs``) on a file,
    with the operations of a batch appended in one ``write`` and ``fsync`` (:meth:`flush`) instead
    of one each (optuna's ``JournalFileBackend`` syncs every operation: about 10 per trial, 8 ms
    each on this machine's disk, more than a batch's compiled evaluation).

    The file is read once when the search starts (a last line without its newline, a write cut
    short by a crash, is cut off first); the search holds an exclusive lock on the study, so no
    other process appends meanwhile. Operations not yet flushed are lost with a killed process,
    as if it had been killed before them."""

    def __init__(self, path: Path):
        self.path = path
        _repair_tail(path)
        self.logs: list = []
        self.pending: list[str] = []
        if path.is_file():
            with open(path, "rb") as f:
                for i, line in enumerate(f):
                    try:
                        self.logs.append(json.loads(line))
                    except ValueError:
                        raise OutputError(f"{path}: line {i + 1} is not an optuna journal operation; the study is "
                                          f"damaged (delete it to start over, or give another --out)") from None

    def read_logs(self, log_number_from: int):
        return self.logs[log_number_from:]

    def append_logs(self, logs: list) -> None:
        self.logs.extend(logs)
        self.pending.extend(json.dumps(log, separators=(",", ":")) for log in logs)

    def flush(self) -> None:
        """Append the operations not yet on disk, in one write, and sync the file."""
        if not self.pending:
            return
        data = ("\n".join(self.pending) + "\n").encode()
        try:
            with open(self.path, "ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise OutputError(f"cannot write the study {self.path}: {e.strerror or e}") from None
        self.pending.clear()


class _StudyLock:
    """An exclusive ``flock`` on ``path`` for the life of a search (the system releases it when
    the process dies); another search of the same study is refused with one line. Where
    ``fcntl`` does not exist (Windows), no lock is taken."""

    def __init__(self, path: Path):
        self.fd = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            return
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(f"cannot write the study's lock {path}: {e.strerror or e}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            self.fd = None
            raise OutputError(f"{path.with_suffix('').with_suffix('')}: another neurodyn search is using this "
                              f"study; wait for it or give another --out") from None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None


def default_paths(out) -> tuple[Path, Path]:
    """``(journal, best spec)`` beside the output ``out``: ``<stem>.journal``, ``<stem>.best.toml``."""
    out = Path(out)
    stem = out.name[:-len(out.suffix)] if out.suffix else out.name
    return out.with_name(f"{stem}.journal"), out.with_name(f"{stem}.best.toml")


def _optuna():
    try:
        import optuna
    except ImportError:
        raise NeurodynError("neurodyn search needs optuna (pip install 'neurodyn[search]', or pip install "
                            "optuna)") from None
    return optuna


def _batch_seed(seed: int, b: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(b)]).generate_state(1)[0])


def search(target, space, measure: str | None = None, *, trials: int = 100, batch: int = 32, out=None,
           seed: int = 0, direction: str | None = None, startup: int = 10, progress: bool | None = None,
           should_stop: Callable[[], bool] | None = None, log: Callable[[str], None] | None = None) -> SearchResult:
    """Search the spec ``target`` (a spec file or :class:`~neurodyn.spec.RunSpec` with a ``[task]``)
    over ``space`` with optuna's TPE, ``batch`` trials per compiled, vmapped sweep chunk, until
    ``trials`` trials are evaluated (see the module docstring for the loop, the storage and what a
    resumed search guarantees).

    Args:
        space: ``--param`` texts (``"populations.reservoir.spectral_radius=0.1:1.5"``,
            ``"task.readout.ridge=log:1e-9:1e-2"``, ``"populations.reservoir.seed=int:0:9"``,
            ``"populations.reservoir.leak=0.1,0.5,1"``), :class:`Dimension` objects, or a dict
            ``{path: (low, high)}``. Any field ``neurodyn sweep`` can sweep (numbers the model keeps,
            fields that rebuild it without changing its shapes, the ``[task]``'s ridge and split).
        measure: the task score to optimise (default: the first of the spec's ``task.metrics``).
        trials: evaluated trials in all (a resumed search counts those already in the study).
        batch: trials per compiled chunk (every chunk has this size; the last one is padded).
        out: HDF5 summary (default ``hdf5_outputs/<spec name>.search.h5``); the study is
            ``<stem>.journal`` and the best spec ``<stem>.best.toml`` beside it.
        seed: the sampler's seed (batch ``b`` uses a TPE sampler seeded from ``(seed, b)``).
        direction: ``"minimize"`` or ``"maximize"`` (default from the measure: see :data:`MAXIMISED`).
        startup: trials drawn at random before TPE models the history (optuna's ``n_startup_trials``).
        progress: a progress bar (default: when stderr is a terminal).
        should_stop: called after every batch is stored; True stops the search there
            (:class:`~neurodyn.errors.Interrupted`; the same call resumes it).
        log: receives one line per batch (e.g. ``print``).

    Returns:
        :class:`SearchResult`.
    """
    optuna = _optuna()
    from ..precision import x64_enabled
    from ..sweep.job import _source
    from ..sweep.task import is_task_score

    t_start = time.perf_counter()
    dims = as_space(space)
    if int(trials) < 1:
        raise SpecError(f"--trials {trials}: a search needs at least one trial")
    if int(batch) < 1:
        raise SpecError(f"--batch {batch}: a batch needs at least one trial")
    if int(startup) < 0:
        raise SpecError(f"--startup {startup}: must be 0 or more")
    trials, batch, startup = int(trials), int(batch), int(startup)
    source = _source(target)
    if source is None:
        raise SpecError("search: the target must be a spec (a TOML file or a RunSpec) with a [task] table")
    spec = source.spec
    if spec.task is None:
        raise SpecError(f"search: the spec {spec.name!r} has no [task] table; a search optimises a task score")
    measure = measure or spec.task.metrics[0]
    if not is_task_score(measure):
        from ..readout.metrics import METRICS
        from ..schema import did_you_mean

        raise SpecError(f"--measure {measure}: not a task score ({', '.join(METRICS)}){did_you_mean(measure, METRICS)}")
    if direction is None:
        direction = "maximize" if measure in MAXIMISED else "minimize"
    if direction not in ("minimize", "maximize"):
        raise SpecError(f"--direction {direction}: expected minimize or maximize")
    if out is None:
        out = Path("hdf5_outputs") / f"{spec.name}.search.h5"
    out = Path(out)
    journal, best_path = default_paths(out)
    x64 = spec.precision == "float64"
    if x64 and not x64_enabled():
        raise SpecError("the spec is float64 but JAX computes in float32; call neurodyn.set_precision('float64') first")
    evaluate = _Evaluator(source, dims, measure, batch)
    evaluate.check()  # every path and value checked before the study is touched

    identity = json.dumps({"spec": spec.text, "space": [d.text() for d in dims], "measure": measure,
                           "direction": direction, "seed": int(seed), "batch": batch, "startup": startup,
                           "sampler": "TPESampler(multivariate=True, constant_liar=True)"}, sort_keys=True)
    if out.exists() and not journal.exists() and not _is_search_file(out):
        raise OutputError(f"{out} exists and is not a search file; give another --out")
    journal.parent.mkdir(parents=True, exist_ok=True)
    lock = _StudyLock(Path(str(journal) + ".search.lock"))
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per told trial
    bar = None
    computed = 0
    history = []
    try:
        backend = _Journal(journal)
        storage = optuna.storages.JournalStorage(backend)
        study = optuna.create_study(storage=storage, study_name=STUDY, direction=direction, load_if_exists=True)
        stored = study.user_attrs.get("identity")
        if stored is None:
            study.set_user_attr("identity", identity)
            backend.flush()
        elif stored != identity:
            raise OutputError(f"{journal} holds a different search ({_difference(stored, identity)}); delete it "
                              f"(and {out}) to start over, or give another --out")
        show = progress if progress is not None else sys.stderr.isatty()
        state = _State.read(study, dims)
        if show:
            from tqdm import tqdm

            bar = tqdm(total=trials, initial=min(state.evaluated, trials), unit="trial", dynamic_ncols=True)
        while True:
            state = _State.read(study, dims)
            if state.resumable:  # a batch asked in full and killed before all of it was told
                b, asked = state.in_flight
                computed += _evaluate_and_tell(study, evaluate, asked, only_running=True)
                backend.flush()
            elif state.stale:  # a batch killed while it was being asked: abandoned, asked again
                for t in state.stale:
                    study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
                    study.tell(t.number, state=optuna.trial.TrialState.FAIL)
                backend.flush()
            state = _State.read(study, dims)
            if state.evaluated >= trials:
                break
            b = state.next_batch
            size = min(batch, trials - state.evaluated)
            sampler = optuna.samplers.TPESampler(seed=_batch_seed(seed, b), n_startup_trials=startup,
                                                 multivariate=True, constant_liar=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optuna 4's ExperimentalWarning for multivariate
                asking = optuna.load_study(study_name=STUDY, storage=storage, sampler=sampler)
                distributions = {d.path: d.distribution() for d in dims}
                asked = []
                for j in range(size):
                    t = asking.ask(fixed_distributions=distributions)
                    t.set_user_attr("batch", b)
                    t.set_user_attr("position", j)
                    t.set_user_attr("size", size)
                    asked.append(study._storage.get_trial(t._trial_id))
            backend.flush()  # the batch asked: one write
            computed += _evaluate_and_tell(study, evaluate, asked, only_running=False)
            backend.flush()  # the batch told: one write
            state = _State.read(study, dims)
            best = _best(state, direction)
            history.append((time.perf_counter() - t_start, None if best is None else best["value"]))
            _write(out, best_path, spec, dims, measure, direction, state, best, identity, journal)
            if bar is not None:
                bar.update(min(state.evaluated, trials) - bar.n)
            if log is not None:
                where = "" if best is None else f"; best {measure} {best['value']:.6g} (trial {best['number']})"
                log(f"batch {b}: {state.evaluated:,} of {trials:,} trials{where}")
            if should_stop is not None and should_stop() and state.evaluated < trials:
                raise Interrupted(f"search stopped after {state.evaluated:,} of {trials:,} trials; the same command "
                                  f"resumes it from {journal}")
        state = _State.read(study, dims)
        best = _best(state, direction)
        _write(out, best_path, spec, dims, measure, direction, state, best, identity, journal)
    finally:
        if bar is not None:
            bar.close()
        optuna.logging.set_verbosity(verbosity)
        lock.release()
    return SearchResult(measure, direction, *state.table(dims, evaluate.names), best, out, journal,
                        best_path if best is not None else None, computed, time.perf_counter() - t_start,
                        evaluate.compile_time, history)


def _is_search_file(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "search" in f
    except OSError:
        return False


def _difference(stored: str, identity: str) -> str:
    a, b = json.loads(stored), json.loads(identity)
    keys = [k for k in b if a.get(k) != b.get(k)]
    name = {"space": "--param", "measure": "--measure", "direction": "--direction", "seed": "the sampler seed",
            "batch": "--batch", "startup": "--startup", "spec": "the spec", "sampler": "the sampler"}
    return "its " + ", ".join(name.get(k, k) for k in keys) + " differ" + ("s" if len(keys) == 1 else "")


def _repair_tail(journal: Path) -> None:
    """Cut a last line without its newline (a write cut short by a crash of the machine; a killed
    process cannot leave one, each operation being one ``write``), which optuna would otherwise
    join with the next operation appended."""
    if not journal.is_file() or journal.stat().st_size == 0:
        return
    with open(journal, "rb+") as f:
        f.seek(-1, 2)
        if f.read(1) == b"\n":
            return
        data = f.seek(0) or f.read()
        f.truncate(data.rfind(b"\n") + 1)


class _IntegerSource:
    """The sweep target with the values of ``int`` dimensions given as Python integers (a grid
    holds floats; a spec's integer field, a seed the spec leaves out, refuses ``3.0``)."""

    def __init__(self, source, paths: set):
        self.inner, self.paths, self.spec = source, paths, source.spec

    def _ints(self, assignments: dict) -> dict:
        return {p: int(v) if p in self.paths else v for p, v in assignments.items()}

    def model_path(self, path: str) -> str:
        return self.inner.model_path(path)

    def gain_path(self, path: str):
        return self.inner.gain_path(path)

    def rebuild(self, assignments: dict):
        return self.inner.rebuild(self._ints(assignments))

    def task_at(self, assignments: dict):
        return self.inner.task_at(self._ints(assignments))


class _Evaluator:
    """A batch of trials as one chunk of the sweep machinery: a :class:`~neurodyn.sweep.Grid` of
    exactly ``batch`` points (padded with the last trial), resolved by
    :func:`neurodyn.sweep.job.prepare` and computed by one call of its compiled, vmapped chunk."""

    def __init__(self, source, dims, measure: str, batch: int):
        self.source = _IntegerSource(source, {d.path for d in dims if d.kind == "int"})
        self.dims, self.measure, self.batch = dims, measure, batch
        self.names: tuple = ()
        self.compile_time = 0.0

    def grid(self, values: np.ndarray, size: int | None = None):
        from ..sweep.grid import Grid

        size = size or self.batch
        padded = values[np.minimum(np.arange(size), len(values) - 1)]
        return Grid(tuple(d.path for d in self.dims), padded, (size,), "search batch")

    def check(self) -> None:
        """Resolve, as a sweep does and without computing, the points that hold every dimension's
        low and high ends and every one of its choices: a wrong path or value, or a field that
        changes the model's shapes, is a one-line SpecError before the study exists."""
        from ..sweep.job import prepare

        rows = max([2] + [len(d.choices) for d in self.dims])
        ends = np.array([[d.choices[min(i, len(d.choices) - 1)] if d.kind == "choice" else d.low if i == 0 else d.high
                          for d in self.dims] for i in range(rows)], float)
        try:
            prepare(self.source, self.grid(ends, max(self.batch, rows)), [self.measure], chunk=self.batch)
        except SpecError as e:
            text = str(e)
            if text.startswith("sweep point ") and " (" in text and "): " in text:
                where, _, rest = text.partition(" (")[2].partition("): ")
                text = f"--param {', '.join(w.partition('=')[0] for w in where.split(', '))}: {rest}"
            elif text.startswith("--grid "):
                text = "--param " + text[len("--grid "):]
            raise SpecError(text) from None

    def __call__(self, values: np.ndarray) -> dict[str, np.ndarray]:
        from ..sweep.job import prepare
        from ..sweep.task import task_chunk

        job, _, _ = prepare(self.source, self.grid(values), [self.measure], chunk=self.batch)
        before = task_chunk._cache_size()
        t0 = time.perf_counter()
        out = job.compute(0)
        if task_chunk._cache_size() > before:  # this call compiled the chunk
            self.compile_time += time.perf_counter() - t0
        out = {k: np.asarray(v, float)[: len(values)] for k, v in out.items() if np.ndim(v) == 1}
        self.names = tuple(out)
        return out


def _evaluate_and_tell(study, evaluate: _Evaluator, asked: list, *, only_running: bool) -> int:
    """Evaluate the trials ``asked`` (one batch, in position order) as one chunk and tell optuna
    their scores (a non-finite score: FAIL); ``only_running``: tell only those not yet finished."""
    from optuna.trial import TrialState

    values = np.array([[t.params[d.path] for d in evaluate.dims] for t in asked], float)
    out = evaluate(values)
    told = 0
    for j, t in enumerate(asked):
        if only_running and t.state != TrialState.RUNNING:
            continue
        score = float(out[evaluate.measure][j])
        study._storage.set_trial_user_attr(t._trial_id, "results", {k: float(v[j]) for k, v in out.items()})
        if math.isfinite(score):
            study.tell(t.number, score)
        else:
            study.tell(t.number, state=TrialState.FAIL)
        told += 1
    return told


@dataclass
class _State:
    """The study read back: the evaluated trials (in order), the batch in flight, if any."""

    evaluated_trials: list
    next_batch: int
    in_flight: tuple | None  # (batch, its trials in position order) when it can be evaluated again
    stale: list  # RUNNING trials of a batch that was not asked in full

    @property
    def evaluated(self) -> int:
        return len(self.evaluated_trials)

    @property
    def resumable(self) -> bool:
        return self.in_flight is not None

    @classmethod
    def read(cls, study, dims) -> "_State":
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        mine = [t for t in trials if "batch" in t.user_attrs and not t.user_attrs.get("interrupted")]
        done = [t for t in mine if t.state in (TrialState.COMPLETE, TrialState.FAIL)]
        running = [t for t in trials if t.state == TrialState.RUNNING]
        batches = {t.user_attrs["batch"] for t in mine}
        in_flight, stale = None, []
        if running:
            b = max(batches) if batches else None
            members = sorted((t for t in mine if t.user_attrs["batch"] == b),
                             key=lambda t: t.user_attrs.get("position", -1))
            whole = (b is not None and members and all("size" in t.user_attrs for t in members)
                     and len(members) == members[0].user_attrs["size"]
                     and [t.user_attrs.get("position") for t in members] == list(range(len(members)))
                     and all(set(t.params) == {d.path for d in dims} for t in members)
                     and all(t in members for t in running))
            if whole:
                in_flight = (b, members)
            else:
                stale = running
        finished_batches = {t.user_attrs["batch"] for t in done}
        if in_flight is not None:
            next_batch = in_flight[0] + 1
        else:
            next_batch = max(finished_batches) + 1 if finished_batches else 0
        done.sort(key=lambda t: (t.user_attrs["batch"], t.user_attrs["position"]))
        return cls(done, next_batch, in_flight, stale)

    def table(self, dims, names) -> tuple:
        """``(params, results, numbers, batches)`` of the evaluated trials."""
        ts = self.evaluated_trials
        params = {d.path: np.array([t.params[d.path] for t in ts], float) for d in dims}
        keys = list(names) or sorted({k for t in ts for k in t.user_attrs.get("results", {})})
        for t in ts:
            for k in t.user_attrs.get("results", {}):
                if k not in keys:
                    keys.append(k)
        results = {k: np.array([t.user_attrs.get("results", {}).get(k, np.nan) for t in ts], float) for k in keys}
        return (params, results, np.array([t.number for t in ts], int),
                np.array([t.user_attrs["batch"] for t in ts], int))


def _best(state: _State, direction: str) -> dict | None:
    """The best evaluated trial (the first of equals): ``{"number", "value", "params"}``."""
    from optuna.trial import TrialState

    best = None
    for t in state.evaluated_trials:
        if t.state != TrialState.COMPLETE:
            continue
        v = t.value
        if best is None or (v < best.value if direction == "minimize" else v > best.value):
            best = t
    if best is None:
        return None
    return {"number": best.number, "value": float(best.value), "params": dict(best.params),
            "results": dict(best.user_attrs.get("results", {}))}


def best_spec_text(spec, dims, best: dict, measure: str, n_trials: int) -> str:
    """The spec with the best trial's values set, as TOML: its ``name`` gets ``_best`` (so its run
    does not overwrite the original's output), ``output`` is dropped, and a comment says where it
    came from. Integer dimensions are written as integers."""
    from ..spec.paths import set_path
    from ..spec.toml_io import dump_spec

    data = copy.deepcopy(spec.data)
    for d in dims:
        value = best["params"][d.path]
        if d.kind == "int" or (isinstance(value, float) and value.is_integer() and d.kind == "choice"):
            value = int(value)
        set_path(data, d.path, value)
    data.pop("output", None)
    data["name"] = f"{spec.name}_best"
    lines = [f"# the best of {n_trials:,} trials of neurodyn search on the spec {spec.name!r}: "
             f"{measure} = {best['value']:.9g} (trial {best['number']})"]
    lines += [f"#   {d.path} = {best['params'][d.path]!r}" for d in dims]
    return "\n".join(lines) + "\n" + dump_spec(data)


def _write(out: Path, best_path: Path, spec, dims, measure, direction, state: _State, best, identity, journal) -> None:
    """The HDF5 summary and the best spec, each written atomically."""
    import h5py

    from .._version import __version__

    params, results, numbers, batches = state.table(dims, ())
    with atomic_write(out, "search file") as tmp:
        with h5py.File(tmp, "w") as f:
            meta = f.create_group("neurodyn")
            meta.attrs.update({"version": __version__, "kind": "search", "name": spec.name})
            g = f.create_group("search")
            g.attrs.update({"spec": spec.text, "identity": identity, "measure": measure, "direction": direction,
                            "journal": str(journal.name), "n_trials": len(numbers),
                            "sampler": "optuna TPESampler (multivariate, constant liar), a batch per compiled chunk"})
            for d in dims:
                ds = g.create_dataset(f"params/{d.path}", data=params[d.path])
                ds.attrs["distribution"] = d.text()
            for k, v in results.items():
                g.create_dataset(f"results/{k}", data=v)
            g.create_dataset("trial", data=numbers)
            g.create_dataset("batch", data=batches)
            if best is not None:
                b = g.create_group("best")
                b.attrs.update({"trial": best["number"], "value": best["value"], "measure": measure,
                                "params": json.dumps(best["params"]), "spec_file": best_path.name})
    if best is not None:
        text = best_spec_text(spec, dims, best, measure, len(numbers))
        with atomic_write(best_path, "best spec") as tmp:
            Path(tmp).write_text(text)
