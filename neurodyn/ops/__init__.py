"""Sparse and structured kernels used by couplings and projections."""

from .diffusion import Diffusion, SimplicialDiffusion

__all__ = ["Diffusion", "SimplicialDiffusion"]
