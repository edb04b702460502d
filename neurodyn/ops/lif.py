"""One exponential-Euler step of LIF neurons with exponential synapses, as one fused kernel.

The update (:class:`neurodyn.models.spiking.SynapticLIF`; R. Brette et al., *J. Comput.
Neurosci.* 23:349, 2007, benchmarks 1 and 2), per neuron, with the synaptic variables frozen
over the step::

    conductance:  L = 1 + g_e + g_i,   V_inf = (V_rest + g_e E_e + g_i E_i + i_ext + I) / L,
                  V' = V_inf + (V - V_inf) exp(-L dt / tau_m)
    current:      V_inf = V_rest + g_e + g_i + i_ext + I,   V' = V_inf + (V - V_inf) exp(-dt / tau_m)

then a neuron that is not refractory (clock ``r <= 0``) adds its voltage jump ``J`` and spikes
at ``V' >= V_th``; a spiking neuron is reset to ``V_reset`` and its clock set to ``t_ref``, a
refractory one is held at ``V_reset`` while its clock runs down by ``dt`` (to 0); the synapses
decay exactly, ``g_e' = g_e e^{-dt/tau_e} + inc_e`` and ``g_i' = g_i e^{-dt/tau_i} + inc_i``.
Units: mV and ms.

Why a kernel: XLA compiles this update into about seven elementwise passes per population
(its CPU fusions do not merge the several outputs), each reading the state again, plus copies
of the loop-carried arrays. The numba kernel here reads every state variable once and writes it
once, in one vectorised loop (AVX2 on the benchmark machine) with its own exponential (a
degree-6 polynomial after reduction by ``ln 2``, within 1.3 ulp in float32; degree 13 in
float64, within 1.2 ulp), and no branch (selects), so a neuron costs the same whether it spikes or not.
It is a C function compiled by numba that XLA calls through its typed FFI (like the event
kernel, :mod:`neurodyn.ops.event`), specialised at trace time to the dtype, the synapse kind and
which operands are per neuron (a parameter shared by all neurons stays a scalar, read once).

``jax.vmap`` folds the batch into the neuron axis (one kernel call over ``B x n`` neurons);
``jax.jvp`` / ``jax.grad`` differentiate the JAX reference formula (:func:`reference_step`), the
same update in ``jax.numpy``, whose values agree with the kernel to float rounding (the two
exponentials differ by an ulp or two). On platforms other than the CPU, for other dtypes, or
with ``backend="jax"``, the reference formula is the step.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecError
from . import ffi

#: default backend per JAX platform; others (GPU, TPU) use "jax"
DEFAULT_BACKEND = {"cpu": "numba"}
BACKENDS = ("jax", "numba")

#: operand order of the kernel after the state (v, refractory, g_e, g_i): the inputs, then the
#: parameters as the kernel uses them (``c_m`` is dt / tau_m for conductance synapses and
#: exp(-dt / tau_m) for current synapses; ``d_e``, ``d_i`` are exp(-dt / tau_e), exp(-dt / tau_i))
INPUTS = ("current", "jump", "inc_e", "inc_i")
KERNEL_PARAMETERS = ("c_m", "v_rest", "v_reset", "v_th", "t_ref", "i_ext", "d_e", "d_i", "e_e", "e_i", "dt")


class LIFStepOutput(NamedTuple):
    """The state after a step: ``v`` (mV), refractory clock (ms), boolean spike, ``g_e``, ``g_i``."""

    v: jax.Array
    refractory: jax.Array
    spike: jax.Array
    g_e: jax.Array
    g_i: jax.Array


def kernel_parameters(p: dict, conductance: bool) -> tuple:
    """The kernel's parameters (:data:`KERNEL_PARAMETERS`) from the model's: ``tau_m``, ``v_rest``,
    ``v_reset``, ``v_th``, ``t_ref``, ``i_ext``, ``tau_e``, ``tau_i``, ``e_e``, ``e_i``, ``dt``."""
    c_m = p["dt"] / p["tau_m"] if conductance else jnp.exp(-p["dt"] / p["tau_m"])
    return (c_m, p["v_rest"], p["v_reset"], p["v_th"], p["t_ref"], p["i_ext"], jnp.exp(-p["dt"] / p["tau_e"]),
            jnp.exp(-p["dt"] / p["tau_i"]), p["e_e"], p["e_i"], p["dt"])


def reference_step(state: tuple, inputs: tuple, params: tuple, conductance: bool) -> LIFStepOutput:
    """The update of the module docstring in ``jax.numpy``: ``state = (v, refractory, g_e, g_i)``,
    ``inputs = (I, J, inc_e, inc_i)`` (arrays or scalars), ``params`` as :func:`kernel_parameters`."""
    v, ref, g_e, g_i = state
    current, jump, inc_e, inc_i = inputs
    c_m, v_rest, v_reset, v_th, t_ref, i_ext, d_e, d_i, e_e, e_i, dt = params
    inp = i_ext + current
    if conductance:
        leak = 1.0 + g_e + g_i
        v_inf = (v_rest + g_e * e_e + g_i * e_i + inp) / leak
        decay = jnp.exp(-leak * c_m)
    else:
        v_inf = v_rest + g_e + g_i + inp
        decay = c_m
    integrated = v_inf + (v - v_inf) * decay
    free = ref <= 0
    v_new = jnp.where(free, integrated + jump, v_reset)
    spike = free & (v_new >= v_th)
    v_new = jnp.where(spike, v_reset, v_new)
    ref_new = jnp.where(spike, t_ref, jnp.maximum(ref - dt, 0.0))
    return LIFStepOutput(v_new, ref_new, spike, g_e * d_e + inc_e, g_i * d_i + inc_i)


def synaptic_lif_step(state: tuple, inputs: tuple, params: tuple, *, conductance: bool,
                      backend: str | None = None) -> LIFStepOutput:
    """One step of ``n`` LIF neurons with exponential synapses (module docstring).

    ``state``: ``(v, refractory, g_e, g_i)``, arrays of shape ``(n,)``; ``inputs``:
    ``(I, J, inc_e, inc_i)``, each a scalar or ``(n,)``: the input ``R I`` (mV), the voltage jump
    (mV), the synaptic increments; ``params``: :func:`kernel_parameters` of the model, each a
    scalar or ``(n,)``. ``backend``: ``"numba"`` (the fused kernel, CPU), ``"jax"``
    (:func:`reference_step`) or None (:data:`DEFAULT_BACKEND` of the platform). Differentiable
    (through the reference formula) and vmappable.
    """
    if backend is not None and backend not in BACKENDS:
        raise SpecError(f"synaptic LIF step: backend must be one of {BACKENDS} or None, got {backend!r}")
    backend = backend or DEFAULT_BACKEND.get(jax.default_backend(), "jax")
    state = tuple(jnp.asarray(x) for x in state)
    dtype = state[0].dtype
    operands = tuple(jnp.asarray(x, dtype) if isinstance(x, (int, float)) else jnp.asarray(x) for x in (*inputs, *params))
    if (backend != "numba" or dtype not in (jnp.float32, jnp.float64) or state[0].ndim != 1
            or any(x.dtype != dtype or x.shape != state[0].shape for x in state)
            or any(x.dtype != dtype or x.shape not in ((), state[0].shape) for x in operands)
            or not _native_ok()):
        return reference_step(state, inputs, params, conductance)
    return _fused(conductance, *state, *operands)


# ---- the kernel: custom JVP (through the reference) over a custom vmap (batch folded into neurons)
@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _fused(conductance, *operands):
    return _batched(conductance, *operands)


@_fused.defjvp
def _fused_jvp(conductance, primals, tangents):
    out = _fused(conductance, *primals)

    def ref(*ops):
        return reference_step(ops[:4], ops[4:8], ops[8:], conductance)

    _, tangent = jax.jvp(ref, primals, tangents)
    return out, tangent


def _batched(conductance, *operands):
    from jax.custom_batching import custom_vmap

    @custom_vmap
    def run(*ops):
        return _native_call(conductance, ops)

    @run.def_vmap
    def run_batched(axis_size, in_batched, *ops):
        n = ops[0].shape[-1]
        flat = []
        for k, (x, batched) in enumerate(zip(ops, in_batched)):
            if k < 4 or batched or x.ndim == 1:  # state, and anything batched or per neuron: (B * n,)
                x = x if batched else jnp.broadcast_to(x, (axis_size,) + x.shape)
                flat.append(jnp.broadcast_to(x.reshape(axis_size, -1), (axis_size, n)).reshape(-1))
            else:  # a scalar shared by the whole batch stays a scalar
                flat.append(x)
        out = _batched(conductance, *flat)
        return LIFStepOutput(*(y.reshape(axis_size, n) for y in out)), LIFStepOutput(*(True,) * 5)

    return run(*operands)


def _native_call(conductance: bool, ops: tuple) -> LIFStepOutput:
    n = ops[0].shape[0]
    dtype = ops[0].dtype
    per_neuron = tuple(x.ndim == 1 for x in ops[4:])
    target = _native_target(bool(conductance), np.dtype(dtype).name, per_neuron)
    shapes = [jax.ShapeDtypeStruct((n,), dtype), jax.ShapeDtypeStruct((n,), dtype),
              jax.ShapeDtypeStruct((n,), jnp.bool_), jax.ShapeDtypeStruct((n,), dtype),
              jax.ShapeDtypeStruct((n,), dtype)]
    call = jax.ffi.ffi_call(target, shapes, vmap_method="sequential", input_output_aliases={0: 0, 1: 1, 2: 3, 3: 4})
    shared = [x.reshape(()) for x in ops[4:] if x.ndim == 0]
    shared = jnp.stack(shared) if shared else jnp.zeros((1,), dtype)
    return LIFStepOutput(*call(*ops[:4], shared, *(x for x in ops[4:] if x.ndim == 1)))


@functools.cache
def _exponentials():
    """``(exp32, exp64)``: numba functions (inlined) computing ``e^x`` as ``2^k p(r)``,
    ``k = round(x / ln 2)``, ``r = x - k ln 2`` (two-part ``ln 2``), ``p`` a degree-6 near-minimax
    polynomial (float32; relative error 4e-9 before rounding) or the degree-13 Taylor polynomial
    (float64; 4e-18), ``2^k`` built in the exponent bits. Arguments are clamped to the finite
    normal range (``[-87, 88]``, ``[-708, 709]``): below it the result is ``e^-87`` (``e^-708``)
    instead of a subnormal or 0, which as a decay factor is 0 to working precision; NaN stays NaN.
    Measured: at most 1.31 ulp in float32 over [-87, 88] (NumPy's float32 ``exp``: 2.4), 1.19 ulp in
    float64."""
    import numba
    from numba import types
    from numba.core.extending import intrinsic

    def bitcast(to):
        @intrinsic
        def cast(typingctx, x):
            def codegen(context, builder, signature, args):
                return builder.bitcast(args[0], context.get_value_type(to))

            source = {types.float32: types.int32, types.int32: types.float32,
                      types.float64: types.int64, types.int64: types.float64}[to]
            return to(source), codegen

        return cast

    @intrinsic
    def select(typingctx, c, a, b):
        def codegen(context, builder, signature, args):
            return builder.select(args[0], args[1], args[2])

        return a(types.boolean, a, a), codegen

    as_f32, as_i32, as_f64, as_i64 = (bitcast(t) for t in (types.float32, types.int32, types.float64, types.int64))
    f4, i4, f8, i8 = np.float32, np.int32, np.float64, np.int64
    a2, a3, a4, a5, a6 = (f4(c) for c in (0.49999998254985173, 0.16666520862593837, 0.041667226583714814,
                                          0.008368694320449316, 0.001387968598573111))
    b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13 = (f8(1.0 / math.factorial(k)) for k in range(2, 14))
    options = dict(inline="always", error_model="numpy", fastmath={"contract"})

    @numba.njit(**options)
    def exp32(x):
        x = select(x > f4(88.0), f4(88.0), x)  # NaN fails both tests and stays NaN
        x = select(x < f4(-87.0), f4(-87.0), x)
        t = x * f4(1.4426950408889634) + f4(12582912.0)  # + 1.5 * 2^23: rounds x / ln 2 to an integer
        k = t - f4(12582912.0)
        r = x - k * f4(0.693145751953125) - k * f4(1.428606765330187e-06)
        r2 = r * r
        p = (a2 + a3 * r) + r2 * ((a4 + a5 * r) + r2 * a6)
        p = (f4(1.0) + r) + r2 * p
        return p * as_f32(((as_i32(t) - i4(0x4B400000)) + i4(127)) << i4(23))

    @numba.njit(**options)
    def exp64(x):
        x = select(x > f8(709.0), f8(709.0), x)
        x = select(x < f8(-708.0), f8(-708.0), x)
        t = x * f8(1.4426950408889634) + f8(6755399441055744.0)  # + 1.5 * 2^52
        k = t - f8(6755399441055744.0)
        r = x - k * f8(0.6931471803691238) - k * f8(1.9082149292705877e-10)
        p = b13
        p = p * r + b12
        p = p * r + b11
        p = p * r + b10
        p = p * r + b9
        p = p * r + b8
        p = p * r + b7
        p = p * r + b6
        p = p * r + b5
        p = p * r + b4
        p = p * r + b3
        p = p * r + b2
        p = (f8(1.0) + r) + r * r * p
        return p * as_f64(((as_i64(t) - i8(0x4338000000000000)) + i8(1023)) << i8(52))

    return exp32, exp64, select


@functools.cache
def _native_target(conductance: bool, dtype: str, per_neuron: tuple) -> str:
    """Compile and register the kernel for one configuration (dtype, synapse kind, which of the
    15 inputs and parameters are per neuron); returns the FFI target name. About a second of numba
    compilation per configuration, once per process."""
    import numba
    from numba import carray, types

    address, frame_buffer, _metadata_query = ffi.frame_tools()
    exp32, exp64, select = _exponentials()
    real = np.float32 if dtype == "float32" else np.float64
    expf = exp32 if dtype == "float32" else exp64
    (p_cur, p_jump, p_inc_e, p_inc_i, p_cm, p_rest, p_reset, p_th, p_tref, p_iext, p_de, p_di, p_ee, p_ei,
     p_dt) = per_neuron
    one, zero = real(1.0), real(0.0)

    @numba.njit(inline="always")
    def at(a, i, per, scalar):
        return a[i] if per else scalar

    @numba.njit(error_model="numpy", fastmath={"contract"})
    def update(v, ref, g_e, g_i, cur, jump, inc_e, inc_i, c_m, v_rest, v_reset, v_th, t_ref, i_ext, d_e, d_i, e_e,
               e_i, dt, spike_out):  # v, ref, g_e, g_i updated in place
        s_cur, s_jump, s_inc_e, s_inc_i = cur[0], jump[0], inc_e[0], inc_i[0]
        s_cm, s_rest, s_reset, s_th, s_tref, s_iext = c_m[0], v_rest[0], v_reset[0], v_th[0], t_ref[0], i_ext[0]
        s_de, s_di, s_ee, s_ei, s_dt = d_e[0], d_i[0], e_e[0], e_i[0], dt[0]
        for i in range(v.shape[0]):
            ge, gi, vi, r = g_e[i], g_i[i], v[i], ref[i]
            inp = at(i_ext, i, p_iext, s_iext) + at(cur, i, p_cur, s_cur)
            if conductance:
                leak = one + ge + gi
                v_inf = (at(v_rest, i, p_rest, s_rest) + ge * at(e_e, i, p_ee, s_ee) + gi * at(e_i, i, p_ei, s_ei)
                         + inp) / leak
                decay = expf(-leak * at(c_m, i, p_cm, s_cm))
            else:
                v_inf = at(v_rest, i, p_rest, s_rest) + ge + gi + inp
                decay = at(c_m, i, p_cm, s_cm)
            reset = at(v_reset, i, p_reset, s_reset)
            free = r <= zero
            vn = select(free, v_inf + (vi - v_inf) * decay + at(jump, i, p_jump, s_jump), reset)
            spike = free & (vn >= at(v_th, i, p_th, s_th))
            v[i] = select(spike, reset, vn)
            rn = r - at(dt, i, p_dt, s_dt)
            ref[i] = select(spike, at(t_ref, i, p_tref, s_tref), select(rn > zero, rn, zero))
            spike_out[i] = np.uint8(spike)
            g_e[i] = ge * at(d_e, i, p_de, s_de) + at(inc_e, i, p_inc_e, s_inc_e)
            g_i[i] = gi * at(d_i, i, p_di, s_di) + at(inc_i, i, p_inc_i, s_inc_i)

    # arguments: the state (0-3), one array of the operands shared by all neurons (4), then the
    # per-neuron operands in order (fewer buffers: XLA builds every call's frame buffer by buffer)
    place = []
    n_shared = n_per = 0
    for per in per_neuron:
        place.append((True, 5 + n_per) if per else (False, n_shared))
        n_per, n_shared = n_per + per, n_shared + (not per)
    (q0, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, q13, q14) = place
    itemsize = np.dtype(real).itemsize

    @numba.njit(inline="always")
    def arg(frame, i):
        data, dims, _ = frame_buffer(frame, ffi.FRAME_ARGS, i)
        size = 1
        for d in dims:
            size *= d
        return carray(address(data), (size,), real)

    @numba.njit(inline="always")
    def operand(frame, shared, q):
        if q[0]:
            return arg(frame, q[1])
        return carray(address(shared + q[1] * itemsize), (1,), real)

    @numba.njit(inline="always")
    def ret(frame, i, kind):
        data, dims, _ = frame_buffer(frame, ffi.FRAME_RETS, i)
        return carray(address(data), (dims[0],), kind)

    @numba.cfunc(types.int64(types.voidptr))
    def handler(frame_address):
        frame = carray(frame_address, (16,), np.int64)
        if _metadata_query(frame):
            return 0
        # results 0, 1, 3, 4 alias arguments 0-3 (the state is updated in place); should XLA hand
        # over distinct buffers, the state is copied into the results first
        v, ref, g_e, g_i = ret(frame, 0, real), ret(frame, 1, real), ret(frame, 3, real), ret(frame, 4, real)
        for k, out in ((0, v), (1, ref), (2, g_e), (3, g_i)):
            source = arg(frame, k)
            if source.ctypes.data != out.ctypes.data:
                out[:] = source
        shared, _, _ = frame_buffer(frame, ffi.FRAME_ARGS, 4)
        update(v, ref, g_e, g_i, operand(frame, shared, q0), operand(frame, shared, q1), operand(frame, shared, q2),
               operand(frame, shared, q3), operand(frame, shared, q4), operand(frame, shared, q5),
               operand(frame, shared, q6), operand(frame, shared, q7), operand(frame, shared, q8),
               operand(frame, shared, q9), operand(frame, shared, q10), operand(frame, shared, q11),
               operand(frame, shared, q12), operand(frame, shared, q13), operand(frame, shared, q14),
               ret(frame, 2, np.uint8))
        return 0

    name = f"neurodyn_lif_{'cond' if conductance else 'curr'}_{dtype}_" + "".join("1" if p else "0" for p in per_neuron)
    return ffi.register_handler(name, handler)


@functools.cache
def _native_ok() -> bool:
    """Whether the kernel serves here: numba installed, the 0.x FFI layout, and a first small
    step (run eagerly) equal to the reference formula to float rounding, spikes identical;
    otherwise a warning and the reference formula."""
    import warnings

    if not ffi.numba_installed() or ffi.api_version()[0] != 0:
        return False
    with jax.ensure_compile_time_eval():  # eager, even when first used inside a trace
        return _self_check()


def _self_check() -> bool:
    import warnings

    rng = np.random.default_rng(0)
    n = 37
    state = (jnp.asarray(rng.uniform(-75, -45, n), jnp.float32), jnp.asarray(rng.choice([0.0, 0.0, 1.3], n), jnp.float32),
             jnp.asarray(rng.uniform(0, 10, n), jnp.float32), jnp.asarray(rng.uniform(0, 30, n), jnp.float32))
    params = kernel_parameters(dict(tau_m=20.0, v_rest=-60.0, v_reset=-60.0, v_th=-50.0, t_ref=5.0, i_ext=20.0,
                                    tau_e=5.0, tau_i=10.0, e_e=0.0, e_i=-80.0, dt=0.1), True)
    params = tuple(jnp.asarray(p, jnp.float32) for p in params)
    inputs = (jnp.float32(0), jnp.float32(0), jnp.asarray(rng.uniform(0, 5, n), jnp.float32),
              jnp.asarray(rng.uniform(0, 5, n), jnp.float32))  # the COBA network's configuration
    try:
        got = _fused(True, *state, *inputs, *params)
    except Exception as e:  # noqa: BLE001 - any failure means: do not use this kernel
        warnings.warn(f"neurodyn: the numba LIF kernel failed its self-check ({e}); using the JAX formula",
                      RuntimeWarning, stacklevel=3)
        return False
    want = reference_step(state, inputs, params, True)
    same = all(np.allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-5) for a, b in zip(got, want))
    if not same or not np.array_equal(np.asarray(got.spike), np.asarray(want.spike)):
        warnings.warn("neurodyn: the numba LIF kernel failed its self-check (wrong values); using the JAX formula",
                      RuntimeWarning, stacklevel=3)
        return False
    return True
