"""Readouts trained on harvested reservoir states (docs/models/reservoirs.md, "Readout")."""

from .classifier import RidgeClassifier, pool_states
from .force import FORCE, FORCEState
from .generate import generate
from .harvest import harvest
from .lms import LMS, LMSState
from .logistic import LogisticClassifier
from .memory import MemoryCapacityResult, memory_capacity
from .metrics import accuracy, mse, nrmse, nrmse_rms, r2
from .ridge import Ridge, blocked_cv_errors, ridge_path
from .rls import RLS, RLSState

__all__ = ["FORCE", "FORCEState", "LMS", "LMSState", "LogisticClassifier", "MemoryCapacityResult", "RLS", "RLSState", "Ridge", "RidgeClassifier", "accuracy", "blocked_cv_errors", "generate", "harvest", "memory_capacity", "mse", "nrmse",
           "nrmse_rms", "pool_states", "r2", "ridge_path"]
