"""Tests run in float64: reference comparisons need it. Float32 paths are exercised explicitly.

BLAS runs on one thread in the tests (``OPENBLAS_NUM_THREADS=1`` for the subprocesses the tests
start, threadpoolctl for this process, whose NumPy is already loaded when this file is read).
The suite shares its cores with XLA and, on a developer machine, with other processes; OpenBLAS's
threads then wait on each other: ``np.linalg.eigvals`` of the 500 x 500 reservoir matrix that
every 500-unit ESN spec builds took 4-6 s with two threads on a busy 2-core machine and 0.2 s
with one. The matrices in the tests are small, so one thread loses nothing. Set the variable
yourself to override it.
"""

import os
import signal
import threading

# XLA's CPU backend compiles the tests' programs without LLVM's expensive optimisation passes:
# half of the suite's time was XLA compiling (each test builds small programs and runs them for a
# few steps). The values stay those users get: the backend's code generation (instruction
# selection, with its fused multiply-adds) is unchanged and XLA never reassociates floating-point
# operations, so every bundled spec's results are identical bit for bit with and without it
# (benchmarks/check_identical.py). Level 0 would compile a little faster but drops the fused
# multiply-adds, so the tests would check other bits than users compute. Set before JAX starts
# its backend, so the command lines the tests start inherit it; a setting already in XLA_FLAGS
# is kept.
if "xla_llvm_disable_expensive_passes" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_llvm_disable_expensive_passes=true").strip()

import jax  # noqa: E402

# A suite started in the background by a non-interactive shell (`nohup pytest &`, a CI step run
# with `&`) inherits SIGINT ignored, and so do the command lines the tests start: their
# interrupt tests then wait out their timeouts on runs that never see the signal (and Python,
# correctly, leaves an inherited ignore alone). The tests run with SIGINT's default (Python's
# KeyboardInterrupt), so the processes they start get the default disposition too.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, signal.default_int_handler)

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# the command line keeps XLA's compiled programs on disk (neurodyn.compile_cache); the tests keep
# theirs in a temporary directory of their own, never in the user's ~/.cache
os.environ.setdefault("NEURODYN_CACHE_DIR", os.path.join(__import__("tempfile").gettempdir(),
                                                         f"neurodyn-tests-xla-{os.getuid()}"))
try:  # a dependency of scikit-learn, which neurodyn requires
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None
if threadpool_limits is not None:
    _BLAS_THREADS = threadpool_limits(limits=int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")

jax.config.update("jax_enable_x64", True)

# the test processes (both xdist workers) and the command lines they start share one on-disk
# cache of compiled programs: a network compiled by one test is loaded by the next that builds
# the same program (results identical: tests/test_compile_cache.py)
from neurodyn.compile_cache import enable_compilation_cache  # noqa: E402

enable_compilation_cache()
