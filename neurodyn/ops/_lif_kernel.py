"""The numba code behind :mod:`neurodyn.ops.lif` (imported on first use of the kernel).

The update loops are module-level ``numba.njit`` functions cached on disk (``cache=True``): an
operand shared by all neurons arrives as a number, a per-neuron one as an array, and numba
compiles (once, then loads from its cache) one specialisation per such pattern. Only the small
FFI handler that unpacks XLA's call frame is compiled per process and configuration.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.core.extending import intrinsic, overload

from . import _frame, ffi

_FAST = dict(error_model="numpy", fastmath={"contract"})


@intrinsic
def select(typingctx, c, a, b):
    """``a if c else b`` as an LLVM select (no branch: the loop vectorises)."""

    def codegen(context, builder, signature, args):
        return builder.select(args[0], args[1], args[2])

    return a(types.boolean, a, a), codegen


def _bitcast(source, target):
    @intrinsic
    def cast(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    return cast


as_f32 = _bitcast(types.int32, types.float32)
as_i32 = _bitcast(types.float32, types.int32)
as_f64 = _bitcast(types.int64, types.float64)
as_i64 = _bitcast(types.float64, types.int64)

f4, i4, f8, i8 = np.float32, np.int32, np.float64, np.int64
A2, A3, A4, A5, A6 = (f4(c) for c in (0.49999998254985173, 0.16666520862593837, 0.041667226583714814,
                                      0.008368694320449316, 0.001387968598573111))
B2, B3, B4, B5, B6, B7, B8, B9, B10, B11, B12, B13 = (f8(1.0 / math.factorial(k)) for k in range(2, 14))


@numba.njit(inline="always", **_FAST)
def exp32(x):
    """``e^x`` in float32: ``2^k p(r)``, ``k = round(x / ln 2)``, ``r = x - k ln 2`` (two-part
    ``ln 2``), ``p`` a degree-6 near-minimax polynomial (relative error 4e-9 before rounding),
    ``2^k`` built in the exponent bits; ``x`` clamped to ``[-87, 88]`` (NaN stays NaN)."""
    x = select(x > f4(88.0), f4(88.0), x)  # NaN fails both tests and stays NaN
    x = select(x < f4(-87.0), f4(-87.0), x)
    t = x * f4(1.4426950408889634) + f4(12582912.0)  # + 1.5 * 2^23: rounds x / ln 2 to an integer
    k = t - f4(12582912.0)
    r = x - k * f4(0.693145751953125) - k * f4(1.428606765330187e-06)
    r2 = r * r
    p = (A2 + A3 * r) + r2 * ((A4 + A5 * r) + r2 * A6)
    p = (f4(1.0) + r) + r2 * p
    return p * as_f32(((as_i32(t) - i4(0x4B400000)) + i4(127)) << i4(23))


@numba.njit(inline="always", **_FAST)
def exp64(x):
    """``e^x`` in float64 as :func:`exp32`, with the degree-13 Taylor polynomial (4e-18) and
    ``x`` clamped to ``[-708, 709]``."""
    x = select(x > f8(709.0), f8(709.0), x)
    x = select(x < f8(-708.0), f8(-708.0), x)
    t = x * f8(1.4426950408889634) + f8(6755399441055744.0)  # + 1.5 * 2^52
    k = t - f8(6755399441055744.0)
    r = x - k * f8(0.6931471803691238) - k * f8(1.9082149292705877e-10)
    p = B13
    p = p * r + B12
    p = p * r + B11
    p = p * r + B10
    p = p * r + B9
    p = p * r + B8
    p = p * r + B7
    p = p * r + B6
    p = p * r + B5
    p = p * r + B4
    p = p * r + B3
    p = p * r + B2
    p = (f8(1.0) + r) + r * r * p
    return p * as_f64(((as_i64(t) - i8(0x4338000000000000)) + i8(1023)) << i8(52))


def at(a, i):
    """``a[i]`` for a per-neuron array, ``a`` for a number shared by all neurons."""


@overload(at, inline="always")
def _at(a, i):
    if isinstance(a, types.Array):
        return lambda a, i: a[i]
    return lambda a, i: a


def exp_of(x):
    """:func:`exp32` or :func:`exp64` by the type of ``x``."""


@overload(exp_of, inline="always")
def _exp_of(x):
    if x == types.float32:
        return lambda x: exp32(x)
    return lambda x: exp64(x)


def unit(v):
    """1 in the dtype of the array ``v``."""


@overload(unit, inline="always")
def _unit(v):
    if v.dtype == types.float32:
        return lambda v: f4(1.0)
    return lambda v: f8(1.0)


@numba.njit(inline="always", **_FAST)
def _step(conductance, v, ref, g_e, g_i, cur, jump, inc_e, inc_i, c_m, v_rest, v_reset, v_th, t_ref, i_ext, d_e,
          d_i, e_e, e_i, dt, spike):
    one = unit(v)
    zero = one - one
    for i in range(v.shape[0]):
        ge, gi, vi, r = g_e[i], g_i[i], v[i], ref[i]
        inp = at(i_ext, i) + at(cur, i)
        if conductance:
            leak = one + ge + gi
            v_inf = (at(v_rest, i) + ge * at(e_e, i) + gi * at(e_i, i) + inp) / leak
            decay = exp_of(-leak * at(c_m, i))
        else:
            v_inf = at(v_rest, i) + ge + gi + inp
            decay = at(c_m, i)
        reset = at(v_reset, i)
        free = r <= zero
        vn = select(free, v_inf + (vi - v_inf) * decay + at(jump, i), reset)
        fired = free & (vn >= at(v_th, i))
        v[i] = select(fired, reset, vn)
        rn = r - at(dt, i)
        ref[i] = select(fired, at(t_ref, i), select(rn > zero, rn, zero))
        spike[i] = np.uint8(fired)
        g_e[i] = ge * at(d_e, i) + at(inc_e, i)
        g_i[i] = gi * at(d_i, i) + at(inc_i, i)


@numba.njit(cache=True, **_FAST)
def update_conductance(v, ref, g_e, g_i, cur, jump, inc_e, inc_i, c_m, v_rest, v_reset, v_th, t_ref, i_ext, d_e,
                       d_i, e_e, e_i, dt, spike):
    """One step of every neuron with conductance synapses (the equations of
    :mod:`neurodyn.ops.lif`): ``v``, ``ref``, ``g_e``, ``g_i`` updated in place, ``spike``
    written (0/1 bytes); each other operand a number (shared) or an array (per neuron)."""
    _step(True, v, ref, g_e, g_i, cur, jump, inc_e, inc_i, c_m, v_rest, v_reset, v_th, t_ref, i_ext, d_e, d_i, e_e,
          e_i, dt, spike)


@numba.njit(cache=True, **_FAST)
def update_current(v, ref, g_e, g_i, cur, jump, inc_e, inc_i, c_m, v_rest, v_reset, v_th, t_ref, i_ext, d_e, d_i,
                   e_e, e_i, dt, spike):
    """As :func:`update_conductance`, current synapses (``c_m`` is the membrane decay factor)."""
    _step(False, v, ref, g_e, g_i, cur, jump, inc_e, inc_i, c_m, v_rest, v_reset, v_th, t_ref, i_ext, d_e, d_i, e_e,
          e_i, dt, spike)


@intrinsic
def mask32(typingctx, flags, start):
    """The uint32 whose bit ``k`` is ``flags[start + k] != 0``, ``k < 32`` (a uint8 array): one
    32-byte load and vector compare, whose 32 lanes LLVM turns into a bit mask (AVX-512
    ``vptestmb`` + ``kmovd``; AVX2 ``vpcmpeqb`` + ``vpmovmskb``)."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        lanes = llvm_ir.VectorType(llvm_ir.IntType(8), 32)
        vector = builder.load(builder.bitcast(builder.gep(data, [args[1]]), lanes.as_pointer()), align=1)
        mask = builder.icmp_unsigned("!=", vector, llvm_ir.Constant(lanes, None))
        return builder.bitcast(mask, llvm_ir.IntType(32))  # lane k -> bit k

    return types.uint32(flags, types.int64), codegen


@numba.njit(cache=True, **_FAST)
def pack_spikes(spike, words):
    """``words[w]`` bit ``k`` = ``spike[32 w + k]`` (0/1 bytes; the bits past the last neuron 0):
    the spikes as :func:`neurodyn.ops.bits.pack_bits` packs them, while they are in L1."""
    n = spike.shape[0]
    full = n // 32
    for w in range(full):
        words[w] = mask32(spike, np.int64(32 * w))
    if n > 32 * full:
        word = np.uint32(0)
        for k in range(n - 32 * full):
            word |= np.uint32(spike[32 * full + k] != 0) << np.uint32(k)
        words[full] = word


def handler(conductance: bool, dtype: str, per_neuron: tuple):
    """The FFI handler (a ``numba.cfunc``) for one configuration: arguments ``v, ref, g_e, g_i``
    (results 0, 1, 3, 4 alias them: updated in place), one array of the operands shared by all
    neurons, then the per-neuron operands in order; result 2 the spikes, result 5 the spikes
    packed 32 to a word (:func:`pack_spikes`). Its source is written
    out for the configuration (each operand read as an array or as one number of the shared
    array; no user text enters it), so numba compiles one straight-line function that calls the
    cached update loop."""
    operands, n_shared, n_per = [], 0, 0
    for per in per_neuron:
        operands.append(f"array(frame, ARGS, {5 + n_per}, real)" if per else f"shared[{n_shared}]")
        n_per, n_shared = n_per + per, n_shared + (not per)
    major, minor = ffi.api_version()
    source = f"""
def run(frame_address):
    frame = frame_of(frame_address)
    if metadata_query(frame, {major}, {minor}):
        return 0
    v, ref, g_e, g_i = (array(frame, RETS, 0, real), array(frame, RETS, 1, real), array(frame, RETS, 3, real),
                        array(frame, RETS, 4, real))
    for k, out in ((0, v), (1, ref), (2, g_e), (3, g_i)):  # should XLA not alias them: copy first
        source = array(frame, ARGS, k, real)
        if source.ctypes.data != out.ctypes.data:
            for j in range(out.shape[0]):
                out[j] = source[j]
    shared = array(frame, ARGS, 4, real)
    spike = array(frame, RETS, 2, np.uint8)
    update(v, ref, g_e, g_i, {", ".join(operands)}, spike)
    pack(spike, array(frame, RETS, 5, np.int32).view(np.uint32))
    return 0
"""
    namespace = dict(np=np, frame_of=_frame.frame_of, metadata_query=_frame.metadata_query, array=_frame.array,
                     ARGS=ffi.FRAME_ARGS, RETS=ffi.FRAME_RETS, real=np.dtype(dtype).type)
    namespace["update"] = update_conductance if conductance else update_current
    namespace["pack"] = pack_spikes
    exec(compile(source, f"<neurodyn LIF handler {dtype} {per_neuron}>", "exec"), namespace)  # noqa: S102 - our own text
    return numba.cfunc(types.int64(types.voidptr))(namespace["run"])
