"""Concrete dynamics, one module per family."""

from .couplings import DiffusiveCoupling, SimplicialCoupling
from .kuramoto import KuramotoGraph, KuramotoMeanField, PhaseLattice1D, natural_frequencies
from .kuramoto import MODELS as _PHASE_MODELS
from .maps import MODELS as _MAP_MODELS
from .maps import Chialvo, Rulkov, RulkovPiecewise, chialvo_ring_star, chialvo_rulkov_chain
from .reservoir import ESN

MODELS = {**_MAP_MODELS, **_PHASE_MODELS}

__all__ = ["Chialvo", "Rulkov", "RulkovPiecewise", "DiffusiveCoupling", "SimplicialCoupling",
           "chialvo_ring_star", "chialvo_rulkov_chain", "KuramotoMeanField", "KuramotoGraph", "PhaseLattice1D",
           "natural_frequencies", "ESN", "MODELS"]
