"""``sweep``: run a model over the points of a grid, in vmapped compiled chunks, into a
resumable HDF5 store, in this process or on a Dask cluster.

Each chunk of B points is ONE call of one compiled function (vmap over the points of
run-plus-measures). Parameters that are array leaves of the model (coupling strengths, per-neuron
parameters, reservoir gains) are swept by replacing that leaf inside the vmapped function: the
rest of the model (matrices, graphs) is shared by the whole batch, so B reservoirs step with one
matrix-matrix product. Spec fields that change structure (a seed, a density, a graph size) are
applied by rebuilding the model per point on the host; those points carry their own matrices.
Chunks always have B points (the last is padded), so the function compiles once per sweep.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..core.parameters import get_parameter, with_parameter
from ..core.simulate import run
from ..diagnostics._state import flatten_state
from ..diagnostics.lyapunov import _tangent_step
from ..errors import NeurodynError, SpecError
from .grid import Grid
from .measures import Measure, parse_measure
from .store import SweepStore

MEMORY_BUDGET = 1 * 2**30


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


BLOCK = 64  # measured steps per accumulator update


def _point(model, state, values, drive, *, paths, steps, transient, measures, dt):
    """Run one point and reduce it to the measures (pure; vmapped over points)."""
    for j, p in enumerate(paths):
        model = with_parameter(model, p, values[j])
    if transient:
        state = run(model, state, transient, record=(), drive=_slice(drive, 0, transient))[0]
    lyap = any(m.kind == "max_lyapunov" for m in measures)
    others = tuple(m for m in measures if m.kind not in ("max_lyapunov", "function"))
    functions = tuple(m for m in measures if m.kind == "function")
    needed = tuple(sorted({m.observable for m in others} | {o for m in functions for o in m.observables}))
    obs0 = model.observe(state)
    accs = tuple(m.init(obs0) for m in others)
    vec = flatten_state(state)[0]
    v0 = jnp.ones_like(vec) / jnp.sqrt(vec.size)

    def one_step(carry, i):
        st, v, logsum = carry
        t = i * dt
        d = None if drive is None else jax.tree_util.tree_map(lambda a: a[i], drive)
        if lyap:
            st, z = _tangent_step(model, st, v[:, None], d, t)
            norm = jnp.linalg.norm(z[:, 0])
            v, logsum = z[:, 0] / norm, logsum + jnp.log(norm)
        else:
            st = model.step(st, d, t)
        obs = model.observe(st)
        return (st, v, logsum), {o: obs[o] for o in needed}

    def block(carry, idx):
        inner, accs = carry
        inner, ys = lax.scan(one_step, inner, idx)
        accs = tuple(m.update(a, ys[m.observable]) for m, a in zip(others, accs))
        return (inner, accs), ({o: ys[o] for o in needed if any(o in m.observables for m in functions)}
                               if functions else None)

    n = steps - transient
    n_blocks, tail = divmod(n, BLOCK)
    carry = ((state, v0, jnp.zeros((), vec.dtype)), accs)
    idx = transient + jnp.arange(n_blocks * BLOCK).reshape(n_blocks, BLOCK)
    carry, records = lax.scan(block, carry, idx)
    parts = [jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:]), records)] if functions else []
    if tail:
        carry, rest = block(carry, transient + n_blocks * BLOCK + jnp.arange(tail))
        parts.append(rest)
    (_, _, logsum), accs = carry
    out = {}
    for m in functions:
        recs = {o: jnp.concatenate([p[o] for p in parts]) for o in m.observables}
        out.update({f"{m.label}.{k}": jnp.asarray(val) for k, val in m.fn(recs).items()})
    if lyap:
        out["max_lyapunov"] = logsum / (n * dt)
    for m, a in zip(others, accs):
        out.update(m.finalize(a, n))
    return out


def _slice(drive, start, stop):
    return None if drive is None else jax.tree_util.tree_map(lambda a: a[start:stop], drive)


@partial(jax.jit, static_argnames=("paths", "steps", "transient", "measures", "dt", "batched_model"))
def _chunk(model, state, values, drive, *, paths, steps, transient, measures, dt, batched_model):
    f = partial(_point, paths=paths, steps=steps, transient=transient, measures=measures, dt=dt)
    axes = (0, 0, 0, None) if batched_model else (None, None, 0, None)
    return jax.vmap(f, in_axes=axes)(model, state, values, drive)


def compile_count() -> int:
    """Number of compiled variants of the chunk function in this process (for tests)."""
    return _chunk._cache_size()


@dataclass
class _Job:
    """Everything needed to compute any chunk; picklable (NumPy leaves) for Dask workers."""

    model: Any
    state: Any
    traced_paths: tuple
    structural: list | None  # per point: models/states rebuilt on the host (None: shared model)
    values: np.ndarray  # (n_points, n_traced)
    steps: int
    transient: int
    measures: tuple
    dt: float
    chunk_size: int
    x64: bool
    drive: Any = None

    def chunk_values(self, index: int):
        """Point indices of chunk ``index`` (the last chunk padded with its last point)."""
        start = index * self.chunk_size
        idx = np.arange(start, start + self.chunk_size)
        idx = np.minimum(idx, self.values.shape[0] - 1)  # pad the last chunk with its last point
        return idx

    def compute(self, index: int) -> dict[str, np.ndarray]:
        """Results of chunk ``index``: one call of the compiled, vmapped chunk function."""
        if self.x64:
            jax.config.update("jax_enable_x64", True)
        idx = self.chunk_values(index)
        values = jnp.asarray(self.values[idx])
        if self.structural is None:
            model, state, batched = self.model, self.state, False
        else:
            models = [self.structural[i][0] for i in idx]
            states = [self.structural[i][1] for i in idx]
            stack = lambda *xs: jnp.stack([jnp.asarray(x) for x in xs])
            model = jax.tree_util.tree_map(stack, *models)
            state = jax.tree_util.tree_map(stack, *states)
            batched = True
        drive = None if self.drive is None else jax.tree_util.tree_map(jnp.asarray, self.drive)
        out = _chunk(model, state, values, drive, paths=self.traced_paths, steps=self.steps, transient=self.transient,
                     measures=self.measures, dt=self.dt, batched_model=batched)
        return {k: np.asarray(v) for k, v in out.items()}


def _numpy_tree(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def _compute_chunk_remote(job: _Job, index: int) -> tuple[int, dict]:
    return index, job.compute(index)


def _spec_model_path(spec, path: str) -> str | None:
    """Translate a spec path into the model's leaf path (couplings are a tuple in spec order)."""
    parts = path.split(".")
    if parts[0] == "couplings" and len(parts) >= 3:
        names = list(spec.data.get("couplings", {}))
        if parts[1] in names:
            parts[1] = str(names.index(parts[1]))
    return ".".join(parts)


def _is_traced_leaf(model, path: str) -> bool:
    try:
        leaf = get_parameter(model, path)
    except SpecError:
        return False
    return hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.inexact)


def prepare(target, grid: Grid, measures: Sequence[str | Measure], *, steps: int | None = None,
            transient: int | None = None, chunk: int | None = None, state=None, key=None, dt: float | None = None,
            drive=None):
    """Resolve a sweep into a :class:`_Job` and its file identity (no computation)."""
    from ..spec import RunSpec, build_spec, load_spec

    spec = None
    if isinstance(target, (str, Path)):
        spec = load_spec(target)
    elif isinstance(target, RunSpec):
        spec = target
    if spec is not None:
        model, state0 = spec.model, spec.state
        steps = spec.steps if steps is None else steps
        transient = spec.transient if transient is None else transient
        dt = spec.dt if dt is None else dt
    else:
        model = target
        state0 = state if state is not None else model.init(key if key is not None else jax.random.PRNGKey(0))
        steps = 1000 if steps is None else steps
        transient = 0 if transient is None else transient
        dt = float(getattr(model, "dt", 1.0)) if dt is None else dt
    if not 0 <= transient < steps:
        raise SpecError(f"sweep: transient ({transient}) must be in [0, steps = {steps})")
    observables = model.observe(state0)
    parsed = tuple(m if isinstance(m, Measure) else parse_measure(m, observables) for m in measures)
    if not parsed:
        raise SpecError("a sweep needs at least one --measure")
    if len({m.label for m in parsed}) != len(parsed):
        raise SpecError("a measure is given twice")

    traced, structural_cols = [], []
    for j, path in enumerate(grid.paths):
        mpath = _spec_model_path(spec, path) if spec is not None else path
        if _is_traced_leaf(model, mpath):
            traced.append((j, mpath))
        elif spec is not None:
            structural_cols.append((j, path))
        else:
            get_parameter(model, path)  # raises the "unknown parameter path" error
            raise SpecError(f"parameter {path!r} is not a number of the model; sweep it through a spec")
    structural = None
    if structural_cols:
        structural = []
        shapes = None
        for i in range(grid.n_points):
            data = copy.deepcopy(spec.data)
            for j, path in structural_cols:
                _set_path(data, path, grid.values[i, j])
            try:
                point = build_spec(data, spec.text)
            except SpecError as e:
                where = ", ".join(f"{p}={grid.values[i, j]:g}" for j, p in structural_cols)
                raise SpecError(f"sweep point {i} ({where}): {e}") from None
            tree = (point.model, point.state)
            leaves = (jax.tree_util.tree_structure(tree), [np.shape(x) for x in jax.tree_util.tree_leaves(tree)])
            if shapes is None:
                shapes = leaves
            elif leaves != shapes:
                raise SpecError(f"sweeping {[p for _, p in structural_cols]} changes the model's array shapes; "
                                f"only values that keep every shape (seeds, densities, strengths) can be swept")
            structural.append((_numpy_tree(point.model), _numpy_tree(point.state)))
    values = grid.values[:, [j for j, _ in traced]] if traced else np.zeros((grid.n_points, 0))
    per_point = _bytes_per_point(model, state0, parsed, structural is not None, steps - transient)
    if chunk is None:
        largest = int(max(1, min(4096, MEMORY_BUDGET // max(per_point, 1))))
        n_chunks = -(-grid.n_points // largest)
        chunk_size = -(-grid.n_points // n_chunks)  # equal chunks: little padding in the last one
    else:
        chunk_size = min(chunk, grid.n_points)
    x64 = any(np.asarray(leaf).dtype == np.float64 for leaf in jax.tree_util.tree_leaves((model, state0))
              if hasattr(leaf, "dtype"))
    if drive is not None:
        short = [np.shape(a)[0] for a in jax.tree_util.tree_leaves(drive) if np.shape(a)[0] < steps]
        if short:
            raise SpecError(f"sweep: the drive has {min(short)} steps but each point runs {steps}")
    job = _Job(_numpy_tree(model), _numpy_tree(state0), tuple(p for _, p in traced), structural, values, steps,
               transient, parsed, float(dt), chunk_size, x64, None if drive is None else _numpy_tree(drive))
    what = spec.text if spec is not None else f"model {type(model).__name__} {_digest((model, state0))}"
    identity = {"spec": what, "grid": grid.definition,
                "measures": json.dumps([m.label for m in parsed]), "steps": steps, "transient": transient,
                "chunk_size": chunk_size, "drive": _digest(drive)}
    return job, identity, spec


def _digest(tree) -> str:
    """A short fingerprint of arrays (a drive, a model), so a resumed sweep cannot mix two inputs."""
    import hashlib

    if tree is None:
        return "none"
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def _bytes_per_point(model, state, measures, structural, measured_steps) -> int:
    size = flatten_state(state)[0].size * 8
    total = size * (3 if any(m.kind == "max_lyapunov" for m in measures) else 2)
    obs = model.observe(state)
    needed = {m.observable for m in measures if m.observable}
    total += BLOCK * sum(np.size(obs[o]) for o in needed) * 8
    for m in measures:
        if m.kind == "function":
            total += sum(np.size(obs[o]) for o in m.observables) * 8 * measured_steps
        if m.kind == "cross_correlation":
            total += np.size(obs[m.observable]) ** 2 * 8
        if m.kind == "orbit":
            total += m.length * np.size(obs[m.observable]) * 8
    if structural:
        total += sum(np.size(x) * 8 for x in jax.tree_util.tree_leaves(model))
    return int(total)


def _set_path(data: dict, path: str, value) -> None:
    parts = path.split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise SpecError(f"sweep parameter {path!r}: {p} is a value, not a table")
    old = node.get(parts[-1])
    node[parts[-1]] = int(round(value)) if isinstance(old, int) and not isinstance(old, bool) else float(value)


def sweep(target, grid: Grid, measures: Sequence[str | Measure], *, out=None, steps: int | None = None,
          transient: int | None = None, chunk: int | None = None, executor=None, progress: bool | None = None,
          state=None, key=None, dt: float | None = None, drive=None) -> SweepResult:
    """Sweep ``target`` (a spec file, a :class:`~neurodyn.spec.RunSpec` or a model) over ``grid``
    (a :class:`Grid`, a list of ``"path=start:stop:count"`` axes or a dict ``{path: values}``).

    Args:
        measures: measure names (see :func:`neurodyn.sweep.measures.parse_measure`) or Measures.
        out: HDF5 sweep file (default ``hdf5_outputs/<spec name>.sweep.h5`` for specs; no file for a
            bare model unless given). An existing file of the same sweep is resumed.
        steps, transient: run length and unmeasured steps (default from the spec).
        chunk: points per compiled call (default: equal chunks within a 1 GiB memory budget).
        executor: None (this process) or a ``dask.distributed.Client``.
        progress: progress bar with points/s and ETA (default: when stderr is a terminal).
        drive: external input shared by every point (pytree of arrays, leading axis >= steps),
            e.g. the input signal of a reservoir.
    """
    from .. import __version__

    grid = as_grid(grid)
    job, identity, spec = prepare(target, grid, measures, steps=steps, transient=transient, chunk=chunk,
                                  state=state, key=key, dt=dt, drive=drive)
    if out is None and spec is not None:
        out = Path("hdf5_outputs") / f"{spec.name}.sweep.h5"
    result_specs = _result_specs(job)
    store = None
    if out is not None:
        store = SweepStore.open(out, identity=identity, grid=grid, result_specs=result_specs,
                                meta={"version": __version__, "kind": "sweep"})
        pending = store.pending_chunks()
    else:
        pending = list(range(-(-grid.n_points // job.chunk_size)))
    results = {name: np.full((grid.n_points,) + shape, np.nan, dtype) for name, (shape, dtype) in result_specs.items()}
    done = np.zeros(grid.n_points, bool)
    show = progress if progress is not None else sys.stderr.isatty()
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=grid.n_points, initial=grid.n_points - sum(_chunk_len(job, grid, c) for c in pending),
                   unit="point", dynamic_ncols=True)
    t0 = time.perf_counter()
    computed = 0
    try:
        for index, chunk_results in _execute(job, pending, executor):
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
    finally:
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


def _chunk_len(job, grid, c):
    return min(job.chunk_size, grid.n_points - c * job.chunk_size)


def _result_specs(job: _Job) -> dict:
    def one():
        model = job.model if job.structural is None else job.structural[0][0]
        state = job.state if job.structural is None else job.structural[0][1]
        values = jnp.asarray(job.values[0])
        drive = None if job.drive is None else jax.tree_util.tree_map(jnp.asarray, job.drive)
        return _point(jax.tree_util.tree_map(jnp.asarray, model), jax.tree_util.tree_map(jnp.asarray, state), values,
                      drive, paths=job.traced_paths, steps=job.steps, transient=job.transient, measures=job.measures, dt=job.dt)

    if job.x64:
        jax.config.update("jax_enable_x64", True)
    shapes = jax.eval_shape(one)
    return {name: (tuple(s.shape), np.float64) for name, s in shapes.items()}


def _execute(job: _Job, pending: list[int], executor):
    if executor is None:
        for index in pending:
            yield index, job.compute(index)
        return
    from distributed import as_completed

    shared = executor.scatter(job, broadcast=True)  # the model travels to each worker once, not per chunk
    futures = [executor.submit(_compute_chunk_remote, shared, index, retries=2, pure=False) for index in pending]
    for future in as_completed(futures):
        try:
            yield future.result()
        except Exception as e:  # a chunk that failed on every retry
            raise NeurodynError(f"a sweep chunk failed on the cluster: {e}") from None


def connect(address: str, timeout: float = 5.0):
    """A ``dask.distributed.Client`` for ``address``, or a clear error if it cannot be reached."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as e:
        raise NeurodynError(f"cannot reach the Dask scheduler at {address}: {e}") from None
