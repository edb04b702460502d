"""Concrete dynamics, one module per family."""

from .couplings import DiffusiveCoupling, SimplicialCoupling
from .maps import MODELS, Chialvo, Rulkov, RulkovPiecewise, chialvo_ring_star, chialvo_rulkov_chain

__all__ = ["Chialvo", "Rulkov", "RulkovPiecewise", "DiffusiveCoupling", "SimplicialCoupling",
           "chialvo_ring_star", "chialvo_rulkov_chain", "MODELS"]
