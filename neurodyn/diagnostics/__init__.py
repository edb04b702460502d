"""Diagnostics over any model of the protocol."""

from .fixed_points import FixedPoint, fixed_points
from .synchrony import (cross_correlation, graph_local_order_parameter, growth_exponent, local_order_parameter,
                        locked_fraction, mean_frequencies, order_parameter, phase_slips, roughness_exponent,
                        surface_width, time_averaged_order_parameter, width_growth)

__all__ = ["FixedPoint", "fixed_points", "order_parameter", "time_averaged_order_parameter", "local_order_parameter",
           "graph_local_order_parameter", "mean_frequencies", "locked_fraction", "phase_slips", "surface_width",
           "growth_exponent", "roughness_exponent", "cross_correlation", "width_growth"]
