"""The core: model protocol, integrators, Network and projections, the step loop, simulate."""

from .integrators import (INTEGRATORS, RK4, Euler, EulerMaruyama, ExponentialEuler, Integrator, euler,
                          euler_maruyama, exponential_euler, rk4)
from .model import Model, ModelProtocol, Surface, check_drive, drive_term, float_dtype, model_dt, per_node, surface
from .continuous import ContinuousModel
from .network import Network, NetworkState, stack
from .projection import GeneratedInput, Projection
from .loop import Observer, scan_blocks
from .checkpoint import Checkpoint
from .simulate import run, simulate
from .trajectory import Trajectory
from .gradients import grad, value_and_grad

__all__ = ["Model", "ModelProtocol", "ContinuousModel", "Surface", "surface", "model_dt", "check_drive",
           "Network", "NetworkState", "stack", "Projection", "GeneratedInput", "Observer", "scan_blocks", "Trajectory", "simulate", "run", "Checkpoint",
           "Integrator", "Euler", "RK4", "ExponentialEuler", "EulerMaruyama", "INTEGRATORS",
           "euler", "rk4", "exponential_euler", "euler_maruyama", "drive_term", "float_dtype", "per_node",
           "grad", "value_and_grad"]
