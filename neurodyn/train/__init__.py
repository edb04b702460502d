"""Gradient training of differentiable models with optax (docs/training.md): one compiled scan
per epoch, validation, early stopping, and HDF5 checkpoints that resume to the identical run."""

from .checkpoint import read_checkpoint, read_histories, write_checkpoint
from .loop import EarlyStopping, TrainResult, fit, make_epoch, make_evaluate

__all__ = ["EarlyStopping", "TrainResult", "fit", "make_epoch", "make_evaluate", "read_checkpoint", "read_histories",
           "write_checkpoint"]
