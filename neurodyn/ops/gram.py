"""Gram matrices accumulated at the machine's BLAS rate: ``G <- G + X^T X`` for a block of samples.

A ridge readout trained while a run streams (``neurodyn.sweep.Measure.ridge``) needs the normal
equations ``sum_t x(t) x(t)^T`` of its features, in float64: with a small ridge the solve
amplifies the rounding of float32 sums (measured: 0.5 % on the NRMSE of a 40-unit ESN at ridge
1e-4). XLA's float64 products on CPU are slow for this shape (a batch of ``(K x F)^T (K x F)``
products, one per sweep point: 14-25 GFLOP/s on the 2-core benchmark machine, against 130-175
for NumPy's), so on CPU :func:`accumulate_gram` is BLAS's symmetric rank-k update (``dsyrk`` /
``ssyrk``, half the multiply-adds of a general product), taken from SciPy's BLAS
(``scipy.linalg.cython_blas``) and called by XLA as a compiled C function
(:mod:`neurodyn.ops.ffi`; a :class:`~neurodyn.ops.kernel.NativeKernel`, its numba and ctypes
code in :mod:`neurodyn.ops._gram_kernel`), updating ``G`` in place. Elsewhere (other platforms, numba missing, a
failed self-check) it is XLA's product.

Threads: the batch of sweep points is split in two halves, one on the XLA worker thread that
calls the kernel and one on a thread the kernel starts (``pthread_create``) and joins before
returning, when the machine has two cores or more; each asks OpenBLAS for one thread
(``openblas_set_num_threads_local``, a thread-local setting, never restored: those threads are
the kernel's and XLA's, not the user's). OpenBLAS's own pool, waking beside XLA's threads,
stalled both on the 2-core machine whenever anything else ran (the same sweep took 3x to 10x
longer, and restoring the thread count after every call, which rebuilds the pool, was as slow);
a thread of the kernel's own does no waiting but the join. Measured on 64 points of 256 x 500
float64 rows: 58 ms per update with the split (141 GFLOP/s counted as full products, the rate
NumPy's ``x.T @ x`` reaches here with both cores: 126-135), against 115 ms on one thread.

Only the lower triangle of ``G`` is maintained (row-major; the upper triangle is left as it
was): :func:`symmetric` completes it. Under ``jax.vmap`` (over sweep points, nested or not) it is
one call that loops over the batch. Not differentiable (a measure's accumulator).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .kernel import NativeKernel


def accumulate_gram(g: jax.Array, x: jax.Array) -> jax.Array:
    """``G + X^T X`` on the lower triangle (``G_ij + sum_k x_ki x_kj`` for ``i >= j``; the
    entries above the diagonal are unspecified): ``g`` ``(F, F)``, ``x`` ``(K, F)``, both of
    one float dtype. See the module docstring."""
    if g.dtype != x.dtype or g.shape != (x.shape[1], x.shape[1]):
        raise ValueError(f"accumulate_gram: expected G of shape {(x.shape[1],) * 2} and dtype {x.dtype}, "
                         f"got {g.shape} {g.dtype}")
    return _update(g, x)


def symmetric(g: jax.Array) -> jax.Array:
    """The symmetric matrix whose lower triangle is that of ``g``."""
    low = jnp.tril(g)
    return low + jnp.tril(g, -1).T


def _update(g, x):
    backend = KERNEL.backend() if x.dtype in (jnp.float32, jnp.float64) else "jax"
    return KERNEL(None, g[None], x[None], backend=backend)[0]


def _reference(static, g, x):
    """``G_b + X_b^T X_b`` for a batch: ``g`` ``(B, F, F)``, ``x`` ``(B, K, F)`` (XLA's product)."""
    return g + jnp.einsum("bki,bkj->bij", x, x)


def _ffi_call(target, static, g, x):
    return jax.ffi.ffi_call(target, jax.ShapeDtypeStruct(g.shape, g.dtype), input_output_aliases={0: 0})(g, x)


def _vmap(static, backend, axis_size, in_batched, g, x):
    """Under ``jax.vmap`` (any depth) the new axis is folded into ``B``, so the kernel always sees
    one flat batch."""
    g = g if in_batched[0] else jnp.broadcast_to(g, (axis_size,) + g.shape)
    x = x if in_batched[1] else jnp.broadcast_to(x, (axis_size,) + x.shape)
    f, k = g.shape[-1], x.shape[-2]
    out = KERNEL.batched(static, g.reshape(-1, f, f), x.reshape(-1, k, f), backend=backend)
    return out.reshape(g.shape), True


def _handler(variant):
    from . import _gram_kernel

    return _gram_kernel.handler()


def _check_case(variant):
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((2, 5, 7)).astype(np.float32), rng.standard_normal((2, 7, 7)).astype(np.float32)
    return None, (g, x)


def _compare(got, want) -> str:
    """The lower triangles agree to float32 rounding (the upper one is unspecified)."""
    got, want = np.asarray(got), np.asarray(want)
    return "" if np.allclose(np.tril(got), np.tril(want), rtol=1e-5, atol=1e-5) else "wrong sums"


#: the BLAS rank-k update behind XLA's FFI (one target); XLA's product where it cannot serve;
#: not differentiable (a measure's accumulator)
KERNEL = NativeKernel(
    "neurodyn_gram_update", title="the BLAS Gram kernel", handler=_handler, ffi=_ffi_call, reference=_reference,
    fallback_title="XLA's product", vmap=_vmap, check=_check_case, compare=_compare, differentiable=False)
