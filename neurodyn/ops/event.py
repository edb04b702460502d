"""Products of a projection's synapses (:class:`~neurodyn.ops.synapses.SynapseCSR`) with
presynaptic activity: ``y_post = sum_pre W[pre, post] x_pre``.

* :func:`csr_matvec` / :func:`csr_matmat` -- graded input ``x`` (a vector / the columns of a
  matrix): a gather-multiply and one scatter-add over all synapses (cost ~ nnz).
* :func:`event_csr_matvec` -- a boolean spike vector: only the rows of the neurons that spiked
  are read, so the cost grows with spikes x fan-out, not with N^2 or nnz.
* :func:`delayed_event_csr_matvec` -- per-synapse delays in steps, reading a ring buffer of past
  spike vectors (:func:`ring_read`).

Event kernel (pure JAX). The spike vector is packed into 32-bit words (one pass over N bytes),
a prefix sum of the words' popcounts ranks the spikes, and the spiking neurons are fetched in
chunks of ``capacity`` (a static size) by rank: the word by comparison with the prefix sums,
the neuron in it by counting set bits of its prefixes -- about 3 us at N = 4,000 where
``jnp.nonzero`` takes 35 us on the 2-core benchmark machine. A chunk gathers its rows -- a row
of the ELL view (a free reshape) for fixed fan-out, a masked window of the CSR arrays for
near-regular rows, or, for ragged rows, the chunk's synapses laid end to end up to a static
synapse budget -- and scatter-adds the weights into ``y``. A first chunk always runs; further
chunks run in a ``while_loop`` only while spikes remain, so a burst larger than ``capacity``
costs more passes and no spike is ever dropped. Under ``jax.vmap`` (over spikes, weights or
both) every operation is batched by JAX's own rules -- gathers and scatters gain a batch
dimension, the loop runs as long as the busiest batch member needs -- so a sweep over synaptic
weights is one batched kernel.

Derivatives: :func:`csr_matvec` is built from differentiable primitives (JVP, transpose and
batching are JAX's own). The event kernel is linear in the weights; its JVP (custom) is the
synapse-parallel form ``y_dot = scatter_add(where(spike[pre], w_dot, 0))``, which JAX
transposes for ``jax.grad`` (the loop of the forward pass is never differentiated).
Homogeneous weights need no rule: the result is ``w * counts``.

Backends (``backend=``): ``"jax"`` (the kernels above, every platform), ``"numba"`` (the
default on CPU) and ``"brainevent"``, all behind one :class:`~neurodyn.ops.kernel.NativeKernel`,
:data:`KERNEL` (its reference formula, the JVP above; its self-check; its vmap rule). The numba
kernel is a C function compiled by numba (``numba.cfunc``) that XLA calls directly through its
typed FFI (``jax.ffi.ffi_call``): the handler reads XLA's call frame itself, so no Python runs inside a compiled loop. It scans the
spike vector and adds the rows of the spiking neurons (the ``(pre, delay)`` groups with delays)
in presynaptic order (a fixed fan-out row ``i`` from ``i * fanout``: such synapses store no row
pointers, the fan-out travels as metadata), so its float sums are reproducible and independent
of how the targets are split (``neurodyn.models.sharding``). Under ``jax.vmap`` over spikes and/or
weights it is still one call (the kernel loops over the batch); batched connectivity goes to the
JAX kernel. brainevent's numba kernel is also an XLA FFI call, but its handler enters Python
through ctypes on every call (about 16 us), and it needs row pointers, built inside the call for
fixed fan-out. Both carry the synapse-parallel JVP above.

The default per platform, :data:`DEFAULT_BACKEND`, comes from ``python -m benchmarks event``
(``benchmarks/bench_event_ops.py``) on the 2-core CPU machine (shared with other jobs, so
single timings vary by tens of percent; ranges over runs): at 4,000 neurons, 2 % connectivity
and 0.5-2 % spiking the numba kernel takes 4.5-14 us per step (1.6-2.8 ns per synaptic event,
about the time of a plain numba loop over the same raster), brainevent's 34-120 us and the JAX
kernel 50-105 us; at 64,000 neurons with fixed fan-out 80, 1 % and 10 % spiking, 5.7 and 3.4
ns per event against 8.0 and 5.0 (brainevent) and 14 and 20 (JAX). With per-synapse delays
(10 delay values, 4,000 neurons, 1 % spiking) 61 us per step against 100-120 (JAX). Under
``jax.vmap`` over 8 weight sets it matches the batched JAX kernel (89 against 90 us per step;
brainevent's sequential rule: 1,770). On platforms not measured (GPU, TPU) the JAX kernel is
the default.
"""

from __future__ import annotations

import functools
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..errors import SpecError
from . import backends
from .kernel import NativeKernel
from .synapses import SynapseCSR

#: default backend per JAX platform, from ``python -m benchmarks event`` on the 2-core CPU
#: machine (see the module docstring); platforms not measured (GPU, TPU) use "jax"; "numba"
#: falls back to "jax" where the native kernels cannot serve (:mod:`neurodyn.ops.backends`) or
#: the operands are not float32/float64
DEFAULT_BACKEND = {"cpu": "numba"}
#: the same for products with several delays (measured, D = 10, N = 4,000: numba 61 us per step,
#: JAX 100-120, brainevent 117-255)
DEFAULT_DELAYED_BACKEND = {"cpu": "numba"}

#: synapses per chunk the default capacity aims at (measured at N = 4,000, fan-out 80: with 80
#: spikes per step capacities 32-128 cost the same, with 20 spikes 32 costs 2.5x less than 128;
#: a pass costs a few microseconds, each padded slot 2-5 ns)
_CHUNK_SYNAPSES = 4096

_SCATTER = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                       scatter_dims_to_operand_dims=(0,))


class _Plan(NamedTuple):
    """Static description of one event product (hashable: a compile-time constant)."""

    n_post: int
    width: int  # longest row
    layout: str  # "ell" (fixed or padded rows) or "ragged"
    fixed: bool  # every row has exactly ``width`` synapses
    capacity: int  # spiking rows per chunk
    budget: int  # synapses per chunk (ragged layout)
    groups: int = 1  # delay groups: row g * n_pre + i is group (i, g), stored at indptr[i * groups + g]
    n_pre: int = 0
    blocks: tuple = ()  # sizes of consecutive blocks of the targets, each its own result (): one result


# ---- graded input -----------------------------------------------------------------------------
def csr_matvec(conn: SynapseCSR, x: jax.Array) -> jax.Array:
    """``y[post] = sum_pre W[pre, post] x[pre]`` for a graded vector ``x`` of length ``n_pre``.

    Differentiable in ``x`` and the weights; ``jax.vmap`` batches it. Delays, if the synapses
    carry any, are ignored here: this is the instantaneous product with every synapse.
    """
    x = jnp.asarray(x)
    if x.shape != (conn.n_pre,):
        raise SpecError(f"csr_matvec: x must have shape ({conn.n_pre},) (n_pre), got {x.shape}")
    dtype = jnp.result_type(x, conn.weights)
    if conn.nnz == 0:
        return jnp.zeros(conn.n_post, dtype)
    layout = _layout(conn.fixed, conn.fanout, conn.nnz, conn.n_pre)
    weights = None if conn.homogeneous else conn.weights
    y = _all_synapses(x.astype(dtype), weights, conn.indptr, conn.indices, conn.n_post, conn.fanout, layout,
                      conn.fixed, dtype)
    return y * conn.weights if conn.homogeneous else y


def csr_matmat(conn: SynapseCSR, x: jax.Array) -> jax.Array:
    """``Y[post, b] = sum_pre W[pre, post] X[pre, b]`` for ``X`` of shape ``(n_pre, B)``: the
    batched :func:`csr_matvec` (one scatter of ``nnz x B`` values, not a loop over columns)."""
    x = jnp.asarray(x)
    if x.ndim != 2 or x.shape[0] != conn.n_pre:
        raise SpecError(f"csr_matmat: X must have shape ({conn.n_pre}, B), got {x.shape}")
    return jax.vmap(lambda col: csr_matvec(conn, col), in_axes=1, out_axes=1)(x)


# ---- spikes -----------------------------------------------------------------------------------
def event_csr_matvec(conn: SynapseCSR, spikes: jax.Array, *, capacity: int | None = None,
                     backend: str | None = None, blocks: tuple | None = None):
    """``y[post] = sum over spiking pre of W[pre, post]``, reading only the spiking rows.

    ``spikes``: length ``n_pre``, boolean (any other dtype: nonzero is a spike).
    ``capacity`` (JAX kernel): spiking neurons handled per pass (static; default from the
    fan-out, see :func:`default_capacity`); more spikes take more passes, none is dropped.
    ``backend``: ``"jax"``, ``"numba"`` or ``"brainevent"`` (default: :func:`default_backend`).
    ``blocks``: sizes of consecutive blocks of the targets (summing to ``n_post``; the
    populations of a fused projection): the result is then a tuple, ``y`` cut into these blocks,
    each its own result of the numba kernel (no slicing copy after it). Synapses with delays go
    through :func:`delayed_event_csr_matvec` instead.
    """
    if conn.has_delays:
        raise SpecError("event_csr_matvec: these synapses carry delays; use "
                        "delayed_event_csr_matvec(conn, buffer, step) (or conn.without_delays())")
    spikes = _as_events(spikes, conn.n_pre, "event_csr_matvec", "spikes")
    return _event_product(conn, spikes, conn.indptr, conn.fanout, conn.fixed, capacity, backend,
                          blocks=_blocks(blocks, conn.n_post, "event_csr_matvec"))


def ring_read(buffer: jax.Array, step, delays) -> jax.Array:
    """The entries of a ring buffer written ``delays`` steps before ``step``: row
    ``(step - d) mod L`` for each ``d`` (``L = buffer.shape[0]``; the convention of
    ``neurodyn.core.delay``: step ``s`` writes row ``s mod L``, delay 0 is the newest)."""
    d = jnp.asarray(delays, jnp.int32)
    return buffer[(jnp.asarray(step, jnp.int32) - d) % buffer.shape[0]]


def delayed_event_csr_matvec(conn: SynapseCSR, buffer: jax.Array, step, *, capacity: int | None = None,
                             backend: str | None = None, blocks: tuple | None = None):
    """Event-driven propagation with per-synapse delays: a synapse ``pre -> post`` with delay
    ``d`` delivers ``W[pre, post]`` at ``step`` when ``pre`` spiked at ``step - d``.

    ``buffer``: ring buffer ``(L, n_pre)`` of past spike vectors, row ``s mod L`` written at
    step ``s`` (``neurodyn.core.delay.delay_push``), ``L > conn.max_delay``. The spike vectors of
    the ``D`` distinct delays are read (``D x n_pre`` bytes) and the ``(pre, delay)`` groups of
    synapses are propagated as the rows of one event product, so the cost is spikes x fan-out
    summed over the delays, in one kernel. ``capacity``, ``backend`` and ``blocks`` as in
    :func:`event_csr_matvec` (default backend: :data:`DEFAULT_DELAYED_BACKEND` when there are
    several delays).
    """
    if not conn.has_delays:
        raise SpecError("delayed_event_csr_matvec: these synapses have no delays; use event_csr_matvec")
    buffer = jnp.asarray(buffer)
    if buffer.ndim != 2 or buffer.shape[1] != conn.n_pre:
        raise SpecError(f"delayed_event_csr_matvec: buffer must have shape (L, {conn.n_pre}), got {buffer.shape}")
    if buffer.shape[0] <= conn.max_delay:
        raise SpecError(f"delayed_event_csr_matvec: the ring buffer holds {buffer.shape[0]} steps; the longest "
                        f"delay ({conn.max_delay} steps) needs at least {conn.max_delay + 1}")
    past = ring_read(buffer, step, conn.delay_steps)  # (D, n_pre), flattened delay by delay (no transpose)
    spikes = _as_events(past.reshape(-1), past.size, "delayed_event_csr_matvec", "buffer")
    indptr, width = conn.delay_rows
    groups = len(conn.delay_steps)
    return _event_product(conn, spikes, indptr, width, conn.fixed and groups == 1, capacity, backend, groups,
                          _blocks(blocks, conn.n_post, "delayed_event_csr_matvec"))


def default_capacity(width: int, n_rows: int) -> int:
    """Spiking rows per pass when none is given: about ``_CHUNK_SYNAPSES`` synapses per chunk
    (a power of two, at least 8), never more than the rows there are."""
    per_chunk = max(8, 1 << max(0, (_CHUNK_SYNAPSES // max(width, 1) - 1).bit_length()))
    return int(min(per_chunk, n_rows))


def default_backend(platform: str | None = None, delayed: bool = False) -> str:
    """The backend used when none is given, for ``platform`` (default: JAX's default platform):
    :data:`DEFAULT_BACKEND` (:data:`DEFAULT_DELAYED_BACKEND` for a product with several delays),
    or ``"jax"`` where that names brainevent and it is not installed, or names numba where the
    native kernels cannot serve."""
    backend = _backend(None, delayed, platform)
    return "jax" if backend == "brainevent" and not _brainevent_installed() else backend


def _backend(requested: str | None, delayed: bool, platform: str | None = None) -> str:
    return backends.resolve("event_csr_matvec", requested, KERNEL.backends,
                            DEFAULT_DELAYED_BACKEND if delayed else DEFAULT_BACKEND, platform)


@functools.cache
def _brainevent_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("brainevent") is not None


# ---- dispatch ---------------------------------------------------------------------------------
def _as_events(spikes, size: int, where: str, name: str) -> jax.Array:
    spikes = jnp.asarray(spikes)
    if spikes.shape != (size,):
        raise SpecError(f"{where}: {name} must hold {size} presynaptic entries, got shape {spikes.shape}")
    return spikes if spikes.dtype == jnp.bool_ else spikes != 0


def _blocks(blocks, n_post: int, where: str) -> tuple:
    """``blocks`` checked: positive sizes summing to ``n_post`` (() for None)."""
    if blocks is None:
        return ()
    blocks = tuple(int(b) for b in blocks)
    if not blocks or min(blocks) < 1 or sum(blocks) != n_post:
        raise SpecError(f"{where}: blocks must be positive sizes summing to n_post = {n_post}, got {blocks}")
    return blocks


def _split(plan, y):
    """``y`` cut into the plan's blocks (a tuple), or ``y`` itself without blocks."""
    if not plan.blocks:
        return y
    starts = np.cumsum((0,) + plan.blocks)
    return tuple(y[..., a:b] for a, b in zip(starts[:-1], starts[1:]))


def _event_product(conn, spikes, indptr, width, fixed, capacity, backend, groups=1, blocks=()):
    backend = default_backend(delayed=groups > 1) if backend is None else _backend(backend, groups > 1)
    if backend == "brainevent" and not _brainevent_installed():
        raise SpecError("event_csr_matvec: backend 'brainevent' needs the brainevent package, which comes with "
                        "BrainPy: pip install 'neurodyn[brainevent]'")
    n_rows = spikes.shape[0]
    dtype = jnp.result_type(conn.weights)
    if conn.nnz == 0:
        return _split(_Plan(conn.n_post, 0, "ell", True, 1, 1, blocks=blocks), jnp.zeros(conn.n_post, dtype))
    mean = conn.nnz / n_rows
    layout = _layout(fixed, width, conn.nnz, n_rows)
    if capacity is None:
        capacity = default_capacity(width if layout == "ell" else max(1, round(mean)), n_rows)
    elif isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise SpecError(f"event_csr_matvec: capacity must be a positive integer, got {capacity!r}")
    capacity = min(capacity, n_rows)
    budget = max(width, -(-capacity * conn.nnz // n_rows))
    if backend == "numba" and not _native_supported(spikes, indptr, conn.indices, jnp.asarray(conn.weights)):
        backend = "jax"
    plan = _Plan(conn.n_post, width, layout, fixed, capacity, budget, groups, conn.n_pre, blocks)
    if conn.homogeneous:  # the number of spiking synapses onto each target, times the weight
        if backend == "jax":
            return _split(plan, conn.weights * _event_sum(None, spikes, indptr, conn.indices, plan, dtype))
        if backend == "numba":  # the kernel multiplies: no product (and no slices) after the call
            return _counted(plan, backend, spikes, indptr, conn.indices, jnp.asarray(conn.weights, dtype).reshape(1))
        ones = KERNEL.batched(plan, spikes, indptr, conn.indices, jnp.ones((1,), dtype), backend=backend)
        return jax.tree.map(lambda c: conn.weights * c, ones)
    return KERNEL(plan, spikes, indptr, conn.indices, conn.weights, backend=backend)


@partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _counted(plan, backend, spikes, indptr, indices, weight):
    """The homogeneous product ``weight * (number of spiking synapses onto each target)`` with
    the multiplication in the kernel (``weight`` of shape (1,)); derivatives as those of the
    product after the kernel: ``weight_dot * count``."""
    return KERNEL.batched(plan, spikes, indptr, indices, weight, backend=backend)


@_counted.defjvp
def _counted_jvp(plan, backend, primals, tangents):
    spikes, indptr, indices, weight = primals
    counts = KERNEL.batched(plan, spikes, indptr, indices, jnp.ones_like(weight), backend=backend)
    return (jax.tree.map(lambda c: weight[0] * c, counts),
            jax.tree.map(lambda c: tangents[3][0] * c, counts))


def _synapse_parallel(weights, spikes, indptr, indices, plan):
    """The event product as a sum over all synapses (cost ~ nnz; linear in ``weights``, from
    transposable primitives): the JVP of the event kernel."""
    spikes = _storage_order(spikes, plan)
    return _all_synapses(spikes, weights, indptr, indices, plan.n_post, plan.width, plan.layout, plan.fixed,
                         weights.dtype)


def _storage_order(spikes, plan):
    """Events of delay groups from ``(delay, pre)`` order to the storage order ``(pre, delay)``
    of ``indptr``."""
    if plan.groups == 1:
        return spikes
    return spikes.reshape(plan.groups, plan.n_pre).T.reshape(-1)


def _bounds(indptr, rows, plan):
    """First and one-past-last synapse of each row (a delay group's row ``g * n_pre + i`` is
    stored as row ``i * groups + g``)."""
    if plan.groups > 1:
        rows = (rows % plan.n_pre) * plan.groups + rows // plan.n_pre
    return indptr[rows], indptr[rows + 1]


def _layout(fixed: bool, width: int, nnz: int, n_rows: int) -> str:
    """``"ell"``: rows read as (padded) ELL rows of ``width``; ``"ragged"``: rows so uneven
    (longest over three times the mean) that padding them to the longest would waste more work
    than the ragged kernel costs (measured: for Erdos-Renyi rows, N = 4,000, 2 %, longest row
    1.5x the mean, the ragged kernel is 3-4x slower than the padded ELL rows)."""
    return "ell" if fixed or width <= 3 * nnz / n_rows + 4 else "ragged"


def _all_synapses(x, weights, indptr, indices, n_post, width, layout, fixed, dtype):
    """``y[post] = sum over all synapses of x[pre] * w`` (``w = 1`` when ``weights`` is None; a
    boolean ``x`` selects rows, so other rows' weights never enter): rows as ELL rows (a reshape
    when fixed, masked windows of the CSR arrays otherwise), or, for ragged rows, each synapse's
    row found by a prefix sum over ``indptr`` (``None`` for fixed rows: row ``i`` starts at
    ``i * width``)."""
    n = x.shape[0]
    mask = None
    if layout == "ell" and fixed:
        targets = indices.reshape(n, width, 1)
        w = None if weights is None else weights.reshape(n, width)
        xs = x[:, None]
    elif layout == "ell":
        start = indptr[:-1]
        clamped = jnp.minimum(start, indices.shape[0] - width)
        k = jnp.arange(width, dtype=start.dtype) + (clamped - start)[:, None]
        mask = (k >= 0) & (k < (indptr[1:] - start)[:, None])
        targets = _windows(indices, clamped, width)[..., None]
        w = None if weights is None else _windows(weights, clamped, width)
        xs = x[:, None]
    else:
        targets = indices[:, None]
        pre = jnp.repeat(jnp.arange(n, dtype=jnp.int32), jnp.diff(indptr), total_repeat_length=indices.shape[0])
        w = weights
        xs = x[pre]
    zero = jnp.zeros((), dtype)
    if x.dtype == jnp.bool_:
        values = xs.astype(dtype) if w is None else jnp.where(xs, w, zero)
    else:
        values = xs if w is None else xs * w
    if mask is not None:
        values = jnp.where(mask, values, zero)
    values = jnp.broadcast_to(values, targets.shape[:-1]).astype(dtype)
    return lax.scatter_add(jnp.zeros(n_post, dtype), targets, values, _SCATTER)


# ---- the pure-JAX event kernel ----------------------------------------------------------------
def _pack(spikes):
    """Bit-pack a boolean vector into uint32 words: bit ``8 b + k`` of word ``w`` is element
    ``32 w + 4 k + b`` (four bytes per little-endian uint32, then eight uint32 shifted into one
    word: no per-bit shifts of N elements)."""
    n = spikes.shape[0]
    nw = -(-n // 32)
    b = jnp.pad(spikes.astype(jnp.uint8), (0, nw * 32 - n)).reshape(nw, 8, 4)
    u = lax.bitcast_convert_type(b, jnp.uint32)  # (nw, 8), byte b of u[:, k] = element 4k + b
    return jnp.sum(u << jnp.arange(8, dtype=jnp.uint32), axis=1, dtype=jnp.uint32)


def _element_prefix_masks() -> tuple:
    """``m[e]``: the bits of a packed word that hold elements ``0..e`` of its 32 (element
    ``e`` sits at bit ``8 (e % 4) + e // 4``, see :func:`_pack`)."""
    bits = np.uint64(1) << (8 * (np.arange(32) % 4) + np.arange(32) // 4).astype(np.uint64)
    return tuple(int(m) for m in np.cumsum(bits))


_PREFIX_MASKS = _element_prefix_masks()


def _nth_element(words, r):
    """Offset (0..31) in its word of the ``r``-th (0-based) spike of each word: the number of
    element prefixes holding at most ``r`` spikes. A reduction, so XLA materialises it instead
    of fusing (and repeating) the search into every gathered synapse."""
    masks = jnp.asarray(_PREFIX_MASKS, jnp.uint32)
    below = lax.population_count(words[:, None] & masks).astype(r.dtype)
    return jnp.sum(below <= r[:, None], axis=1, dtype=r.dtype)


def _rank(spikes):
    """Rank the spikes: ``(table, ends)`` with ``table[w] = (bits of word w, spikes before
    word w)`` and ``ends[w]`` = spikes up to and including word ``w`` (``ends[-1]``: the total)."""
    words = _pack(spikes)
    counts = lax.population_count(words).astype(jnp.int32)
    nw = words.shape[0]
    if nw <= 256:  # one small product with a triangular matrix: one kernel, exact (< 2**24) at full precision
        upper = jnp.asarray(np.triu(np.ones((nw, nw), np.float32)))
        ends = jnp.matmul(counts.astype(jnp.float32), upper, precision=lax.Precision.HIGHEST).astype(jnp.int32)
    else:
        ends = lax.associative_scan(jnp.add, counts)
    table = jnp.stack([lax.bitcast_convert_type(words, jnp.int32), ends - counts], axis=1)
    return table, ends


def _select(table, ends, ranks, n):
    """Indices of the spikes of the given ranks (0-based, in packed order), and whether each
    rank exists (``ranks < number of spikes``); invalid ranks give some index in range."""
    nw = ends.shape[0]
    if nw * ranks.shape[0] <= 1 << 16:
        word = jnp.sum(ends[None, :] <= ranks[:, None], axis=1, dtype=jnp.int32)
    else:
        word = jnp.searchsorted(ends, ranks, side="right", method="scan_unrolled").astype(jnp.int32)
    valid = ranks < ends[-1]
    word = jnp.minimum(word, nw - 1)
    entry = _take_rows(table, word)
    offset = _nth_element(lax.bitcast_convert_type(entry[:, 0], jnp.uint32), ranks - entry[:, 1])
    return jnp.minimum(word * 32 + offset, n - 1), valid


def _take_rows(a, rows):
    """``a[rows]`` for whole rows of ``a`` (rows known to be in range)."""
    dims = lax.GatherDimensionNumbers(offset_dims=tuple(range(1, a.ndim)), collapsed_slice_dims=(0,),
                                      start_index_map=(0,))
    return lax.gather(a, rows[:, None], dims, (1,) + a.shape[1:], mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS)


def _windows(a, starts, width):
    """``a[starts[i] : starts[i] + width]`` for each ``i`` (windows known to be in range)."""
    dims = lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(), start_index_map=(0,))
    return lax.gather(a, starts[:, None], dims, (width,), mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS)


def _ell_chunk(y, rows, valid, weights, indptr, indices, plan):
    """Scatter-add the rows ``rows`` (masked by ``valid``) of the (padded) ELL view."""
    width = plan.width
    if plan.fixed:  # row i is indices[i * width:(i + 1) * width]: no row pointers
        n = indices.shape[0] // width
        targets = _take_rows(indices.reshape(n, width, 1), rows)
        mask = jnp.broadcast_to(valid[:, None], (rows.shape[0], width))
        w = None if weights is None else _take_rows(weights.reshape(n, width), rows)
    else:
        # a window of ``width`` synapses from each row's start; XLA clamps a window that would
        # run past the end, shifting the row inside it, so the mask follows the shift
        start, end = _bounds(indptr, rows, plan)
        clamped = jnp.minimum(start, indices.shape[0] - width)
        k = jnp.arange(width, dtype=start.dtype) + (clamped - start)[:, None]
        mask = valid[:, None] & (k >= 0) & (k < (end - start)[:, None])
        targets = _windows(indices, clamped, width)[..., None]
        w = None if weights is None else _windows(weights, clamped, width)
    values = mask.astype(y.dtype) if w is None else jnp.where(mask, w, jnp.zeros((), y.dtype))
    return lax.scatter_add(y, targets, values, _SCATTER)


def _ragged_chunk(y, rows, valid, weights, indptr, indices, plan):
    """Scatter-add the synapses of the leading rows of ``rows`` that fit in ``plan.budget``
    synapses, laid end to end; returns ``y`` and how many rows were taken."""
    start, end = _bounds(indptr, rows, plan)
    length = jnp.where(valid, end - start, 0)
    ends = jnp.cumsum(length)
    fits = ends <= plan.budget  # a prefix of the rows: budget >= the longest row
    length = jnp.where(fits, length, 0)
    ends = jnp.where(fits, ends, 0)
    ends = lax.cummax(ends)
    t = jnp.arange(plan.budget, dtype=ends.dtype)
    owner = jnp.minimum(jnp.searchsorted(ends, t, side="right", method="scan_unrolled"), rows.shape[0] - 1)
    ok = t < ends[-1]
    slot = jnp.where(ok, start[owner] + t - (ends[owner] - length[owner]), 0)
    w = jnp.ones((), y.dtype) if weights is None else weights[slot]
    values = jnp.where(ok, w, jnp.zeros((), y.dtype))
    return lax.scatter_add(y, indices[slot][:, None], values, _SCATTER), jnp.sum(fits & valid, dtype=jnp.int32)


def _event_sum(weights, spikes, indptr, indices, plan, dtype):
    """Sum the rows of the spiking neurons (weights, or ones when ``weights`` is None)."""
    n = spikes.shape[0]
    table, ends = _rank(spikes)
    total = ends[-1]
    ranks = jnp.arange(plan.capacity, dtype=jnp.int32)

    def chunk(y, first):
        rows, valid = _select(table, ends, first + ranks, n)
        if plan.layout == "ell":
            return _ell_chunk(y, rows, valid, weights, indptr, indices, plan), first + plan.capacity
        y, taken = _ragged_chunk(y, rows, valid, weights, indptr, indices, plan)
        return y, first + taken

    y, done = chunk(jnp.zeros(plan.n_post, dtype), jnp.int32(0))
    if plan.capacity >= n and (plan.layout == "ell" or plan.budget >= indices.shape[0]):
        return y
    return lax.while_loop(lambda c: c[1] < total, lambda c: chunk(*c), (y, done))[0]


# ---- the kernel object: numba (XLA FFI), brainevent and the JAX kernel --------------------------
def _jax_kernel(plan, spikes, indptr, indices, data):
    """The pure-JAX event kernel (``data``: one weight or one per synapse)."""
    if data.shape == (1,) and indices.shape[0] != 1:  # one weight for all synapses
        return _split(plan, _event_sum(None, spikes, indptr, indices, plan, data.dtype) * data[0])
    return _split(plan, _event_sum(data, spikes, indptr, indices, plan, data.dtype))


def _reference(plan, spikes, indptr, indices, data):
    """The event product summed over all synapses (:func:`_synapse_parallel`): the formula the
    kernels are checked against and whose JVP is theirs."""
    if data.shape == (1,) and indices.shape[0] != 1:
        return _split(plan, _all_synapses(_storage_order(spikes, plan), None, indptr, indices, plan.n_post,
                                          plan.width, plan.layout, plan.fixed, data.dtype) * data[0])
    return _split(plan, _synapse_parallel(data, spikes, indptr, indices, plan))


def _brainevent(plan, spikes, indptr, indices, data):
    """brainevent's numba CSR kernel (an XLA FFI call that enters Python through ctypes)."""
    import brainevent

    spikes = _storage_order(spikes, plan)  # its rows must follow indptr
    if indptr is None:  # fixed fan-out stores no row pointers; brainevent needs them
        indptr = jnp.arange(spikes.shape[0] + 1, dtype=jnp.int32) * plan.width
    return _split(plan, brainevent.binary_csrmv(data, indices, indptr, spikes,
                                                shape=(indptr.shape[0] - 1, plan.n_post), transpose=True,
                                                workspace=_TaskWorkspace.empty(indptr.dtype), backend="numba"))


def _vmap(plan, backend, axis_size, in_batched, spikes, indptr, indices, data):
    """Under ``jax.vmap``: the numba kernel takes batched spikes and/or weights in one call (a
    loop over the batch inside the kernel); batched connectivity, brainevent and the JAX backend
    go to the pure-JAX kernel, batched."""
    flags = (True,) * len(plan.blocks) if plan.blocks else True
    if backend == "numba" and not in_batched[1] and not in_batched[2]:
        if in_batched[3] and not in_batched[0] and data.shape[-1] == 1 and indices.shape[0] != 1:
            # one weight per member, the same spikes: count once, scale per member (w * count)
            counts = _native_call(KERNEL.target(), plan, spikes, indptr, indices, jnp.ones((1,), data.dtype))
            return jax.tree.map(lambda c: data[:, :1] * c, counts), flags
        return _native_call(KERNEL.target(), plan, spikes, indptr, indices, data, axis_size, in_batched[0],
                            in_batched[3]), flags
    axes = [0 if b else None for b in in_batched]
    return jax.vmap(partial(_jax_kernel, plan), in_axes=axes, axis_size=axis_size)(spikes, indptr, indices,
                                                                                   data), flags


def _native_supported(spikes, indptr, indices, data) -> bool:
    """Whether the numba kernel takes these operands (boolean spikes, int32 indices and row
    pointers (or none: fixed fan-out), float32/float64 weights) and serves here (native kernels
    available, its self-check passed); others go to the JAX kernel."""
    return (spikes.dtype == jnp.bool_ and (indptr is None or indptr.dtype == jnp.int32)
            and indices.dtype == jnp.int32 and data.dtype in (jnp.float32, jnp.float64) and KERNEL.serves())


def _native_call(target, plan, spikes, indptr, indices, data, batch=1, spikes_batched=False, weights_batched=False):
    """One FFI call: ``batch`` products (spikes ``(batch, rows)`` or ``(rows,)``, weights
    ``(batch, m)`` or ``(m,)``, ``m`` = 1 or nnz) into ``(batch, n_post)`` (``(n_post,)`` when
    ``batch`` is 1 and nothing is batched); with ``plan.blocks``, a tuple of one such result per
    block (more than two blocks, or a batch: the kernel sums into a scratch result, dropped here,
    and copies the blocks out).
    ``indptr`` None (fixed fan-out): the kernel gets the row width as metadata and an empty
    pointer array."""
    fixed_width = 0
    if indptr is None:
        indptr, fixed_width = jnp.zeros((0,), jnp.int32), plan.width
    meta = jnp.asarray([plan.groups, spikes.shape[-1] // plan.groups, batch, spikes_batched, weights_batched,
                        fixed_width, len(plan.blocks)], jnp.int32)
    lead = (batch,) if spikes_batched or weights_batched else ()
    if not plan.blocks:
        call = jax.ffi.ffi_call(target, jax.ShapeDtypeStruct(lead + (plan.n_post,), data.dtype),
                                vmap_method="sequential")
        return call(spikes, indptr, indices, data, meta)
    shapes = [jax.ShapeDtypeStruct(lead + (size,), data.dtype) for size in plan.blocks]
    direct = len(plan.blocks) == 1 or (len(plan.blocks) == 2 and batch == 1)  # the kernel sums into the results
    scratch = [] if direct else [jax.ShapeDtypeStruct((batch * plan.n_post,), data.dtype)]
    call = jax.ffi.ffi_call(target, shapes + scratch, vmap_method="sequential")
    return tuple(call(spikes, indptr, indices, data, meta)[:len(plan.blocks)])


def _handler(variant):
    from . import _event_kernel

    return _event_kernel.handler()


def _check_case(variant):
    """37 neurons onto 11 by 120 synapses of small integer weights (sums exact in any order)."""
    rng = np.random.default_rng(0)
    n_pre, n_post, nnz = 37, 11, 120
    pre = np.sort(rng.integers(0, n_pre, nnz))
    post = rng.integers(0, n_post, nnz).astype(np.int32)
    w = rng.integers(-3, 4, nnz).astype(np.float32)
    spikes = rng.random(n_pre) < 0.4
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=n_pre))]).astype(np.int32)
    return _Plan(n_post, 1, "ragged", False, 1, 1, 1, n_pre), (spikes, indptr, post, w)


#: the event product (module docstring): the numba kernel behind XLA's FFI (one target), the
#: JAX kernel where it cannot serve, brainevent's on request; JVP of the synapse-parallel form
KERNEL = NativeKernel(
    "neurodyn_event_csr", title="the numba event kernel", handler=_handler, ffi=_native_call,
    reference=_reference, fallback=_jax_kernel, fallback_title="the JAX kernel", vmap=_vmap, check=_check_case,
    backends=("jax", "numba", "brainevent"), defaults=DEFAULT_BACKEND, others={"brainevent": _brainevent})
BACKENDS = KERNEL.backends


@jax.tree_util.register_pytree_node_class
class _TaskWorkspace:
    """The task workspace brainevent's binary CSR kernels take. Its size comes from the row
    lengths (read on the host, so never from traced ``indptr``) and serves its CUDA kernels
    only; the numba CPU kernel passes it through, so an empty one serves here."""

    task_capacity = 0

    def __init__(self, task_begin, task_end, status):
        self.task_begin, self.task_end, self.status = task_begin, task_end, status

    @classmethod
    def empty(cls, dtype):
        return cls(jnp.zeros((0,), dtype), jnp.zeros((0,), dtype), jnp.zeros((2,), jnp.int32))

    def tree_flatten(self):
        return (self.task_begin, self.task_end, self.status), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)
