"""``sweep``: run a model over the points of a grid, in vmapped compiled chunks, into a
resumable HDF5 store, in this process or on a Dask cluster.

The pieces: :mod:`.job` resolves the sweep (:func:`~neurodyn.sweep.job.prepare`),
:mod:`.point` is the compiled per-chunk computation, :mod:`.execute` runs chunks here or on
Dask, :mod:`.store` is the crash-safe file.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import Interrupted
from .execute import execute
from .grid import Grid
from .job import SweepJob, prepare, result_specs
from .measures import Measure
from .store import SweepStore


@dataclass
class SweepResult:
    """Parameters and results of every point (NaN where not computed), the done mask, the
    file written (if any) and how many points this call computed."""

    grid: Grid
    results: dict[str, np.ndarray]
    done: np.ndarray
    path: Path | None
    computed: int
    wall_time: float


def sweep(target, grid: Grid, measures: Sequence[str | Measure], *, out=None, steps: int | None = None,
          transient: int | None = None, chunk: int | None = None, executor=None, progress: bool | None = None,
          state=None, key=None, dt: float | None = None, drive=None,
          should_stop: Callable[[], bool] | None = None) -> SweepResult:
    """Sweep ``target`` (a spec file, a :class:`~neurodyn.spec.RunSpec` or a model) over ``grid``
    (a :class:`Grid`, a list of ``"path=start:stop:count"`` axes or a dict ``{path: values}``).

    Args:
        measures: measure names (see :func:`neurodyn.sweep.measures.parse_measure`) or Measures;
            with a spec's ``[task]``, task scores (``nrmse``, ``accuracy``, ...) and ordinary
            measures may be mixed: both are computed in the same compiled chunk.
        out: HDF5 sweep file (default ``hdf5_outputs/<spec name>.sweep.h5`` for specs; no file for a
            bare model unless given). An existing file of the same sweep is resumed.
        steps, transient: run length and unmeasured steps (default from the spec).
        chunk: points per compiled call (default: equal chunks within a 1 GiB memory budget, each
            about a second or two of work on a CPU core, so progress is reported every few seconds;
            see :data:`neurodyn.sweep.job.WORK_PER_CHUNK`).
        executor: None (this process) or a ``dask.distributed.Client``.
        progress: progress bar with points/s and ETA (default: when stderr is a terminal).
        drive: external input shared by every point (pytree of arrays, leading axis >= steps),
            e.g. the input signal of a reservoir, or ``"task"``: the input series of the spec's
            ``[task]``, into the populations it drives (ordinary measures then see the reservoir
            under the task's input; task scores always do).
        should_stop: called after every chunk is stored; when it returns True the sweep stops
            there (e.g. :class:`neurodyn.signals.StopFlag`, set by Ctrl-C).

    Raises:
        Interrupted: ``should_stop()`` returned True; every chunk computed so far is in the
            file, and calling ``sweep`` again with the same arguments resumes.
    """
    from .._version import __version__

    grid = as_grid(grid)
    job, identity, spec = prepare(target, grid, measures, steps=steps, transient=transient, chunk=chunk,
                                  state=state, key=key, dt=dt, drive=drive)
    if out is None and spec is not None:
        out = Path("hdf5_outputs") / f"{spec.name}.sweep.h5"
    specs = result_specs(job)
    store = None
    if out is not None:
        from ..core.model import surface

        # the models' time unit, for the labels of the figures (a Python model's as its spec's)
        meta = {"version": __version__, "kind": "sweep", "time_unit": surface(job.model).time_unit}
        store = SweepStore.open(out, identity=identity, grid=grid, result_specs=specs, meta=meta)
        pending = store.pending_chunks()
    else:
        pending = list(range(-(-grid.n_points // job.chunk_size)))
    results = {name: np.full((grid.n_points,) + shape, np.nan, dtype) for name, (shape, dtype) in specs.items()}
    done = np.zeros(grid.n_points, bool)
    show = progress if progress is not None else sys.stderr.isatty()
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=grid.n_points, initial=grid.n_points - sum(_chunk_len(job, grid, c) for c in pending),
                   unit="point", dynamic_ncols=True)
    t0 = time.perf_counter()
    computed = 0
    chunks = execute(job, pending, executor)
    try:
        for n_chunks, (index, chunk_results) in enumerate(chunks, 1):
            if store is not None:
                store.write_chunk(index, chunk_results)
            start = index * job.chunk_size
            stop = min(start + job.chunk_size, grid.n_points)
            for name in results:
                results[name][start:stop] = chunk_results[name][: stop - start]
            done[start:stop] = True
            computed += stop - start
            if bar is not None:
                bar.update(stop - start)
            if should_stop is not None and should_stop() and n_chunks < len(pending):
                left = sum(_chunk_len(job, grid, c) for c in pending) - computed
                where = f"; the same command resumes it from {out}" if out is not None else ""
                raise Interrupted(f"sweep stopped with {left:,} of {grid.n_points:,} points left{where}")
    finally:
        chunks.close()
        if bar is not None:
            bar.close()
        if store is not None:
            results = store.read_results()
            done = store.done[()]
            store.close()
    return SweepResult(grid, results, done, Path(out) if out is not None else None, computed, time.perf_counter() - t0)


def as_grid(grid) -> Grid:
    """A :class:`Grid` from a Grid, a list of ``"path=start:stop:count"`` axes, or a dict
    ``{path: values}`` (Cartesian product)."""
    from .grid import cartesian, parse_axis

    if isinstance(grid, Grid):
        return grid
    if isinstance(grid, dict):
        return cartesian([(p, np.atleast_1d(np.asarray(v, float))) for p, v in grid.items()])
    if isinstance(grid, str):
        grid = [grid]
    return cartesian([parse_axis(a) for a in grid])


def _chunk_len(job: SweepJob, grid, c):
    return min(job.chunk_size, grid.n_points - c * job.chunk_size)


# measures that are finite on every finite run: where one is NaN or +-inf, the run diverged
# (max_lyapunov may be -inf without diverging: a tangent vector that collapsed to zero)
_FINITE_ON_FINITE_RUNS = ("mean", "var", "order_parameter", "firing_rate", "orbit")


def point_reasons(results: dict[str, np.ndarray], done: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """For every result, why each point has no finite value (``""`` where it has one):
    ``"not computed yet"`` (``done`` is False there), ``"run diverged"`` (a measure that is
    finite on every finite run is not: a mean, a variance, the order parameter, the firing rate,
    the orbit, or a Lyapunov exponent that is NaN or +inf) or ``"undefined"`` (the measure has no
    value for that run). Without a measure that shows divergence, the two cannot be told apart:
    ``"diverged or undefined"``."""
    def bad(values):
        return ~np.isfinite(values).reshape(len(values), -1).all(axis=1)

    witnesses = [bad(v) for k, v in results.items() if k.partition("(")[0] in _FINITE_ON_FINITE_RUNS]
    witnesses += [np.isnan(v) | (v == np.inf) for k, v in results.items() if k == "max_lyapunov"]
    diverged = np.any(witnesses, axis=0) if witnesses else None
    out = {}
    for name, values in results.items():
        why = np.full(len(values), "", dtype=object)
        b = bad(values)
        if diverged is None:
            why[b] = "diverged or undefined"
        else:
            why[b & diverged] = "run diverged"
            why[b & ~diverged] = "undefined"
        if done is not None:
            why[~np.asarray(done, bool)] = "not computed yet"
        out[name] = why
    return out
