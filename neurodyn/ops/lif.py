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
of the loop-carried arrays: 5.7 us per step for the 4,000 neurons of the COBA benchmark on the
2-core machine. The numba kernel here reads every state variable once and writes it once, in
place, in one vectorised loop (AVX2 on that machine) with its own exponential (a degree-6
polynomial after reduction by ``ln 2``, within 1.3 ulp in float32; degree 13 in float64, within
1.2 ulp) and no branch (selects), so a neuron costs the same whether it spikes or not: 3.6 us
(``python -m benchmarks coba``). It is a C function compiled by numba that XLA calls through its
typed FFI (:data:`KERNEL`, a :class:`~neurodyn.ops.kernel.NativeKernel`, like the event kernel of
:mod:`neurodyn.ops.event`), specialised to the dtype, the
synapse kind and which operands are per neuron (a parameter shared by all neurons stays one
number). The update loops live in :mod:`neurodyn.ops._lif_kernel`, cached on disk by numba; a
process compiles only the thin handler around them (0.3-1 s per configuration, the call-frame
readers of :mod:`neurodyn.ops._frame` being cached as well).

``jax.vmap`` folds the batch into the neuron axis (one kernel call over ``B x n`` neurons);
``jax.jvp`` / ``jax.grad`` differentiate the JAX reference formula (:func:`reference_step`), the
same update in ``jax.numpy``, whose values agree with the kernel to float rounding (the two
exponentials differ by an ulp or two). On platforms other than the CPU, for other dtypes, or
with ``backend="jax"``, the reference formula is the step.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .bits import attach_words, pack_bits
from .kernel import NativeKernel

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


class _KernelOutput(NamedTuple):
    """What the kernel returns: :class:`LIFStepOutput` and the spikes packed 32 to a uint32 word
    (:func:`neurodyn.ops.bits.pack_bits` of ``spike``, written by the kernel while the spikes are
    in L1 and attached to them, so a recorder of the spikes stores these words)."""

    v: jax.Array
    refractory: jax.Array
    spike: jax.Array
    g_e: jax.Array
    g_i: jax.Array
    words: jax.Array


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
    v_new, ref_new, spike = fire_and_reset(v_inf + (v - v_inf) * decay, ref, jump, v_reset, v_th, t_ref, dt)
    return LIFStepOutput(v_new, ref_new, spike, g_e * d_e + inc_e, g_i * d_i + inc_i)


def fire_and_reset(integrated, refractory, jump, v_reset, v_th, t_ref, dt) -> tuple:
    """``(v, refractory, spike)`` after a step of any LIF neuron: a refractory neuron (clock > 0)
    is held at ``v_reset`` while its clock runs down by ``dt`` (to 0); a free one takes its
    integrated potential plus the voltage jump ``jump``, spikes at ``v >= v_th``, is reset to
    ``v_reset`` and its clock set to ``t_ref``."""
    free = refractory <= 0
    v = jnp.where(free, integrated + jump, v_reset)
    spike = free & (v >= v_th)
    return jnp.where(spike, v_reset, v), jnp.where(spike, t_ref, jnp.maximum(refractory - dt, 0.0)), spike


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
    backend = KERNEL.backend(backend, what="synaptic LIF step")
    state = tuple(jnp.asarray(x) for x in state)
    dtype = state[0].dtype
    operands = tuple(jnp.asarray(x, dtype) if isinstance(x, (int, float)) else jnp.asarray(x) for x in (*inputs, *params))
    if (backend != "numba" or dtype not in (jnp.float32, jnp.float64) or state[0].ndim != 1
            or any(x.dtype != dtype or x.shape != state[0].shape for x in state)
            or any(x.dtype != dtype or x.shape not in ((), state[0].shape) for x in operands)):
        return reference_step(state, inputs, params, conductance)
    out = KERNEL(bool(conductance), *state, *operands, backend=backend)
    attach_words(out.spike, out.words)  # recording these spikes stores the kernel's words
    return LIFStepOutput(*out[:5])


# ---- the kernel: JVP through the reference, vmap folding the batch into the neurons ------------
def _reference(conductance: bool, *ops) -> _KernelOutput:
    out = reference_step(ops[:4], ops[4:8], ops[8:], conductance)
    return _KernelOutput(*out, pack_bits(out.spike))


def _variant(conductance: bool, *ops) -> tuple:
    """What is compiled: synapse kind, dtype, which of the 15 inputs and parameters are per neuron."""
    return ("cond" if conductance else "curr", np.dtype(ops[0].dtype).name, tuple(x.ndim == 1 for x in ops[4:]))


def _handler(variant: tuple):
    from . import _lif_kernel

    kind, dtype, per_neuron = variant
    return _lif_kernel.handler(kind == "cond", dtype, per_neuron)


def _vmap(conductance, backend, axis_size, in_batched, *ops):
    """Fold the batch into the neuron axis: one kernel call over ``B x n`` neurons (a scalar
    shared by the whole batch stays a scalar)."""
    n = ops[0].shape[-1]
    flat = []
    for k, (x, batched) in enumerate(zip(ops, in_batched)):
        if k < 4 or batched or x.ndim == 1:  # state, and anything batched or per neuron: (B * n,)
            x = x if batched else jnp.broadcast_to(x, (axis_size,) + x.shape)
            flat.append(jnp.broadcast_to(x.reshape(axis_size, -1), (axis_size, n)).reshape(-1))
        else:  # a scalar shared by the whole batch stays a scalar
            flat.append(x)
    out = KERNEL.batched(conductance, *flat, backend=backend)
    out = LIFStepOutput(*(y.reshape(axis_size, n) for y in out[:5]))
    return _KernelOutput(*out, jax.vmap(pack_bits)(out.spike)), _KernelOutput(*(True,) * 6)


def _ffi_call(target: str, conductance: bool, *ops) -> _KernelOutput:
    """The FFI call: the state (updated in place: results 0, 1, 3, 4 alias arguments 0-3), the
    operands shared by all neurons stacked into one array (XLA builds a call's frame buffer by
    buffer, about 25 ns each), then the per-neuron operands; result 5 the packed spikes."""
    n, dtype = ops[0].shape[0], ops[0].dtype
    shapes = [jax.ShapeDtypeStruct((n,), dtype), jax.ShapeDtypeStruct((n,), dtype),
              jax.ShapeDtypeStruct((n,), jnp.bool_), jax.ShapeDtypeStruct((n,), dtype),
              jax.ShapeDtypeStruct((n,), dtype), jax.ShapeDtypeStruct((-(-n // 32),), jnp.uint32)]
    call = jax.ffi.ffi_call(target, shapes, vmap_method="sequential", input_output_aliases={0: 0, 1: 1, 2: 3, 3: 4})
    shared = [x.reshape(()) for x in ops[4:] if x.ndim == 0]
    shared = jnp.stack(shared) if shared else jnp.zeros((1,), dtype)
    return _KernelOutput(*call(*ops[:4], shared, *(x for x in ops[4:] if x.ndim == 1)))


#: operand values of the self-check (inputs, then kernel parameters, conductance synapses)
_CHECK = (2.0, 1.0, 1.0, 1.0, 0.005, -60.0, -60.0, -50.0, 5.0, 20.0, 0.98, 0.99, 0.0, -80.0, 0.1)


def _check_case(variant: tuple) -> tuple:
    """37 neurons, some refractory, some spiking, every operand of the configuration varied."""
    kind, dtype, per_neuron = variant
    rng = np.random.default_rng(0)
    n = 37
    state = tuple(np.asarray(x, dtype) for x in (rng.uniform(-75, -40, n), rng.choice([0.0, 0.0, 1.3], n),
                                                 rng.uniform(0, 10, n), rng.uniform(0, 30, n)))
    values = list(_CHECK)
    if kind == "curr":
        values[4] = 0.995  # the membrane decay factor
    ops = tuple(np.asarray(v * rng.uniform(0.5, 1.5, n) if per else v, dtype) for v, per in zip(values, per_neuron))
    return kind == "cond", state + ops


#: the fused LIF step (the module docstring): one FFI target per synapse kind, dtype and pattern
#: of per-neuron operands, compiled on first use (its update loop cached on disk by numba)
KERNEL = NativeKernel(
    "neurodyn_lif", title="the numba LIF kernel", handler=_handler, ffi=_ffi_call, reference=_reference,
    variant=_variant, vmap=_vmap, check=_check_case,
    tolerance={"float32": (1e-5, 1e-4), "float64": (1e-12, 1e-10)})
#: default backend per JAX platform; others (GPU, TPU) use "jax"
DEFAULT_BACKEND = KERNEL.defaults
BACKENDS = KERNEL.backends
