"""Couplings between populations of a :class:`neurodyn.core.Network`.

Both couplings act on one named state variable of one or more populations; the nodes of the
listed populations are concatenated in the order given (population sizes in ``sizes``), so a
coupling can join heterogeneous populations (e.g. Chialvo and Rulkov neurons in a chain).
``strength`` is a traced scalar (sweepable, differentiable); ``norm`` a per-node factor fixed by
the chosen normalisation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..connectivity import CSRGraph, triangles as graph_triangles
from ..core.model import float_dtype
from ..errors import SpecError
from ..ops import Diffusion, SimplicialDiffusion
from ..pytree import pytree_dataclass

SIMPLICIAL_NORMALIZATIONS = ("none", "triangles")
SIMPLICIAL_FORMS = ("linear", "quadratic")


def _gather(states, populations, variable):
    parts = [getattr(states[p], variable) for p in populations]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts)


def _scatter(values, populations, sizes, variable):
    out, start = {}, 0
    for p, n in zip(populations, sizes):
        out[(p, variable)] = values[start:start + n]
        start += n
    return out


def _check(populations, sizes, n_graph, what):
    if len(populations) != len(sizes) or not populations:
        raise SpecError(f"{what}: give one size per population, got {populations} and {sizes}")
    if sum(sizes) != n_graph:
        raise SpecError(f"{what}: the graph has {n_graph} nodes but populations {list(populations)} "
                        f"have {sum(sizes)} neurons together")


@pytree_dataclass(static=("populations", "sizes", "variable"))
class DiffusiveCoupling:
    """Pairwise diffusive coupling ``I_i = strength * norm_i * sum_j A_ij (x_j - x_i)``.

    ``normalize``: ``"none"`` (norm 1), ``"degree"`` (1/k_i, so a ring with R neighbours a side
    gives the ring-star form (sigma/2R) sum_j (x_j - x_i); nodes without links get 0),
    ``"mean_degree"`` (1/<k>), ``"size"`` (1/N, the all-to-all mean-field form).
    """

    populations: tuple
    sizes: tuple
    variable: str
    strength: jax.Array
    norm: jax.Array
    operator: Diffusion

    @classmethod
    def create(cls, populations, sizes, variable: str, graph: CSRGraph, strength: float,
               normalize: str = "none", dtype=None) -> "DiffusiveCoupling":
        """Build the coupling from a graph and a normalisation (see the class docstring)."""
        populations, sizes = tuple(populations), tuple(int(s) for s in sizes)
        _check(populations, sizes, graph.n, "diffusive coupling")
        dt = float_dtype(dtype)
        norm = graph.normalization(normalize)
        op = Diffusion.from_csr(graph.n, graph.indptr, graph.indices, graph.weights, graph.structure, dt)
        return cls(populations, sizes, variable, jnp.asarray(strength, dt), jnp.asarray(norm, dt), op)

    def inputs(self, states) -> dict:
        """Additive inputs ``{(population, variable): array}`` from the current state."""
        x = _gather(states, self.populations, self.variable)
        return _scatter(self.strength * self.norm * self.operator(x), self.populations, self.sizes, self.variable)


@pytree_dataclass(static=("populations", "sizes", "variable"))
class SimplicialCoupling:
    """Higher-order (triadic, 2-simplex) diffusive coupling over a list of triangles.

    Linear form: ``I_i = strength * norm_i * sum_{(i,j,l) in Delta} (x_j + x_l - 2 x_i)``
    (Gambuzza et al., Nat. Commun. 12:1255, 2021; the higher-order ring-star of Nair et al.,
    arXiv:2405.06000). ``form="quadratic"`` uses ``x_j x_l - x_i^2`` instead.
    ``normalize``: ``"none"`` or ``"triangles"`` (divide by the number of triangles at node i).
    """

    populations: tuple
    sizes: tuple
    variable: str
    strength: jax.Array
    norm: jax.Array
    operator: SimplicialDiffusion

    @classmethod
    def create(cls, populations, sizes, variable: str, strength: float, *, graph: CSRGraph | None = None,
               triangles=None, normalize: str = "none", form: str = "linear", dtype=None) -> "SimplicialCoupling":
        """Build the coupling from a graph and a normalisation (see the class docstring)."""
        populations, sizes = tuple(populations), tuple(int(s) for s in sizes)
        n = sum(sizes)
        if triangles is None:
            if graph is None:
                raise SpecError("simplicial coupling: give a graph (its triangles are used) or a list of triangles")
            _check(populations, sizes, graph.n, "simplicial coupling")
            triangles = graph_triangles(graph)
        tris = np.asarray(triangles, dtype=np.int32).reshape(-1, 3)
        if tris.size and (tris.min() < 0 or tris.max() >= n):
            raise SpecError(f"simplicial coupling: triangle node index out of range [0, {n})")
        if any(len(set(t)) != 3 for t in tris.tolist()):
            raise SpecError("simplicial coupling: a triangle must have three distinct nodes")
        if form not in SIMPLICIAL_FORMS:
            raise SpecError(f"simplicial coupling: form must be one of {SIMPLICIAL_FORMS}, got {form!r}")
        count = np.bincount(tris.ravel(), minlength=n).astype(float)
        if normalize == "none":
            norm = np.ones(n)
        elif normalize == "triangles":
            norm = np.divide(1.0, count, out=np.zeros(n), where=count > 0)
        else:
            raise SpecError(f"simplicial coupling: normalize must be one of {SIMPLICIAL_NORMALIZATIONS}, got {normalize!r}")
        dt = float_dtype(dtype)
        return cls(populations, sizes, variable, jnp.asarray(strength, dt), jnp.asarray(norm, dt),
                   SimplicialDiffusion(n, form, jnp.asarray(tris)))

    def inputs(self, states) -> dict:
        """Additive inputs ``{(population, variable): array}`` from the current state."""
        x = _gather(states, self.populations, self.variable)
        return _scatter(self.strength * self.norm * self.operator(x), self.populations, self.sizes, self.variable)
