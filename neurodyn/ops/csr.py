"""Sparse matrix-vector product for CSR pytrees: ``y_i = sum_k w_k v[cols_k]`` over row i."""

from __future__ import annotations

import jax

from ..pytree import pytree_dataclass


@pytree_dataclass(static=("n",))
class CSRMatrix:
    """A weighted sparse matrix as COO rows/cols (sorted by row) for JAX kernels."""

    n: int
    rows: jax.Array
    cols: jax.Array
    weights: jax.Array

    def __matmul__(self, v: jax.Array) -> jax.Array:
        return jax.ops.segment_sum(self.weights * v[self.cols], self.rows, num_segments=self.n,
                                   indices_are_sorted=True)
