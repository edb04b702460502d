"""The numba code behind the compiled plasticity kernel of :mod:`neurodyn.ops.plasticity`
(imported on first use): module-level functions cached on disk, so a process compiles only the
thin FFI handler of each variant it runs (:func:`handler`: the weights' dtype, one or two threads)
around :func:`run` or :func:`run_threaded`, and numba compiles (or loads) only that variant's
loops: a cold float32 one-thread kernel 20 s against 34 s for all variants at once (fresh numba
cache, load 7), the worker thread's code only for a two-thread variant.

One call does a plastic projection's work of one step in place, in the order of the pure-JAX
formula (``neurodyn.models.plastic``): the traces decay by one step, every event row transmits
its weights (times its scale), takes the rule's presynaptic update and jumps its presynaptic
traces, then every postsynaptic spike's column takes the postsynaptic update (with the
presynaptic traces after this step's jumps) and jumps its postsynaptic traces. The weights and
traces are XLA's buffers of the state, aliased to the results: no copy per step. Event rows and
spikes are scanned 64 flags at a time, so a silent step costs a pass over the traces (their
decay) and little else. Rule codes and parameter vectors: :data:`neurodyn.ops.plasticity.RULE_CODES`.

The call runs in two stages. :func:`prologue` (the calling thread) decays the traces, lists the
event rows and the postsynaptic spikes and jumps the presynaptic traces (keeping the second
trace's value before the jump for the rows); the static synapses of a companion projection
(:func:`deliver`) are added for the listed rows. Then :func:`piece` does the rows and columns:
the synapses onto the postsynaptic neurons below ``split`` and those onto the rest touch disjoint
weights, inputs and postsynaptic traces, so the two parts can run on two threads -- the calling
one and a worker started once per process (:func:`work_loop`), which takes parts as tickets from
an atomic counter while it is awake (it spins between the steps of a simulation, sleeps when
there are none and ends after about a third of a second without work). Whoever does a part, each
synapse sees the same operations in the same order: one and two threads give the same bits. A
caller that had to wait long for the worker's part (descheduled on a busy machine) keeps the
next steps to itself (:data:`LATE_CYCLES`).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.core.extending import intrinsic, overload
from numba.np.numpy_support import as_dtype

from . import _frame, ffi
from ._event_kernel import one_of
from ._frame import address, buffer
from ._threads import call_int, fetch_add, load_acquire, pointer_value
from .ffi import FRAME_ARGS, FRAME_RETS, XLA_F64

PAIR, TRIPLET, VOGELS = 0, 1, 2


@numba.njit(inline="always", error_model="numpy")
def _clip(w, high):
    return min(max(w, 0.0), high)


@numba.njit(inline="always", error_model="numpy")
def _power(x, mu, mode, general):
    """``x ** mu`` for the exponent's ``mode``: 0 (``mu = 0``, additive), 1 (``mu = 1``) or 2
    (any other), pow being called only in the ``general`` copy of the loops (below): LLVM knows
    ``pow(x, 0) = 1`` and ``pow(x, 1) = x`` and, pow being pure, computes it ahead of any branch
    that would skip it -- for every synapse, at ten times the cost of the rest of its update."""
    if mode == 0:
        return 1.0
    if mode == 1 or not general:
        return x
    return x ** mu


@numba.njit(inline="always", error_model="numpy")
def on_pre(code, w, w_max, c1, c2, c3, c4, modes, general, y0, x1, additive=False):
    """The rule's presynaptic update of weight ``w``: ``y0`` the first postsynaptic trace at the
    synapse's target, ``x1`` the row's second presynaptic trace (both before their jumps);
    ``w_max, c1..c4`` the rule's parameters, ``modes`` those of the pair rule's exponents
    (:func:`_power`: ``3 mode(mu_plus) + mode(mu_minus)``). Scalars only: array arguments would
    cost numba reference counts per synapse."""
    if code == PAIR:  # c1..c4: a_plus, a_minus, mu_plus, mu_minus
        if additive:  # both exponents 0: the general formula's arithmetic without its branches (the
            return _clip(w - w_max * c2 * 1.0 * y0, w_max)  # float literal 1.0 keeps it in float64)
        x = min(max(w / w_max, 0.0), 1.0)
        return _clip(w - w_max * c2 * _power(x, c4, modes % 3, general) * y0, w_max)
    if code == TRIPLET:  # c1..c4: a2_plus, a3_plus, a2_minus, a3_minus
        return _clip(w - y0 * (c3 + c4 * x1), w_max)
    return _clip(w + c1 * (y0 - c2), w_max)  # Vogels: c1 eta, c2 alpha


@numba.njit(inline="always", error_model="numpy")
def on_post(code, w, w_max, c1, c2, c3, c4, modes, general, x0, y1, additive=False):
    """The rule's postsynaptic update (``x0``: the synapse's first presynaptic trace after this
    step's jumps; ``y1`` the column's second postsynaptic trace before its jump)."""
    if code == PAIR:
        if additive:
            return _clip(w + w_max * c1 * 1.0 * x0, w_max)
        x = min(max(w / w_max, 0.0), 1.0)
        return _clip(w + w_max * c1 * _power(1.0 - x, c3, modes // 3, general) * x0, w_max)
    if code == TRIPLET:
        return _clip(w + x0 * (c1 + c2 * y1), w_max)
    return _clip(w + c1 * x0, w_max)


@numba.njit(cache=True)
def _scale(x, d):
    """``x *= d`` (a loop from 0 that LLVM vectorises)."""
    for i in range(x.shape[0]):
        x[i] *= d


@intrinsic
def prefetch(typingctx, where):
    """A hint to load the cache line at address ``where`` (``llvm.prefetch``: read, keep in all
    levels); no effect on results."""

    def codegen(context, builder, signature, args):
        from numba.core import cgutils

        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        hint = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                              "llvm.prefetch.p0i8")
        builder.call(hint, [builder.inttoptr(args[0], i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                            ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(types.int64), codegen


@numba.njit(inline="always")
def _prefetch_range(base, first, last, size):
    """Prefetch the cache lines of elements ``first`` to ``last`` (exclusive) of ``size`` bytes
    of the array at address ``base``."""
    if last > first:
        at = base + first * size
        end = base + last * size
        while at < end:
            prefetch(at)
            at += 64
        prefetch(end - 1)


@numba.njit(inline="always", error_model="numpy")
def _rows(w, rows, x1s, n_events, scale, post, row_start, row_length, row_split, part, targets, y, code, params,
          modes, has_scale, general, additive=False):
    """The listed event rows ``rows[:n_events]`` (``x1s``: their second presynaptic traces before
    this step's jumps): transmission (weights times the row's scale into ``y``) and the
    presynaptic update, of the synapses of ``part`` (-1: all; 0 / 1: those before / from
    ``row_split[r]``, the row's first synapse onto the upper part of the targets). The index
    arrays come as uint32 (:func:`run_task`): numba wraps negative signed indices around (a
    shift, two ands and a select per index and synapse), unsigned ones need none."""
    w_max, c1, c2, c3, c4 = params[0], params[1], params[2], params[3], params[4]
    for i in range(n_events):
        r = rows[i]
        lo = row_start[r]
        hi = lo + row_length[r]
        if part == 0:
            hi = row_split[r]
        elif part == 1:
            lo = row_split[r]
        s = scale[r] if has_scale else 1.0
        x1 = x1s[i]
        for k in range(lo, hi):
            t = targets[k]
            wk = w[k]
            if has_scale:
                y[t] += wk * s
            else:  # the same sum: f32 + f32 rounded once (in float64 then rounded: the same bits)
                y[t] += wk
            w[k] = on_pre(code, wk, w_max, c1, c2, c3, c4, modes, general, post[t], x1, additive)


@numba.njit(inline="always", error_model="numpy")
def _columns(w, pre, post, cols, n_spikes, col_ptr, col_slots, col_rows, code, params, modes, n_post_traces,
             nearest, general, additive=False):
    """The listed postsynaptic spikes' columns ``cols[:n_spikes]``: the postsynaptic update with
    the presynaptic traces after this step's jumps, then the jumps of the column's
    postsynaptic traces."""
    n_post = col_ptr.shape[0] - 1
    w_max, c1, c2, c3, c4 = params[0], params[1], params[2], params[3], params[4]
    for i in range(n_spikes):
        j = cols[i]
        y1 = post[n_post + j] if n_post_traces > 1 else 0.0
        for p in range(col_ptr[j], col_ptr[j + 1]):
            k = col_slots[p]
            w[k] = on_post(code, w[k], w_max, c1, c2, c3, c4, modes, general, pre[col_rows[p]], y1, additive)
        for q in range(n_post_traces):
            post[q * n_post + j] = 1.0 if nearest else post[q * n_post + j] + 1.0


@numba.njit(inline="always")
def _times(c, out, out2, touched, n_touched):
    """``out`` and ``out2`` (the targets from ``out``'s size on) times the one weight ``c``: only
    the ``n_touched`` entries listed in ``touched`` where ``c`` is positive and finite (the
    others hold +0, and ``c * 0`` is +0: the same bits), every entry otherwise (a negative
    weight makes -0, an infinite one NaN)."""
    if c > 0 and c < np.inf:
        split = out.shape[0]
        for i in range(n_touched):
            t = touched[i]
            if t < split:
                out[t] = c * out[t]
            else:
                out2[t - split] = c * out2[t - split]
    else:
        for t in range(out.shape[0]):
            out[t] = c * out[t]
        for t in range(out2.shape[0]):
            out2[t] = c * out2[t]


@numba.njit(cache=True, error_model="numpy")
def deliver(rows, n_events, indptr, indices, weights, out, touched):
    """The companion delivery: the static synapses of the listed event rows into ``out``, in
    row order (the event kernel's order, :mod:`neurodyn.ops._event_kernel`); one weight for
    all (``weights`` of length 1): the number of synapses onto each target, times the weight
    (the homogeneous event product's arithmetic: ``w * count``; :func:`_times`, the targets
    reached listed in ``touched``). Each row as a guest's (:func:`_static_row`, one block)."""
    out[:] = 0
    if indptr.shape[0] == 0:
        return
    one = weights.shape[0] == 1 and indices.shape[0] != 1
    n_touched = 0
    for i in range(n_events):
        n_touched = _static_row(rows[i], indptr, indices, weights, out, out[:0], one, touched, n_touched)
    if one:
        _times(weights[0], out, out[:0], touched, n_touched)


@numba.njit(inline="always")
def _static_row(r, indptr, indices, weights, out, out2, one, touched, n_touched):
    """Row ``r`` of static synapses (the companion's or the guest's) added to one or two blocks
    of targets (``out``: those below ``out``'s size, ``out2`` the rest; empty for one block);
    ``one``: count (one weight for all), listing the targets reached first in ``touched``.
    Returns the new number listed."""
    split = out.shape[0]
    if one:
        unit = one_of(out)
        for k in range(indptr[r], indptr[r + 1]):
            t = indices[k]
            if t < split:
                if out[t] == 0:
                    touched[n_touched] = t
                    n_touched += 1
                out[t] += unit
            else:
                if out2[t - split] == 0:
                    touched[n_touched] = t
                    n_touched += 1
                out2[t - split] += unit
    else:
        for k in range(indptr[r], indptr[r + 1]):
            t = indices[k]
            if t < split:
                out[t] += weights[k]
            else:
                out2[t - split] += weights[k]
    return n_touched


@numba.njit(cache=True, error_model="numpy")
def deliver_guest(spikes, words, listed, indptr, indices, weights, out, out2, touched):
    """A carried projection from another source (the guest): the static synapses of its
    spiking rows ``spikes`` (uint8 flags; ``words`` them eight at a time, empty if unaligned;
    listed by :func:`_flagged` into ``listed``, one slot a row) into its one or two blocks of
    targets ``out`` and ``out2`` (empty for one block), rows in ascending order: the event
    kernel's sums (:mod:`neurodyn.ops._event_kernel`, a fused projection's two blocks); one
    weight for all (``weights`` of length 1): the number of synapses onto each target times the
    weight (:func:`_times`; the event kernel skips a weight of 1: the same bits)."""
    out[:] = 0
    out2[:] = 0
    if indptr.shape[0] == 0:
        return
    one = weights.shape[0] == 1 and indices.shape[0] != 1
    n_touched = 0
    for i in range(_flagged(spikes, words, listed, 0)):
        n_touched = _static_row(listed[i], indptr, indices, weights, out, out2, one, touched, n_touched)
    if one:
        _times(weights[0], out, out2, touched, n_touched)


@numba.njit(inline="always")
def _flagged(flags, words, out, at):
    """The indices of the set ``flags`` (uint8), ascending, written to ``out`` from ``at``;
    returns the new count. ``words``: the flags eight at a time (empty if unaligned), read 64
    flags (eight words, one OR) at a time, so the 3,200 flags of a step with five set cost 50
    tests; the flags after the last whole block of 64 are read one at a time."""
    blocks = words.shape[0] // 8
    for b in range(blocks):
        w = 8 * b
        if (words[w] | words[w + 1] | words[w + 2] | words[w + 3] | words[w + 4] | words[w + 5] | words[w + 6]
                | words[w + 7]) == 0:
            continue
        for word in range(w, w + 8):
            if words[word] != 0:
                for j in range(8 * word, 8 * word + 8):
                    if flags[j]:
                        out[at] = j
                        at += 1
    for j in range(64 * blocks, flags.shape[0]):
        if flags[j]:
            out[at] = j
            at += 1
    return at


@numba.njit(inline="always")
def _prefetch_lists(rows, n_events, cols, n_spikes, row_length, col_ptr, fetch):
    """Ask for the cache lines the step's rows and columns will read, before the traces decay
    (the decay then runs while they arrive): each listed row's targets and weights and its
    companion synapses, each listed column's slots and rows. ``fetch``: int64 words -- the
    addresses of the row starts, targets, weights (then the weight's size in bytes), column
    slots, column rows, companion row pointers and targets (0: no companion)."""
    row_start = carray(address(fetch[0]), (rows.shape[0],), np.uint32)
    for i in range(n_events):
        r = rows[i]
        lo = np.int64(row_start[r])
        hi = lo + row_length[r]
        _prefetch_range(fetch[1], lo, hi, 4)
        _prefetch_range(fetch[2], lo, hi, fetch[3])
        if fetch[6] != 0:
            indptr = carray(address(fetch[6]), (rows.shape[0] + 1,), np.uint32)
            _prefetch_range(fetch[7], np.int64(indptr[r]), np.int64(indptr[r + 1]), 4)
    for i in range(n_spikes):
        j = cols[i]
        _prefetch_range(fetch[4], np.int64(col_ptr[j]), np.int64(col_ptr[j + 1]), 4)
        _prefetch_range(fetch[5], np.int64(col_ptr[j]), np.int64(col_ptr[j + 1]), 4)


@numba.njit(cache=True, error_model="numpy")
def prologue(events, event_words, pre, post, post_spikes, spike_words, row_length, col_ptr, decay, meta, y, rows,
             x1s, cols, split, same, fetch):
    """The serial start of a step: the traces decay by one step, ``y`` is zeroed, the event rows
    are listed in ``rows`` (with their second presynaptic trace before the jump in ``x1s``) and
    their presynaptic traces jump; the postsynaptic spikes are listed in ``cols`` (ascending:
    those below ``split`` first). Returns ``(events, spikes, spikes below split, synapses to
    visit)``. Flags are scanned 64 at a time (:func:`_flagged`), so a silent step costs the
    decay and little else; ``same`` (the events are the postsynaptic spikes: one buffer, a
    recurrent projection without delays): the spikes are the listed rows, not scanned again."""
    n_pre_traces, nearest = meta[1], meta[2]
    n_rows, n_post = events.shape[0], y.shape[0]
    n_post_traces = post.shape[0] // max(n_post, 1)
    n_events = _flagged(events, event_words, rows, 0)
    if same:  # the same flags, already listed in order
        n_spikes = n_events
        for i in range(n_events):
            cols[i] = rows[i]
    else:
        n_spikes = _flagged(post_spikes, spike_words, cols, 0)
    _prefetch_lists(rows, n_events, cols, n_spikes, row_length, col_ptr, fetch)
    y[:] = 0
    for q in range(n_pre_traces):
        _scale(pre[q * n_rows:(q + 1) * n_rows], decay[q])
    for q in range(n_post_traces):
        _scale(post[q * n_post:(q + 1) * n_post], decay[n_pre_traces + q])
    work = 0
    for i in range(n_events):
        r = rows[i]
        x1s[i] = pre[n_rows + r] if n_pre_traces > 1 else 0.0
        work += row_length[r]
        for q in range(n_pre_traces):
            pre[q * n_rows + r] = 1.0 if nearest else pre[q * n_rows + r] + 1.0
    n_low = 0
    for i in range(n_spikes):
        j = cols[i]
        work += col_ptr[j + 1] - col_ptr[j]
        if j < split:
            n_low += 1
    return n_events, n_spikes, n_low, work


@numba.njit(cache=True, error_model="numpy")
def piece(w, y, pre, post, scale, row_start, row_length, row_split, targets, col_ptr, col_slots, col_rows,
          params, meta, rows, x1s, n_events, cols, n_spikes, n_low, part):
    """The rows and columns of one part of the targets (``part`` -1: all, 0: below the split, 1:
    from it; the parts touch disjoint synapses, outputs and postsynaptic traces, so two threads
    can take one each): every listed event row transmits and takes the rule's presynaptic update,
    then every listed postsynaptic spike's column takes the postsynaptic update (with the
    presynaptic traces after this step's jumps) and its postsynaptic traces jump. The loops
    exist three times: with pow (a pair rule whose exponent is neither 0 nor 1), additive (pair
    rule, both exponents 0: no division and no rule branches per synapse) and for the rest."""
    code, nearest, has_scale, modes = meta[0], meta[2], meta[3], meta[4]
    n_post = y.shape[0]
    n_post_traces = post.shape[0] // max(n_post, 1)
    first, last = 0, n_spikes
    if part == 0:
        last = n_low
    elif part == 1:
        first = n_low
    spikes = cols[first:last]
    n = last - first
    if code == PAIR and (modes % 3 == 2 or modes // 3 == 2):
        _rows(w, rows, x1s, n_events, scale, post, row_start, row_length, row_split, part, targets, y, code, params,
              modes, has_scale, True)
        _columns(w, pre, post, spikes, n, col_ptr, col_slots, col_rows, code, params, modes, n_post_traces, nearest,
                 True)
    elif code == PAIR and modes == 0:  # additive pair rule (the common case): no division, no branches
        _rows(w, rows, x1s, n_events, scale, post, row_start, row_length, row_split, part, targets, y, PAIR, params,
              0, has_scale, False, True)
        _columns(w, pre, post, spikes, n, col_ptr, col_slots, col_rows, PAIR, params, 0, n_post_traces, nearest,
                 False, True)
    else:
        _rows(w, rows, x1s, n_events, scale, post, row_start, row_length, row_split, part, targets, y, code, params,
              modes, has_scale, False)
        _columns(w, pre, post, spikes, n, col_ptr, col_slots, col_rows, code, params, modes, n_post_traces, nearest,
                 False)


# ---- two threads: a worker started once per process, parts handed out as tickets ---------------
#: words of the control block shared by the calling thread and the worker (each on its own
#: 64-byte line): the job counter, the task's address, the parts of the job, tickets taken,
#: parts done, the lock of the block (one call at a time uses the worker), parts the worker did
GEN, TASK, PARTS, TAKEN, DONE, LOCK, BY_WORKER, ALIVE = 0, 8, 16, 24, 32, 40, 48, 56
#: (the caller's words, on one line) calls left that stay on one thread, the length of the next
#: such stretch, the addresses of sched_yield and usleep
SKIP, STREAK, YIELD, SLEEP = 64, 65, 66, 67
CONTROL_WORDS = 72
#: (set once per process) the addresses of pthread_create, pthread_detach and the worker's code;
#: the cycle count since which the worker has taken no part (0: it took one in the last job)
CREATE, DETACH, WORKER, ALONE = 68, 69, 70, 71
#: a caller that waited longer than this for the worker's part (cycles of the CPU's counter:
#: ~4-8 us; the worker was descheduled on a busy machine), or did every part itself in every
#: job for ABSENT_CYCLES (~2-5 ms: the worker gets no core), runs the next STREAK
#: calls (doubling from MIN_STREAK to MAX_STREAK on each such wait, shrinking by one per call
#: that did not wait) on its own thread, while the worker sleeps: a loaded machine costs one
#: wait per stretch, not one per step, and no core spent spinning
LATE_CYCLES = 12_000
ABSENT_CYCLES = 6_000_000
MIN_STREAK, MAX_STREAK = 1_000, 64_000
#: pauses of a caller waiting for the worker before it yields its core on each further look
WAIT_SPIN = 2_000
#: a caller that left a part to the worker (tests) takes it back after this long (~0.1 s)
GIVE_UP_CYCLES = 300_000_000
#: the worker's idle loop: this many pauses (~0.2-1 ms), then this many yields of its core, then
#: this many sleeps of SLEEP_US between looks, then it ends
SPIN, YIELDS, SLEEPS, SLEEP_US = 20_000, 2_000, 300, 1_000
#: a step with fewer synapses to visit stays on the calling thread (handing a part over costs
#: about what a hundred synapse updates do)
THREAD_MIN_WORK = 192
#: the task: addresses and sizes of the arrays of one call (:func:`run_part`; the scratch
#: result's size in ``neurodyn.ops.plasticity._native_call`` counts it)
TASK_WORDS = 32


@intrinsic
def store_release(typingctx, where, value):
    """``*(int64*) where = value`` with release order."""

    def codegen(context, builder, signature, args):
        builder.store_atomic(args[1], builder.inttoptr(args[0], ir.IntType(64).as_pointer()), "release", 8)
        return context.get_dummy_value()

    return types.void(types.int64, types.int64), codegen


@intrinsic
def compare_exchange(typingctx, where, expected, value):
    """``*(int64*) where = value`` if it holds ``expected``, atomically; the old value."""

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        return builder.extract_value(builder.cmpxchg(pointer, args[1], args[2], "acq_rel", "acquire"), 0)

    return types.int64(types.int64, types.int64, types.int64), codegen


@intrinsic
def call_with(typingctx, function, argument):
    """Call the C function ``int f(unsigned)`` at address ``function`` (``usleep``)."""

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        kind = ir.FunctionType(i32, [i32])
        return builder.call(builder.inttoptr(args[0], kind.as_pointer()), [builder.trunc(args[1], i32)])

    return types.int32(types.int64, types.int64), codegen


def _pause_intrinsic():
    import platform

    x86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")

    @intrinsic
    def pause(typingctx):
        """The CPU's spin-wait hint (x86 ``pause``; nothing elsewhere)."""

        def codegen(context, builder, signature, args):
            if x86:
                from numba.core import cgutils

                hint = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                      "llvm.x86.sse2.pause")
                builder.call(hint, [])
            return context.get_dummy_value()

        return types.void(), codegen

    return pause


pause = _pause_intrinsic()


@intrinsic
def cycles(typingctx):
    """The CPU's cycle counter (``llvm.readcyclecounter``: rdtsc on x86; 0 where there is none)."""

    def codegen(context, builder, signature, args):
        from numba.core import cgutils

        read = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(64), []),
                                              "llvm.readcyclecounter")
        return builder.call(read, [])

    return types.int64(), codegen


@numba.njit(cache=True)
def run_part(task, part):
    """:func:`piece` ``part`` of the call described by ``task`` (int64 words: dtype code,
    weights, n synapses, y, n_post, pre, n pre values, post, n post values, scale, n scale, row
    starts, n rows, row lengths, row splits, targets, column pointers, column slots, column
    rows, parameters, metadata, n metadata, listed rows, their x1, n events, listed columns, n
    spikes, n below the split; as addresses and counts)."""
    if task[0] == XLA_F64:
        run_task(task, part, np.float64(0))
    else:
        run_task(task, part, np.float32(0))


def reals(data, n, real):
    """The ``n`` values at address ``data`` as an array of the type of the number ``real``."""


@overload(reals, inline="always")
def _reals(data, n, real):
    dtype = as_dtype(real).type
    return lambda data, n, real: carray(address(data), (n,), dtype)


@numba.njit(cache=True)
def run_task(task, part, real):
    """:func:`run_part` for the dtype of the number ``real`` only (a variant's handler compiles
    one dtype). The int32 index arrays are read as uint32 (never negative: no wraparound code
    in the loops, :func:`_rows`)."""
    nnz, n_post, n_rows = task[2], task[4], task[12]
    piece(reals(task[1], nnz, real), reals(task[3], n_post, real), reals(task[5], task[6], real),
          reals(task[7], task[8], real), reals(task[9], task[10], real),
          carray(address(task[11]), (n_rows,), np.uint32), carray(address(task[13]), (n_rows,), np.uint32),
          carray(address(task[14]), (n_rows,), np.uint32), carray(address(task[15]), (nnz,), np.uint32),
          carray(address(task[16]), (n_post + 1,), np.uint32), carray(address(task[17]), (nnz,), np.uint32),
          carray(address(task[18]), (nnz,), np.uint32), reals(task[19], 5, real),
          carray(address(task[20]), (task[21],), np.int32), carray(address(task[22]), (n_rows,), np.int64),
          reals(task[23], n_rows, real), task[24], carray(address(task[25]), (n_post,), np.int64), task[26],
          task[27], part)


@numba.njit(cache=True)
def take_parts(control, own):
    """Take tickets of the job until none is left, run those parts; ``own`` (1): count them as
    the worker's. Returns how many parts this thread did. (Callers
    pass numbers as ``np.int64(...)``: numba compiles a copy of a cached function for each
    literal argument.) The tickets are read before the task: a ticket below the job's parts
    means the task is that of the job."""
    did = 0
    while True:
        ticket = fetch_add(control + 8 * TAKEN, 1)
        if ticket >= load_acquire(control + 8 * PARTS):
            return did
        run_part(carray(address(load_acquire(control + 8 * TASK)), (TASK_WORDS,), np.int64), ticket)
        did += 1
        if own:
            fetch_add(control + 8 * BY_WORKER, 1)
        fetch_add(control + 8 * DONE, 1)


@numba.njit(cache=True)
def work_loop(control):
    """The worker: wait for a new job (spin, then yield the core, then sleep between looks) and
    take its parts; return after :data:`SLEEPS` looks without a job (the next call that wants
    the worker starts it again). ``control``: the control block's address (a number at run
    time: numba would type a constant as a literal and compile a new copy in every process)."""
    yield_address = load_acquire(control + 8 * YIELD)
    sleep_address = load_acquire(control + 8 * SLEEP)
    seen = -1  # a worker started for a job already published takes its parts too
    idle = 0
    while idle < SPIN + YIELDS + SLEEPS:
        job = load_acquire(control + 8 * GEN)
        if job != seen:
            seen = job
            idle = 0
            take_parts(control, np.int64(1))
            continue
        idle += 1
        if idle < SPIN or yield_address == 0 or sleep_address == 0:
            pause()
        elif idle < SPIN + YIELDS:
            call_int(yield_address)
        else:
            call_with(sleep_address, SLEEP_US)


@intrinsic
def call_create(typingctx, function, thread, routine, argument):
    """``pthread_create(thread, NULL, routine, argument)`` through its address ``function``."""

    def codegen(context, builder, signature, args):
        i64, i32 = ir.IntType(64), ir.IntType(32)
        kind = ir.FunctionType(i32, [i64, i64, i64, i64])
        return builder.call(builder.inttoptr(args[0], kind.as_pointer()),
                            [args[1], ir.Constant(i64, 0), args[2], args[3]])

    return types.int32(types.int64, types.int64, types.int64, types.int64), codegen


@intrinsic
def call_detach(typingctx, function, thread):
    """``pthread_detach(thread)`` through its address ``function``."""

    def codegen(context, builder, signature, args):
        kind = ir.FunctionType(ir.IntType(32), [ir.IntType(64)])
        return builder.call(builder.inttoptr(args[0], kind.as_pointer()), [args[1]])

    return types.int32(types.int64, types.int64), codegen


@numba.njit(cache=True)
def start_worker(control):
    """Start the worker (detached) unless one is running; False where none can be (one core,
    no pthread functions)."""
    create = load_acquire(control + 8 * CREATE)
    if create == 0:
        return False
    if compare_exchange(control + 8 * ALIVE, 0, 1) == 0:
        thread = np.zeros(1, np.uint64)
        if call_create(create, thread.ctypes.data, load_acquire(control + 8 * WORKER), control) == 0:
            call_detach(load_acquire(control + 8 * DETACH), np.int64(thread[0]))
        else:
            store_release(control + 8 * ALIVE, 0)
            return False
    return True


@numba.njit(cache=True)
def in_parts(control, task, parts, force):
    """Run the ``parts`` parts of ``task`` with the worker: publish the job, take tickets, wait
    for the parts the worker took. The worker takes none while it sleeps (this thread then does
    them all) and the result does not depend on who did which. ``force``: leave the last part to
    the worker (tests). Returns False (nothing done) if another call holds the worker."""
    if compare_exchange(control + 8 * LOCK, 0, 1) != 0:
        return False
    store_release(control + 8 * TASK, task.ctypes.data)
    store_release(control + 8 * PARTS, parts)
    store_release(control + 8 * DONE, 0)
    store_release(control + 8 * TAKEN, 1 if force else 0)
    fetch_add(control + 8 * GEN, 1)
    alone = False
    if force:
        run_part(task, np.int64(0))
        fetch_add(control + 8 * DONE, 1)
    else:
        alone = take_parts(control, np.int64(0)) == parts
    start, looks = cycles(), 0
    yield_address = load_acquire(control + 8 * YIELD)
    while load_acquire(control + 8 * DONE) < parts:
        looks += 1
        if looks < WAIT_SPIN or yield_address == 0:
            pause()
        else:
            call_int(yield_address)
        if force and looks % 1024 == 0 and cycles() - start > GIVE_UP_CYCLES:
            take_parts(control, np.int64(0))  # no worker came (it was ending): what is left, here
    streak = load_acquire(control + 8 * STREAK)
    now = cycles()
    absent = False
    if alone:  # the worker took no part: since when?
        since = load_acquire(control + 8 * ALONE)
        if since == 0:
            store_release(control + 8 * ALONE, now)
        absent = since != 0 and now - since > ABSENT_CYCLES
    else:
        store_release(control + 8 * ALONE, 0)
    if (now - start > LATE_CYCLES or absent) and not force:
        streak = min(max(2 * streak, MIN_STREAK), MAX_STREAK)
        store_release(control + 8 * SKIP, streak)
        store_release(control + 8 * ALONE, 0)
    elif streak > MIN_STREAK:
        streak -= 1
    store_release(control + 8 * STREAK, streak)
    store_release(control + 8 * LOCK, 0)
    return True


@numba.njit(cache=True)
def _alias(out, data, nbytes):
    """The result buffer ``out`` holding the argument at ``data``: XLA aliases the two (the
    state is updated in place), else the argument is copied first."""
    if out != data:
        carray(address(out), (nbytes,), np.uint8)[:] = carray(address(data), (nbytes,), np.uint8)
    return out


@numba.njit(cache=True)
def _words(data, n):
    """The ``n`` flags at ``data`` eight at a time (empty if ``data`` is not 8-byte aligned; XLA
    aligns its buffers)."""
    return carray(address(data), (n // 8 if data % 8 == 0 else 0,), np.uint64)


@numba.njit(cache=True)
def begin(frame, real):
    """The serial start of a call (``real``: a number of the weights' dtype): the state aliased,
    :func:`prologue`, the companion's delivery (:func:`deliver`); returns the task of the rest
    (:func:`run_part`'s words, then the synapses to visit). Arguments: weights, events, scale,
    presynaptic traces, postsynaptic traces, postsynaptic spikes, the index (row starts, row
    lengths, row splits, targets, column pointers, column slots, column rows), parameters, trace
    decays, the companion's static synapses (row pointers, targets, weights: one or one per
    synapse; empty for none), the guest's spikes and static synapses (the same three; empty for
    none: :func:`deliver_guest`), metadata (rule, presynaptic traces, nearest, has scale,
    exponent modes, threads, split). Results: the new weights, the transmitted input, the new
    pre- and postsynaptic traces (the first, third and fourth aliased to the weights and
    traces), the companion's input, the guest's two blocks of input (the second empty for one
    block), a scratch buffer of ``2 n_rows + 2 n_post + TASK_WORDS`` int64 words, one per
    target of the companion and the guest and one per row (presynaptic neuron) of the guest."""
    wp, nnz, code = buffer(frame, FRAME_ARGS, 0)
    ep, n_rows, _ = buffer(frame, FRAME_ARGS, 1)
    sp, n_s, _ = buffer(frame, FRAME_ARGS, 2)
    xp, n_x, _ = buffer(frame, FRAME_ARGS, 3)
    op, n_o, _ = buffer(frame, FRAME_ARGS, 4)
    qp, n_post, _ = buffer(frame, FRAME_ARGS, 5)
    rs, _, _ = buffer(frame, FRAME_ARGS, 6)
    rl, _, _ = buffer(frame, FRAME_ARGS, 7)
    rp, _, _ = buffer(frame, FRAME_ARGS, 8)
    tp, _, _ = buffer(frame, FRAME_ARGS, 9)
    cp, _, _ = buffer(frame, FRAME_ARGS, 10)
    cs, _, _ = buffer(frame, FRAME_ARGS, 11)
    sr, _, _ = buffer(frame, FRAME_ARGS, 12)
    pp, n_p, _ = buffer(frame, FRAME_ARGS, 13)
    dp, n_d, _ = buffer(frame, FRAME_ARGS, 14)
    kp, n_k, _ = buffer(frame, FRAME_ARGS, 15)
    jp, n_j, _ = buffer(frame, FRAME_ARGS, 16)
    vp, n_v, _ = buffer(frame, FRAME_ARGS, 17)
    gp, n_g, _ = buffer(frame, FRAME_ARGS, 18)
    gi, n_gi, _ = buffer(frame, FRAME_ARGS, 19)
    gj, n_gj, _ = buffer(frame, FRAME_ARGS, 20)
    gv, n_gv, _ = buffer(frame, FRAME_ARGS, 21)
    mp, n_m, _ = buffer(frame, FRAME_ARGS, 22)
    oy, _, _ = buffer(frame, FRAME_RETS, 1)
    oz, n_z, _ = buffer(frame, FRAME_RETS, 4)
    og, n_og, _ = buffer(frame, FRAME_RETS, 5)
    og2, n_og2, _ = buffer(frame, FRAME_RETS, 6)
    size = 8 if code == XLA_F64 else 4
    wp = _alias(buffer(frame, FRAME_RETS, 0)[0], wp, nnz * size)
    xp = _alias(buffer(frame, FRAME_RETS, 2)[0], xp, n_x * size)
    op = _alias(buffer(frame, FRAME_RETS, 3)[0], op, n_o * size)
    meta = carray(address(mp), (n_m,), np.int32)
    # the lists and the task live in result 7, a scratch buffer of XLA's (no allocation per call):
    # rows (n_rows), columns (2 n_post), the rows' x1 (n_rows 8-byte slots), the task
    scratch, _, _ = buffer(frame, FRAME_RETS, 7)
    rows = carray(address(scratch), (n_rows,), np.int64)
    cols = carray(address(scratch + 8 * n_rows), (2 * n_post,), np.int64)
    x1_at = scratch + 8 * (n_rows + 2 * n_post)
    task = carray(address(x1_at + 8 * n_rows), (TASK_WORDS,), np.int64)
    # the targets the companion's and the guest's counts reached (after the task)
    touched = carray(address(x1_at + 8 * (n_rows + TASK_WORDS)), (n_z + n_og + n_og2,), np.int64)
    # the guest's spiking rows (after the targets reached)
    listed = carray(address(x1_at + 8 * (n_rows + TASK_WORDS + n_z + n_og + n_og2)), (n_g,), np.int64)
    fetch = task[:8]  # what the prologue prefetches (the task's words are written after it)
    fetch[0], fetch[1], fetch[2], fetch[3], fetch[4], fetch[5] = rs, tp, wp, size, cs, sr
    fetch[6], fetch[7] = (kp, jp) if n_k > 0 else (0, 0)
    n_events, n_spikes, n_low, work = prologue(
        carray(address(ep), (n_rows,), np.uint8), _words(ep, n_rows), reals(xp, n_x, real), reals(op, n_o, real),
        carray(address(qp), (n_post,), np.uint8), _words(qp, n_post), carray(address(rl), (n_rows,), np.int32),
        carray(address(cp), (n_post + 1,), np.int32), reals(dp, n_d, real), meta, reals(oy, n_post, real), rows,
        reals(x1_at, n_rows, real), cols, meta[6], ep == qp and n_rows == n_post, fetch)
    deliver(rows, n_events, carray(address(kp), (n_k,), np.int32), carray(address(jp), (n_j,), np.int32),
            reals(vp, n_v, real), reals(oz, n_z, real), touched)
    deliver_guest(carray(address(gp), (n_g,), np.uint8), _words(gp, n_g), listed, carray(address(gi), (n_gi,), np.uint32),
                  carray(address(gj), (n_gj,), np.uint32), reals(gv, n_gv, real), reals(og, n_og, real),
                  reals(og2, n_og2, real), touched)
    words = (code, wp, nnz, oy, n_post, xp, n_x, op, n_o, sp, n_s, rs, n_rows, rl, rp, tp, cp, cs, sr, pp, mp, n_m,
             scratch, x1_at, n_events, scratch + 8 * n_rows, n_spikes, n_low, work)
    for i in range(TASK_WORDS):
        task[i] = words[i] if i < len(words) else 0
    return task


@numba.njit(cache=True)
def run(frame, real):
    """The kernel's work for one call frame on the calling thread (``real``: a number of the
    weights' dtype; :func:`begin`, then every synapse of the step)."""
    run_task(begin(frame, real), np.int64(-1), real)
    return 0


@numba.njit(cache=True)
def run_threaded(frame, control, real):
    """:func:`run` where the call's metadata allows two threads: the parts on the calling thread
    and the worker (``control``: its control block), unless the step has little work, the
    targets cannot be cut or the worker was late lately."""
    task = begin(frame, real)
    meta = carray(address(task[20]), (task[21],), np.int32)
    threads, split, work, n_post = meta[5], meta[6], task[28], task[4]
    done = False
    if threads >= 2 and work >= (0 if threads > 2 else THREAD_MIN_WORK) and 0 < split < n_post and \
            start_worker(control):
        skip = load_acquire(control + 8 * SKIP)
        if skip > 0 and threads == 2:  # the worker was late lately (a busy machine): this call on one thread
            store_release(control + 8 * SKIP, skip - 1)
        else:
            done = in_parts(control, task, np.int64(2), threads > 2)
    if not done:
        run_task(task, np.int64(-1), real)
    return 0


#: the worker's control block (one per process, never freed: the worker may outlive any call)
_CONTROL = None


def control_block() -> np.ndarray:
    """The process's control block of the worker (:data:`GEN` ...; 64-byte aligned)."""
    global _CONTROL
    if _CONTROL is None:
        raw = np.zeros(CONTROL_WORDS + 8, np.int64)
        skip = (-raw.ctypes.data % 64) // 8
        _CONTROL = raw[skip:skip + CONTROL_WORDS]  # a view: it keeps raw alive
    return _CONTROL


def worker_parts() -> int:
    """How many parts the worker has done in this process (tests: the second thread did work)."""
    return int(control_block()[BY_WORKER])


def _libc():
    """The addresses of ``pthread_create``, ``pthread_detach``, ``sched_yield`` and ``usleep`` in
    the C library (zeros if absent: the kernel then stays on the calling thread)."""
    import ctypes
    import ctypes.util

    for name in (None, ctypes.util.find_library("pthread"), ctypes.util.find_library("c")):
        try:
            lib = ctypes.CDLL(name)
            return tuple(ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0
                         for name in ("pthread_create", "pthread_detach", "sched_yield", "usleep"))
        except (OSError, AttributeError, TypeError):
            continue
    return 0, 0, 0, 0


def handler(dtype: str = "float32", threaded: bool = False):
    """The FFI handler (a ``numba.cfunc``) of one variant: answers XLA's version query, else runs
    :func:`run` (one thread) or :func:`run_threaded` on the call frame for weights of ``dtype``;
    compiled once per process and variant, so a process compiles only the dtypes and thread
    modes it uses (the worker, :func:`worker_address`, on the first threaded variant). Where the
    machine has two cores, a threaded call starts the worker if it is not running (it ends
    after about a third of a second without work)."""
    import os

    major, minor = ffi.api_version()
    real = np.dtype(dtype).type
    if not threaded:
        @numba.cfunc(types.int64(types.voidptr))
        def run_frame(frame_address):
            frame = _frame.frame_of(frame_address)
            if _frame.metadata_query(frame, major, minor):
                return 0
            # the dtype as a run-time number (a constant would be typed as a literal, see below)
            return run(frame, real(frame[0] * 0))

        return run_frame

    control = control_block()
    control_address = control.ctypes.data
    create, detach, yield_address, sleep_address = _libc()
    control[YIELD], control[SLEEP] = yield_address, sleep_address
    if create != 0 and detach != 0 and (os.cpu_count() or 1) >= 2:
        control[CREATE], control[DETACH], control[WORKER] = create, detach, worker_address()

    @numba.cfunc(types.int64(types.voidptr))
    def run_threaded_frame(frame_address):
        frame = _frame.frame_of(frame_address)
        if _frame.metadata_query(frame, major, minor):
            return 0
        # the address as a run-time int64 (frame[0] * 0 + ...): numba would type the constant as a
        # literal and compile (and cache) run and its callees anew in every process
        return run_threaded(frame, frame[0] * 0 + control_address, real(frame[0] * 0))

    return run_threaded_frame


def worker_entry(argument):
    """The worker thread's function (``pthread_create``, compiled as a C function by
    :func:`worker_address`): :func:`work_loop` on the control block at ``argument``, then marks
    the block as without a worker."""
    where = pointer_value(argument)
    work_loop(where)
    store_release(where + 8 * ALIVE, 0)
    return argument


#: the worker's C function (compiled on first need, cached on disk; kept for the process's life:
#: the worker may outlive any call)
_WORKER = None


def worker_address() -> int:
    """The address of the worker's C function (:func:`worker_entry`), compiled on first use."""
    global _WORKER
    if _WORKER is None:
        _WORKER = numba.cfunc(types.voidptr(types.voidptr), cache=True)(worker_entry)
    return _WORKER.address
