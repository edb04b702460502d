"""A sweep resolved into a picklable job: the model, the swept paths, the per-point values,
the measures, the chunking; :func:`prepare` builds it from a spec or a model (no computation).

Spec fields that change structure (a seed, a density, a graph size) are applied by rebuilding
the model per point on the host; those points carry their own matrices. Chunks always have B
points (the last is padded), so the chunk function compiles once per sweep.

With a spec's ``[task]``, task scores (``nrmse``, ``accuracy``, ...) and ordinary measures may be
asked for together: both are computed in the same compiled chunk
(:func:`neurodyn.sweep.task.task_chunk`). Of the ``[task]`` table, the fields of
:data:`neurodyn.sweep.task.SWEEPABLE` can be grid axes (the ridge, and the split as 0/1 row
masks); any other is refused with the list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..core.loop import Observer, as_device_drive, init_state, prepare_drive, split_drive
from ..core.model import model_dt
from ..core.parameters import get_parameter
from ..core.tangent import flatten_state
from ..datasets.tasks import task_data
from ..errors import SpecError
from ..precision import set_precision, x64_enabled
from ..pytree import is_inexact
from .grid import Grid
from .measures import Measure, parse_measure
from .point import block_size, chunk

MEMORY_BUDGET = 1 * 2**30
# state values x steps x points of one chunk: about a second or two on one CPU core (ring-star
# Chialvo with its Lyapunov tangent: ~1e8 value-steps per second), so a progress bar moves every
# few seconds; chunks keep at least MIN_CHUNK points, below which batching stops paying off
WORK_PER_CHUNK = 2e8
MIN_CHUNK = 16


@dataclass
class SweepJob:
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
    task: Any = None  # task scores: (TaskConfig, arrays, columns) of neurodyn.sweep.task; measures: the others

    def drive_parts(self):
        """``(drive_fn, drive_arrays)``: a function of t is a compile-time constant, arrays are traced."""
        return split_drive(as_device_drive(self.drive))

    def chunk_values(self, index: int):
        """Point indices of chunk ``index`` (the last chunk padded with its last point)."""
        start = index * self.chunk_size
        idx = np.arange(start, start + self.chunk_size)
        idx = np.minimum(idx, self.values.shape[0] - 1)  # pad the last chunk with its last point
        return idx

    def compute(self, index: int) -> dict[str, np.ndarray]:
        """Results of chunk ``index``: one call of the compiled, vmapped chunk function."""
        fn, args, kwargs = self.chunk_call(index)
        return {k: np.asarray(v) for k, v in fn(*args, **kwargs).items()}

    def chunk_call(self, index: int) -> tuple[Callable, tuple, dict]:
        """``(fn, args, kwargs)`` of chunk ``index``: the jitted chunk function (plain or with a
        task) and its arguments. :func:`result_specs` traces the same call, so the first chunk
        reuses that trace instead of tracing the computation again."""
        if self.x64:
            set_precision("float64")  # a Dask worker process is an entry point of its own
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
        drive_fn, drive_arrays = self.drive_parts()
        kwargs = dict(paths=self.traced_paths, dt=self.dt, batched_model=batched, measures=self.measures,
                      steps=self.steps, transient=self.transient, drive_fn=drive_fn)
        if self.task is not None:
            from .task import task_chunk

            cfg, arrays, columns = self.task
            return (task_chunk, (model, state, values, jax.tree_util.tree_map(jnp.asarray, arrays), drive_arrays),
                    dict(kwargs, cfg=cfg, columns=columns))
        return chunk, (model, state, values, drive_arrays), kwargs


def _is_traced_leaf(model, path: str) -> bool:
    try:
        leaf = get_parameter(model, path)
    except SpecError:
        return False
    return hasattr(leaf, "dtype") and is_inexact(leaf)


class SweepSource(Protocol):
    """A sweep target that is more than a model: a spec (:class:`neurodyn.spec.sweep.SpecSource`).

    Attributes ``spec`` (the :class:`~neurodyn.spec.RunSpec`: ``model``, ``state``, ``steps``,
    ``transient``, ``dt``, ``name``, ``text``, ``task``, ``data``) and the spec operations a sweep
    needs, so this package never imports the spec reader above it."""

    spec: Any

    def model_path(self, path: str) -> str:
        """The model path of the spec field ``path``."""

    def gain_path(self, path: str):
        """``(model path, spec value)`` when the field is swept as a gain the model keeps, else None."""

    def rebuild(self, assignments: dict):
        """``(model, state)`` of the spec with the fields ``{path: value}`` set (SpecError if invalid)."""

    def task_at(self, assignments: dict):
        """The validated ``[task]`` with the fields ``{path: value}`` set (SpecError if invalid)."""


#: Readers that turn a sweep target (a spec file, a RunSpec) into a :class:`SweepSource`, or
#: return None for a target they do not know. The spec layer registers its reader here
#: (:mod:`neurodyn.spec.sweep`), as models register in the registries below them.
SOURCES: list[Callable[[Any], SweepSource | None]] = []


def _source(target) -> SweepSource | None:
    if hasattr(target, "rebuild") and hasattr(target, "spec"):
        return target
    for read in SOURCES:
        source = read(target)
        if source is not None:
            return source
    if isinstance(target, (str, Path)):
        raise SpecError(f"sweep: {target}: a spec file needs the spec reader (import neurodyn)")
    return None


def prepare(target, grid: Grid, measures: Sequence[str | Measure], *, steps: int | None = None,
            transient: int | None = None, chunk: int | None = None, state=None, key=None, dt: float | None = None,
            drive=None):
    """Resolve a sweep into a :class:`SweepJob` and its file identity (no computation).
    ``target``: a model, or a spec (a file, a RunSpec, a :class:`SweepSource`)."""
    source = _source(target)
    spec = source.spec if source is not None else None
    if spec is not None:
        model, state0 = spec.model, spec.state
        steps = spec.steps if steps is None else steps
        transient = spec.transient if transient is None else transient
        dt = spec.dt if dt is None else dt
    else:
        model = target
        state0 = init_state(model, state, key)
        steps = 1000 if steps is None else steps
        transient = 0 if transient is None else transient
        dt = model_dt(model) if dt is None else dt
    if not 0 <= transient < steps:
        raise SpecError(f"sweep: transient ({transient}) must be in [0, steps = {steps})")
    if isinstance(drive, str):
        drive = _task_drive(drive, spec)
    observables = model.observe(state0)
    parsed = tuple(m if isinstance(m, (Measure, Observer)) else parse_measure(m, observables) for m in measures)
    if not parsed:
        raise SpecError("a sweep needs at least one --measure")
    if len({m.label for m in parsed}) != len(parsed):
        raise SpecError("a measure is given twice")
    for m in parsed:
        _check_observables(m, observables)
        m.check(steps - transient)

    from .task import is_task_score

    tasked = [m for m in parsed if is_task_score(m.kind)]
    others = tuple(m for m in parsed if not is_task_score(m.kind))
    if tasked and (spec is None or spec.task is None):
        raise SpecError(f"--measure {tasked[0].kind}: task scores need a spec with a [task] table")
    traced, structural_cols, scales, task_cols = [], [], [], {}
    for j, path in enumerate(grid.paths):
        if spec is not None and path.split(".")[0] == "task":
            _check_task_axis(path, spec, tasked)
            task_cols[path] = j
            continue
        mpath = source.model_path(path) if spec is not None else path
        gain = source.gain_path(path) if spec is not None else None
        if _is_traced_leaf(model, mpath):
            traced.append((j, mpath))
            scales.append(1.0)
        elif gain is not None:
            traced.append((j, gain[0]))
            scales.append(1.0 / gain[1])
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
            try:
                tree = source.rebuild({path: grid.values[i, j] for j, path in structural_cols})
            except SpecError as e:
                where = ", ".join(f"{p}={grid.values[i, j]:g}" for j, p in structural_cols)
                raise SpecError(f"sweep point {i} ({where}): {e}") from None
            leaves = (jax.tree_util.tree_structure(tree), [np.shape(x) for x in jax.tree_util.tree_leaves(tree)])
            if shapes is None:
                shapes = leaves
            elif leaves != shapes:
                raise SpecError(f"sweeping {[p for _, p in structural_cols]} changes the model's array shapes; "
                                f"only values that keep every shape (seeds, densities, strengths) can be swept")
            structural.append((_numpy_tree(tree[0]), _numpy_tree(tree[1])))
    values = grid.values[:, [j for j, _ in traced]] * np.asarray(scales) if traced else np.zeros((grid.n_points, 0))
    task = None
    per_point = _bytes_per_point(model, state0, others, structural is not None, steps - transient) if others else 0
    if tasked:
        task, task_values, task_bytes = _task_job(source, tasked, grid, task_cols, state0)
        columns = tuple((name, values.shape[1] + i) for i, name in enumerate(task_values))
        values = np.concatenate([values, *(c[:, None] for c in task_values.values())], axis=1)
        task = (task[0], task[1], columns)
        per_point += task_bytes
    if chunk is None and tasked:
        largest = int(max(1, min(4096, MEMORY_BUDGET // max(per_point, 1))))
        chunk_size = -(-grid.n_points // -(-grid.n_points // largest))
    elif chunk is None:
        work = flatten_state(state0)[0].size * steps
        largest = int(max(1, min(4096, MEMORY_BUDGET // max(per_point, 1), max(MIN_CHUNK, WORK_PER_CHUNK // work))))
        n_chunks = -(-grid.n_points // largest)
        chunk_size = -(-grid.n_points // n_chunks)  # equal chunks: little padding in the last one
    else:
        chunk_size = min(chunk, grid.n_points)
    x64 = any(np.asarray(leaf).dtype == np.float64 for leaf in jax.tree_util.tree_leaves((model, state0))
              if hasattr(leaf, "dtype"))
    prepare_drive(model, drive, steps, dt, "sweep: the drive")
    if drive is not None and not callable(drive):
        drive = _numpy_tree(drive)
    job = SweepJob(_numpy_tree(model), _numpy_tree(state0), tuple(p for _, p in traced), structural, values, steps,
                   transient, others if tasked else parsed, float(dt), chunk_size, x64, drive, task)
    what = spec.text if spec is not None else f"model {type(model).__name__} {_digest((model, state0))}"
    identity = {"spec": what, "grid": grid.definition,
                "measures": json.dumps([_identity(m) for m in parsed]), "steps": steps, "transient": transient,
                "chunk_size": chunk_size, "drive": _digest(drive)}
    return job, identity, spec


def _task_drive(name: str, spec) -> dict:
    """``drive="task"``: the input series of the spec's ``[task]`` into every population it drives
    (``{population: (steps, d) inputs}``), so ordinary measures (``max_lyapunov``, ``mean``) see
    the reservoir under the task's input."""
    if name != "task":
        raise SpecError(f"sweep: drive {name!r}: give arrays, a function of t, or \"task\" (the [task]'s input)")
    if spec is None or spec.task is None:
        raise SpecError("sweep: drive \"task\" needs a spec with a [task] table")
    if spec.task.kind != "series":
        raise SpecError(f"sweep: drive \"task\": the {spec.task.dataset} task is a set of sequences, not one input "
                        f"series; give the drive as arrays")
    inputs = task_data(spec.task).inputs
    return {p: inputs for p in spec.task.inputs}


_TASK_AXIS_WHY = {
    "task.dataset": "it changes the task's data (sweep the model's fields, or run one sweep per dataset)",
    "task.inputs": "it changes which populations the input drives",
    "task.features": "it changes the readout's features (their number is a shape)",
    "task.metrics": "the scores are the --measure options",
    "task.generate": "closed-loop generation is not part of a sweep's scores",
    "task.valid_threshold": "closed-loop generation is not part of a sweep's scores",
    "task.readout": "it changes the readout's form, not a number of it; run one sweep per value",
}


def _check_task_axis(path: str, spec, tasked) -> None:
    """Refuse a grid axis in the ``[task]`` table that a task sweep cannot vary (or one swept
    without a task score), naming the field, why, and the sweepable ones."""
    from ..readout.metrics import METRICS
    from .task import SPLIT_FIELDS, SWEEPABLE

    if spec.task is None:
        raise SpecError(f"--grid {path}: the spec has no [task] table")
    if not tasked:
        raise SpecError(f"--grid {path}: a [task] field changes only task scores; add a task score "
                        f"(--measure {' / '.join(METRICS)})")
    if path not in SWEEPABLE:
        parts = path.split(".")
        why = _TASK_AXIS_WHY.get(".".join(parts[:2]), "not a field a sweep can vary")
        raise SpecError(f"--grid {path}: not sweepable: {why}. The [task] fields a sweep varies without "
                        f"recompiling: {', '.join(SWEEPABLE)}")
    if spec.task.kind != "series" and path in SPLIT_FIELDS and path != "task.readout.folds":
        raise SpecError(f"--grid {path}: not sweepable for the classification set {spec.task.dataset!r}: its "
                        f"train and test sequences are fixed by task.dataset.test_fraction (a change of the data). "
                        f"Sweepable here: task.readout.ridge, task.readout.folds")


def _axis_value(path: str, value: float):
    """A grid value as the ``[task]`` field takes it: the ridge a number, folds and washout whole
    numbers, train and test a whole number of steps (>= 1) or a fraction of steps in (0, 1)."""
    value = float(value)
    if path == "task.readout.ridge":
        return value
    if path in ("task.washout", "task.readout.folds") or value >= 1:
        if not value.is_integer():
            raise SpecError(f"--grid {path}: expected whole numbers{' of steps' if path != 'task.readout.folds' else ''}"
                            f"{' (or fractions in (0, 1))' if path in ('task.train', 'task.test') else ''}, "
                            f"got {value:g}")
        return int(value)
    return value


def _point_tasks(source: SweepSource, grid, task_cols: dict):
    """The validated :class:`~neurodyn.spec.task.Task` of every grid point (its swept [task]
    fields set, checked as ``neurodyn run`` checks them)."""
    tasks = []
    for i in range(grid.n_points):
        where = ", ".join(f"{p}={grid.values[i, j]:g}" for p, j in task_cols.items())
        try:
            tasks.append(source.task_at({path: _axis_value(path, grid.values[i, j]) for path, j in task_cols.items()}))
        except SpecError as e:
            raise SpecError(f"sweep point {i} ({where}): {e}") from None
    return tasks


def _task_job(source: SweepSource, measures, grid, task_cols: dict, state):
    """``((TaskConfig, arrays, None), {column name: per-point values}, bytes per point)`` of the
    task scores of a sweep; the columns are ``"ridge"`` when swept, and the four numbers of the
    split (washout, train, test, folds) when one of them is."""
    from ..readout.metrics import CLASSIFICATION, METRICS, REGRESSION
    from .task import SPLIT_FIELDS, bytes_per_point, config, split_values, task_arrays

    spec = source.spec
    task = spec.task
    metrics = tuple(m.kind for m in measures)
    kind = CLASSIFICATION if task.kind == "sequences" else REGRESSION
    valid = tuple(n for n, m in METRICS.items() if m.kind == kind and m.dataset in (None, task.dataset))
    for m in metrics:
        if m not in valid:
            raise SpecError(f"--measure {m}: not a score of the task's {task.dataset} data ({', '.join(valid)})")
    ridge_swept = "task.readout.ridge" in task_cols
    columns = {}
    if ridge_swept:
        columns["ridge"] = grid.values[:, task_cols["task.readout.ridge"]]
    data = task_data(task)
    splits = None
    if any(p in SPLIT_FIELDS for p in task_cols):
        splits = [split_values(t, data) for t in _point_tasks(source, grid, task_cols)]
        table = np.array(splits, float)
        columns.update({name: table[:, i] for i, name in enumerate(("washout", "train", "test", "folds"))})
    elif ridge_swept:
        _point_tasks(source, grid, task_cols)  # the ridge values checked as a spec's
    ridges = (1.0,) if ridge_swept else task.ridges
    cfg = config(task, metrics, len(ridges), data, splits)
    arrays = {**task_arrays(task, data), "ridges": np.asarray(ridges, float)}
    obs = jax.eval_shape(spec.model.observe, state)
    n_features = sum(int(np.prod(obs[n].shape)) for n in task.features)
    size = flatten_state(state)[0].size
    return (cfg, arrays, None), columns, bytes_per_point(cfg, arrays, n_features, size)


def _check_observables(m: Measure, observables: dict) -> None:
    """SpecError unless every observable ``m`` reads is one of the model's (a streamed ridge
    readout: a floating one)."""
    names = m.observables if m.kind == "function" else (m.observable,) if m.observable else ()
    for name in names:
        if name not in observables:
            raise SpecError(f"measure {m.label}: unknown observable {name!r} (available: {', '.join(observables)})")
        if m.kind == "ridge" and not jnp.issubdtype(jnp.result_type(observables[name]), jnp.floating):
            raise SpecError(f"measure {m.label}: the ridge readout needs a floating observable, {name!r} is "
                            f"{jnp.result_type(observables[name])}")


def _identity(m: Measure) -> str:
    """What a resumed sweep file must agree on for measure ``m``: its label, and for a streamed
    ridge readout also its ridge value and a fingerprint of its target (the label names neither)."""
    if m.kind != "ridge":
        return m.label
    return f"{m.label}[ridge={m.penalty!r}, target {_digest((m.target.value, m.target_mean.value))}]"


def _digest(tree) -> str:
    """A short fingerprint of arrays (a drive, a model), so a resumed sweep cannot mix two inputs."""
    import hashlib

    if tree is None:
        return "none"
    if callable(tree):
        return f"function {getattr(tree, '__module__', '')}.{getattr(tree, '__qualname__', repr(tree))}"
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def _bytes_per_point(model, state, measures, structural, measured_steps) -> int:
    size = flatten_state(state)[0].size * 8
    total = size * (3 if any(m.kind == "max_lyapunov" for m in measures) else 2)
    obs = model.observe(state)
    needed = {m.observable for m in measures if m.observable}
    total += block_size(measures) * sum(np.size(obs[o]) for o in needed) * 8
    for m in measures:
        if m.kind == "function":
            total += sum(np.size(obs[o]) for o in m.observables) * 8 * measured_steps
        if m.kind in ("cross_correlation", "ridge"):  # their F x F sums
            total += np.size(obs[m.observable]) ** 2 * 8
        if m.kind == "orbit":
            total += m.length * np.size(obs[m.observable]) * 8
    if structural:
        total += sum(np.size(x) * 8 for x in jax.tree_util.tree_leaves(model))
    return int(total)


def _numpy_tree(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def result_specs(job: "SweepJob") -> dict:
    """``{name: (shape of one point's result, float64)}``, from a trace of the first chunk's
    call (nothing runs; the chunk function keeps the trace, so computing that chunk does not
    trace it again)."""
    if job.x64 and not x64_enabled():
        raise SpecError("the sweep holds float64 arrays but JAX computes in float32; "
                        "call neurodyn.set_precision('float64') first")
    fn, args, kwargs = job.chunk_call(0)
    shapes = fn.eval_shape(*args, **kwargs)
    return {name: (tuple(s.shape[1:]), np.float64) for name, s in shapes.items()}
