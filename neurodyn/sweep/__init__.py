"""Parameter sweeps: grids, vmapped chunks, a resumable HDF5 store, in-process or Dask execution.

The module itself is callable, so ``neurodyn.sweep(spec_or_model, grid, measures, ...)`` is
:func:`neurodyn.sweep.runner.sweep`.
"""

import sys
import types

from .grid import Grid, cartesian, latin_hypercube, parse_axis, random_sample
from .measures import MEASURE_NAMES, Measure, parse_measure
from .runner import SweepResult, compile_count, connect, sweep
from .store import SweepMismatchError

__all__ = ["Grid", "cartesian", "latin_hypercube", "random_sample", "parse_axis", "Measure", "parse_measure",
           "MEASURE_NAMES", "SweepResult", "sweep", "compile_count", "connect", "SweepMismatchError"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
