"""Diffusion operators on graphs: ``(D x)_i = sum_j A_ij (x_j - x_i)``.

Every kernel evaluates the *difference* form, so identical node values give exactly zero
(synchronised states stay synchronised bit for bit), which ``A x - deg * x`` would not.

Kernels, chosen from the graph's structure tag when its weights are uniform (measured in
``benchmarks/bench_chialvo_ring_star.py``: at n = 1,000 the generic gather/scatter costs about
11 us per step on 2 CPU cores, the circulant and star kernels about 1 us each):

* ``"circulant"``: rolls over a contiguous node range (rings, periodic 1-D lattices);
* ``"star"``: one reduction for the hub and a broadcast for the leaves;
* ``"csr"``: gather of ``x_j - x_i`` per edge and a sorted segment sum (any graph).

:class:`CompositeDiffusion` sums several such kernels, found from the weights alone (a star, up
to a few circulant blocks with per-offset weights, a CSR remainder); :func:`triadic_diffusion`
builds the linear triadic coupling that way, as the weighted pairwise diffusion it equals.
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


#: circulant blocks are taken only when they are at least this large (a whole connected
#: component / a run of consecutive linked nodes inside a larger component, where small runs
#: are chance triangles), at most this many per operator and with at most this many offsets each
#: (more would unroll into too many rolls); whatever is not taken stays in the CSR remainder
_MIN_BLOCK, _MIN_RUN, _MAX_BLOCKS, _MAX_OFFSETS = 3, 16, 8, 16


def _mode(values: np.ndarray) -> float:
    """The most frequent value (the smallest one among ties)."""
    vals, counts = np.unique(values, return_counts=True)
    return float(vals[np.argmax(counts)])


def _circulant_candidates(n: int, a, r, c) -> list:
    """Node ranges ``(start, size)`` that may carry a circulant block, largest first: weakly
    connected components of ``a`` that are contiguous ranges, and runs of consecutive nodes
    linked ``i - i+1`` (either direction) closed by a wrap-around link (a ring that also has
    other links, e.g. to a hub, is not a component of its own)."""
    from scipy.sparse.csgraph import connected_components

    _, labels = connected_components(a, directed=True, connection="weak")
    size = np.bincount(labels)
    first = np.full(size.size, n)
    np.minimum.at(first, labels, np.arange(n))
    last = np.zeros(size.size, np.int64)
    np.maximum.at(last, labels, np.arange(n))
    comp = np.unique(labels[r])
    comp = comp[(size[comp] >= _MIN_BLOCK) & (last[comp] - first[comp] + 1 == size[comp])]
    found = {(int(first[k]), int(size[k])) for k in comp}
    step = np.zeros(max(n - 1, 0), bool)  # step[i]: i and i+1 linked
    step[r[c == r + 1]] = True
    step[c[r == c + 1]] = True
    edges = np.flatnonzero(np.diff(np.concatenate([[0], step.astype(np.int8), [0]])))
    for s, e in zip(edges[::2], edges[1::2]):  # nodes s..e linked in a row
        if e - s + 1 >= _MIN_RUN and (a[e, s] != 0 or a[s, e] != 0):
            found.add((int(s), int(e - s + 1)))
    return sorted(found, key=lambda b: (-b[1], b[0]))


def _decompose(n: int, rows, cols, weights):
    """Split the weighted matrix ``A`` (COO, duplicates summed, self-loops dropped: they add
    ``x_i - x_i = 0``) into ``[("star", hub, c)] + [("circulant", start, size, {offset: w})]``
    and a CSR remainder ``(indptr, indices, weights)`` such that the parts add up to ``A``.

    Star: a hub linked both ways to every other node; the most frequent of its ``2(n-1)``
    weights is taken out. Circulant: a weakly connected component of what is left whose nodes
    form a contiguous range ``[s, s+m)``; every offset ``d`` (mod m) present on all ``m`` rows
    is taken out with its most frequent weight. Subtracting the taken weight leaves exact zeros
    where the weight was uniform, and those entries are dropped from the remainder.
    """
    import scipy.sparse as sp

    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    w = np.asarray(weights, dtype=float)
    keep = rows != cols
    a = sp.coo_matrix((w[keep], (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    a.sum_duplicates()
    a.eliminate_zeros()
    parts = []

    def take(r, c, v):
        nonlocal a
        a = (a - sp.coo_matrix((v, (r, c)), shape=(n, n)).tocsr()).tocsr()
        a.eliminate_zeros()

    # star
    if n >= 3:
        full = np.flatnonzero((np.diff(a.indptr) == n - 1) & (np.bincount(a.indices, minlength=n) == n - 1))
        if full.size:
            h = int(full[0])
            others = np.delete(np.arange(n), h)
            row = np.asarray(a[h, others].todense()).ravel()
            col = np.asarray(a[others, h].todense()).ravel()
            c = _mode(np.concatenate([row, col]))
            parts.append(("star", h, c))
            hub = np.full(n - 1, h)
            take(np.concatenate([hub, others]), np.concatenate([others, hub]), np.full(2 * (n - 1), c))

    # circulant blocks
    if a.nnz:
        coo = a.tocoo()
        r, c, v = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
        blocks = _circulant_candidates(n, a, r, c)
        taken_r, taken_c, taken_v, used = [], [], [], np.zeros(n, bool)
        for s, m in blocks[:4 * _MAX_BLOCKS]:
            if sum(p[0] == "circulant" for p in parts) >= _MAX_BLOCKS:
                break
            if used[s:s + m].any():
                continue
            sel = (r >= s) & (r < s + m) & (c >= s) & (c < s + m)
            er, ec, ev = r[sel], c[sel], v[sel]
            d = (ec - er) % m
            ds, counts = np.unique(d, return_counts=True)
            full_d = ds[counts == m]  # (r, c) are unique, so m edges at offset d cover every row
            if not full_d.size or full_d.size > _MAX_OFFSETS:
                continue
            offsets = {}
            for dd in full_d:
                on = d == dd
                wd = _mode(ev[on])
                offsets[int(dd) if dd <= m // 2 else int(dd) - m] = wd
                taken_r.append(er[on])
                taken_c.append(ec[on])
                taken_v.append(np.full(m, wd))
            parts.append(("circulant", s, m, offsets))
            used[s:s + m] = True
        if taken_r:
            take(np.concatenate(taken_r), np.concatenate(taken_c), np.concatenate(taken_v))
    a.sort_indices()
    return parts, (a.indptr, a.indices, a.data)


@pytree_dataclass(static=("n",), frozen=("parts",))
class CompositeDiffusion:
    """A weighted diffusion operator ``(D x)_i = sum_j W_ij (x_j - x_i)`` evaluated as a sum of
    structured :class:`Diffusion` parts: stars (one uniform weight), circulant blocks (one
    uniform weight per group of offsets; the groups of one block share one slice and one pad)
    and a generic ``"csr"`` remainder for the rest. Every part keeps the difference form, so
    identical node values give exactly zero.

    Build it with :meth:`from_csr` / :meth:`from_coo` (structure detected from the weights
    alone) or :func:`triadic_diffusion`. The weights are structural (frozen: not trainable).
    """

    n: int
    parts: tuple

    @property
    def kinds(self) -> tuple:
        return tuple(p.kind for p in self.parts)

    @classmethod
    def from_coo(cls, n: int, rows, cols, weights, dtype=None) -> "CompositeDiffusion":
        """Detect stars and circulant blocks in ``W`` (entries ``(rows, cols, weights)``,
        duplicates summed) and build the operator (see ``_decompose``)."""
        dt = dtype or jnp.result_type(float)
        found, (indptr, indices, data) = _decompose(n, rows, cols, weights)
        empty = jnp.zeros((0,), jnp.int32)
        parts = []
        for p in found:
            if p[0] == "star":
                parts.append(Diffusion(n, "star", empty, empty, jnp.asarray([p[2]], dt), hub=p[1]))
            else:
                _, start, size, offsets = p
                by_weight = {}
                for o in sorted(offsets, key=lambda o: (abs(o), -o)):
                    by_weight.setdefault(offsets[o], []).append(o)
                parts += [Diffusion(n, "circulant", empty, empty, jnp.asarray([wt], dt), start, size, tuple(offs))
                          for wt, offs in by_weight.items()]
        if len(data):
            parts.append(Diffusion.from_csr(n, indptr, indices, data, None, dt))
        return cls(n, tuple(parts))

    @classmethod
    def from_csr(cls, n: int, indptr, indices, weights, dtype=None) -> "CompositeDiffusion":
        """As :meth:`from_coo`, from a CSR matrix."""
        rows = np.repeat(np.arange(n), np.diff(np.asarray(indptr)))
        return cls.from_coo(n, rows, np.asarray(indices), weights, dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        if len(self.parts) == 1:
            return self.parts[0](x)
        if not self.parts:
            return jnp.zeros_like(x)
        terms, blocks = [], {}
        for p in self.parts:
            if p.kind == "circulant":
                blocks.setdefault((p.start, p.size), []).append(p)
            else:
                terms.append(p(x))
        for (start, size), group in blocks.items():
            seg = x[start:start + size]
            out = sum(sum(jnp.roll(seg, -o) - seg for o in p.offsets) * p.weights[0] for p in group)
            terms.append(jnp.pad(out, (start, self.n - start - size)))
        return sum(terms[1:], terms[0])


def triadic_weights(n: int, triangles):
    """``(rows, cols, weights)`` of ``W_ij`` = number of triangles holding both i and j, so that
    ``sum_{(i,j,l)} (x_j - x_i) + (x_l - x_i) = sum_j W_ij (x_j - x_i)``."""
    t = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    pairs = np.array([(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)])
    rows, cols = t[:, pairs[:, 0]].ravel(), t[:, pairs[:, 1]].ravel()
    return rows, cols, np.ones(rows.size)


def triadic_diffusion(n: int, triangles, dtype=None) -> CompositeDiffusion:
    """The linear triadic coupling ``SimplicialDiffusion(n, "linear", triangles)`` as one
    precomputed operator: it is linear in ``x``, equal to the weighted pairwise diffusion with
    ``W_ij`` = number of triangles holding edge (i, j) (``-L2 x`` with the triadic Laplacian),
    so it runs on the structured kernels (e.g. the ring-star's triangles give a star of weight
    2k and a circulant ring) instead of a gather per triangle."""
    rows, cols, w = triadic_weights(n, triangles)
    return CompositeDiffusion.from_coo(n, rows, cols, w, dtype)
