"""matplotlib figures: phase diagrams, bifurcation diagrams, traces and rasters."""

from .figures import bifurcation, phase_diagram, raster, traces

__all__ = ["phase_diagram", "bifurcation", "traces", "raster"]
