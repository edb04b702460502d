"""The numba code behind the compiled plasticity kernel of :mod:`neurodyn.ops.plasticity`
(imported on first use): module-level functions cached on disk, so a process compiles only the
thin FFI handler around :func:`run`.

One call does a plastic projection's work of one step in place, in the order of the pure-JAX
formula (``neurodyn.models.plastic``): the traces decay by one step, every event row transmits
its weights (times its scale), takes the rule's presynaptic update and jumps its presynaptic
traces, then every postsynaptic spike's column takes the postsynaptic update (with the
presynaptic traces after this step's jumps) and jumps its postsynaptic traces. The weights and
traces are XLA's buffers of the state, aliased to the results: no copy per step. Event rows and
spikes are scanned eight flags at a time, so a silent step costs a pass over the traces (their
decay) and little else. Rule codes and parameter vectors: :data:`neurodyn.ops.plasticity.RULE_CODES`.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import carray

from . import _frame, ffi
from ._frame import address, buffer
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


@numba.njit(inline="always", error_model="numpy")
def _rows(w, events, event_words, scale, pre, post, row_start, row_length, targets, y, code, params, modes,
          n_pre_traces, nearest, has_scale, general, additive=False):
    """Every event row: transmission (its weights times its scale into ``y``), the presynaptic
    update, then the jumps of the row's presynaptic traces."""
    n_rows, n_post = events.shape[0], y.shape[0]
    w_max, c1, c2, c3, c4 = params[0], params[1], params[2], params[3], params[4]
    full = event_words.shape[0]
    for word in range((n_rows + 7) // 8):
        if word < full and event_words[word] == 0:
            continue
        for r in range(word * 8, min(word * 8 + 8, n_rows)):
            if not events[r]:
                continue
            s = scale[r] if has_scale else 1.0
            x1 = pre[n_rows + r] if n_pre_traces > 1 else 0.0
            for k in range(row_start[r], row_start[r] + row_length[r]):
                t = targets[k]
                wk = w[k]
                y[t] += wk * s
                w[k] = on_pre(code, wk, w_max, c1, c2, c3, c4, modes, general, post[t], x1, additive)
            for q in range(n_pre_traces):
                pre[q * n_rows + r] = 1.0 if nearest else pre[q * n_rows + r] + 1.0


@numba.njit(inline="always", error_model="numpy")
def _columns(w, pre, post, post_spikes, spike_words, col_ptr, col_slots, col_rows, code, params, modes,
             n_post_traces, nearest, general, additive=False):
    """Every postsynaptic spike's column: the postsynaptic update with the presynaptic traces
    after this step's jumps, then the jumps of the column's postsynaptic traces."""
    n_post = post_spikes.shape[0]
    w_max, c1, c2, c3, c4 = params[0], params[1], params[2], params[3], params[4]
    full = spike_words.shape[0]
    for word in range((n_post + 7) // 8):
        if word < full and spike_words[word] == 0:
            continue
        for j in range(word * 8, min(word * 8 + 8, n_post)):
            if not post_spikes[j]:
                continue
            y1 = post[n_post + j] if n_post_traces > 1 else 0.0
            for p in range(col_ptr[j], col_ptr[j + 1]):
                k = col_slots[p]
                w[k] = on_post(code, w[k], w_max, c1, c2, c3, c4, modes, general, pre[col_rows[p]], y1, additive)
            for q in range(n_post_traces):
                post[q * n_post + j] = 1.0 if nearest else post[q * n_post + j] + 1.0


@numba.njit(cache=True, error_model="numpy")  # no ZeroDivisionError checks in the loop: 8x faster
def step(w, events, event_words, scale, pre, post, post_spikes, spike_words, row_start, row_length, targets,
         col_ptr, col_slots, col_rows, params, decay, meta, y):
    """One step in place: ``w`` (weights), ``pre`` (traces x rows) and ``post`` (traces x
    n_post) become the step's new values, ``y`` the transmitted input; ``meta = (rule code,
    presynaptic traces, nearest, has scale, exponent modes)``, ``params`` the rule's five
    parameters (padded with zeros), ``decay`` the one-step factor of each presynaptic then
    postsynaptic trace. ``event_words`` / ``spike_words``: the flags eight at a time (empty if
    unaligned), to skip silent stretches. The loops exist twice: with pow (a pair rule whose
    exponent is neither 0 nor 1), additive (pair rule, both exponents 0: no division and no rule
    branches per synapse) and for the rest."""
    code, n_pre_traces, nearest, has_scale, modes = meta[0], meta[1], meta[2], meta[3], meta[4]
    n_rows, n_post = events.shape[0], y.shape[0]
    n_post_traces = post.shape[0] // max(n_post, 1)
    y[:] = 0
    for q in range(n_pre_traces):
        _scale(pre[q * n_rows:(q + 1) * n_rows], decay[q])
    for q in range(n_post_traces):
        _scale(post[q * n_post:(q + 1) * n_post], decay[n_pre_traces + q])
    if code == PAIR and (modes % 3 == 2 or modes // 3 == 2):
        _rows(w, events, event_words, scale, pre, post, row_start, row_length, targets, y, code, params, modes,
              n_pre_traces, nearest, has_scale, True)
        _columns(w, pre, post, post_spikes, spike_words, col_ptr, col_slots, col_rows, code, params, modes,
                 n_post_traces, nearest, True)
    elif code == PAIR and modes == 0:  # additive pair rule (the common case): no division, no branches
        _rows(w, events, event_words, scale, pre, post, row_start, row_length, targets, y, PAIR, params, 0,
              n_pre_traces, nearest, has_scale, False, True)
        _columns(w, pre, post, post_spikes, spike_words, col_ptr, col_slots, col_rows, PAIR, params, 0,
                 n_post_traces, nearest, False, True)
    else:
        _rows(w, events, event_words, scale, pre, post, row_start, row_length, targets, y, code, params, modes,
              n_pre_traces, nearest, has_scale, False)
        _columns(w, pre, post, post_spikes, spike_words, col_ptr, col_slots, col_rows, code, params, modes,
                 n_post_traces, nearest, False)


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
def run(frame):
    """The kernel's work for one call frame. Arguments: weights, events, scale, presynaptic
    traces, postsynaptic traces, postsynaptic spikes, the index (row starts, row lengths,
    targets, column pointers, column slots, column rows), parameters, trace decays, metadata.
    Results: the new weights, the transmitted input, the new pre- and postsynaptic traces (the
    first, third and fourth aliased to the weights and traces)."""
    wp, nnz, code = buffer(frame, FRAME_ARGS, 0)
    ep, n_rows, _ = buffer(frame, FRAME_ARGS, 1)
    sp, n_s, _ = buffer(frame, FRAME_ARGS, 2)
    xp, n_x, _ = buffer(frame, FRAME_ARGS, 3)
    op, n_o, _ = buffer(frame, FRAME_ARGS, 4)
    qp, n_post, _ = buffer(frame, FRAME_ARGS, 5)
    rs, _, _ = buffer(frame, FRAME_ARGS, 6)
    rl, _, _ = buffer(frame, FRAME_ARGS, 7)
    tp, _, _ = buffer(frame, FRAME_ARGS, 8)
    cp, _, _ = buffer(frame, FRAME_ARGS, 9)
    cs, _, _ = buffer(frame, FRAME_ARGS, 10)
    sr, _, _ = buffer(frame, FRAME_ARGS, 11)
    pp, n_p, _ = buffer(frame, FRAME_ARGS, 12)
    dp, n_d, _ = buffer(frame, FRAME_ARGS, 13)
    mp, n_m, _ = buffer(frame, FRAME_ARGS, 14)
    oy, _, _ = buffer(frame, FRAME_RETS, 1)
    size = 8 if code == XLA_F64 else 4
    wp = _alias(buffer(frame, FRAME_RETS, 0)[0], wp, nnz * size)
    xp = _alias(buffer(frame, FRAME_RETS, 2)[0], xp, n_x * size)
    op = _alias(buffer(frame, FRAME_RETS, 3)[0], op, n_o * size)
    events = carray(address(ep), (n_rows,), np.uint8)
    post_spikes = carray(address(qp), (n_post,), np.uint8)
    row_start = carray(address(rs), (n_rows,), np.int32)
    row_length = carray(address(rl), (n_rows,), np.int32)
    targets = carray(address(tp), (nnz,), np.int32)
    col_ptr = carray(address(cp), (n_post + 1,), np.int32)
    col_slots = carray(address(cs), (nnz,), np.int32)
    col_rows = carray(address(sr), (nnz,), np.int32)
    meta = carray(address(mp), (n_m,), np.int32)
    if code == XLA_F64:
        step(carray(address(wp), (nnz,), np.float64), events, _words(ep, n_rows),
             carray(address(sp), (n_s,), np.float64), carray(address(xp), (n_x,), np.float64),
             carray(address(op), (n_o,), np.float64), post_spikes, _words(qp, n_post), row_start, row_length,
             targets, col_ptr, col_slots, col_rows, carray(address(pp), (n_p,), np.float64),
             carray(address(dp), (n_d,), np.float64), meta, carray(address(oy), (n_post,), np.float64))
    else:
        step(carray(address(wp), (nnz,), np.float32), events, _words(ep, n_rows),
             carray(address(sp), (n_s,), np.float32), carray(address(xp), (n_x,), np.float32),
             carray(address(op), (n_o,), np.float32), post_spikes, _words(qp, n_post), row_start, row_length,
             targets, col_ptr, col_slots, col_rows, carray(address(pp), (n_p,), np.float32),
             carray(address(dp), (n_d,), np.float32), meta, carray(address(oy), (n_post,), np.float32))


def handler():
    """The FFI handler (a ``numba.cfunc``): answers XLA's version query, else runs :func:`run` on
    the call frame; compiled once per process."""
    from numba import types

    major, minor = ffi.api_version()

    @numba.cfunc(types.int64(types.voidptr))
    def run_frame(frame_address):
        frame = _frame.frame_of(frame_address)
        if _frame.metadata_query(frame, major, minor):
            return 0
        run(frame)
        return 0

    return run_frame
