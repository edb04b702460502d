"""The numba side of the kernels generated from equation models (imported on first use).

:mod:`neurodyn.models.equations.native` renders a model's parsed, checked trees as the Python
source of one per-neuron update loop (no user text enters it: names come out of the whitelisted
trees, prefixed, numbers as ``repr`` of floats). :func:`loop` compiles that source with numba:
it is written once to a file named by the SHA-256 of its text, in a directory under numba's
cache (``NUMBA_CACHE_DIR``, else the user's cache directory), and imported from there, so numba
caches the compiled loop on disk like the hand-written kernels' loops (a file is never rewritten:
its modification time is numba's cache key). Where no such file can be written, the loop is
compiled from the text in memory, uncached. :func:`handler` builds the FFI handler around a loop,
as :func:`neurodyn.ops._lif_kernel.handler` does for the LIF kernel.

The loops use the branch-free helpers of :mod:`neurodyn.ops._lif_kernel` (``select``,
its polynomial exponential) and the helpers below, one per function of the equation syntax that
is not in numba's ``math``; ``expm1`` and ``exprel`` are polynomials too (the C library's
``expm1`` is a call per number that stops the loop's vectorisation: 3,200 Traub–Miles cells took
1.2 ms per step with it, 17 us without).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import os
import sys

import numba
import numpy as np
from numba import types
from numba.core.extending import overload

from . import _frame, ffi
from ._lif_kernel import exp_of, select

#: numba's options of the loops: NumPy's division semantics (no ZeroDivisionError checks, which
#: would stop vectorisation) and, of fast-math, only the contraction of ``a * b + c`` into a fused
#: multiply-add, which XLA's CPU code does too: without it the loop rounds differently from the
#: JAX step (with it, the Izhikevich loop gives the JAX step's bits in float64)
_EXACT = dict(error_model="numpy", fastmath={"contract"})

#: the names a generated loop may use, besides its own locals
NAMESPACE = "from neurodyn.ops._equation_kernel import *\n"


def like(x, c):
    """The number ``c`` in the type of ``x`` (float32 or float64)."""


@overload(like, inline="always")
def _like(x, c):
    if x == types.float32:
        return lambda x, c: np.float32(c)
    return lambda x, c: np.float64(c)


@numba.njit(inline="always", **_EXACT)
def maximum(a, b):
    """``jnp.maximum`` for numbers that are not NaN."""
    return select(a >= b, a, b)


@numba.njit(inline="always", **_EXACT)
def minimum(a, b):
    """``jnp.minimum`` for numbers that are not NaN."""
    return select(a <= b, a, b)


@numba.njit(inline="always", **_EXACT)
def clip(x, lo, hi):
    """``jnp.clip``: ``minimum(maximum(x, lo), hi)``."""
    return minimum(maximum(x, lo), hi)


@numba.njit(inline="always", **_EXACT)
def sign(x):
    """``jnp.sign``: -1, 0 or 1 (NaN stays NaN)."""
    one = like(x, 1.0)
    return select(x > 0, one, select(x < 0, -one, x))


@numba.njit(inline="always", **_EXACT)
def sigmoid(x):
    """``1 / (1 + e^{-x})``."""
    one = like(x, 1.0)
    return one / (one + exp_of(-x))


_F32 = tuple(np.float32(1.0 / math.factorial(k + 1)) for k in range(9))
_F64 = tuple(np.float64(1.0 / math.factorial(k + 1)) for k in range(17))


def _horner(name: str, coefficients: tuple):
    """An inlined numba function evaluating the polynomial with these coefficients (lowest
    first) by Horner's rule, written out (a loop over a tuple would not vectorise)."""
    lines = [f"    p = c{len(coefficients) - 1}"] + [f"    p = p * x + c{k}" for k in range(len(coefficients) - 2, -1, -1)]
    namespace = {f"c{k}": c for k, c in enumerate(coefficients)}
    exec(compile(f"def {name}(x):\n" + "\n".join(lines) + "\n    return p\n", f"<{name}>", "exec"), namespace)  # noqa: S102
    return numba.njit(inline="always", **_EXACT)(namespace[name])


_series32, _series64 = _horner("series32", _F32), _horner("series64", _F64)


def _series(x):
    """``sum_k x^k / (k + 1)!`` for ``|x| <= 1/2``: degree 8 in float32, 16 in float64 (the first
    term left out is below 2^-24, 2^-53 of the sum)."""


@overload(_series, inline="always")
def _series_of(x):
    if x == types.float32:
        return lambda x: _series32(x)
    return lambda x: _series64(x)


@numba.njit(inline="always", **_EXACT)
def exprel(x):
    """``(e^x - 1) / x``, 1 at 0 (:func:`neurodyn.models.equations.system.exprel`), branch-free so
    that the loop vectorises (the C library's ``expm1`` is a call per number, 20 ns): its series
    for ``|x| <= 1/2``, ``(e^x - 1) / x`` with the polynomial ``e^x`` beyond (where the
    subtraction loses under 2 bits)."""
    one = like(x, 1.0)
    small = abs(x) <= like(x, 0.5)
    series = _series(select(small, x, like(x, 0.0)))
    return select(small, series, (exp_of(x) - one) / select(small, one, x))


@numba.njit(inline="always", **_EXACT)
def expm1(x):
    """``e^x - 1``: ``x exprel(x)`` for ``|x| <= 1/2``, ``e^x - 1`` beyond (as :func:`exprel`)."""
    small = abs(x) <= like(x, 0.5)
    return select(small, x * _series(select(small, x, like(x, 0.0))), exp_of(x) - like(x, 1.0))


__all__ = ["clip", "exp_of", "expm1", "exprel", "like", "math", "maximum", "minimum", "np", "select", "sigmoid", "sign"]


@functools.cache
def _helpers_digest() -> str:
    """A digest of the helpers' sources: a changed helper gives the loops new files (numba's
    cache would not see a change in an inlined function of another module)."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for name in ("_equation_kernel.py", "_lif_kernel.py"):
        with open(os.path.join(here, name), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:16]


def _directory() -> str | None:
    """A writable directory for the generated sources, or None."""
    root = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "neurodyn")
    where = os.path.join(root, "neurodyn_equations")
    try:
        os.makedirs(where, exist_ok=True)
    except OSError:
        return None
    return where if os.access(where, os.W_OK) else None


@functools.lru_cache(maxsize=None)
def loop(source: str):
    """The ``numba.njit`` function ``update`` of the generated ``source`` (cached on disk by numba
    where a file can be written; see the module docstring)."""
    text = f"# helpers {_helpers_digest()}\n" + NAMESPACE + source
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    name = f"neurodyn_equation_{digest}"
    where = _directory()
    if where is not None:
        path = os.path.join(where, name + ".py")
        try:
            if not os.path.exists(path):
                temporary = f"{path}.{os.getpid()}.tmp"
                with open(temporary, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(temporary, path)  # another process may write the same text: either wins
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # numba's cache finds the function's module by name
            spec.loader.exec_module(module)
            return numba.njit(cache=True, **_EXACT)(module.update)
        except Exception:  # noqa: BLE001 - an unwritable or odd cache: compile uncached below
            sys.modules.pop(name, None)
    namespace: dict = {}
    exec(compile(text, f"<{name}>", "exec"), namespace)  # noqa: S102 - our own text, from the parsed trees
    return numba.njit(**_EXACT)(namespace["update"])


def handler(source: str, dtype: str, n_state: int, per_neuron: tuple, flag: bool = False):
    """The FFI handler (a ``numba.cfunc``) of the generated loop ``source``: arguments the
    ``n_state`` state arrays (results ``0 .. n_state - 1`` alias them: updated in place; the last
    one 0/1 bytes if ``flag``), one array of the operands shared by all neurons, then the
    per-neuron operands in order; result ``n_state`` the spikes (0/1 bytes)."""
    operands, n_shared, n_per = [], 0, 0
    for per in per_neuron:
        operands.append(f"array(frame, ARGS, {n_state + 1 + n_per}, real)" if per else f"shared[{n_shared}]")
        n_per, n_shared = n_per + per, n_shared + (not per)
    state = ", ".join(f"s{k}" for k in range(n_state))
    major, minor = ffi.api_version()
    kinds = ["real"] * n_state
    if flag:
        kinds[-1] = "np.uint8"
    reads = "\n".join(f"    s{k} = array(frame, RETS, {k}, {kind})\n"
                      f"    copy(array(frame, ARGS, {k}, {kind}), s{k})" for k, kind in enumerate(kinds))
    text = f"""
def run(frame_address):
    frame = frame_of(frame_address)
    if metadata_query(frame, {major}, {minor}):
        return 0
{reads}
    shared = array(frame, ARGS, {n_state}, real)
    update({state}, array(frame, RETS, {n_state}, np.uint8), {", ".join(operands)})
    return 0
"""
    namespace = dict(np=np, frame_of=_frame.frame_of, metadata_query=_frame.metadata_query, array=_frame.array,
                     copy=_copy, ARGS=ffi.FRAME_ARGS, RETS=ffi.FRAME_RETS, real=np.dtype(dtype).type,
                     update=loop(source))
    exec(compile(text, f"<neurodyn equation handler {dtype} {per_neuron}>", "exec"), namespace)  # noqa: S102
    return numba.cfunc(types.int64(types.voidptr))(namespace["run"])


@numba.njit(cache=True)
def _copy(source, out):
    """``out[:] = source`` unless XLA aliased them (the same buffer)."""
    if source.ctypes.data != out.ctypes.data:
        for j in range(out.shape[0]):
            out[j] = source[j]
