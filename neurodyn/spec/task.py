"""The ``[task]`` table of a spec: train and score a readout on a reservoir driven by a dataset.

A task names a dataset of :mod:`neurodyn.datasets` (``[task.dataset]``, by ``kind``), the
populations its input drives, the split (washout, train and test lengths, in steps or as
fractions of ``steps``), the readout (``[task.readout]``: ridge regression with one
regularisation value or a list chosen by time-blocked cross-validation, or a classifier on the
last or mean state of each sequence), the metrics and an optional closed-loop generation.

Time alignment: row ``t`` of the harvested states is the state after consuming ``u(t)`` and is
paired with ``target(t)`` as the dataset gives it (docs/models/reservoirs.md, "Readout").

Two NRMSE conventions are offered and always named: ``nrmse`` divides the RMS error by the
target's standard deviation, ``nrmse_rms`` by its RMS (the ResESN authors' code).
``memory_capacity`` is ``sum_k r^2(y_k, u(t - k))`` over the delays of the memory task (H.
Jaeger, GMD Report 152, 2002). Everything runs from :func:`neurodyn.runs.run_task` (``neurodyn run`` on a spec
with a ``[task]`` table) and, as sweep measures, from :mod:`neurodyn.sweep.task`, where the ridge,
the folds and the split (washout, train, test) can be grid axes (``neurodyn.sweep.task.SWEEPABLE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecError
from ..readout.metrics import CLASSIFICATION, METRICS, REGRESSION, names, one_hot, score
from ..schema import Field, Registry, check_table, read_fields, unknown_name

SERIES, SEQUENCES = "series", "sequences"

DATASETS = Registry(
    "datasets", "Task datasets", key="kind", noun="dataset", context=("steps", "spec_seed"),
    doc="A `[task.dataset]` table (inside a spec's `[task]`) generates the task's data locally: `kind` names it. "
        "A series gives `steps` input and target rows (row t of the targets is what a readout of the state after "
        "consuming input t should output); a sequence set gives labelled sequences (then `steps` must be the "
        "sequence length). `seed` defaults to the spec's seed.")


@dataclass(frozen=True)
class TaskData:
    """Generated task data: a series (``inputs`` ``(T, d)``, ``targets`` ``(T, k)``) or labelled
    sequences (``inputs`` ``(n, T, d)`` of train then test sequences, ``labels`` ``(n,)``,
    ``n_train`` of them for training)."""

    kind: str
    inputs: np.ndarray
    targets: np.ndarray | None = None
    labels: np.ndarray | None = None
    n_train: int = 0


def _seed(value, spec_seed):
    return value if value is not None else (spec_seed or 0)


def _series(inputs, targets) -> TaskData:
    return TaskData(SERIES, np.asarray(inputs, float).reshape(len(inputs), -1),
                    np.asarray(targets, float).reshape(len(targets), -1))


def _mackey_glass(*, tau, dt, sample_every, transient, horizon, seed, steps, spec_seed):
    from ..datasets import mackey_glass

    return _series(*mackey_glass(steps, tau=tau, dt=dt, sample_every=sample_every, transient=transient,
                                 horizon=horizon, seed=seed))


def _narma(*, order, seed, steps, spec_seed):
    from ..datasets import narma

    try:
        return _series(*narma(steps, order, seed=_seed(seed, spec_seed)))
    except ValueError as e:
        raise SpecError(str(e)) from None


def _narma_resesn(*, order, seed, steps, spec_seed):
    from ..datasets import narma_resesn

    try:
        return _series(*narma_resesn(steps, order, seed=_seed(seed, spec_seed)))
    except ValueError as e:
        raise SpecError(str(e)) from None


def _lorenz(*, dt, horizon, seed, steps, spec_seed):
    from ..datasets import lorenz

    return _series(*lorenz(steps, dt=dt, horizon=horizon, seed=seed))


def _henon(*, horizon, seed, steps, spec_seed):
    from ..datasets import henon

    return _series(*henon(steps, horizon=horizon, seed=seed))


def _memory(*, max_delay, input_range, seed, steps, spec_seed):
    from ..datasets import memory_task

    return _series(*memory_task(steps, max_delay, input_range=input_range, seed=_seed(seed, spec_seed)))


def _digits(*, mode, test_fraction, seed, permutation_seed, steps, spec_seed):
    from ..datasets import digits_sequences
    from ..datasets.digits import SEQUENCE_MODES

    split = digits_sequences(mode, test_fraction=test_fraction, seed=_seed(seed, spec_seed),
                             permutation_seed=permutation_seed)
    length = split.x_train.shape[1]
    if steps != length:
        raise SpecError(f"steps: the digits sequences in mode {mode!r} have {length} steps; set steps = {length}")
    assert mode in SEQUENCE_MODES
    return TaskData(SEQUENCES, np.concatenate([split.x_train, split.x_test]), labels=np.concatenate(
        [split.y_train, split.y_test]), n_train=len(split.y_train))


_SEED = Field("seed", "integer", default=None, minimum=0, maximum=2**32 - 1, doc="seed of the draw",
              default_text="the spec's seed")
_NOISE_SEED = Field("seed", "integer", default=None, minimum=0, maximum=2**32 - 1,
                    doc="perturbs the initial condition (none: the stated one)", default_text="none")
_HORIZON = Field("horizon", "integer", default=1, minimum=1, unit="samples", doc="predict this many samples ahead")
_CONTEXT = ("steps", "spec_seed")

DATASETS.register("mackey_glass", _mackey_glass, (
    Field("tau", default=17.0, minimum=0.0, exclusive_minimum=True, unit="time units", doc="the delay"),
    Field("dt", default=0.1, minimum=0.0, exclusive_minimum=True, unit="time units", doc="RK4 step"),
    Field("sample_every", default=1.0, minimum=0.0, exclusive_minimum=True, unit="time units",
          doc="time between samples"),
    Field("transient", default=500.0, minimum=0.0, unit="time units", doc="discarded before the first sample"),
    _HORIZON, _NOISE_SEED,
), summary="Mackey-Glass series x(t) -> x(t + horizon) (neurodyn.datasets.mackey_glass).",
    citation="M. C. Mackey, L. Glass, Science 197:287 (1977)", example={"tau": 17.0}, context=_CONTEXT)
DATASETS.register("narma", _narma, (
    Field("order", "integer", default=10, minimum=1, doc="NARMA order (standard coefficients: 10, 30)"),
    _SEED,
), summary="NARMA series u(t) -> y(t+1), u i.i.d. U[0, 0.5] (neurodyn.datasets.narma).",
    citation="A. F. Atiya, A. G. Parlos, IEEE Trans. Neural Networks 11:697 (2000)", example={"order": 10},
    context=_CONTEXT)
DATASETS.register("narma_resesn", _narma_resesn, (
    Field("order", "integer", default=10, minimum=1, doc="10 (no sum term) or 30"), _SEED,
), summary="The NARMA variants of the ResESN authors' data (neurodyn.datasets.narma_resesn).",
    citation="A. Ceni, C. Gallicchio, Neurocomputing 597:127966 (2024)", example={"order": 10}, context=_CONTEXT)
DATASETS.register("lorenz", _lorenz, (
    Field("dt", default=0.01, minimum=0.0, exclusive_minimum=True, unit="time units", doc="RK4 step"),
    _HORIZON, _NOISE_SEED,
), summary="Lorenz system (x, y, z)(t) -> (x, y, z)(t + horizon) (neurodyn.datasets.lorenz).",
    citation="E. N. Lorenz, J. Atmos. Sci. 20:130 (1963)", example={"dt": 0.01}, context=_CONTEXT)
DATASETS.register("henon", _henon, (_HORIZON, _NOISE_SEED),
                  summary="Henon map (x, y)(n) -> (x, y)(n + horizon) (neurodyn.datasets.henon).",
                  citation="M. Henon, Commun. Math. Phys. 50:69 (1976)", example={"horizon": 1}, context=_CONTEXT)
DATASETS.register("memory_task", _memory, (
    Field("max_delay", "integer", minimum=1, unit="steps", doc="targets u(t - k) for k = 1 .. max_delay"),
    Field("input_range", default=0.8, minimum=0.0, exclusive_minimum=True, doc="u i.i.d. U(-range, range)"),
    _SEED,
), summary="Short-term memory task: i.i.d. input, one target column per delay (neurodyn.datasets.memory_task).",
    citation="H. Jaeger, GMD Report 152 (2002)", example={"max_delay": 20}, context=_CONTEXT)
DATASETS.register("digits_sequences", _digits, (
    Field("mode", "choice", default="row", choices=("row", "pixel", "permuted"),
          doc="row: 8 steps of 8 pixels; pixel: 64 steps of 1; permuted: pixels in a fixed random order"),
    Field("test_fraction", default=0.25, minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True,
          doc="fraction of the 1,797 images held out"),
    _SEED,
    Field("permutation_seed", "integer", default=1234, minimum=0, maximum=2**32 - 1,
          doc="seed of the fixed pixel permutation (mode permuted)"),
), summary="8x8 digits as labelled sequences (scikit-learn's bundled set; neurodyn.datasets.digits_sequences).",
    citation="Q. V. Le, N. Jaitly, G. E. Hinton, arXiv:1504.00941 (2015) for the pixel tasks",
    example={"mode": "row"}, context=_CONTEXT)


def _ridges(path, value, **context):
    values = value if isinstance(value, list) else [value]
    if not values:
        raise SpecError(f"{path}: expected a number or a non-empty list of numbers")
    number = Field("ridge", minimum=0.0)
    return [number.validate(f"{path}[{i}]" if isinstance(value, list) else path, v) for i, v in enumerate(values)]


READOUT_FIELDS = (
    Field("kind", "choice", default="ridge", choices=("ridge", "classifier"),
          doc="ridge regression on the states, or a ridge classifier on one pooled state per sequence"),
    Field("ridge", "custom", default=1e-8, validator=_ridges, type_text="number or list of numbers",
          doc="the regularisation beta (>= 0); several values: chosen by time-blocked cross-validation; "
              "a sweep axis of task scores"),
    Field("folds", "integer", default=5, minimum=2,
          doc="cross-validation folds (contiguous blocks); a sweep axis of task scores"),
    Field("standardize", "bool", default=False, doc="regularise features divided by their standard deviation"),
    Field("use_inputs", "bool", default=False, doc="the readout also sees the input u(t)"),
    Field("bias", "bool", default=True, doc="a constant feature (intercept), not regularised"),
    Field("pool", "choice", default="last", choices=("last", "mean"),
          doc="classifier: the state of each sequence it reads"),
)


def _split_value(path, value, **context):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{path}: expected a number of steps (integer) or a fraction of steps in (0, 1), "
                        f"got {type(value).__name__} {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise SpecError(f"{path}: a number of steps must be >= 1, got {value}")
        return value
    if not 0.0 < value < 1.0:
        raise SpecError(f"{path}: a fraction must be in (0, 1), got {value!r} (give a whole number of steps "
                        f"as an integer)")
    return value


def _names(path, value, **context):
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{path}: expected a non-empty list of names, got {value!r}")
    return value


def _metrics(path, value, **context):
    if not isinstance(value, list) or not value:
        raise SpecError(f"{path}: expected a non-empty list of metric names ({', '.join(METRICS)})")
    for v in value:
        if not isinstance(v, str) or v not in METRICS:
            raise unknown_name(path, "metric", v, METRICS)
    return value


def metric_definition(name: str) -> str:
    """The one-line definition of a task score: a registered metric's
    (:data:`neurodyn.readout.metrics.METRICS`) or a closed-loop score's."""
    return METRICS[name].doc if name in METRICS else GENERATION_SCORES[name]


def _table(path, value, **context):
    return check_table(path, value)


TASK_FIELDS = (
    Field("dataset", "custom", validator=_table, type_text="table { kind = ... }",
          doc="the data (see datasets.md)"),
    Field("inputs", "custom", default=None, validator=_names, type_text="list of strings",
          doc="the populations the input drives (through their port u)",
          default_text="every population with a port u"),
    Field("features", "custom", default=None, validator=_names, type_text="list of strings",
          doc="observables the readout reads, named population.observable, concatenated",
          default_text="every floating observable"),
    Field("washout", "integer", default=0, minimum=0, unit="steps",
          doc="leading steps left out of training; a sweep axis of task scores (series)"),
    Field("train", "custom", default=0.5, validator=_split_value, type_text="integer or number",
          doc="training steps after the washout: a count, or a fraction of steps; a sweep axis of task scores "
              "(series)"),
    Field("test", "custom", default=None, validator=_split_value, type_text="integer or number",
          doc="test steps after training: a count, or a fraction of steps; a sweep axis of task scores (series)",
          default_text="the rest"),
    Field("readout", "custom", default=None, validator=_table, type_text="table", fields=READOUT_FIELDS,
          doc="the readout", default_text="ridge 1e-8"),
    Field("metrics", "custom", default=None, validator=_metrics, type_text="list of strings",
          doc="scores on the test data, metrics of neurodyn.readout.metrics.METRICS: " + ", ".join(METRICS)
              + " (nrmse: RMS error / target std; nrmse_rms: / target RMS; memory_capacity: sum over target "
              "columns of r^2)",
          default_text='["nrmse", "nrmse_rms"] (sequences: ["accuracy"])'),
    Field("generate", "integer", default=0, minimum=0, unit="steps",
          doc="closed-loop steps from the start of the test data (output fed back as input; series whose "
              "input is the target's past, e.g. Mackey-Glass)"),
    Field("valid_threshold", default=0.4, minimum=0.0, exclusive_minimum=True,
          doc="closed loop: valid time ends where |error| / std(target) first exceeds it"),
)


@dataclass(frozen=True)
class Task:
    """A validated ``[task]`` table (see the module docstring); :meth:`data` generates the data."""

    dataset: str
    dataset_values: dict
    inputs: tuple
    features: tuple
    washout: int
    train: int
    test: int
    readout: dict
    metrics: tuple
    generate: int
    valid_threshold: float
    kind: str
    steps: int
    spec_seed: int

    def data(self) -> TaskData:
        """The task's data (generated on the host, seeded)."""
        return DATASETS[self.dataset].build("task.dataset", self.dataset_values,
                                            {"steps": self.steps, "spec_seed": self.spec_seed})

    @property
    def ridges(self) -> tuple:
        """The regularisation value, or the candidates cross-validation chooses from."""
        return tuple(self.readout["ridge"])

    def ridge_readout(self):
        """The :class:`~neurodyn.readout.Ridge` this task fits (unfitted)."""
        from ..readout import Ridge

        r = self.readout
        ridge = r["ridge"][0] if len(r["ridge"]) == 1 else list(r["ridge"])
        return Ridge(ridge=ridge, washout=0, bias=r["bias"], use_inputs=r["use_inputs"],
                     standardize=r["standardize"], folds=r["folds"])


def read_task(table, *, steps: int, spec_seed: int, populations: dict, observables: dict) -> Task:
    """Validate a ``[task]`` table against the built populations and observables (no data generated)."""
    f = read_fields("task", check_table("task", table), TASK_FIELDS)
    entry, dvalues = DATASETS.read("task.dataset", f["dataset"])
    kind = SEQUENCES if entry.name == "digits_sequences" else SERIES
    readout = read_fields("task.readout", f["readout"] or {}, READOUT_FIELDS)
    if readout["kind"] == "classifier" and kind != SEQUENCES:
        raise SpecError("task.readout.kind: a classifier needs a sequence dataset (digits_sequences)")
    if kind == SEQUENCES and readout["kind"] != "classifier":
        raise SpecError(f"task.readout.kind: dataset {entry.name!r} is a classification set; use \"classifier\"")
    metrics = tuple(f["metrics"] or (["accuracy"] if kind == SEQUENCES else ["nrmse", "nrmse_rms"]))
    wanted = CLASSIFICATION if kind == SEQUENCES else REGRESSION
    bad = [m for m in metrics if METRICS[m].kind != wanted]
    if bad:
        raise SpecError(f"task.metrics: {bad[0]!r} does not apply to {entry.name!r} "
                        f"({', '.join(names(wanted))})")
    for m in metrics:
        if METRICS[m].dataset not in (None, entry.name):
            raise SpecError(f"task.metrics: {m} needs the {METRICS[m].dataset} dataset")
    port_pops = [p for p, m in populations.items() if "u" in getattr(m, "PORTS", ())]
    inputs = tuple(f["inputs"] or port_pops)
    for p in inputs:
        if p not in port_pops:
            raise SpecError(f"task.inputs: {p!r} is not a population with an input port u "
                            f"(those with one: {', '.join(port_pops) or 'none'})")
    if not inputs:
        raise SpecError("task.inputs: no population has an input port u")
    floating = [n for n, v in observables.items() if jnp.issubdtype(v.dtype, jnp.inexact)]
    features = tuple(f["features"] or floating)
    for n in features:
        if n not in floating:
            raise unknown_name("task.features", "observable", n, floating)
    from ..datasets.sizes import check_task_data

    check_task_data(entry.name, dvalues, steps, sum(int(np.prod(observables[n].shape)) for n in features))
    washout, train, test = f["washout"], f["train"], f["test"]
    if kind == SERIES:
        train = train if isinstance(train, int) else int(train * steps)
        test = (steps - washout - train) if test is None else (test if isinstance(test, int) else int(test * steps))
        if train < 2 or test < 2 or washout + train + test > steps:
            raise SpecError(f"task: washout ({washout}) + train ({train}) + test ({test}) steps must fit in steps "
                            f"({steps}), with at least 2 training and 2 test steps")
        if readout["kind"] == "ridge" and len(readout["ridge"]) > 1 and train < readout["folds"]:
            raise SpecError(f"task.readout.folds: {readout['folds']} folds need at least as many training steps "
                            f"(got {train})")
        if f["generate"] and washout + train + f["generate"] > steps:
            raise SpecError(f"task.generate: {f['generate']} steps from the start of the test data run past "
                            f"steps ({steps})")
    elif f["generate"]:
        raise SpecError("task.generate: closed-loop generation needs a series dataset")
    if f["generate"] and len(inputs) != 1:
        raise SpecError("task.generate: closed-loop generation feeds one input population; name it in task.inputs")
    return Task(entry.name, dvalues, inputs, features, washout, train, test or 0, readout, metrics, f["generate"],
                f["valid_threshold"], kind, steps, spec_seed)


# ---------------------------------------------------------------- harvesting


def harvest_task(model, state, task: Task, inputs: np.ndarray, dt: float, names: tuple | None = None) -> np.ndarray:
    """States of ``model`` from ``state`` driven by ``inputs`` (``(T, d)``: one run; ``(n, T, d)``:
    one run per sequence, each from ``state``), features ``names`` (default the task's)."""
    from ..core.loop import initial_state
    from ..readout.harvest import _states

    names = task.features if names is None else tuple(names)
    state = initial_state(model, state)
    dtype = jnp.result_type(float)
    u = jnp.asarray(inputs, dtype)
    if u.ndim == 2:
        return np.asarray(_states(model, state, u, dt, u.shape[0], task.inputs, names), float)
    run = jax.vmap(_states, in_axes=(None, None, 0, None, None, None, None))
    return np.asarray(run(model, state, u, dt, u.shape[1], task.inputs, names), float)


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
    data = task.data() if data is None else data
    if states is None:
        states = harvest_task(model, state, task, data.inputs, dt)
    if task.kind == SEQUENCES:
        return _classify(task, data, states)
    w, tr, te = task.washout, task.train, task.test
    train, test = slice(w, w + tr), slice(w + tr, w + tr + te)
    readout = task.ridge_readout()
    u = data.inputs if readout.use_inputs else None
    fit = readout.fit(states[train], data.targets[train], None if u is None else u[train])
    prediction = fit.predict(states, u)
    scores = regression_scores(prediction[test], data.targets[test], task.metrics)
    arrays = {"states": states, "inputs": data.inputs, "targets": data.targets, "predictions": prediction}
    if fit.cv_errors is not None:
        arrays.update(ridge_candidates=fit.candidates, cv_errors=fit.cv_errors)
    if task.generate:
        from ..readout import generate

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
    from ..readout import RidgeClassifier

    n = data.n_train  # states: (n_sequences, T, F)
    clf = RidgeClassifier(task.ridge_readout(), pool=task.readout["pool"]).fit(list(states[:n]), data.labels[:n])
    predicted = clf.predict(list(states[n:]))
    scores = {m: _class_score(m, predicted, data.labels[n:]) for m in task.metrics}
    pooled = states[:, -1] if task.readout["pool"] == "last" else states.mean(axis=1)
    arrays = {"features": pooled, "labels": data.labels, "predictions": predicted,
              "first_test_states": states[n]}
    if clf.readout.cv_errors is not None:
        arrays.update(ridge_candidates=clf.readout.candidates, cv_errors=clf.readout.cv_errors)
    return TaskResult(clf, scores, arrays, {"ridge": clf.readout.ridge, "n_train": n, "n_test": len(predicted),
                                            "pool": task.readout["pool"]})


GENERATION_SCORES = {
    "valid_time": "closed-loop steps until max |error| / std(target) first exceeds valid_threshold",
    "nrmse_generated": "NRMSE (standard-deviation convention) of the closed-loop output",
}
"""The closed-loop scores of ``task.generate`` (the test metrics are :data:`METRICS`)."""
