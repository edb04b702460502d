"""The numba code behind the compiled plasticity kernel of :mod:`neurodyn.ops.plasticity`
(imported on first use): module-level functions cached on disk, so a process compiles only the
thin FFI handler around :func:`run`.

One call does a plastic projection's synapse work of one step, in the order of the pure-JAX
formula (``neurodyn.models.plastic``): every event row transmits its weights (times its scale)
and takes the rule's presynaptic update, then every postsynaptic spike's column takes the
postsynaptic update with the presynaptic traces after this step's jumps. Rule codes and
parameter vectors: :data:`neurodyn.ops.plasticity.RULE_CODES`.
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
def _power(x, mu):
    """``x ** mu``, without a call to pow for the usual exponents 0 (additive) and 1."""
    if mu == 0.0:
        return 1.0
    if mu == 1.0:
        return x
    return x ** mu


@numba.njit(inline="always", error_model="numpy")
def on_pre(code, w, p, pre, r, n_rows, post, t, n_post):
    """The rule's presynaptic update of weight ``w`` (row traces ``pre[q * n_rows + r]`` before
    their jump, postsynaptic traces ``post[q * n_post + t]`` at the synapse's target)."""
    if code == PAIR:
        x = min(max(w / p[0], 0.0), 1.0)
        return _clip(w - p[0] * p[2] * _power(x, p[4]) * post[t], p[0])
    if code == TRIPLET:
        return _clip(w - post[t] * (p[3] + p[4] * pre[n_rows + r]), p[0])
    return _clip(w + p[1] * (post[t] - p[2]), p[0])


@numba.njit(inline="always", error_model="numpy")
def on_post(code, w, p, x0, x1, post, j, n_post):
    """The rule's postsynaptic update (``x0``, ``x1``: the synapse's presynaptic traces after this
    step's jumps; ``post[q * n_post + j]`` the column's traces before its jump)."""
    if code == PAIR:
        x = min(max(w / p[0], 0.0), 1.0)
        return _clip(w + p[0] * p[1] * _power(1.0 - x, p[3]) * x0, p[0])
    if code == TRIPLET:
        return _clip(w + x0 * (p[1] + p[2] * post[n_post + j]), p[0])
    return _clip(w + p[1] * x0, p[0])


@numba.njit(cache=True, error_model="numpy")  # no ZeroDivisionError checks in the loop: 8x faster
def step(w_in, events, scale, pre, post, post_spikes, row_start, row_length, targets, col_ptr, col_slots, col_rows,
         params, meta, w, y):
    """``w`` (the new weights) and ``y`` (the transmitted input) of one step; ``meta = (rule code,
    presynaptic traces, nearest, has scale)``. XLA aliases ``w`` to ``w_in`` (updated in place:
    no copy of every weight per step); a distinct buffer is filled first."""
    code, n_pre_traces, nearest, has_scale = meta[0], meta[1], meta[2], meta[3]
    n_rows, n_post = events.shape[0], y.shape[0]
    if w.ctypes.data != w_in.ctypes.data:
        w[:] = w_in
    y[:] = 0
    for r in range(n_rows):
        if events[r]:
            s = scale[r] if has_scale else 1.0
            for k in range(row_start[r], row_start[r] + row_length[r]):
                t = targets[k]
                y[t] += w[k] * s
                w[k] = on_pre(code, w[k], params, pre, r, n_rows, post, t, n_post)
    for j in range(n_post):
        if post_spikes[j]:
            for p in range(col_ptr[j], col_ptr[j + 1]):
                k = col_slots[p]
                r = col_rows[p]
                x0 = pre[r]
                x1 = pre[n_rows + r] if n_pre_traces > 1 else 0.0
                if events[r]:
                    x0 = 1.0 if nearest else x0 + 1.0
                    x1 = 1.0 if nearest else x1 + 1.0
                w[k] = on_post(code, w[k], params, x0, x1, post, j, n_post)


@numba.njit(cache=True)
def run(frame):
    """The kernel's work for one call frame (arguments in the order of :func:`step`; results:
    the new weights and the transmitted input)."""
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
    mp, n_m, _ = buffer(frame, FRAME_ARGS, 13)
    ow, _, _ = buffer(frame, FRAME_RETS, 0)
    oy, _, _ = buffer(frame, FRAME_RETS, 1)
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
        step(carray(address(wp), (nnz,), np.float64), events, carray(address(sp), (n_s,), np.float64),
             carray(address(xp), (n_x,), np.float64), carray(address(op), (n_o,), np.float64), post_spikes,
             row_start, row_length, targets, col_ptr, col_slots, col_rows, carray(address(pp), (n_p,), np.float64),
             meta, carray(address(ow), (nnz,), np.float64), carray(address(oy), (n_post,), np.float64))
    else:
        step(carray(address(wp), (nnz,), np.float32), events, carray(address(sp), (n_s,), np.float32),
             carray(address(xp), (n_x,), np.float32), carray(address(op), (n_o,), np.float32), post_spikes,
             row_start, row_length, targets, col_ptr, col_slots, col_rows, carray(address(pp), (n_p,), np.float32),
             meta, carray(address(ow), (nnz,), np.float32), carray(address(oy), (n_post,), np.float32))


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
