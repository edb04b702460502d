"""The native kernels' numba functions cached on disk are compiled for plain argument types,
never for the value of a constant (numba's literal types): a constant an FFI handler passes --
an address of this process, a thread number, an argument index -- would otherwise key the disk
cache on its value, so every new process (a new address) compiled the kernel again (17 s for the
leaky recurrence, 5 s for the plasticity kernel) and the cache grew by a copy per process. The
leaky recurrence's work is a cached C function per variant that a new process loads from the
disk cache, without compiling it or the loops it calls."""

import inspect
import subprocess
import sys

import jax
import numba
import numpy as np
import scipy.sparse as sp
from numba.core import types

from neurodyn.ops.leaky_recurrence import leaky_recurrence
from neurodyn.ops.sparse_matvec import SparseMatrix


def _cached_dispatchers():
    from neurodyn.ops import _frame, _leaky_recurrence_kernel, _threads

    for module in (_frame, _threads, _leaky_recurrence_kernel):
        for name, obj in inspect.getmembers(module):
            if isinstance(obj, numba.core.registry.CPUDispatcher) and obj._cache.__class__.__name__ != "NullCache":
                yield f"{module.__name__}.{name}", obj


def test_cached_kernel_functions_have_no_literal_argument_types():
    from neurodyn.ops import _leaky_recurrence_kernel

    n = 300
    rng = np.random.default_rng(0)
    a = sp.random(n, n, 0.3, random_state=0, format="csr", data_rvs=lambda k: rng.uniform(-0.1, 0.1, k))
    w = SparseMatrix.from_scipy(a, np.float64)
    for threads in (1, 2):  # the second thread's entry passes its own constants
        out = jax.jit(lambda w, v, x: leaky_recurrence(w, v, x, 0.5, 1.0, threads=threads))(
            w, rng.normal(size=(4, n)), rng.normal(size=n))
        assert np.all(np.isfinite(np.asarray(out)))
    work = _leaky_recurrence_kernel.work(("float64", 16))
    # compiled here (a cold cache: then its loops were compiled here too and are checked below) or loaded
    assert work.cache_hits or _leaky_recurrence_kernel.run.signatures
    literal = {name: sig for name, d in _cached_dispatchers() for sig in d.signatures
               if any(isinstance(t, types.Literal) for t in sig)}
    assert not literal, literal
    # a new process loads the variant's work from the disk cache this process wrote or read
    script = ("from neurodyn.ops import _leaky_recurrence_kernel as k; w = k.work(('float64', 16)); "
              "print(w.cache_hits, len(k.run.signatures))")
    hits = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert hits == ["1", "0"]
