"""``neurodyn run`` of a spec with a ``[task]``: harvest the reservoir under the task's input,
train and score the readout, write the run file and the trained reservoir + readout beside it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from ..core.model import step_times
from ..errors import Interrupted
from ..io.trained import save_trained, trained_path
from ..spec.task import SERIES, harvest_task, metric_definition, train_and_score


def run_task(spec, out=None, *, should_stop: Callable[[], bool] | None = None):
    """Run a spec's ``[task]``: harvest, train, score; write the run file (``/report`` of the
    recorded observables, ``/readout/...`` arrays with the split as attributes, one
    ``/diagnostics/<metric>`` per score) and save the trained reservoir and readout beside it
    (:func:`trained_path`, read back by :func:`neurodyn.io.trained.load_trained`). Returns a
    :class:`~neurodyn.runs.RunResult` whose ``task`` is the
    :class:`~neurodyn.spec.task.TaskResult`.

    ``should_stop`` is checked before the harvest, after it and after training: when it
    returns True the task stops with :class:`~neurodyn.errors.Interrupted` before anything is
    written, so earlier files of the same name are left as they were.
    """
    from .write import RunResult, _stopped, spec_writer

    def check(stage: str) -> None:
        if should_stop is not None and should_stop():
            raise Interrupted(f"{_stopped(should_stop)} {stage}; nothing was written (earlier files are untouched)")

    task = spec.task
    t0 = time.perf_counter()
    check("before the task's harvest")
    data = task.data()
    names = task.features + tuple(n for n in spec.record if n not in task.features)
    obs = jax.eval_shape(spec.model.observe, spec.state)
    sizes = {n: int(np.prod(obs[n].shape)) for n in names}
    offsets = dict(zip(names, np.cumsum([0, *sizes.values()])[:-1].tolist()))
    harvested = harvest_task(spec.model, spec.state, task, data.inputs, spec.dt, names)
    check("after the task's harvest")
    n_features = sum(sizes[n] for n in task.features)
    result = train_and_score(spec.model, spec.state, task, spec.dt, data, harvested[..., :n_features])
    check("after training the readout")
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
