"""How much memory a generated task dataset, and the harvest of a reservoir over it, will take,
estimated from the dataset's fields before anything is generated (:func:`check_task_data`).

Each generator's arrays follow from a few numbers: the samples it integrates (the ``transient``
it discards, the ``n_samples`` it returns and the ``horizon`` beyond them), the grid steps per
sample (``sample_every / dt``), a delay buffer (Mackey–Glass: ``tau / dt`` grid points) and the
target columns (memory task: ``max_delay``). Every array is counted as float64 (the host copy is
float64 even where the integration runs in float32) and a few times over (the device output,
its host copy, the input/target pair), so the estimate is an upper bound of the right order, not
the peak to the byte (:mod:`neurodyn.resources`).
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

from ..resources import check_memory
from .chaotic import henon, lorenz, mackey_glass

FLOAT = 8  # bytes of a float64 value
COPIES = 3  # device output, host copy, and the (input, target) pair cut from it
DIGITS_IMAGES, DIGITS_PIXELS = 1797, 64


class Term(NamedTuple):
    """One array (or group of arrays) of a dataset: the field that sets its size, what it is,
    and its bytes."""

    field: str
    what: str
    nbytes: float


def _default(generator, name: str):
    """A generator's default for ``name`` (the transient a spec cannot change, Mackey-Glass's defaults)."""
    return inspect.signature(generator).parameters[name].default


def _samples(transient: float, n_samples: int, horizon: int, width: int, fixed_transient: bool = False) -> Term:
    """The series (``transient + n_samples + horizon`` samples of ``width`` values), named after
    the largest of the three counts (of the other two where the spec cannot set the transient)."""
    total = transient + n_samples + horizon
    counts = [(n_samples, "steps"), (horizon, "horizon")] + ([] if fixed_transient else [(transient, "transient")])
    field = max(counts)[1]
    return Term(field, f"{total:,.0f} samples of the series ({transient:,.0f} transient + {n_samples:,} + "
                       f"horizon {horizon:,})", COPIES * FLOAT * width * total)


def dataset_terms(kind: str, values: dict, n_samples: int) -> list[Term]:
    """The arrays the dataset ``kind`` with validated fields ``values`` allocates for
    ``n_samples`` samples (the spec's ``steps``): one :class:`Term` per array group."""
    horizon = values.get("horizon", 1)
    if kind == "mackey_glass":
        tau, dt, every = values["tau"], values["dt"], values["sample_every"]
        delay, grid = tau / dt, every / dt
        # the buffer grows with tau / dt: name whichever of the two is further from its default
        tau_off = tau / _default(mackey_glass, "tau")
        dt_off = _default(mackey_glass, "dt") / dt
        return [Term("tau" if tau_off >= dt_off else "dt", f"the delay buffer of tau / dt = {tau:g} / {dt:g} = "
                     f"{delay:,.0f} grid points", 2 * FLOAT * (delay + 1)),
                Term("sample_every" if every / _default(mackey_glass, "sample_every") >= dt_off else "dt",
                     f"the {grid:,.0f} grid steps of one sample (sample_every / dt = {every:g} / {dt:g})",
                     FLOAT * grid),
                _samples(values["transient"] / every, n_samples, horizon, 1)]
    if kind == "lorenz":
        return [_samples(_default(lorenz, "transient"), n_samples, horizon, 3, True)]
    if kind == "henon":
        return [_samples(_default(henon, "transient"), n_samples, horizon, 2, True)]
    if kind in ("narma", "narma_resesn"):
        return [Term("steps", f"the input and target series of {n_samples:,} samples", 4 * FLOAT * n_samples)]
    if kind == "memory_task":
        delays = values["max_delay"]
        # the targets, the readout's predictions of them and its fit's copy
        return [Term("max_delay", f"{n_samples:,} samples x {delays:,} delayed targets",
                     COPIES * FLOAT * n_samples * delays)]
    if kind == "digits_sequences":
        return [Term("mode", f"{DIGITS_IMAGES:,} images of {DIGITS_PIXELS} pixels",
                     COPIES * FLOAT * DIGITS_IMAGES * DIGITS_PIXELS)]
    # a dataset registered elsewhere (DATASETS.register): its arrays are not known here; counted as
    # one input and one target column per sample, so only the harvest's size is really checked
    return [Term("steps", f"the input and target series of {n_samples:,} samples", 2 * COPIES * FLOAT * n_samples)]


def harvest_samples(kind: str, values: dict, n_samples: int) -> int:
    """Reservoir states a task harvests over the dataset: one per sample of a series, one per
    step of every sequence of a sequence set."""
    if kind == "digits_sequences":
        return DIGITS_IMAGES * (8 if values.get("mode", "row") == "row" else DIGITS_PIXELS)
    return n_samples


def check_task_data(kind: str, values: dict, n_samples: int, n_features: int = 0, *,
                    path: str = "task.dataset") -> float:
    """Raise :class:`~neurodyn.errors.ResourceError` (one line naming the field that makes it
    large, the estimate and the limit) if generating the dataset and harvesting ``n_features``
    reservoir features over it needs more memory than :func:`neurodyn.resources.limits` allows;
    nothing is checked outside such a block. Returns the estimate in bytes.

    The harvest is counted twice (on the device, then on the host) and named after ``steps``."""
    terms = dataset_terms(kind, values, n_samples)
    states = harvest_samples(kind, values, n_samples)
    if n_features:
        terms.append(Term("steps", f"the harvest of {states:,} states x {n_features:,} features",
                          2 * FLOAT * states * n_features))
    total = sum(t.nbytes for t in terms)
    largest = max(terms, key=lambda t: t.nbytes)
    field = "steps" if largest.field == "steps" else f"{path}.{largest.field}"
    check_memory(f"the task's data, mostly {largest.what},", total, field=field)
    return total
