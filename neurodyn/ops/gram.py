"""Gram matrices accumulated at the machine's BLAS rate: ``G <- G + X^T X`` for a block of samples.

A ridge readout trained while a run streams (``neurodyn.sweep.Measure.ridge``) needs the normal
equations ``sum_t x(t) x(t)^T`` of its features, in float64: with a small ridge the solve
amplifies the rounding of float32 sums (measured: 0.5 % on the NRMSE of a 40-unit ESN at ridge
1e-4). XLA's float64 products on CPU are slow for this shape (a batch of ``(K x F)^T (K x F)``
products, one per sweep point: 14-25 GFLOP/s on the 2-core benchmark machine, against 130-175
for NumPy's), so on CPU :func:`accumulate_gram` is BLAS's symmetric rank-k update (``dsyrk`` /
``ssyrk``, half the multiply-adds of a general product), taken from SciPy's BLAS
(``scipy.linalg.cython_blas``) and called by XLA as a compiled C function
(:mod:`neurodyn.ops.ffi`), updating ``G`` in place. Elsewhere (other platforms, numba missing, a
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

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap

from . import ffi

_TARGET = "neurodyn_gram_update"


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
    return _batched(g[None], x[None])[0]


@custom_vmap
def _batched(g, x):
    """``G_b + X_b^T X_b`` for a batch: ``g`` ``(B, F, F)``, ``x`` ``(B, K, F)``. Under ``jax.vmap``
    (any depth) the new axis is folded into ``B``, so the kernel always sees one flat batch."""
    if jax.default_backend() == "cpu" and x.dtype in (jnp.float32, jnp.float64) and _kernel_ok():
        call = jax.ffi.ffi_call(_target(), jax.ShapeDtypeStruct(g.shape, g.dtype), input_output_aliases={0: 0})
        return call(g, x)
    return g + jnp.einsum("bki,bkj->bij", x, x)


@_batched.def_vmap
def _batched_vmap(axis_size, in_batched, g, x):
    g = g if in_batched[0] else jnp.broadcast_to(g, (axis_size,) + g.shape)
    x = x if in_batched[1] else jnp.broadcast_to(x, (axis_size,) + x.shape)
    f, k = g.shape[-1], x.shape[-2]
    out = _batched(g.reshape(-1, f, f), x.reshape(-1, k, f))
    return out.reshape(g.shape), True


def _blas_routine(name: str):
    """A ctypes function of SciPy's Fortran BLAS routine ``name`` (pointer arguments)."""
    import ctypes

    import scipy.linalg.cython_blas as blas

    capsule = blas.__pyx_capi__[name]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype, api.PyCapsule_GetName.argtypes = ctypes.c_char_p, [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    return ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * 10))(address)


def _thread_setter():
    """A ctypes function ``f(n) -> previous`` setting the number of threads OpenBLAS uses for calls
    from the calling thread (``openblas_set_num_threads_local``, OpenBLAS >= 0.3.27), from the
    OpenBLAS that SciPy's BLAS is; a function that does nothing when it is not found."""
    import ctypes
    import glob
    import os

    import scipy

    here = os.path.dirname(scipy.__file__)
    for path in sorted(glob.glob(os.path.join(here, "..", "scipy.libs", "libscipy_openblas*.so*"))
                       + glob.glob(os.path.join(here, "..", "scipy_openblas*", "lib", "libscipy_openblas*.so*"))):
        try:
            return ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(("openblas_set_num_threads_local", ctypes.CDLL(path)))
        except (OSError, AttributeError):
            continue
    return None


def _pthread():
    """ctypes ``pthread_create`` and ``pthread_join`` of the C library (``(None, None)`` if absent)."""
    import ctypes
    import ctypes.util

    for name in (None, ctypes.util.find_library("pthread")):
        try:
            lib = ctypes.CDLL(name)
            create = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                      ctypes.c_void_p)(("pthread_create", lib))
            join = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_void_p)(("pthread_join", lib))
            return create, join
        except (OSError, AttributeError, TypeError):
            continue
    return None, None


@functools.cache
def _target() -> str:
    """Compile the kernel with numba as a C function XLA calls (typed FFI) and register it; once
    per process, at first use."""
    import numba
    from numba import carray, types

    from ._frame import address, buffer, dims, frame_of, metadata_query

    major, minor = ffi.api_version()
    dsyrk, ssyrk = _blas_routine("dsyrk"), _blas_routine("ssyrk")
    threads = _thread_setter()

    if threads is not None:
        @numba.njit(inline="always")
        def one_thread():
            threads(1)
    else:
        @numba.njit(inline="always")
        def one_thread():
            pass

    @numba.njit
    def span(xp, outp, lo, hi, k, f, dtype, syrk, scalars):
        """``syrk`` on points ``lo <= i < hi`` of the batch, in place on ``out``."""
        ints = np.array([f, k, f, f], np.int32)
        one = np.ones(2, dtype)
        flags = np.array([ord("U"), ord("N")], np.uint8)  # column-major upper = row-major lower
        one_thread()
        for i in range(lo, hi):
            syrk(flags[0:].ctypes.data, flags[1:].ctypes.data, ints[0:].ctypes.data, ints[1:].ctypes.data,
                 one[0:].ctypes.data, xp + i * k * f * scalars, ints[2:].ctypes.data, one[1:].ctypes.data,
                 outp + i * f * f * scalars, ints[3:].ctypes.data)

    @numba.njit
    def run_span(task):
        xp, outp, lo, hi, k, f, code = task[0], task[1], task[2], task[3], task[4], task[5], task[6]
        if code == ffi.XLA_F64:
            span(xp, outp, lo, hi, k, f, np.float64, dsyrk, 8)
        else:
            span(xp, outp, lo, hi, k, f, np.float32, ssyrk, 4)

    @numba.cfunc(types.voidptr(types.voidptr))
    def helper(task_address):
        run_span(carray(task_address, (7,), np.int64))
        return task_address

    helper_address = helper.address
    spawn, join = _pthread()
    split = spawn is not None and (os.cpu_count() or 1) >= 2  # a second thread only where a second core is

    @numba.cfunc(types.int64(types.voidptr))
    def handler(frame_address):
        frame = frame_of(frame_address)
        if metadata_query(frame, major, minor):
            return 0
        gp, _, code = buffer(frame, ffi.FRAME_ARGS, 0)
        xp, _, _ = buffer(frame, ffi.FRAME_ARGS, 1)
        xd = dims(frame, ffi.FRAME_ARGS, 1)
        outp, _, _ = buffer(frame, ffi.FRAME_RETS, 0)
        b, k, f = xd[0], xd[1], xd[2]
        if outp != gp:
            scalars = 8 if code == ffi.XLA_F64 else 4
            size = b * f * f * scalars
            out, source = carray(address(outp), (size,), np.uint8), carray(address(gp), (size,), np.uint8)
            for j in range(size):  # a loop: a slice copy's shape-check path costs seconds of compilation
                out[j] = source[j]
        half = b // 2 if split and b >= 2 else 0
        # points [half, b) on a second thread, [0, half) here; one array holds both tasks and is
        # read after the join, so it outlives the helper (numba frees an array after its last use)
        tasks = np.array([[xp, outp, 0, half, k, f, code], [xp, outp, half, b, k, f, code]], np.int64)
        thread = np.zeros(1, np.uint64)
        started = half > 0 and spawn(thread.ctypes.data, 0, helper_address, tasks[1:].ctypes.data) == 0
        run_span(tasks[0])  # empty when half is 0
        if started:
            join(thread[0], 0)
        else:
            run_span(tasks[1])
        return 0 if tasks[1, 3] == b else 1

    return ffi.register_handler(_TARGET, handler)


@functools.cache
def _kernel_ok() -> bool:
    """Whether the BLAS kernel serves here: numba installed, an FFI API of the 0.x layout, and at
    first use a small update equal to NumPy's to rounding (run eagerly); otherwise a warning and
    XLA's product."""
    import warnings

    if not ffi.numba_installed() or ffi.api_version()[0] != 0:
        return False
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((2, 5, 7)).astype(np.float32), rng.standard_normal((2, 7, 7)).astype(np.float32)
    try:
        with jax.ensure_compile_time_eval():
            out = np.asarray(jax.ffi.ffi_call(_target(), jax.ShapeDtypeStruct(g.shape, g.dtype))(
                jnp.asarray(g), jnp.asarray(x)))
    except Exception as e:  # noqa: BLE001 - any failure means: do not use this kernel
        warnings.warn(f"neurodyn: the BLAS Gram kernel failed its self-check ({e}); using XLA's product",
                      RuntimeWarning, stacklevel=3)
        return False
    expected = g + np.einsum("bki,bkj->bij", x, x)
    if not np.allclose(np.tril(out[0]), np.tril(expected[0]), rtol=1e-5, atol=1e-5) or not np.allclose(
            np.tril(out[1]), np.tril(expected[1]), rtol=1e-5, atol=1e-5):
        warnings.warn("neurodyn: the BLAS Gram kernel failed its self-check (wrong sums); using XLA's product",
                      RuntimeWarning, stacklevel=3)
        return False
    return True
