"""neurodyn: simulation and analysis of neural dynamics on a JIT-compiled, differentiable JAX core."""

__version__ = "0.1.0"

from .core import Network, Trajectory, run, simulate  # noqa: E402
from . import sweep  # noqa: E402  (a callable module: neurodyn.sweep(spec_or_model, grid, measures))

__all__ = ["__version__", "simulate", "run", "Network", "Trajectory", "sweep"]
