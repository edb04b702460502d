"""The core: model protocol, integrators, Network, simulate and Trajectory."""

from .integrators import INTEGRATORS, euler, euler_maruyama, exponential_euler, rk4
from .model import Model, drive_term, float_dtype, per_node
from .network import Network
from .simulate import run, simulate
from .trajectory import Trajectory

__all__ = ["Model", "Network", "Trajectory", "simulate", "run", "euler", "rk4", "exponential_euler",
           "euler_maruyama", "INTEGRATORS", "drive_term", "float_dtype", "per_node"]
