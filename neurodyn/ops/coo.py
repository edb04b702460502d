"""A weighted sparse matrix in coordinate (COO) form and its product with a vector:
``y_i = sum_k w_k v[cols_k]`` over the entries ``k`` of row ``i``."""

from __future__ import annotations

import jax

from ..pytree import pytree_dataclass


@pytree_dataclass(static=("n",))
class COOMatrix:
    """A weighted ``n``-row sparse matrix as coordinates: the row ``rows[k]``, column ``cols[k]``
    and weight ``weights[k]`` of every stored entry, sorted by row (so the product is one sorted
    segment sum). Not compressed: a receiver-major CSR graph is
    :class:`neurodyn.connectivity.CSRGraph`, a sender-major synapse table
    :class:`neurodyn.ops.SynapseCSR`."""

    n: int
    rows: jax.Array
    cols: jax.Array
    weights: jax.Array

    def __matmul__(self, v: jax.Array) -> jax.Array:
        return jax.ops.segment_sum(self.weights * v[self.cols], self.rows, num_segments=self.n,
                                   indices_are_sorted=True)
