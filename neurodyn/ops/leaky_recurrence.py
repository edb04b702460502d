"""The leaky recurrence of a sparse reservoir over a whole input sequence, in one native call:
the harvest of large sparse echo state networks (docs/models/reservoirs.md, "Large sparse
reservoirs").

``x_t = (1 - a) x_{t-1} + a phi(g W x_{t-1} + v_t)``, t = 0 .. T-1 from ``x_{-1} = x0``, with W
sparse (:class:`~neurodyn.ops.sparse_matvec.SparseMatrix`), ``v_t`` the input term of step t
(e.g. ``g_in W_in u_t + b``, computed beforehand for all steps as one matrix product), ``phi``
tanh or the identity; the result is the ``(T, N)`` states. It is the ESN step of
:mod:`neurodyn.models.reservoir` (H. Jaeger, GMD Report 148, 2001).

A scan that calls the sparse product once per step pays, per step, the compiled loop's
iteration, an FFI call, and, on two cores, the start and join of a thread: tens of
microseconds, which at N = 500 to 2,000 are as long as the product itself. Here the T steps are
one call of a numba kernel (:mod:`neurodyn.ops._leaky_recurrence_kernel`): its second thread
is started once for the call, the two threads take chunks of rows of each step from a shared
counter (so a thread the busy machine deschedules holds the other up for one chunk only), tanh
is a vectorised approximation within a few ulp (float32: Eigen's rational one; float64: 1.25 ulp),
and column indices are sent as 16-bit numbers where the matrix has at most 65,536 columns (a
quarter fewer bytes per non-zero in float32). The result does not depend on the threads. The
definition, the fallback (other platforms, ``backend="jax"``) and the derivative are the
``jax.lax.scan`` of the formula with the segment-sum product (:func:`reference`); under
``jax.vmap`` the kernel runs once per batch member (``jax.lax.map``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .kernel import NativeKernel
from .sparse_matvec import SparseMatrix
from .sparse_matvec import reference as sparse_reference

ACTIVATIONS = {"identity": 0, "tanh": 1}


def leaky_recurrence(w: SparseMatrix, inputs: jax.Array, x0: jax.Array, leak, gain=1.0, *,
                     activation: str = "tanh", threads: int = 2, backend: str | None = None) -> jax.Array:
    """The states ``(T, N)`` of ``x_t = (1 - a) x_{t-1} + a phi(g W x_{t-1} + v_t)`` (module
    docstring): ``w`` N x N, ``inputs`` the ``(T, N)`` terms ``v_t``, ``x0`` ``(N,)``, ``leak``
    a, ``gain`` g, ``activation`` "tanh" or "identity", ``threads`` the most threads the kernel
    uses (1 or 2). Differentiable in every floating operand; batched by ``jax.vmap``;
    ``backend``: "numba" (the kernel, default on CPU) or "jax" (the scan)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"leaky_recurrence: activation must be 'tanh' or 'identity', got {activation!r}")
    n = w.shape[0]
    inputs, x0 = jnp.asarray(inputs), jnp.asarray(x0)
    if w.shape != (n, n) or x0.shape != (n,) or inputs.ndim != 2 or inputs.shape[1] != n:
        raise ValueError(f"leaky_recurrence: W {w.shape} must be square, x0 ({n},) and inputs (T, {n}); "
                         f"got x0 {x0.shape}, inputs {inputs.shape}")
    dtype = jnp.result_type(w.data, inputs, x0)
    backend = KERNEL.backend(backend, what="leaky_recurrence")
    if dtype not in (jnp.float32, jnp.float64) or w.nnz == 0:  # the kernel reads at least one value
        backend = "jax"
    scalars = jnp.stack([jnp.asarray(leak, dtype), jnp.asarray(gain, dtype)])
    return KERNEL((ACTIVATIONS[activation], int(threads)), w.data.astype(dtype), x0.astype(dtype),
                  inputs.astype(dtype), scalars, w.indptr, w.indices, w.rows, backend=backend)


def reference(static, data, x0, inputs, scalars, indptr, indices, rows) -> jax.Array:
    """The recurrence as a ``jax.lax.scan`` of the formula (the kernel's definition and derivative)."""
    activation, _ = static
    leak, gain = scalars[0], scalars[1]
    n = x0.shape[0]

    def step(x, v):
        pre = gain * sparse_reference(data, x, indices, rows, n) + v
        new = (1 - leak) * x + leak * (jnp.tanh(pre) if activation == ACTIVATIONS["tanh"] else pre)
        return new, new

    return jax.lax.scan(step, x0, inputs)[1]


def _ffi_call(target, static, data, x0, inputs, scalars, indptr, indices, rows):
    activation, threads = static
    narrow = x0.shape[0] <= 65536  # column indices fit in 16 bits
    meta = jnp.asarray([activation, threads], jnp.int32)
    return jax.ffi.ffi_call(target, jax.ShapeDtypeStruct(inputs.shape, data.dtype))(
        indptr, indices.astype(jnp.uint16) if narrow else indices, data, x0, inputs, scalars, meta)


def _vmap(static, backend, axis_size, in_batched, *operands):
    """The kernel once per batch member (``jax.lax.map``); batched structure: the scan, vmapped."""
    if any(in_batched[4:]):
        axes = [0 if b else None for b in in_batched]
        return jax.vmap(lambda *ops: reference(static, *ops), in_axes=axes, axis_size=axis_size)(*operands), True
    batched = [op for op, b in zip(operands, in_batched) if b]

    def one(members):
        members = iter(members)
        ops = [next(members) if b else op for op, b in zip(operands, in_batched)]
        return KERNEL.batched(static, *ops, backend=backend)

    return jax.lax.map(one, batched), True


def _handler(variant):
    from . import _leaky_recurrence_kernel

    return _leaky_recurrence_kernel.handler(variant)


def _check_case(variant):
    """Three steps of a small integer-valued matrix at leak 1 with the identity (exact in float32)."""
    import numpy as np

    rng = np.random.default_rng(0)
    dense = rng.integers(-1, 2, (13, 13)).astype(np.float32) * (rng.random((13, 13)) < 0.3)
    w = SparseMatrix.from_dense(dense, np.float32)
    inputs = rng.integers(-3, 4, (3, 13)).astype(np.float32)
    return ((ACTIVATIONS["identity"], 1), (w.data, np.zeros(13, np.float32), inputs, np.array([1, 1], np.float32),
                                           w.indptr, w.indices, w.rows))


#: the whole recurrence behind XLA's FFI; the scan of the formula where it cannot serve; JVP
#: from the scan
KERNEL = NativeKernel(
    "neurodyn_leaky_recurrence", title="the leaky recurrence kernel", handler=_handler, ffi=_ffi_call,
    reference=reference, vmap=_vmap, check=_check_case, fallback_title="the scan of the formula")
