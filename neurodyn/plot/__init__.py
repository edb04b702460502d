"""matplotlib figures: phase diagrams, edge-of-chaos maps, bifurcation diagrams, traces, rasters,
and the figures of sweep files (``neurodyn plot``)."""

from .figures import bifurcation, edge_of_chaos, phase_diagram, raster, traces
from .sweep import plot_sweep_file

__all__ = ["phase_diagram", "edge_of_chaos", "bifurcation", "traces", "raster", "plot_sweep_file"]
