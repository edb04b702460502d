"""Diagnostics over any model of the protocol."""

from .fixed_points import FixedPoint, fixed_points

__all__ = ["FixedPoint", "fixed_points"]
