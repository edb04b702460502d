"""A spec as a sweep target: the spec operations a sweep needs (:class:`SpecSource`, the
:class:`neurodyn.sweep.job.SweepSource` of a :class:`~neurodyn.spec.RunSpec`), registered with
the sweep package below, which never imports the spec reader."""

from __future__ import annotations

import copy
from pathlib import Path

import jax
import numpy as np

from ..errors import SpecError
from ..models import MODELS
from ..sweep.job import SOURCES
from .build import POPULATION_FIELDS, RunSpec, build_spec
from .load import load_spec
from .paths import model_path, set_path
from .task import read_task


class SpecSource:
    """A :class:`~neurodyn.spec.RunSpec` as a sweep target: its dotted spec paths mapped to the
    model, gains, and per-point rebuilds of the model or of the ``[task]``."""

    def __init__(self, spec: RunSpec):
        self.spec = spec

    def model_path(self, path: str) -> str:
        """The model path of the spec field ``path`` (:func:`neurodyn.spec.model_path`)."""
        return model_path(path)

    def gain_path(self, path: str):
        """``(model path, spec value)`` when the spec field at ``path`` scales a matrix its model
        keeps as a gain (a model's ``SPEC_GAINS``, e.g. an ESN's spectral radius ->
        ``recurrent_gain``): the field is then swept as that gain relative to the spec's value,
        sharing the spec's matrices; ``None`` otherwise (or when the spec's value is 0)."""
        spec = self.spec
        parts = path.split(".")
        if len(parts) != 3 or parts[0] != "populations" or parts[1] not in getattr(spec.model, "populations", {}):
            return None
        gains = getattr(type(spec.model.populations[parts[1]]), "SPEC_GAINS", {})
        if parts[2] not in gains:
            return None
        _, values = MODELS.read(f"populations.{parts[1]}", spec.data["populations"][parts[1]],
                                before=POPULATION_FIELDS)
        base = float(values[parts[2]])
        return (f"populations.{parts[1]}.{gains[parts[2]]}", base) if base != 0 else None

    def rebuild(self, assignments: dict):
        """``(model, state)`` of the spec with the fields ``{path: value}`` set, built again.

        A grid holds floats: a whole-number value of an integer field the spec leaves out (a
        ``seed`` at its default) is given again as an integer when the spec refuses the float
        (a field the spec sets is converted by :func:`~neurodyn.spec.paths.set_path` already)."""
        assignments = dict(assignments)
        while True:
            data = copy.deepcopy(self.spec.data)
            for path, value in assignments.items():
                set_path(data, path, value)
            try:
                point = build_spec(data, self.spec.text)
            except SpecError as e:
                path, found, _ = str(e).partition(": expected an integer, got float")
                value = assignments.get(path) if found else None
                if isinstance(value, (float, np.floating)) and float(value).is_integer():
                    assignments[path] = int(value)
                    continue
                raise
            return point.model, point.state

    def task_at(self, assignments: dict):
        """The ``[task]`` with the fields ``{path: value}`` set, validated as ``neurodyn run`` does."""
        spec = self.spec
        data = {"task": copy.deepcopy(spec.data["task"])}
        for path, value in assignments.items():
            set_path(data, path, value)
        if getattr(self, "_observables", None) is None:  # traced once per source, not once per point
            self._observables = jax.eval_shape(spec.model.observe, spec.state)
        return read_task(data["task"], steps=spec.steps, spec_seed=spec.seed,
                         populations=getattr(spec.model, "populations", {}), observables=self._observables)


def read_target(target) -> SpecSource | None:
    """A spec file (its path) or a RunSpec as a sweep target; None for anything else (a model)."""
    if isinstance(target, (str, Path)):
        return SpecSource(load_spec(target))
    if isinstance(target, RunSpec):
        return SpecSource(target)
    return None


if read_target not in SOURCES:
    SOURCES.append(read_target)
