"""Readouts trained on recorded states."""

from .ridge import Ridge, nrmse

__all__ = ["Ridge", "nrmse"]
