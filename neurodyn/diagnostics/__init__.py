"""Diagnostics over any model of the protocol (maps, phase oscillators, reservoirs, networks,
and models users write themselves): stability, chaos, synchrony, reservoir quality, spiking
statistics. Every function cites the definition it follows in its docstring."""

from .bifurcation import BifurcationDiagram, bifurcation_diagram
from .chaos import sample_entropy, zero_one_test
from .edge import EdgeOfChaos, edge_of_chaos
from .fixed_points import FixedPoint, fixed_points
from .lyapunov import lyapunov_spectrum, max_lyapunov
from .reservoir import (EchoStateResult, echo_state_property, esp_conditions, generalization_rank, kernel_rank,
                        spectral_radius)
from .spiking import SpikingMonitor, ei_balance, fano_factor, firing_rates, isi_cv, synchrony_chi
from .synchrony import (cross_correlation, graph_local_order_parameter, growth_exponent, local_order_parameter,
                        locked_fraction, mean_frequencies, order_parameter, phase_slips, roughness_exponent,
                        surface_width, time_averaged_order_parameter, width_growth)

__all__ = [
    "lyapunov_spectrum", "max_lyapunov", "edge_of_chaos", "EdgeOfChaos", "echo_state_property", "EchoStateResult",
    "esp_conditions", "spectral_radius", "kernel_rank",
    "generalization_rank", "ei_balance", "isi_cv", "fano_factor", "firing_rates", "synchrony_chi", "SpikingMonitor", "zero_one_test", "sample_entropy",
    "cross_correlation", "order_parameter", "time_averaged_order_parameter", "local_order_parameter",
    "graph_local_order_parameter", "mean_frequencies", "locked_fraction", "phase_slips", "surface_width",
    "growth_exponent", "roughness_exponent", "width_growth", "bifurcation_diagram", "BifurcationDiagram",
    "fixed_points", "FixedPoint",
]
