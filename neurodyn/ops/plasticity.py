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

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..pytree import pytree_dataclass
from .event import _rank, _select
from .kernel import NativeKernel
from .synapses import SynapseCSR

#: synapses per chunk the default capacity aims at, and the most events per chunk
_CHUNK_SYNAPSES = 1024
_MAX_CAPACITY = 64


@pytree_dataclass(static=("n_pre", "n_post", "n_rows", "nnz", "row_width", "col_width", "split"))
class PlasticIndex:
    """Where the synapses of each event row and each column sit in storage order.

    ``row_start[r]``, ``row_length[r]``: the synapses of event row ``r`` (``r = g * n_pre + i``:
    presynaptic neuron ``i``, ``g``-th distinct delay); ``targets[k]``: postsynaptic neuron of
    synapse ``k``; ``col_ptr`` / ``col_slots``: the storage positions of the synapses onto each
    postsynaptic neuron (CSC order); ``col_rows[p]``: the event row of synapse ``col_slots[p]``
    (stored in column order, so a column reads it contiguously).
    ``row_width`` / ``col_width``: the longest row / column. ``split``: the postsynaptic neuron
    that cuts the synapses into two halves (0 where a row's targets are not sorted), and
    ``row_split[r]``: the first synapse of row ``r`` onto a neuron from ``split`` on -- the two
    parts the compiled kernel can hand to two threads. Build it with :meth:`build`.
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
    row_split: jax.Array = None
    split: int = 0

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
        # the two parts: targets below / from the neuron where half the synapses are reached, each
        # row cut there (rows whose targets are not sorted cannot be cut: one part then)
        split = int(np.searchsorted(col_ptr, nnz / 2)) if nnz else 0
        within = np.ones(max(nnz - 1, 0), bool)
        within[ptr[1:-1][(ptr[1:-1] > 0) & (ptr[1:-1] < nnz)] - 1] = False
        if nnz == 0 or np.any((np.diff(post) < 0) & within) or not 0 < split < n_post:
            split = 0
        below = np.concatenate([[0], np.cumsum(post < split)])
        row_split = starts + below[starts + lengths] - below[starts]
        i32 = lambda a: jnp.asarray(np.asarray(a, np.int32))  # noqa: E731
        return cls(n_pre, n_post, n_pre * groups, nnz, int(lengths.max(initial=0)),
                   int(col_count.max(initial=0)), i32(starts), i32(lengths), i32(post), i32(col_ptr),
                   i32(col_slots), i32(slot_row[col_slots]), i32(row_split), split)


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


# ---- the compiled CPU kernel (a NativeKernel: numba behind XLA's FFI) ---------------------------
#: rule name -> code of the compiled kernel (parameters: pair (w_max, a_plus, a_minus, mu_plus,
#: mu_minus), triplet (w_max, a2_plus, a3_plus, a2_minus, a3_minus), vogels (w_max, eta, alpha))
RULE_CODES = {"pair": 0, "triplet": 1, "vogels": 2}
#: default backend of plastic projections per platform (benchmarks/bench_plasticity.py)
DEFAULT_BACKEND = {"cpu": "numba"}


#: threads the compiled kernel may use by default (2: the calling thread and a worker, where the
#: machine has two cores, :mod:`._plasticity_kernel`; 1: the calling thread only); read when a
#: step is traced (``PlasticProjection.threads`` overrides it). One: on the shared 2-core machine
#: (load 3-5) the worker rarely got a core in time inside ``simulate`` (XLA's own threads run
#: the loop there) and two threads cost 10-30 % more wall time than one (12.3-13.4 against
#: 10.1-10.3 us per step, COBA-4000 + STDP); on a quiet machine compare with the benchmark's
#: rows (``python -m benchmarks plasticity``)
THREADS = 1


def native_step(weights, events, scale, pre, post, post_spikes, index: PlasticIndex, rule: str, params, decay,
                nearest: bool, backend: str | None = None, companion: SynapseCSR | None = None,
                threads: int | None = None, guest: SynapseCSR | None = None, guest_spikes=None,
                guest_blocks: tuple | None = None):
    """One step of a plastic projection's synapse and trace work (:data:`KERNEL`): returns the
    new weights, the transmitted input ``y`` (``n_post``), the new traces ``pre`` (traces x
    event rows) and ``post`` (traces x n_post), and the input of ``companion`` (None without).
    ``events`` (bool, event rows), ``scale`` (their Tsodyks-Markram factors, or None), ``pre``
    and ``post`` as the state holds them (before this step's decay), ``post_spikes`` (bool);
    ``decay`` the one-step factors ``exp(-dt / tau)`` of the presynaptic then the postsynaptic
    traces; ``rule`` a key of :data:`RULE_CODES` with its ``params``. ``companion``: static
    synapses without delays from the same source (rows = the event rows, so the projection has
    no delays either) delivered in the same call: ``z[post] = sum over event rows of W[row,
    post]``, the event product of :func:`neurodyn.ops.event.event_csr_matvec` with the same
    sums. ``guest``: static synapses without delays from another source, its spikes
    ``guest_spikes`` (bool, ``guest.n_pre``), delivered in the same call into one or two blocks
    of its targets (``guest_blocks``, summing to ``guest.n_post``; None: one): the event product
    of :func:`neurodyn.ops.event.event_csr_matvec` with ``blocks``, the same sums. The compiled
    kernel updates weights and traces in place, the synapses onto the two halves of the targets
    (``index.split``) on two threads where it can (``threads``, default :data:`THREADS`; the
    same result on one); the pure-JAX passes (:func:`reference_step`) do the same in the same
    order, where the compiled kernel cannot and for ``backend="jax"``. Returns ``(w, y, pre,
    post, z, g)`` with ``g`` the guest's blocks as a tuple (None without)."""
    dtype = weights.dtype
    scale = jnp.zeros((0,), dtype) if scale is None else scale.astype(dtype)
    c_ops, n_z = _static_operands(companion, dtype)
    g_ops, _ = _static_operands(guest, dtype)
    blocks = (0, 0)
    if guest is not None:
        blocks = tuple(guest_blocks) if guest_blocks is not None else (guest.n_post,)
        blocks = (blocks + (0,))[:2]
    g_spikes = jnp.zeros((0,), bool) if guest is None else guest_spikes
    threads = int(THREADS if threads is None else threads)
    static = (rule, bool(nearest), index.n_post, index.row_width, index.col_width, index.split, threads, n_z,
              *blocks)
    row_split = index.row_start if index.row_split is None else index.row_split
    operands = (weights, events, scale, pre.astype(dtype), post.astype(dtype), post_spikes,
                index.row_start, index.row_length, row_split, index.targets, index.col_ptr, index.col_slots,
                index.col_rows, jnp.stack([jnp.asarray(p, dtype) for p in (*params, 0.0, 0.0)][:5]),
                jnp.asarray(decay, dtype).reshape(-1), *c_ops, g_spikes, *g_ops)
    w, y, pre, post, z, g, g2 = KERNEL(static, *operands, backend=KERNEL.backend(backend, what="plastic projection"))
    g = None if guest is None else ((g,) if blocks[1] == 0 else (g, g2))
    return w, y, pre, post, (z if companion is not None else None), g


def _static_operands(conn: SynapseCSR | None, dtype):
    """The kernel's operands of static synapses without delays (row pointers, targets, weights:
    one or one per synapse; empty for None) and their number of targets."""
    if conn is None:
        return (jnp.zeros((0,), jnp.int32), jnp.zeros((0,), jnp.int32), jnp.zeros((1,), dtype)), 0
    indptr = (jnp.arange(conn.n_pre + 1, dtype=jnp.int32) * conn.fanout if conn.indptr is None
              else jnp.asarray(conn.indptr, jnp.int32))  # fixed fan-out stores no row pointers
    return (indptr, jnp.asarray(conn.indices, jnp.int32), jnp.asarray(conn.weights, dtype).reshape(-1)), conn.n_post


#: positions in the operands after the postsynaptic spikes (:func:`native_step`): the index's
#: seven arrays, then the rule's parameters, the decays, the companion's three, the guest's spikes
_PARAMS_AT, _GUEST_SPIKES_AT = 7, 12


def _native_call(target, static, weights, events, scale, pre, post, post_spikes, *index_params_decay):
    rule, nearest, n_post = static[:3]
    split, threads, n_z, n_g, n_g2 = static[5:10]
    dtype = weights.dtype
    # the pair rule's exponents as modes (0: mu = 0, 1: mu = 1, 2: other) for the kernel to branch on
    mu = index_params_decay[_PARAMS_AT][3:5] if rule == "pair" else jnp.zeros(2, dtype)
    mode = jnp.where(mu == 0, 0, jnp.where(mu == 1, 1, 2)).astype(jnp.int32)
    meta = jnp.stack([jnp.int32(RULE_CODES[rule]), jnp.int32(pre.shape[0]), jnp.int32(nearest),
                      jnp.int32(scale.shape[0] > 0), 3 * mode[0] + mode[1], jnp.int32(threads), jnp.int32(split)])
    # the kernel's scratch (its lists of events and spikes and its task, _plasticity_kernel.run):
    # an output XLA allocates with the loop's buffers, so a step allocates nothing; dropped here
    # and the targets the companion's and the guest's counts reached, then the guest's spiking rows
    n_guest_rows = index_params_decay[_GUEST_SPIKES_AT].shape[0]
    scratch = 2 * events.shape[0] + 2 * n_post + _TASK_WORDS + n_z + n_g + n_g2 + n_guest_rows
    out = (jax.ShapeDtypeStruct(weights.shape, dtype), jax.ShapeDtypeStruct((n_post,), dtype),
           jax.ShapeDtypeStruct(pre.shape, dtype), jax.ShapeDtypeStruct(post.shape, dtype),
           jax.ShapeDtypeStruct((n_z,), dtype), jax.ShapeDtypeStruct((n_g,), dtype), jax.ShapeDtypeStruct((n_g2,), dtype),
           jax.ShapeDtypeStruct((2 * scratch,), jnp.int32))
    # weights and traces are updated in place (outputs 0, 2, 3 alias inputs 0, 3, 4; the traces
    # keep their 2-D shape: a reshape would make XLA copy them): a step copies nothing
    call = jax.ffi.ffi_call(target, out, vmap_method="sequential", input_output_aliases={0: 0, 3: 2, 4: 3})
    return call(weights, events, scale, pre, post, post_spikes, *index_params_decay, meta)[:7]


#: int64 words of the kernel's task (``_plasticity_kernel.TASK_WORDS``)
_TASK_WORDS = 32


def _index_of(static, weights, events, col_ptr, row_start, row_length, targets, col_slots, col_rows) -> PlasticIndex:
    _, _, n_post, row_width, col_width = static[:5]
    return PlasticIndex(0, n_post, events.shape[0], weights.shape[0], row_width, col_width, row_start, row_length,
                        targets, col_ptr, col_slots, col_rows)


def companion_reference(events, indptr, indices, weights, n_post: int):
    """The companion's input summed over all its synapses (the reference of the kernel's
    delivery): ``z[post] = sum over rows with an event of W[row, post]``; one weight for all:
    the count of such synapses times the weight."""
    dtype = weights.dtype
    if indptr.shape[0] == 0:
        return jnp.zeros((n_post,), dtype)
    rows = jnp.repeat(jnp.arange(indptr.shape[0] - 1, dtype=jnp.int32), jnp.diff(indptr),
                      total_repeat_length=indices.shape[0])
    hit = events[rows]
    homogeneous = weights.shape[0] == 1 and indices.shape[0] != 1
    values = hit.astype(dtype) if homogeneous else jnp.where(hit, weights, jnp.zeros((), dtype))
    z = jnp.zeros((n_post,), dtype).at[indices].add(values)
    return z * weights[0] if homogeneous else z


def _reference(static, weights, events, scale, pre, post, post_spikes, row_start, row_length, row_split, targets,
               col_ptr, col_slots, col_rows, params, decay, c_indptr, c_indices, c_weights, g_spikes, g_indptr,
               g_indices, g_weights):
    index = _index_of(static, weights, events, col_ptr, row_start, row_length, targets, col_slots, col_rows)
    out = reference_step(weights, events, scale if scale.shape[0] else None, pre, post, post_spikes, index,
                         static[0], tuple(params), decay, static[1])
    n_g, n_g2 = static[8:10]
    g = companion_reference(g_spikes, g_indptr, g_indices, g_weights, n_g + n_g2)
    return (*out, companion_reference(events, c_indptr, c_indices, c_weights, static[7]), g[:n_g], g[n_g:])


def _vmap(static, backend, axis_size, in_batched, *operands):
    """Under ``jax.vmap`` the compiled kernel runs once per batch member (XLA's sequential
    rule); the JAX passes batch themselves."""
    axes = [0 if b else None for b in in_batched]
    run = KERNEL.native if backend == "numba" else KERNEL.fallback
    out = jax.vmap(lambda *ops: run(static, *ops), in_axes=axes, axis_size=axis_size)(*operands)
    return out, (True,) * 7


def _check_case(variant):
    """One step of pair STDP (weight dependence on) on 13 -> 7 neurons by 40 synapses with
    three delays, some rows and columns spiking (the triplet and inhibitory formulas share the
    loops and are checked against NumPy in the tests)."""
    dtype = np.dtype(variant[0])
    rng = np.random.default_rng(0)
    n_pre, n_post, nnz = 13, 7, 40
    conn = SynapseCSR.from_coo(rng.integers(0, n_pre, nnz), rng.integers(0, n_post, nnz),
                               rng.uniform(0.2, 0.8, nnz), n_pre=n_pre, n_post=n_post,
                               delays=rng.integers(0, 3, nnz), dtype=dtype)
    index = PlasticIndex.build(conn)
    operands = (np.asarray(conn.weights), rng.random(index.n_rows) < 0.4,
                rng.uniform(0.1, 1, index.n_rows).astype(dtype), rng.uniform(0, 2, (1, index.n_rows)).astype(dtype),
                rng.uniform(0, 2, (1, n_post)).astype(dtype), rng.random(n_post) < 0.5, index.row_start,
                index.row_length, index.row_split, index.targets, index.col_ptr, index.col_slots, index.col_rows,
                np.asarray([1.0, 0.01, 0.012, 0.5, 1.0], dtype), np.asarray([0.9, 0.8], dtype),
                *_companion_case(rng, index.n_rows, 5, dtype), rng.random(9) < 0.5,
                *_companion_case(rng, 9, 7, dtype))
    return ("pair", False, n_post, index.row_width, index.col_width, index.split, variant[1], 5, 3, 4), operands


def _companion_case(rng, n_rows, n_post, dtype):
    """Static synapses of the self-check's companion: ``n_rows`` rows of 0-3 synapses onto
    ``n_post`` neurons, small integer weights (sums exact in any order)."""
    counts = rng.integers(0, 4, n_rows)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return indptr, rng.integers(0, n_post, indptr[-1]).astype(np.int32), rng.integers(-3, 4, indptr[-1]).astype(dtype)


def _variant(static, weights, *operands) -> tuple:
    """What a handler is compiled for: the weights' dtype and 1 or 2 threads (a process compiles
    only the variants it runs: the numba code of one dtype on one thread takes a fraction of the
    whole kernel's)."""
    return np.dtype(weights.dtype).name, 2 if static[6] >= 2 else 1


def _handler(variant):
    from . import _plasticity_kernel

    dtype, threads = variant
    return _plasticity_kernel.handler(dtype, threads >= 2)


#: the compiled plasticity kernel (:mod:`neurodyn.ops.kernel`): target, handler, the JAX passes as
#: reference and fallback, self-check, sequential vmap, numba by default on the CPU
KERNEL = NativeKernel(
    "neurodyn_plastic_step", title="the numba plasticity kernel", handler=_handler, ffi=_native_call,
    reference=_reference, fallback_title="the JAX passes", vmap=_vmap, check=_check_case,
    variant=_variant, differentiable=False,
    tolerance={"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-12)}, defaults=DEFAULT_BACKEND)
BACKENDS = KERNEL.backends


def default_backend(platform: str | None = None) -> str:
    """The backend of plastic projections when none is named (:data:`DEFAULT_BACKEND`, "jax"
    where the native kernels cannot serve)."""
    return KERNEL.backend(None, platform)


def rule_update(rule: str, params, nearest: bool):
    """``(on_pre, on_post)`` of a compiled rule as JAX functions of ``(w, pre traces, post
    traces)`` -- the formulas of the kernel, for its reference."""
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


def reference_step(weights, events, scale, pre, post, post_spikes, index, rule, params, decay, nearest):
    """The pure-JAX passes doing what :func:`native_step` does (the kernel's reference formula):
    ``(weights, y, pre, post)`` after one step from the state's ``pre`` / ``post`` traces."""
    on_pre, on_post = rule_update(rule, params, nearest)
    decay = jnp.asarray(decay, pre.dtype).reshape(-1)
    pre = pre * decay[:pre.shape[0], None]
    post = post * decay[pre.shape[0]:, None]

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

    w = column_pass(index, post_spikes, cols, w)
    return w, y, jumped, jnp.where(post_spikes[None, :], 1.0 if nearest else post + 1.0, post)
