"""Sparse and structured kernels used by couplings and projections."""

from .csr import CSRMatrix
from .diffusion import CompositeDiffusion, Diffusion, SimplicialDiffusion, triadic_diffusion

__all__ = ["CSRMatrix", "CompositeDiffusion", "Diffusion", "SimplicialDiffusion", "triadic_diffusion"]
