"""Event-driven passes over per-synapse state: rows on presynaptic events, columns on
postsynaptic spikes (the machinery of plastic projections, :mod:`neurodyn.models.plastic`).

A plastic projection keeps one value per synapse (its weight, an eligibility trace) in the
storage order of its :class:`~neurodyn.ops.synapses.SynapseCSR`. Two kinds of events touch it:

* a presynaptic spike arriving (after its delay) touches the synapses of one **event row**:
  row ``r = g * n_pre + i`` is the group of synapses of presynaptic neuron ``i`` with the
  ``g``-th delay (the plain row ``i`` without delays) -- contiguous in storage;
* a postsynaptic spike touches the synapses of one **column**, found through a transposed index
  built once on the host (:class:`PlasticIndex`: the storage positions of every column's
  synapses, ``col_ptr`` / ``col_slots``, and their event rows, ``col_rows``).

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

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..pytree import pytree_dataclass
from . import ffi
from .event import _rank, _select
from .synapses import SynapseCSR

#: synapses per chunk the default capacity aims at, and the most events per chunk
_CHUNK_SYNAPSES = 1024
_MAX_CAPACITY = 64


@pytree_dataclass(static=("n_pre", "n_post", "n_rows", "nnz", "row_width", "col_width"))
class PlasticIndex:
    """Where the synapses of each event row and each column sit in storage order.

    ``row_start[r]``, ``row_length[r]``: the synapses of event row ``r`` (``r = g * n_pre + i``:
    presynaptic neuron ``i``, ``g``-th distinct delay); ``targets[k]``: postsynaptic neuron of
    synapse ``k``; ``col_ptr`` / ``col_slots``: the storage positions of the synapses onto each
    postsynaptic neuron (CSC order); ``col_rows[p]``: the event row of synapse ``col_slots[p]``
    (stored in column order, so a column reads it contiguously).
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
    col_rows: jax.Array

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
                   i32(col_slots), i32(slot_row[col_slots]))


def default_capacity(width: int, n: int) -> int:
    """Events per chunk: about ``_CHUNK_SYNAPSES`` synapses, between 8 and ``_MAX_CAPACITY``
    events (a power of two), never more than ``n``. Ranking a chunk costs about 32 operations
    per slot, so a large capacity costs every step even when only a spike or two arrive."""
    per_chunk = 1 << max(0, (_CHUNK_SYNAPSES // max(width, 1)).bit_length() - 1)
    return int(max(1, min(max(8, min(per_chunk, _MAX_CAPACITY)), n)))


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
    ``carry = body(carry, cols, slots, rows, mask)`` with ``slots`` (C, col_width) the storage
    positions of their synapses (masked ones hold ``nnz``) and ``rows`` their event rows."""
    width = max(index.col_width, 1)
    capacity = capacity or default_capacity(width, index.n_post)
    k = jnp.arange(width, dtype=jnp.int32)

    def visit(c, cols, valid):
        start = index.col_ptr[cols]
        mask = valid[:, None] & (k < (index.col_ptr[cols + 1] - start)[:, None])
        pos = jnp.where(mask, start[:, None] + k, 0)
        slots = jnp.where(mask, index.col_slots[pos], index.nnz)
        return body(c, cols, slots, index.col_rows[pos], mask)

    return _chunks(spikes, capacity, visit, carry)


def gather(values: jax.Array, slots: jax.Array, fill=0):
    """``values[slots]`` with masked slots (``>= len(values)``) read as ``fill``."""
    return values.at[slots].get(mode="fill", fill_value=fill)


def scatter(values: jax.Array, slots: jax.Array, new: jax.Array) -> jax.Array:
    """``values`` with ``values[slots] = new``; masked slots are dropped."""
    return values.at[slots].set(new, mode="drop")


# ---- the compiled CPU kernel (numba behind XLA's FFI, as neurodyn.ops.event) -------------------
#: rule name -> code of the compiled kernel (parameters: pair (w_max, a_plus, a_minus, mu_plus,
#: mu_minus), triplet (w_max, a2_plus, a3_plus, a2_minus, a3_minus), vogels (w_max, eta, alpha))
RULE_CODES = {"pair": 0, "triplet": 1, "vogels": 2}
#: default backend of plastic projections per platform (measured: benchmarks/bench_plasticity.py)
DEFAULT_BACKEND = {"cpu": "numba"}
BACKENDS = ("jax", "numba")
_NATIVE_TARGET = "neurodyn_plastic_step"


def native_step(weights, events, scale, pre, post, post_spikes, index: PlasticIndex, rule: str, params, nearest: bool):
    """One step of a plastic projection's synapse work in the compiled kernel: returns the new
    weights and the transmitted input ``y`` (``n_post``). ``events`` (bool, event rows), ``scale``
    (their Tsodyks-Markram factors, or None), ``pre`` (traces x rows) and ``post`` (traces x
    n_post) before this step's jumps, ``post_spikes`` (bool); ``rule`` a key of
    :data:`RULE_CODES` with its ``params``. Same order of updates as the pure-JAX passes."""
    dtype = weights.dtype
    meta = jnp.asarray([RULE_CODES[rule], pre.shape[0], int(nearest), scale is not None], jnp.int32)
    scale = jnp.zeros((0,), dtype) if scale is None else scale.astype(dtype)
    out = (jax.ShapeDtypeStruct(weights.shape, dtype), jax.ShapeDtypeStruct((index.n_post,), dtype))
    # the weights are updated in place (output 0 aliases input 0): a step touches only its events' synapses
    call = jax.ffi.ffi_call(_native_target(), out, vmap_method="sequential", input_output_aliases={0: 0})
    return call(weights, events, scale, pre.reshape(-1), post.reshape(-1), post_spikes, index.row_start,
                index.row_length, index.targets, index.col_ptr, index.col_slots, index.col_rows,
                jnp.stack([jnp.asarray(p, dtype) for p in params]), meta)


def default_backend(platform: str | None = None) -> str:
    """``"numba"`` on the CPU when numba is installed and the kernel passed its self-check,
    ``"jax"`` elsewhere."""
    backend = DEFAULT_BACKEND.get(platform or jax.default_backend(), "jax")
    return backend if backend == "jax" or native_ok() else "jax"


@functools.cache
def _native_target() -> str:
    """Register the compiled kernel (:mod:`neurodyn.ops._plasticity_kernel`) as an XLA FFI
    target; its loops are cached on disk by numba, the thin handler compiles per process."""
    import numba
    from numba import types

    from . import _frame, _plasticity_kernel

    major, minor = ffi.api_version()

    @numba.cfunc(types.int64(types.voidptr))
    def handler(frame_address):
        frame = _frame.frame_of(frame_address)
        if _frame.metadata_query(frame, major, minor):
            return 0
        _plasticity_kernel.run(frame)
        return 0

    return ffi.register_handler(_NATIVE_TARGET, handler)


@functools.cache
def native_ok() -> bool:
    """Whether the compiled kernel serves here: numba installed, an FFI API of the 0.x layout,
    and, at first use, one step of each rule on a small random projection with delays equal to
    the pure-JAX passes (run eagerly); otherwise a warning and the JAX passes."""
    import warnings

    if jax.default_backend() != "cpu" or not ffi.numba_installed():
        return False
    if ffi.api_version()[0] != 0:
        warnings.warn(f"neurodyn: XLA FFI API {ffi.api_version()} is not the 0.x layout the plasticity kernel "
                      f"reads; using the JAX passes", RuntimeWarning, stacklevel=3)
        return False
    try:
        with jax.ensure_compile_time_eval():
            ok = all(_self_check(rule, nearest) for rule, nearest in (("pair", False), ("triplet", True), ("vogels", False)))
    except Exception as e:  # noqa: BLE001 - any failure means: do not use this kernel
        warnings.warn(f"neurodyn: the plasticity kernel failed its self-check ({e}); using the JAX passes",
                      RuntimeWarning, stacklevel=3)
        return False
    if not ok:
        warnings.warn("neurodyn: the plasticity kernel failed its self-check (wrong weights); using the JAX passes",
                      RuntimeWarning, stacklevel=3)
    return ok


def _self_check(rule: str, nearest: bool) -> bool:
    rng = np.random.default_rng(RULE_CODES[rule])
    n_pre, n_post, nnz = 13, 7, 40
    conn = SynapseCSR.from_coo(rng.integers(0, n_pre, nnz), rng.integers(0, n_post, nnz),
                               rng.uniform(0.2, 0.8, nnz).astype(np.float32), n_pre=n_pre, n_post=n_post,
                               delays=rng.integers(0, 3, nnz), dtype=jnp.float32)
    index = PlasticIndex.build(conn)
    events = jnp.asarray(rng.random(index.n_rows) < 0.4)
    post_spikes = jnp.asarray(rng.random(n_post) < 0.5)
    pre = jnp.asarray(rng.uniform(0, 2, (2, index.n_rows)).astype(np.float32))
    post = jnp.asarray(rng.uniform(0, 2, (2, n_post)).astype(np.float32))
    scale = jnp.asarray(rng.uniform(0.1, 1, index.n_rows).astype(np.float32))
    params = {"pair": (1.0, 0.01, 0.012, 0.5, 1.0), "triplet": (1.0, 1e-3, 5e-3, 7e-3, 2e-3),
              "vogels": (1.0, 0.01, 0.2)}[rule]
    w, y = native_step(conn.weights, events, scale, pre, post, post_spikes, index, rule, params, nearest)
    w_ref, y_ref = reference_step(conn.weights, events, scale, pre, post, post_spikes, index, rule, params, nearest)
    return bool(np.allclose(w, w_ref, rtol=1e-5, atol=1e-6) and np.allclose(y, y_ref, rtol=1e-5, atol=1e-6))


def rule_update(rule: str, params, nearest: bool):
    """``(on_pre, on_post)`` of a compiled rule as JAX functions of ``(w, pre traces, post
    traces)`` -- the formulas of the kernel, for the self-check."""
    p = [jnp.asarray(v) for v in params]

    def clip(w):
        return jnp.clip(w, 0.0, p[0])

    if rule == "pair":
        return (lambda w, x, y: clip(w - p[0] * p[2] * jnp.clip(w / p[0], 0, 1) ** p[4] * y[0]),
                lambda w, x, y: clip(w + p[0] * p[1] * (1 - jnp.clip(w / p[0], 0, 1)) ** p[3] * x[0]))
    if rule == "triplet":
        return (lambda w, x, y: clip(w - y[0] * (p[3] + p[4] * x[1])),
                lambda w, x, y: clip(w + x[0] * (p[1] + p[2] * y[1])))
    return (lambda w, x, y: clip(w + p[1] * (y[0] - p[2])), lambda w, x, y: clip(w + p[1] * x[0]))


def reference_step(weights, events, scale, pre, post, post_spikes, index, rule, params, nearest):
    """The pure-JAX passes doing what :func:`native_step` does (the kernel's reference formula)."""
    on_pre, on_post = rule_update(rule, params, nearest)

    def rows(carry, r, slots, mask):
        w, y = carry
        old = gather(w, slots)
        t = gather(index.targets, slots, index.n_post)
        y = y.at[t].add(jnp.where(mask, old * (1 if scale is None else scale[r][:, None]), 0), mode="drop")
        new = on_pre(old, tuple(tr[r][:, None] for tr in pre), tuple(gather(tr, t) for tr in post))
        return scatter(w, slots, new), y

    w, y = row_pass(index, events, rows, (weights, jnp.zeros(index.n_post, weights.dtype)))
    jumped = jnp.where(events[None, :], 1.0 if nearest else pre + 1.0, pre)

    def cols(w, c, slots, r, mask):
        new = on_post(gather(w, slots), tuple(tr[r] for tr in jumped), tuple(tr[c][:, None] for tr in post))
        return scatter(w, slots, new)

    return column_pass(index, post_spikes, cols, w), y
