"""The ``[task]`` table of a spec, parsed and validated into a :class:`Task` (plain data): train
and score a readout on a reservoir driven by a dataset.

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
Jaeger, GMD Report 152, 2002).

This module only reads: the datasets are declared and built in :mod:`neurodyn.datasets.tasks`,
the readout is chosen, trained and scored by the run layer (:mod:`neurodyn.runs.task`:
``neurodyn run`` on a spec with a ``[task]`` table) and, as sweep measures, by
:mod:`neurodyn.sweep.task`, where the ridge, the folds and the split (washout, train, test) can be
grid axes (``neurodyn.sweep.task.SWEEPABLE``).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..datasets.tasks import DATASETS, SEQUENCES, SERIES, dataset_kind
from ..errors import SpecError
from ..readout.metrics import CLASSIFICATION, METRICS, REGRESSION, names
from ..schema import Field, check_table, read_fields, unknown_name

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
    """A validated ``[task]`` table (see the module docstring): plain data. Its data are built by
    :func:`neurodyn.datasets.task_data`, its readout trained and scored by
    :func:`neurodyn.runs.task.train_and_score`."""

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

    @property
    def ridges(self) -> tuple:
        """The regularisation value, or the candidates cross-validation chooses from."""
        return tuple(self.readout["ridge"])


def read_task(table, *, steps: int, spec_seed: int, populations: dict, observables: dict) -> Task:
    """Validate a ``[task]`` table against the built populations and observables (no data generated)."""
    f = read_fields("task", check_table("task", table), TASK_FIELDS)
    entry, dvalues = DATASETS.read("task.dataset", f["dataset"])
    kind = dataset_kind(entry.name)
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
