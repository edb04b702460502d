"""The numba code behind the event kernel of :mod:`neurodyn.ops.event` (imported on first use):
module-level functions cached on disk by numba, so a process compiles only the thin FFI handler
that :func:`handler` builds around :func:`run`."""

from __future__ import annotations

import numba
import numpy as np
from numba import carray
from numba.core.extending import overload

from . import _frame, ffi
from ._frame import address, buffer
from .ffi import FRAME_ARGS, FRAME_RETS, XLA_F64


def one_of(a):
    """1 in the dtype of the array ``a`` (an integer 1 would make numba add in float64)."""


@overload(one_of, inline="always")
def _one_of(a):
    one = a.dtype(1)
    return lambda a: one


@numba.njit(inline="always")
def add_row(e, out, out2, split, indptr, indices, w, w0, m, groups, n_pre, fixed_width):
    """Add the synapses of event ``e`` (delay group ``e // n_pre``, neuron ``e % n_pre``) to
    ``out`` (targets below ``split``) and ``out2`` (the others, from index ``split`` on)."""
    row = (e % n_pre) * groups + e // n_pre  # event (delay g, pre i) is stored as row i * groups + g
    if fixed_width > 0:  # fixed fan-out: no row pointers, row i starts at i * width
        lo = row * fixed_width
        hi = lo + fixed_width
    else:
        lo, hi = indptr[row], indptr[row + 1]
    if m == 1:  # one weight: count here, scale once at the end (the homogeneous product's ``w * count``)
        one = one_of(out)
        for k in range(lo, hi):
            t = indices[k]
            if t < split:
                out[t] += one
            else:
                out2[t - split] += one
    else:
        for k in range(lo, hi):
            t = indices[k]
            if t < split:
                out[t] += w[w0 + k]
            else:
                out2[t - split] += w[w0 + k]


@numba.njit(cache=True)
def accumulate(spikes, words, indptr, indices, w, y, y2, meta):
    """``y`` (``batch`` products side by side) from the spiking rows, in presynaptic order;
    ``meta = (groups, n_pre, batch, spikes batched, weights batched, fixed width, blocks)``.
    ``y2`` not empty (two blocks, one product): ``y`` is the first block, ``y2`` the second,
    both written here. One weight (``m = 1``): the number of spiking synapses onto each target,
    then times the weight (``w * count``, one rounding, the arithmetic of the homogeneous
    product)."""
    groups, n_pre, batch, spikes_batched, weights_batched = meta[0], meta[1], meta[2], meta[3], meta[4]
    fixed_width = np.int64(meta[5])
    n_post = y.shape[0] // batch
    m = w.shape[0] // (batch if weights_batched else 1)
    n_events = groups * n_pre
    two = y2.shape[0] > 0
    for b in range(batch):
        out = y[b * n_post:(b + 1) * n_post]
        out[:] = 0
        y2[:] = 0
        s0 = b * n_events if spikes_batched else 0
        w0 = b * m if weights_batched else 0
        first = 0
        if s0 % 8 == 0 and words.shape[0] > 0:  # skip silent stretches eight bytes at a time
            first = n_events - n_events % 8
            for word in range(s0 // 8, (s0 + first) // 8):
                if words[word] != 0:
                    for e in range(word * 8 - s0, word * 8 - s0 + 8):
                        if spikes[s0 + e]:
                            add_row(e, out, y2, n_post, indptr, indices, w, w0, m, groups, n_pre, fixed_width)
        for e in range(first, n_events):
            if spikes[s0 + e]:
                add_row(e, out, y2, n_post, indptr, indices, w, w0, m, groups, n_pre, fixed_width)
        if m == 1 and w[w0] != 1 and (meta[6] <= 1 or two):  # with more blocks, spread scales
            c = w[w0]
            for t in range(n_post):
                out[t] = c * out[t]
            for t in range(y2.shape[0]):
                y2[t] = c * y2[t]


@numba.njit(cache=True)
def spread(frame, y, w, meta):
    """With several blocks (``meta[6]``): each block of the products ``y`` (``batch`` rows of
    ``n_post``) into its result (``batch`` rows of its size), times the weight where there is
    one weight (:func:`accumulate` counted)."""
    batch, weights_batched = meta[2], meta[4]
    n_post = y.shape[0] // batch
    m = w.shape[0] // (batch if weights_batched else 1)
    offset = 0
    for j in range(meta[6] if meta[6] > 1 else 0):
        bp, n_b, _ = buffer(frame, FRAME_RETS, j)
        out = carray(address(bp), (n_b,), y.dtype)
        size = n_b // batch
        for b in range(batch):
            source, target = y[b * n_post + offset:b * n_post + offset + size], out[b * size:(b + 1) * size]
            if m == 1:
                c = w[b * m if weights_batched else 0]
                for i in range(size):  # indexed by the loop counter: no overlap check, no negative-index wrap
                    target[i] = c * source[i]
            else:
                for i in range(size):
                    target[i] = source[i]
        offset += size


@numba.njit(cache=True)
def run(frame):
    """The kernel's work for one call frame (arguments: spikes, row pointers, targets, weights,
    metadata; results: the products, one per block of the targets; with more than two blocks or
    a batch, last, a scratch buffer of ``batch x n_post`` where the products are summed before
    :func:`spread` copies each block out; two blocks of one product are summed in place)."""
    sp, n_s, _ = buffer(frame, FRAME_ARGS, 0)
    ip, n_ip, _ = buffer(frame, FRAME_ARGS, 1)
    xp, nnz, _ = buffer(frame, FRAME_ARGS, 2)
    wp, n_w, code = buffer(frame, FRAME_ARGS, 3)
    mp, n_m, _ = buffer(frame, FRAME_ARGS, 4)
    spikes = carray(address(sp), (n_s,), np.uint8)
    words = carray(address(sp), (n_s // 8 if sp % 8 == 0 else 0,), np.uint64)  # XLA aligns its buffers
    indptr = carray(address(ip), (n_ip,), np.int32)
    indices = carray(address(xp), (nnz,), np.int32)
    meta = carray(address(mp), (n_m,), np.int32)
    two = meta[6] == 2 and meta[2] == 1  # two blocks of one product: written directly, no scratch
    yp, n_y, _ = buffer(frame, FRAME_RETS, meta[6] if meta[6] > 1 and not two else 0)
    zp, n_z, _ = buffer(frame, FRAME_RETS, 1 if two else 0)
    n_z = n_z if two else 0
    if code == XLA_F64:
        w64 = carray(address(wp), (n_w,), np.float64)
        y64 = carray(address(yp), (n_y,), np.float64)
        accumulate(spikes, words, indptr, indices, w64, y64, carray(address(zp), (n_z,), np.float64), meta)
        if not two:
            spread(frame, y64, w64, meta)
    else:
        w32 = carray(address(wp), (n_w,), np.float32)
        y32 = carray(address(yp), (n_y,), np.float32)
        accumulate(spikes, words, indptr, indices, w32, y32, carray(address(zp), (n_z,), np.float32), meta)
        if not two:
            spread(frame, y32, w32, meta)


def handler():
    """The FFI handler (a ``numba.cfunc``): answers XLA's version query with the installed
    jaxlib's FFI version, else runs :func:`run` on the call frame; compiled once per process."""
    from numba import types

    major, minor = ffi.api_version()

    @numba.cfunc(types.int64(types.voidptr))
    def run_frame(frame_address):
        frame = _frame.frame_of(frame_address)
        if _frame.metadata_query(frame, major, minor):  # XLA's query at registration: the API version
            return 0
        run(frame)
        return 0  # a null XLA_FFI_Error*: success

    return run_frame
