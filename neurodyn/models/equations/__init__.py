"""Equation-defined models: text with units parsed into a model of the protocol
(docs/spec/equations.md). :func:`Equations` builds one from Python, ``model = "equations"`` from a
spec; :mod:`.parse` reads the text (a whitelisted ``ast`` walk), :mod:`.units` checks dimensions,
:mod:`.system` chooses the integration and generates the JAX step, :mod:`.native` the same step as
one CPU kernel (numba, called by XLA through its FFI)."""

from .model import EquationModel, Equations, SpikingEquationModel, read_parameters
from .system import System, build_system
from .units import format_dim, parse_quantity

__all__ = ["Equations", "EquationModel", "SpikingEquationModel", "System", "build_system", "format_dim",
           "parse_quantity", "read_parameters"]
