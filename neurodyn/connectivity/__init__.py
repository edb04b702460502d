"""Connectivity: CSR graph pytrees, graph builders (registered by name in
:data:`neurodyn.schema.GRAPHS` for specs) and triangles for higher-order coupling."""

from .builders import (
    chain, complete, connect_distance, connect_fixed_indegree, connect_fixed_total, connect_one_to_one,
    distance_graph, erdos_renyi, fixed_total, fixed_indegree, graph_from_spec, lattice_1d, lattice_2d, ring, ring_star,
    star, triadic_laplacian, triangles, watts_strogatz,
)
from .graph import CSRGraph, from_edges, from_scipy

__all__ = ["CSRGraph", "from_edges", "from_scipy", "graph_from_spec", "triangles", "triadic_laplacian",
           "ring", "star", "ring_star", "chain", "lattice_1d", "lattice_2d", "complete", "erdos_renyi",
           "fixed_indegree", "watts_strogatz", "fixed_total", "distance_graph", "connect_fixed_indegree",
           "connect_fixed_total", "connect_one_to_one", "connect_distance"]
