"""Parameter sweeps: grids, vmapped chunks, a resumable HDF5 store, in-process or Dask execution.

The module itself is callable, so ``neurodyn.sweep(spec_or_model, grid, measures, ...)`` is
:func:`neurodyn.sweep.runner.sweep`.
"""

import sys
import types

from .grid import Grid, cartesian, latin_hypercube, parse_axis, random_sample
from .measures import MEASURE_NAMES, Measure, parse_measure
from .execute import connect
from .measures import MEASURES, MeasureKind, register_measure
from .point import compile_count
from .runner import SweepResult, sweep
from .store import SweepMismatchError

__all__ = ["Grid", "cartesian", "latin_hypercube", "random_sample", "parse_axis", "Measure", "parse_measure",
           "MEASURE_NAMES", "MEASURES", "MeasureKind", "register_measure", "SweepResult", "sweep", "compile_count", "connect", "SweepMismatchError"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
