"""``neurodyn run`` of a spec with a ``[task]``: build the task's data
(:func:`neurodyn.datasets.task_data`), harvest the reservoir under its input, choose, train and
score the readout, write the run file and the trained reservoir + readout beside it. The spec's
:class:`~neurodyn.spec.task.Task` is plain data; reading it into a run happens here."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..core.loop import initial_state, iterate
from ..core.model import step_times
from ..datasets.tasks import SEQUENCES, SERIES, TaskData, task_data
from ..errors import Interrupted
from ..io.trained import save_trained, trained_path
from ..readout import Ridge, RidgeClassifier, generate
from ..readout.harvest import _states
from ..readout.metrics import METRICS, one_hot, score
from ..spec.task import Task

GENERATION_SCORES = {
    "valid_time": "closed-loop steps until max |error| / std(target) first exceeds valid_threshold",
    "nrmse_generated": "NRMSE (standard-deviation convention) of the closed-loop output",
}
"""The closed-loop scores of ``task.generate`` (the test metrics are :data:`METRICS`)."""


def metric_definition(name: str) -> str:
    """The one-line definition of a task score: a registered metric's
    (:data:`neurodyn.readout.metrics.METRICS`) or a closed-loop score's (:data:`GENERATION_SCORES`)."""
    return METRICS[name].doc if name in METRICS else GENERATION_SCORES[name]


def run_task(spec, out=None, *, should_stop: Callable[[], bool] | None = None):
    """Run a spec's ``[task]``: harvest, train, score; write the run file (``/report`` of the
    recorded observables, ``/readout/...`` arrays with the split as attributes, one
    ``/diagnostics/<metric>`` per score) and save the trained reservoir and readout beside it
    (:func:`trained_path`, read back by :func:`neurodyn.io.trained.load_trained`). Returns a
    :class:`~neurodyn.runs.RunResult` whose ``task`` is the
    :class:`TaskResult`.

    ``should_stop`` is checked before the harvest, between the blocks of a series' harvest
    (:func:`harvest_series`), after it and after training: when it returns True the task stops
    with :class:`~neurodyn.errors.Interrupted`. Nothing was computed before the harvest, so
    nothing is written then; later, the states harvested until then (and the recorded
    observables among them) are kept in ``<stem>.partial.h5`` (``status = "interrupted"``,
    ``/harvest/states``), which the message names. The run and trained files of a complete
    earlier run are never replaced.
    """
    from .write import RunResult, _stopped, spec_writer

    task = spec.task
    t0 = time.perf_counter()
    if should_stop is not None and should_stop():
        raise Interrupted(f"{_stopped(should_stop)} before the task's harvest; nothing was computed or written "
                          f"(earlier files are untouched)")
    data = task_data(task)
    names = task.features + tuple(n for n in spec.record if n not in task.features)
    obs = jax.eval_shape(spec.model.observe, spec.state)
    sizes = {n: int(np.prod(obs[n].shape)) for n in names}
    offsets = dict(zip(names, np.cumsum([0, *sizes.values()])[:-1].tolist()))

    def stop_keeping(harvested, stage: str) -> None:
        if should_stop is None or not should_stop():
            return
        path = _write_partial(spec, out, harvested, data, offsets, sizes, f"{_stopped(should_stop)} {stage}")
        what = f"{len(harvested):,} harvested states" if task.kind == SERIES else \
            f"harvested states of {len(harvested):,} sequences"
        raise Interrupted(f"{_stopped(should_stop)} {stage}; the {what} are in {path} (no readout was saved; "
                          f"earlier complete files are untouched)", steps=len(harvested))

    if task.kind == SERIES:
        harvested, done = harvest_series(spec.model, spec.state, task, data.inputs, spec.dt, names, should_stop)
        if done < len(data.inputs):
            stop_keeping(harvested, f"during the task's harvest, after {done:,} of {len(data.inputs):,} steps")
    else:
        harvested = harvest_task(spec.model, spec.state, task, data.inputs, spec.dt, names)
    stop_keeping(harvested, "after the task's harvest")
    n_features = sum(sizes[n] for n in task.features)
    result = train_and_score(spec.model, spec.state, task, spec.dt, data, harvested[..., :n_features])
    stop_keeping(harvested, "after training the readout")
    # the report: every step of the series, or of the first test sequence
    report = harvested if task.kind == SERIES else harvested[data.n_train]
    wall = time.perf_counter() - t0
    # row t of a harvest is the state after step t, i.e. at time (t + 1) dt
    writer = spec_writer(spec, out)
    writer.time_start = float(step_times(spec.transient + 1, spec.dt))
    writer.time_step = float(step_times(spec.every, spec.dt))
    try:
        if spec.record:
            columns = {n: report[spec.transient::spec.every, offsets[n]:offsets[n] + sizes[n]] for n in spec.record}
            writer.append(None, columns, {})
        group = writer.file.create_group("readout")
        for name, value in result.arrays.items():
            group.create_dataset(name, data=np.asarray(value), compression="gzip", compression_opts=4)
        for key, value in {**result.attrs, "dataset": task.dataset, "feature_observables": list(task.features),
                           "input_populations": list(task.inputs), "metrics": list(task.metrics),
                           "alignment": "row t: the state after consuming input t, paired with target t"}.items():
            group.attrs[key] = json.dumps(value) if isinstance(value, list) else value
        for name, value in result.scores.items():
            writer.add_diagnostic(name, value, definition=metric_definition(name), dataset=task.dataset)
        # the trained file first: if it cannot be written, the earlier run file and its trained file stay a pair
        save_trained(trained_path(writer.path), reservoir=spec.model, readout=result.readout)
    except BaseException:
        writer.abort()
        raise
    n_times = writer.n_times
    path = writer.close("complete", wall_time_s=wall)
    diagnostics = {name: (np.asarray(value), {"definition": metric_definition(name)}) for name, value in result.scores.items()}
    return RunResult(path, spec.steps, wall, n_times, {}, diagnostics, result)


def ridge_readout(task: Task) -> Ridge:
    """The :class:`~neurodyn.readout.Ridge` a task fits (unfitted): its ``[task.readout]`` ridge
    (one value, or the candidates its blocked cross-validation chooses from), folds, intercept,
    inputs and standardisation; a classifier wraps it (:class:`~neurodyn.readout.RidgeClassifier`)."""
    r = task.readout
    ridge = r["ridge"][0] if len(r["ridge"]) == 1 else list(r["ridge"])
    return Ridge(ridge=ridge, washout=0, bias=r["bias"], use_inputs=r["use_inputs"], standardize=r["standardize"],
                 folds=r["folds"])


def harvest_task(model, state, task: Task, inputs: np.ndarray, dt: float, names: tuple | None = None) -> np.ndarray:
    """States of ``model`` from ``state`` driven by ``inputs`` (``(T, d)``: one run; ``(n, T, d)``:
    one run per sequence, each from ``state``), features ``names`` (default the task's)."""
    names = task.features if names is None else tuple(names)
    state = initial_state(model, state)
    dtype = jnp.result_type(float)
    u = jnp.asarray(inputs, dtype)
    if u.ndim == 2:
        return np.asarray(_states(model, state, u, dt, u.shape[0], task.inputs, names), float)
    run = jax.vmap(_states, in_axes=(None, None, 0, None, None, None, None))
    return np.asarray(run(model, state, u, dt, u.shape[1], task.inputs, names), float)


HARVEST_BLOCKS = 20  # a series' harvest is checked for a stop this many times
MIN_BLOCK = 10_000  # steps; shorter series are harvested in one call


@partial(jax.jit, static_argnames=("length", "into", "names"))
def _harvest_block(model, state, inputs, dt, start, length: int, into, names):
    """``(final state, (length, F) features)`` of ``length`` steps from absolute step ``start``,
    row ``i`` of ``inputs`` (the whole series) driving step ``i`` of every population ``into``."""
    drive = {port: inputs for port in into}

    def features(new, i):
        obs = model.observe(new)
        return jnp.concatenate([jnp.ravel(obs[n]) for n in names])

    return iterate(model, state, drive, dt, start, length, features)


def harvest_series(model, state, task: Task, inputs: np.ndarray, dt: float, names: tuple | None = None,
                   should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, int]:
    """The states of :func:`harvest_task` for a series (``inputs`` ``(T, d)``), harvested in
    about :data:`HARVEST_BLOCKS` equal blocks of at least :data:`MIN_BLOCK` steps (one compiled
    program: the last block runs on zero input past the end and its extra rows are dropped),
    ``should_stop`` checked between them. Every step is the one :func:`harvest_task` takes (the
    same state, input row and time), so the states are the same. Returns ``(states, steps
    done)``: ``(T, F)`` and ``T``, or the first ``done`` rows when ``should_stop`` stopped it."""
    names = task.features if names is None else tuple(names)
    state = initial_state(model, state)
    total = len(inputs)
    length = min(total, max(MIN_BLOCK, -(-total // HARVEST_BLOCKS)))
    n_blocks = -(-total // length)
    u = np.zeros((n_blocks * length, *np.shape(inputs)[1:]))
    u[:total] = inputs
    u = jnp.asarray(u, jnp.result_type(float))
    parts, done = [], 0
    for b in range(n_blocks):
        if b and should_stop is not None and should_stop():
            break
        state, block = _harvest_block(model, state, u, dt, jnp.asarray(b * length, jnp.int32), length,
                                      tuple(task.inputs), names)
        parts.append(np.asarray(block, float))
        done = min(total, done + length)
    return np.concatenate(parts)[:done], done


def _write_partial(spec, out, harvested, data: TaskData, offsets: dict, sizes: dict, reason: str) -> Path:
    """``<stem>.partial.h5`` of a task run stopped after harvesting ``harvested`` (the states of
    its first steps, or of every sequence): the recorded observables among them as a run file's
    report, and the states themselves (with the inputs of a series) in ``/harvest``."""
    from .write import spec_writer

    series = data.kind == SERIES
    writer = spec_writer(spec, out)
    writer.time_start = float(step_times(spec.transient + 1, spec.dt))
    writer.time_step = float(step_times(spec.every, spec.dt))
    try:
        report = harvested if series else harvested[data.n_train]
        if spec.record and len(report) > spec.transient:
            writer.append(None, {n: report[spec.transient::spec.every, offsets[n]:offsets[n] + sizes[n]]
                                 for n in spec.record}, {})
        group = writer.file.create_group("harvest")
        # uncompressed: a stopped run should end soon (gzip took 20 s for 160,000 x 100 states under load)
        group.create_dataset("states", data=harvested)
        if series:
            group.create_dataset("inputs", data=np.asarray(data.inputs[:len(harvested)]))
        group.attrs["observables"] = json.dumps(list(offsets))
        group.attrs["alignment"] = "row t: the state after consuming input t"
    except BaseException:
        writer.abort()
        raise
    return writer.close("interrupted", stopped_step=len(harvested) if series else 0, message=reason)


def regression_scores(prediction, target, metrics) -> dict:
    """The registered ``metrics`` of ``prediction`` against ``target`` (``(T, k)`` each)."""
    return {m: float(score(m, prediction, target)) for m in metrics}


def valid_time(generated, target, threshold: float) -> int:
    """Steps until ``max |generated - target| / std(target)`` first exceeds ``threshold`` (the
    whole length if it never does)."""
    err = np.max(np.abs(np.asarray(generated) - np.asarray(target)), axis=1) / np.std(target)
    bad = np.nonzero(err > threshold)[0]
    return int(bad[0]) if len(bad) else len(err)


@dataclass
class TaskResult:
    """What :func:`train_and_score` computed: the fitted readout, the scores, and the arrays written."""

    readout: Any
    scores: dict
    arrays: dict
    attrs: dict


def train_and_score(model, state, task: Task, dt: float, data: TaskData | None = None,
                    states: np.ndarray | None = None) -> TaskResult:
    """Harvest (unless ``states``, the task's features, are given), fit the readout on the
    training data and score it on the test data."""
    data = task_data(task) if data is None else data
    if states is None:
        states = harvest_task(model, state, task, data.inputs, dt)
    if task.kind == SEQUENCES:
        return _classify(task, data, states)
    w, tr, te = task.washout, task.train, task.test
    train, test = slice(w, w + tr), slice(w + tr, w + tr + te)
    readout = ridge_readout(task)
    u = data.inputs if readout.use_inputs else None
    fit = readout.fit(states[train], data.targets[train], None if u is None else u[train])
    prediction = fit.predict(states, u)
    scores = regression_scores(prediction[test], data.targets[test], task.metrics)
    arrays = {"states": states, "inputs": data.inputs, "targets": data.targets, "predictions": prediction}
    if fit.cv_errors is not None:
        arrays.update(ridge_candidates=fit.candidates, cv_errors=fit.cv_errors)
    if task.generate:
        into = task.inputs[0]
        generated = generate(model, fit, data.inputs[:w + tr], task.generate, into=into,
                             record=task.features, state=state)
        truth = data.targets[w + tr - 1:w + tr - 1 + task.generate]
        arrays["generated"] = generated
        scores["valid_time"] = float(valid_time(generated, truth, task.valid_threshold))
        scores["nrmse_generated"] = float(score("nrmse", generated, truth))
    attrs = {"ridge": fit.ridge, "washout": w, "train": tr, "test": te, "train_start": w, "test_start": w + tr}
    return TaskResult(fit, scores, arrays, attrs)


def _class_score(name: str, predicted, labels) -> float:
    """A registered classification metric of predicted labels, on one-hot codes of the labels."""
    return float(score(name, *one_hot(predicted, labels)))


def _classify(task: Task, data: TaskData, states: np.ndarray) -> TaskResult:
    n = data.n_train  # states: (n_sequences, T, F)
    clf = RidgeClassifier(ridge_readout(task), pool=task.readout["pool"]).fit(list(states[:n]), data.labels[:n])
    predicted = clf.predict(list(states[n:]))
    scores = {m: _class_score(m, predicted, data.labels[n:]) for m in task.metrics}
    pooled = states[:, -1] if task.readout["pool"] == "last" else states.mean(axis=1)
    arrays = {"features": pooled, "labels": data.labels, "predictions": predicted,
              "first_test_states": states[n]}
    if clf.readout.cv_errors is not None:
        arrays.update(ridge_candidates=clf.readout.candidates, cv_errors=clf.readout.cv_errors)
    return TaskResult(clf, scores, arrays, {"ridge": clf.readout.ridge, "n_train": n, "n_test": len(predicted),
                                            "pool": task.readout["pool"]})
