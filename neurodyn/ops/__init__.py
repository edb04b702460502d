"""Sparse and structured kernels used by couplings and projections."""

from .csr import CSRMatrix
from .diffusion import Diffusion, SimplicialDiffusion

__all__ = ["CSRMatrix", "Diffusion", "SimplicialDiffusion"]
