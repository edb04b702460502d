"""Run files from Python, in the layout ``neurodyn run`` writes (:mod:`neurodyn.io.hdf5`).

:func:`spec_writer` is the writer of a spec's run (the command line uses it too),
:func:`write_run` runs a spec into its file as the command line does, and :func:`save` writes
a :class:`~neurodyn.core.Trajectory` that is already in memory.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..diagnostics.streaming import StreamingDiagnostics
from ..errors import DivergenceError
from .hdf5 import RunWriter


def spec_writer(spec, path=None, meta: dict | None = None) -> RunWriter:
    """The :class:`RunWriter` of ``neurodyn run`` for a built spec (a
    :class:`neurodyn.spec.RunSpec`): its metadata and stored spec, the shapes and units of its
    records, its spikes, the time axis ``(transient * dt, every * dt)`` and its precision.
    ``path`` defaults to the spec's output; ``meta`` adds ``/neurodyn`` attributes."""
    from .._version import __version__

    obs = spec.model.observe(spec.state)
    return RunWriter(
        spec.output if path is None else path,
        meta={"version": __version__, "name": spec.name, "seed": spec.seed, "dt": spec.dt, "steps": spec.steps,
              "precision": spec.precision, "every": spec.every, "transient": spec.transient,
              "spec": spec.text, "overrides": list(spec.overrides), **(meta or {})},
        shapes={n: tuple(obs[n].shape) for n in spec.record}, units={n: spec.units.get(n, "1") for n in spec.record},
        spikes=tuple(spec.spikes), time=(spec.transient * spec.dt, spec.every * spec.dt), time_unit=spec.time_unit,
        dtype=spec.precision,
        # chunks sized for at most 1 % of the (node, step) pairs spiking (100 Hz at dt = 0.1 ms)
        expected_spikes={n: int(np.prod(obs[n].shape)) * spec.steps // 100 for n in spec.spikes},
    )


def write_run(spec, out=None, *, progress: bool | None = None) -> Path:
    """Simulate a built spec into its HDF5 file as ``neurodyn run`` does (the same writer, the
    same ``[diagnostics]``, the same statuses); returns the path (default the spec's output).

    Raises:
        DivergenceError: the run diverged; the samples before it are kept in the file
            (``status = "diverged"``), which the message names.
    """
    writer = spec_writer(spec, out)
    tee = StreamingDiagnostics(writer, spec.diagnostics)
    t0 = time.perf_counter()
    try:
        tee.simulate(spec, keep=False, progress=progress)  # spiking statistics in the loop
    except DivergenceError as e:
        tee.store()
        path = writer.close("diverged", diverged_step=e.step, diverged_variable=e.variable, message=str(e))
        raise DivergenceError(f"{e}; the samples before it are in {path}", step=e.step, variable=e.variable,
                              trajectory=e.trajectory) from None
    except KeyboardInterrupt:
        tee.store()
        writer.close("interrupted")
        raise
    except BaseException:
        writer.abort()
        raise
    tee.store()
    return writer.close("complete", wall_time_s=time.perf_counter() - t0)


def save(trajectory, path, *, spec=None, meta: dict | None = None) -> Path:
    """Write a :class:`~neurodyn.core.Trajectory` to ``path`` in the layout of ``neurodyn run``.

    Reports get the time axis of the run, starting at the transient with step ``every * dt``
    (``trajectory.times``, checked against it), and spikes keep their times: both in the model's
    time unit (``trajectory.time_unit``; iterations for maps), as the command line writes them.

    Args:
        trajectory: the result of :func:`neurodyn.simulate` (or of ``RunSpec.simulate``).
        path: the HDF5 file to write (written under a temporary name, then renamed).
        spec: the :class:`neurodyn.spec.RunSpec` the trajectory ran, if any: then the metadata,
            the stored spec and the ``[diagnostics]`` are those ``neurodyn run`` writes.
        meta: more ``/neurodyn`` attributes (JSON for dicts and lists).
    """
    from .._version import __version__

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
            time=(traj.transient * traj.dt, traj.every * traj.dt), time_unit=traj.time_unit, dtype=precision)
    tee = StreamingDiagnostics(writer, spec.diagnostics if spec is not None else {})
    try:
        tee.append(traj.times, {n: a for n, a in traj.data.items() if len(a)}, traj.spikes)
        tee.take(traj)  # the statistics computed inside the loop (spiking populations of a spec)
        tee.store()
    except BaseException:
        writer.abort()
        raise
    return writer.close("complete")
