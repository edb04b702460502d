"""Sparse and structured kernels used by couplings and projections."""

from .bits import pack_bits, unpack_events
from .coo import COOMatrix
from .diffusion import CompositeDiffusion, Diffusion, SimplicialDiffusion, triadic_diffusion
from .event import (csr_matmat, csr_matvec, default_backend, default_capacity, delayed_event_csr_matvec,
                    event_csr_matvec, ring_read)
from .lif import synaptic_lif_step
from .synapses import SynapseCSR
from .spike import dspike, heaviside_surrogate, surrogate_derivative

__all__ = ["COOMatrix", "CompositeDiffusion", "Diffusion", "SimplicialDiffusion", "triadic_diffusion",
           "SynapseCSR", "heaviside_surrogate", "surrogate_derivative", "dspike", "csr_matvec", "csr_matmat", "event_csr_matvec", "delayed_event_csr_matvec", "ring_read",
           "default_backend", "default_capacity", "synaptic_lif_step", "pack_bits", "unpack_events"]
