"""matplotlib figures: phase diagrams, edge-of-chaos maps, bifurcation diagrams, traces, rasters,
and the figures of run, sweep and training files (``neurodyn plot``)."""

from .figures import bifurcation, edge_of_chaos, phase_diagram, raster, traces
from .run import plot_run_file, run_figures
from .search import plot_search_file, search_figures
from .sweep import plot_sweep_file, sweep_figures
from .training import learning_curves, plot_training_file

__all__ = ["phase_diagram", "edge_of_chaos", "bifurcation", "traces", "raster", "plot_run_file", "run_figures",
           "plot_sweep_file", "sweep_figures", "plot_search_file", "search_figures", "learning_curves",
           "plot_training_file"]
