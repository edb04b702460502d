"""neurodyn: simulation and analysis of neural dynamics on a JIT-compiled, differentiable JAX core."""

from ._version import __version__  # noqa: E402

from .core import Network, Trajectory, grad, run, simulate, stack, value_and_grad  # noqa: E402
from .precision import set_precision  # noqa: E402
from . import sweep  # noqa: E402  (a callable module: neurodyn.sweep(spec_or_model, grid, measures))
from . import io  # noqa: E402
from .spec import load_spec  # noqa: E402

__all__ = ["__version__", "simulate", "run", "Network", "stack", "Trajectory", "sweep", "grad", "value_and_grad",
           "set_precision", "load_spec", "io"]
