"""Task datasets: the registry a spec's ``[task.dataset]`` names (by ``kind``) and the data it
builds (docs/models/reservoirs.md, "Tasks"; the fields in docs/spec/datasets.md).

:data:`DATASETS` declares every dataset's fields (validated by ``neurodyn.spec`` when a spec is
read) and its builder, which returns a :class:`TaskData`: a series (``inputs`` ``(T, d)``,
``targets`` ``(T, k)``, row ``t`` of the targets what a readout of the state after consuming
input ``t`` should output) or labelled sequences. :func:`task_data` builds the data of a
validated ``[task]``; ``neurodyn run`` (:mod:`neurodyn.runs.task`) and the sweeps' task scores
(:mod:`neurodyn.sweep.task`) call it. A new dataset is a generator in this package and one
``DATASETS.register`` here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from ..schema import Field, Registry
from .narma import narma, narma_resesn

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
    from . import mackey_glass

    return _series(*mackey_glass(steps, tau=tau, dt=dt, sample_every=sample_every, transient=transient,
                                 horizon=horizon, seed=seed))


def _narma_of(generator):
    """The builder of a NARMA generator (:func:`~neurodyn.datasets.narma`, ``narma_resesn``)."""

    def build(*, order, seed, steps, spec_seed):
        try:
            return _series(*generator(steps, order, seed=_seed(seed, spec_seed)))
        except ValueError as e:
            raise SpecError(str(e)) from None

    return build


def _lorenz(*, dt, horizon, seed, steps, spec_seed):
    from . import lorenz

    return _series(*lorenz(steps, dt=dt, horizon=horizon, seed=seed))


def _henon(*, horizon, seed, steps, spec_seed):
    from . import henon

    return _series(*henon(steps, horizon=horizon, seed=seed))


def _memory(*, max_delay, input_range, seed, steps, spec_seed):
    from . import memory_task

    return _series(*memory_task(steps, max_delay, input_range=input_range, seed=_seed(seed, spec_seed)))


def _digits(*, mode, test_fraction, seed, permutation_seed, steps, spec_seed):
    from . import digits_sequences
    from .digits import SEQUENCE_MODES

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
DATASETS.register("narma", _narma_of(narma), (
    Field("order", "integer", default=10, minimum=1, doc="NARMA order (standard coefficients: 10, 30)"),
    _SEED,
), summary="NARMA series u(t) -> y(t+1), u i.i.d. U[0, 0.5] (neurodyn.datasets.narma).",
    citation="A. F. Atiya, A. G. Parlos, IEEE Trans. Neural Networks 11:697 (2000)", example={"order": 10},
    context=_CONTEXT)
DATASETS.register("narma_resesn", _narma_of(narma_resesn), (
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


def dataset_kind(name: str) -> str:
    """:data:`SEQUENCES` for a labelled sequence set, else :data:`SERIES`."""
    return SEQUENCES if name == "digits_sequences" else SERIES


def task_data(task) -> TaskData:
    """The data of a validated ``[task]`` (a :class:`neurodyn.spec.task.Task`: its ``dataset``,
    ``dataset_values``, ``steps`` and ``spec_seed``), generated on the host, seeded."""
    return DATASETS[task.dataset].build("task.dataset", task.dataset_values,
                                        {"steps": task.steps, "spec_seed": task.spec_seed})
