"""A spec (or a trajectory) to a finished run file: the writer of a spec, the streamed
``[diagnostics]``, the statuses of a run that completed, diverged or was stopped.

:func:`run_spec` is the one path from a built spec to its file (``neurodyn run``,
``RunSpec.run`` and :func:`write_run` call it); :func:`save` writes a
:class:`~neurodyn.core.Trajectory` already in memory in the same layout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._version import __version__
from ..core.model import step_times
from ..core.monitors import RATE, neuron_subsets, rate_unit
from ..diagnostics.streaming import StreamingDiagnostics
from ..errors import DivergenceError, Interrupted, SpecError
from ..io.hdf5 import RunWriter
from ..models.plastic import final_weights
from .simulate import simulate_spec


def spec_writer(spec, path=None, meta: dict | None = None) -> RunWriter:
    """The :class:`~neurodyn.io.RunWriter` of ``neurodyn run`` for a built spec (a
    :class:`neurodyn.spec.RunSpec`): its metadata and stored spec, the shapes and units of its
    records, its spikes, the time axis ``(transient * dt, every * dt)`` and its precision.
    ``path`` defaults to the spec's output; ``meta`` adds ``/neurodyn`` attributes. The
    observables of ``record.neurons`` have those neurons' columns and node ids, each
    ``record.rates`` population its ``<pop>.population_rate``."""
    obs = spec.model.observe(spec.state)
    shapes, units, node_ids, sizes = recorded_layout(spec, obs)
    return RunWriter(
        spec.output if path is None else path,
        meta={"version": __version__, "name": spec.name, "seed": spec.seed, "dt": spec.dt, "steps": spec.steps,
              "precision": spec.precision, "every": spec.every, "transient": spec.transient,
              "spec": spec.text, "overrides": list(spec.overrides), **(meta or {})},
        shapes=shapes, units=units, node_ids=node_ids, spikes=tuple(spec.spikes),
        time=(float(step_times(spec.transient, spec.dt)), float(step_times(spec.every, spec.dt))),
        time_unit=spec.time_unit,
        dtype=spec.precision,
        # chunks sized for at most 1 % of the (node, step) pairs spiking (100 Hz at dt = 0.1 ms)
        expected_spikes={n: sizes.get(n, int(np.prod(obs[n].shape))) * spec.steps // 100 for n in spec.spikes},
    )


def recorded_layout(spec, obs) -> tuple[dict, dict, dict, dict]:
    """``(shapes, units, node_ids, sizes)`` of what a spec's run records: one sample's shape
    and the unit of each recorded observable and population rate, the node ids of those
    recorded on a subset (``record.neurons``), and the recorded node count of each observable
    of a subset (spike sources included)."""
    rate_unit_ = rate_unit(spec.time_unit)[0]
    node_ids = {n: idx.astype(np.uint64) for n, idx in neuron_subsets(spec.neurons, obs, (*spec.record, *spec.spikes)).items()}
    shapes = {n: (len(node_ids[n]),) if n in node_ids else tuple(obs[n].shape) for n in spec.record}
    units = {n: spec.units.get(n, "1") for n in spec.record}
    for pop in spec.rates:
        shapes[f"{pop}.{RATE}"], units[f"{pop}.{RATE}"] = (), rate_unit_
    return shapes, units, {n: v for n, v in node_ids.items() if n in spec.record}, \
        {n: len(v) for n, v in node_ids.items()}


@dataclass
class RunResult:
    """What :func:`run_spec` wrote: the file, the steps simulated, the wall time, the number of
    report samples and of spikes per recorded population, the ``/diagnostics`` it stored
    (``{name: (values, attrs)}``) and, for a spec with a ``[task]``, the task's result
    (:class:`neurodyn.runs.task.TaskResult`; its trained file is :func:`trained_path`)."""

    path: Path
    steps: int
    wall: float
    n_times: int = 0
    spikes: dict[str, int] = field(default_factory=dict)
    diagnostics: dict[str, tuple] = field(default_factory=dict)
    task: Any = None


def _stopped(should_stop) -> str:
    return getattr(should_stop, "name", "") or "stopped"


def run_spec(spec, out=None, *, progress: bool | None = None, should_stop: Callable[[], bool] | None = None,
             log: Callable[[str], None] | None = None, observers=(), checkpoint=None) -> RunResult:
    """Run a built spec into its HDF5 file (default its ``output``) as ``neurodyn run`` does:
    the spec's writer, its in-loop spiking statistics and streamed ``[diagnostics]``, and for a
    spec with a ``[task]`` the harvest, training and scores of its readout
    (:func:`neurodyn.runs.task.run_task`).

    Args:
        progress: a progress bar (default: when stderr is a terminal).
        should_stop: checked between chunks (a :class:`neurodyn.signals.StopFlag`); when it
            returns True the run stops there.
        log: receives one line per stale temporary file removed beside the output.
        observers: more :class:`neurodyn.core.Observer` objects; their results are stored in
            ``/diagnostics`` beside the spiking statistics.
        checkpoint: a :class:`neurodyn.core.Checkpoint` (:func:`neurodyn.runs.spec_checkpoint`):
            the run resumes from it when its file exists and writes it as often as it says; the
            finished file equals that of an uninterrupted run. It is deleted once the run file is
            complete.

    Raises:
        DivergenceError: the run diverged; the samples before it are kept in the file
            ``<stem>.diverged.h5`` (``status = "diverged"``), which the message names.
        Interrupted: ``should_stop()`` returned True (or Ctrl-C without a flag); what was
            recorded is kept in ``<stem>.partial.h5`` (``status = "interrupted"``), which the
            message names; a complete earlier file is never replaced.
    """
    if spec.task is not None:
        if checkpoint is not None:
            raise SpecError("checkpoints apply to simulation runs; a spec with a [task] cannot be checkpointed")
        from .task import run_task

        return run_task(spec, out, should_stop=should_stop)
    writer = spec_writer(spec, out)
    for tmp, pid in writer.removed:
        if log is not None:
            log(f"removed {tmp}, a temporary file of process {pid}, which is no longer running")
    tee = StreamingDiagnostics(writer, spec.diagnostics)
    if checkpoint is not None and log is not None:
        for tmp, pid in checkpoint.removed:
            log(f"removed {tmp}, a temporary file of process {pid}, which is no longer running")
    t0 = time.perf_counter()
    try:
        traj = simulate_spec(spec, writer=tee, keep=False, progress=progress, should_stop=should_stop,
                             observers=observers, checkpoint=checkpoint)
    except DivergenceError as e:
        if e.trajectory is not None:
            tee.take(e.trajectory)
        tee.store()
        path = writer.close("diverged", diverged_step=e.step, diverged_variable=e.variable, message=str(e))
        raise DivergenceError(f"{e}; they are in {path}", step=e.step, variable=e.variable,
                              trajectory=e.trajectory) from None
    except Interrupted as e:
        if e.trajectory is not None:
            tee.take(e.trajectory)
        tee.store()
        name = _stopped(should_stop)
        path = writer.close("interrupted", stopped_step=e.steps, message=f"{name}: {e}")
        resume = "" if checkpoint is None else \
            f"; the checkpoint {checkpoint.path} resumes it (run the same command again)"
        raise Interrupted(f"{name} at step {e.steps:,} of {spec.steps:,}; the {writer.n_times:,} samples "
                          f"recorded until then are in {path}{resume}", steps=e.steps, trajectory=e.trajectory) from None
    except KeyboardInterrupt:
        tee.store()
        writer.close("interrupted")
        raise
    except BaseException:
        writer.abort()
        raise
    wall = time.perf_counter() - t0
    tee.take(traj)
    tee.spiking.update(final_weights(spec.model, traj.final_state))  # a plastic network's learned weights
    results = tee.store()
    n_times = writer.n_times
    n_spikes = {name: int(ts.shape[0]) for name, (ts, _) in writer.spikes.items()}
    path = writer.close("complete", wall_time_s=wall)
    if checkpoint is not None:
        checkpoint.remove()
    return RunResult(path, traj.steps, wall, n_times, n_spikes, results)


def write_run(spec, out=None, *, progress: bool | None = None, should_stop=None) -> Path:
    """:func:`run_spec`, returning only the file's path."""
    return run_spec(spec, out, progress=progress, should_stop=should_stop).path


def save(trajectory, path, *, spec=None, meta: dict | None = None) -> Path:
    """Write a :class:`~neurodyn.core.Trajectory` to ``path`` in the layout of ``neurodyn run``.

    Reports get the time axis of the run, starting at the transient with step ``every * dt``
    (``trajectory.times``, checked against it), and spikes keep their times: both in the model's
    time unit (``trajectory.time_unit``; iterations for maps), as the command line writes them.

    Args:
        trajectory: the result of :func:`neurodyn.simulate` (or of :func:`simulate_spec`).
        path: the HDF5 file to write (written under a temporary name, then renamed).
        spec: the :class:`neurodyn.spec.RunSpec` the trajectory ran, if any: then the metadata,
            the stored spec and the ``[diagnostics]`` are those ``neurodyn run`` writes.
        meta: more ``/neurodyn`` attributes (JSON for dicts and lists).
    """
    traj = trajectory
    if spec is not None:
        writer = spec_writer(spec, path, meta)
    else:
        floats = [a.dtype for a in traj.data.values() if np.issubdtype(a.dtype, np.floating)]
        precision = str(np.result_type(*floats)) if floats else "float64"
        writer = RunWriter(
            path, meta={"version": __version__, "dt": traj.dt, "steps": traj.steps, "every": traj.every,
                        "transient": traj.transient, "precision": precision, **(meta or {})},
            shapes={n: a.shape[1:] for n, a in traj.data.items()},
            units={n: traj.units.get(n, "1") for n in traj.data}, spikes=tuple(traj.spikes),
            node_ids={n: ids for n, ids in traj.node_ids.items() if n in traj.data},
            time=(float(step_times(traj.transient, traj.dt)), float(step_times(traj.every, traj.dt))),
            time_unit=traj.time_unit, dtype=precision)
    tee = StreamingDiagnostics(writer, spec.diagnostics if spec is not None else {})
    try:
        tee.append(traj.times, {n: a for n, a in traj.data.items() if len(a)}, traj.spikes)
        tee.take(traj)  # the statistics computed inside the loop (spiking populations of a spec)
        tee.store()
    except BaseException:
        writer.abort()
        raise
    return writer.close("complete")
