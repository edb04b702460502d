"""The numba and ctypes code behind :mod:`neurodyn.ops.gram` (imported on first use): SciPy's
BLAS ``dsyrk`` / ``ssyrk`` through ctypes, OpenBLAS's thread-local thread count, and
``pthread_create`` / ``pthread_join`` for the second half of the batch (the module docstring of
:mod:`neurodyn.ops.gram` says why)."""

from __future__ import annotations

import os

import numba
import numpy as np
from numba import carray, types

from . import ffi
from ._frame import address, buffer, dims, frame_of, metadata_query
from ._threads import pthread as _pthread


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

    import scipy

    here = os.path.dirname(scipy.__file__)
    for path in sorted(glob.glob(os.path.join(here, "..", "scipy.libs", "libscipy_openblas*.so*"))
                       + glob.glob(os.path.join(here, "..", "scipy_openblas*", "lib", "libscipy_openblas*.so*"))):
        try:
            return ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(("openblas_set_num_threads_local", ctypes.CDLL(path)))
        except (OSError, AttributeError):
            continue
    return None


def handler():
    """The FFI handler (a ``numba.cfunc``): arguments ``G`` ``(B, F, F)`` and ``X`` ``(B, K, F)``,
    result ``G`` updated in place (aliased; copied first should XLA not alias it). Compiled once
    per process, at first use: the BLAS routines and the thread functions it calls are addresses
    in this process, so it is not cached on disk (the call-frame readers of ``_frame`` are)."""
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

    return handler
