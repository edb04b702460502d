"""neurodyn: simulation and analysis of neural dynamics on a JIT-compiled, differentiable JAX core.

The public names are imported at first use (PEP 562 module ``__getattr__``): ``import neurodyn``
costs a few milliseconds, and ``neurodyn.simulate`` (or ``from neurodyn import simulate``) is what
imports JAX. The command line relies on this: ``neurodyn --help`` and ``neurodyn info`` never
import JAX, numba, Dask, matplotlib or scikit-learn.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if sys.argv and sys.argv[0].rsplit("/", 1)[-1] == "neurodyn":  # the console script, from its first import
    from .signals import interrupt_before_start

    interrupt_before_start()

from ._version import __version__  # noqa: E402

# public name -> the submodule that defines it (None: the name is the submodule itself)
_LAZY: dict[str, str | None] = {
    "simulate": "core", "run": "core", "Checkpoint": "core", "Network": "core", "stack": "core", "Trajectory": "core",
    "grad": "core", "value_and_grad": "core",
    "set_precision": "precision",
    "load_spec": "spec",
    "sweep": None,  # a callable module: neurodyn.sweep(spec_or_model, grid, measures)
    "io": None,
    "runs": None,  # a spec or a trajectory to a finished file
    "search": "runs.search",  # hyper-parameter search with optuna's TPE (optuna imported when it runs)
}
# every subpackage answers ``neurodyn.<name>`` too, imported on first access
_SUBMODULES = {"connectivity", "core", "datasets", "diagnostics", "errors", "files", "io", "models", "ops", "plot",
               "precision", "pytree", "readout", "resources", "schema", "signals", "spec", "sweep", "train",
               "runs"}

__all__ = ["__version__", "simulate", "run", "Checkpoint", "Network", "stack", "Trajectory", "sweep", "grad", "value_and_grad",
           "set_precision", "load_spec", "io", "runs", "search"]

if TYPE_CHECKING:  # for type checkers and editors; at run time the names come from __getattr__
    from . import io, runs, sweep
    from .core import Checkpoint, Network, Trajectory, grad, run, simulate, stack, value_and_grad
    from .precision import set_precision
    from .runs.search import search
    from .spec import load_spec


def __getattr__(name: str) -> Any:
    if name in _LAZY and _LAZY[name] is not None:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in _LAZY or name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'neurodyn' has no attribute {name!r}")
    globals()[name] = value  # the next access is an ordinary attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)


class _Package(types.ModuleType):
    """Importing a submodule binds it as an attribute of its package; where a public name is also
    the name of a submodule (``run``), the public name keeps its object."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) not in (None, name):
            value = __getattr__(name)
        elif isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)
        if name == "sweep" and isinstance(value, types.ModuleType):
            # the sweep package takes spec files and RunSpecs through the reader the spec layer
            # registers (neurodyn.spec.sweep); the package root, above both, puts it in place
            importlib.import_module(".spec.sweep", __name__)


sys.modules[__name__].__class__ = _Package
