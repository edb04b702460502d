"""Benchmark tasks generated locally (docs/models/reservoirs.md, "Tasks"): seeded, pure functions
returning NumPy arrays ``(inputs, targets)`` with ``targets[t]`` the value a readout of the state
after consuming ``inputs[t]`` should output."""

from .chaotic import henon, lorenz, mackey_glass
from .digits import digits, digits_sequences
from .encoding import latency_code, rate_code, standardize_then_clip
from .memory import memory_task
from .narma import narma, narma_resesn
from .tasks import DATASETS, TaskData, task_data
from .temporal import temporal_order

__all__ = ["DATASETS", "TaskData", "task_data", "digits", "digits_sequences", "henon", "latency_code", "lorenz", "mackey_glass", "memory_task", "narma",
           "narma_resesn", "rate_code", "standardize_then_clip", "temporal_order"]
