"""Diffusion operators on graphs: ``(D x)_i = sum_j A_ij (x_j - x_i)``.

Every kernel evaluates the *difference* form, so identical node values give exactly zero
(synchronised states stay synchronised bit for bit), which ``A x - deg * x`` would not.

Kernels, chosen from the graph's structure tag when its weights are uniform (measured in
``benchmarks/bench_chialvo_ring_star.py``: at n = 1,000 the generic gather/scatter costs about
11 us per step on 2 CPU cores, the circulant and star kernels about 1 us each):

* ``"circulant"``: rolls over a contiguous node range (rings, periodic 1-D lattices);
* ``"star"``: one reduction for the hub and a broadcast for the leaves;
* ``"csr"``: gather of ``x_j - x_i`` per edge and a sorted segment sum (any graph).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..pytree import pytree_dataclass


@pytree_dataclass(static=("n", "kind", "start", "size", "offsets", "hub"))
class Diffusion:
    """Linear diffusion on a weighted graph of ``n`` nodes (see the module docstring)."""

    n: int
    kind: str
    rows: jax.Array
    cols: jax.Array
    weights: jax.Array
    start: int = 0
    size: int = 0
    offsets: tuple = ()
    hub: int = 0

    @classmethod
    def from_csr(cls, n: int, indptr, indices, weights, structure: tuple | None = None,
                 dtype=None) -> "Diffusion":
        """Build the operator; use a structured kernel when ``structure`` is given and weights
        are uniform, otherwise the generic CSR kernel."""
        w = np.asarray(weights, dtype=float)
        rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(np.asarray(indptr)))
        uniform = w.size > 0 and np.all(w == w[0])
        dt = dtype or jnp.result_type(float)
        if structure is not None and uniform:
            scale = jnp.asarray(w[:1], dtype=dt)
            empty = jnp.zeros((0,), jnp.int32)
            if structure[0] == "circulant":
                _, start, size, offsets = structure
                return cls(n, "circulant", empty, empty, scale, int(start), int(size), tuple(offsets))
            if structure[0] == "star":
                return cls(n, "star", empty, empty, scale, hub=int(structure[1]))
        return cls(n, "csr", jnp.asarray(rows), jnp.asarray(np.asarray(indices, np.int32)),
                   jnp.asarray(w, dtype=dt))

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.kind == "circulant":
            seg = x[self.start:self.start + self.size]
            out = sum(jnp.roll(seg, -o) - seg for o in self.offsets) * self.weights[0]
            # pad (not a scatter into zeros) keeps the whole kernel in one fused loop
            return jnp.pad(out, (self.start, self.n - self.start - self.size))
        if self.kind == "star":
            h = x[self.hub]
            is_hub = jnp.arange(self.n) == self.hub
            return jnp.where(is_hub, jnp.sum(x - h), h - x) * self.weights[0]
        diff = self.weights * (x[self.cols] - x[self.rows])
        return jax.ops.segment_sum(diff, self.rows, num_segments=self.n, indices_are_sorted=True)


@pytree_dataclass(static=("n", "form"))
class SimplicialDiffusion:
    """Triadic (2-simplex) coupling over a list of triangles.

    ``form="linear"``: ``(D x)_i = sum_{(i,j,l)} (x_j - x_i) + (x_l - x_i)``, which equals
    ``-(L2 x)_i`` with the triadic Laplacian of Gambuzza et al. (Nat. Commun. 12:1255, 2021).
    ``form="quadratic"``: ``(D x)_i = sum_{(i,j,l)} (x_j x_l - x_i^2)`` (a nonlinear
    higher-order coupling that, unlike the linear one, is not reducible to pairwise terms).
    """

    n: int
    form: str
    triangles: jax.Array  # (n_tri, 3) int32

    def __call__(self, x: jax.Array) -> jax.Array:
        t = self.triangles
        v = x[t]  # (n_tri, 3)
        if self.form == "linear":
            c = (v[:, [1, 2, 0]] - v) + (v[:, [2, 0, 1]] - v)
        else:
            c = v[:, [1, 2, 0]] * v[:, [2, 0, 1]] - v * v
        return jax.ops.segment_sum(c.reshape(-1), t.reshape(-1), num_segments=self.n)
