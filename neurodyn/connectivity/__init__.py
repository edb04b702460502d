"""Connectivity: CSR graph pytrees, graph builders and triangles for higher-order coupling."""

from .builders import (
    chain, complete, erdos_renyi, fixed_indegree, lattice_1d, lattice_2d, ring, ring_star,
    star, triadic_laplacian, triangles, watts_strogatz,
)
from .graph import CSRGraph, from_edges, from_scipy

BUILDERS = {
    "ring": ring, "star": star, "ring_star": ring_star, "chain": chain, "lattice_1d": lattice_1d,
    "lattice_2d": lattice_2d, "complete": complete, "erdos_renyi": erdos_renyi,
    "fixed_indegree": fixed_indegree, "watts_strogatz": watts_strogatz,
}

__all__ = ["CSRGraph", "from_edges", "from_scipy", "BUILDERS", "triangles", "triadic_laplacian",
           *BUILDERS]
