"""Event-driven passes over per-synapse state: rows on presynaptic events, columns on
postsynaptic spikes (the machinery of plastic projections, :mod:`neurodyn.models.plastic`).

A plastic projection keeps one value per synapse (its weight, an eligibility trace) in the
storage order of its :class:`~neurodyn.ops.synapses.SynapseCSR`. Two kinds of events touch it:

* a presynaptic spike arriving (after its delay) touches the synapses of one **event row**:
  row ``r = g * n_pre + i`` is the group of synapses of presynaptic neuron ``i`` with the
  ``g``-th delay (the plain row ``i`` without delays) -- contiguous in storage;
* a postsynaptic spike touches the synapses of one **column**, found through a transposed index
  built once on the host (:class:`PlasticIndex`: the storage positions of every column's
  synapses, ``col_ptr`` / ``col_slots``, and the event row of every synapse, ``slot_row``).

:func:`row_pass` and :func:`column_pass` visit only the rows / columns that have an event, in
chunks of ``capacity`` (a static size; a ``while_loop`` runs further chunks only while events
remain, so none is ever dropped), and hand each chunk's synapse positions to a function that
gathers, updates and scatters whatever it needs. The cost per step is events x fan-out (or
fan-in), never the number of synapses. Spikes are ranked without ``jnp.nonzero`` by the bit
packing of :mod:`neurodyn.ops.event`. Everything is pure JAX: it runs on every platform, under
``jax.vmap`` (the loop runs as long as the busiest batch member needs) and it is the reference
formula of the compiled kernel.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..pytree import pytree_dataclass
from .event import _rank, _select
from .synapses import SynapseCSR

#: synapses per chunk the default capacity aims at (as the event kernel's _CHUNK_SYNAPSES)
_CHUNK_SYNAPSES = 4096


@pytree_dataclass(static=("n_pre", "n_post", "n_rows", "nnz", "row_width", "col_width"))
class PlasticIndex:
    """Where the synapses of each event row and each column sit in storage order.

    ``row_start[r]``, ``row_length[r]``: the synapses of event row ``r`` (``r = g * n_pre + i``:
    presynaptic neuron ``i``, ``g``-th distinct delay); ``targets[k]``: postsynaptic neuron of
    synapse ``k``; ``col_ptr`` / ``col_slots``: the storage positions of the synapses onto each
    postsynaptic neuron (CSC order); ``slot_row[k]``: the event row of synapse ``k``.
    ``row_width`` / ``col_width``: the longest row / column. Build it with :meth:`build`.
    """

    n_pre: int
    n_post: int
    n_rows: int
    nnz: int
    row_width: int
    col_width: int
    row_start: jax.Array
    row_length: jax.Array
    targets: jax.Array
    col_ptr: jax.Array
    col_slots: jax.Array
    slot_row: jax.Array

    @classmethod
    def build(cls, conn: SynapseCSR) -> "PlasticIndex":
        """The index of ``conn``, built on the host with NumPy (once per projection)."""
        n_pre, n_post, nnz = conn.n_pre, conn.n_post, conn.nnz
        groups = max(len(conn.delay_steps), 1)
        if conn.delay_ptr is not None:  # group (i, g) starts at delay_ptr[i * D + g]; event row g * n_pre + i
            ptr = np.asarray(conn.delay_ptr).astype(np.int64)
        else:
            ptr = conn.row_pointers()
        starts = ptr[:-1].reshape(n_pre, groups).T.reshape(-1)  # event order: delay-major
        lengths = np.diff(ptr).reshape(n_pre, groups).T.reshape(-1)
        # event row of each synapse (storage order): the group (i, g) of position k
        group_of_slot = np.repeat(np.arange(n_pre * groups, dtype=np.int64), np.diff(ptr))
        slot_row = (group_of_slot % groups) * n_pre + group_of_slot // groups
        post = np.asarray(conn.indices).astype(np.int64)
        col_slots = np.argsort(post, kind="stable")
        col_count = np.bincount(post, minlength=n_post)
        col_ptr = np.concatenate([[0], np.cumsum(col_count)])
        i32 = lambda a: jnp.asarray(np.asarray(a, np.int32))  # noqa: E731
        return cls(n_pre, n_post, n_pre * groups, nnz, int(lengths.max(initial=0)),
                   int(col_count.max(initial=0)), i32(starts), i32(lengths), i32(post), i32(col_ptr),
                   i32(col_slots), i32(slot_row))


def default_capacity(width: int, n: int) -> int:
    """Events per chunk: about ``_CHUNK_SYNAPSES`` synapses (a power of two, at least 8), never
    more than ``n``."""
    per_chunk = max(8, 1 << max(0, (_CHUNK_SYNAPSES // max(width, 1) - 1).bit_length()))
    return int(max(1, min(per_chunk, n)))


def _chunks(events: jax.Array, capacity: int, body: Callable, carry):
    """``carry = body(carry, ids, valid)`` for the indices of the set entries of ``events``, in
    chunks of ``capacity`` (``valid`` masks the padding of the last chunk)."""
    n = events.shape[0]
    table, ends = _rank(events)
    total = ends[-1]
    ranks = jnp.arange(capacity, dtype=jnp.int32)

    def chunk(c, first):
        ids, valid = _select(table, ends, first + ranks, n)
        return body(c, ids, valid), first + capacity

    # no chunk at all in a step without events (postsynaptic spikes are rare per step)
    return lax.while_loop(lambda c: c[1] < total, lambda c: chunk(*c), (carry, jnp.int32(0)))[0]


def row_pass(index: PlasticIndex, events: jax.Array, body: Callable, carry, capacity: int | None = None):
    """Visit the event rows set in ``events`` (bool, ``n_rows``): for each chunk,
    ``carry = body(carry, rows, slots, mask)`` with ``rows`` (C,) the event rows, ``slots``
    (C, row_width) the storage positions of their synapses and ``mask`` which of those exist
    (masked slots hold ``nnz``: gathers with ``mode="fill"`` and scatters with ``mode="drop"``
    ignore them)."""
    width = max(index.row_width, 1)
    capacity = capacity or default_capacity(width, index.n_rows)
    k = jnp.arange(width, dtype=jnp.int32)

    def visit(c, rows, valid):
        mask = valid[:, None] & (k < index.row_length[rows][:, None])
        slots = jnp.where(mask, index.row_start[rows][:, None] + k, index.nnz)
        return body(c, rows, slots, mask)

    return _chunks(events, capacity, visit, carry)


def column_pass(index: PlasticIndex, spikes: jax.Array, body: Callable, carry, capacity: int | None = None):
    """Visit the columns (postsynaptic neurons) set in ``spikes`` (bool, ``n_post``):
    ``carry = body(carry, cols, slots, mask)`` with ``slots`` (C, col_width) the storage
    positions of their synapses (masked ones hold ``nnz``)."""
    width = max(index.col_width, 1)
    capacity = capacity or default_capacity(width, index.n_post)
    k = jnp.arange(width, dtype=jnp.int32)

    def visit(c, cols, valid):
        start = index.col_ptr[cols]
        mask = valid[:, None] & (k < (index.col_ptr[cols + 1] - start)[:, None])
        pos = jnp.where(mask, start[:, None] + k, 0)
        slots = jnp.where(mask, index.col_slots[pos], index.nnz)
        return body(c, cols, slots, mask)

    return _chunks(spikes, capacity, visit, carry)


def gather(values: jax.Array, slots: jax.Array, fill=0):
    """``values[slots]`` with masked slots (``>= len(values)``) read as ``fill``."""
    return values.at[slots].get(mode="fill", fill_value=fill)


def scatter(values: jax.Array, slots: jax.Array, new: jax.Array) -> jax.Array:
    """``values`` with ``values[slots] = new``; masked slots are dropped."""
    return values.at[slots].set(new, mode="drop")
