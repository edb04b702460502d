"""Where the native CPU kernels can serve: the availability checks and the one warning.

A native kernel (:class:`neurodyn.ops.kernel.NativeKernel`) is a C function compiled by numba
that XLA calls through its typed FFI. It can serve when all of these hold, checked once per
process, on the first use of any native kernel (so ``import neurodyn`` never imports numba):

* numba imports;
* the installed jaxlib's XLA FFI API has the 0.x layout the handlers read
  (:mod:`neurodyn.ops.ffi`);
* numba has a writable place for its disk cache (``NUMBA_CACHE_DIR``, the package's
  ``__pycache__`` or the user's cache directory): the kernels' loops are cached on disk
  (``cache=True``), and numba refuses to define such a function where no cache can be written
  (a read-only install with no writable ``NUMBA_CACHE_DIR``).

Where one fails, every native kernel falls back to its ``jax.numpy`` formula and
:func:`native_problem` says why, in one warning per process (:func:`warn_once`). A kernel that
fails its own self-check on first use warns once for itself. Which backend a kernel uses when
none is named is its table ``defaults`` (platform -> backend; "jax" on platforms not listed),
resolved by :func:`resolve`.
"""

from __future__ import annotations

import functools
import os
import warnings

from ..errors import SpecError
from . import ffi

#: the backend that is always there: the kernel's jax.numpy formula
JAX = "jax"
#: the native CPU kernels' backend
NUMBA = "numba"

_WARNED: set = set()


def warn_once(message: str) -> None:
    """A ``RuntimeWarning`` with ``message``, once per process."""
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _cache_probe():  # a function of this package, for numba's choice of a cache directory
    pass


@functools.cache
def numba_problem() -> str:
    """``''`` when numba imports and has a writable place for its disk cache (so functions
    compiled with ``cache=True`` can be defined), else why not. Imports numba, once."""
    try:
        import numba  # noqa: F401
    except Exception as e:  # noqa: BLE001 - not installed, or an install that does not import
        return f"numba does not import ({type(e).__name__}: {e})"
    try:
        from numba.core.caching import FunctionCache
    except ImportError:  # a numba without this module: the kernels' own import tells
        return ""
    try:
        FunctionCache(_cache_probe)  # numba's own search for a writable cache directory
    except RuntimeError:
        where = os.environ.get("NUMBA_CACHE_DIR")
        return ("numba has no writable place for its disk cache"
                + (f" (NUMBA_CACHE_DIR={where!r} cannot be written)" if where else "")
                + "; point NUMBA_CACHE_DIR at a writable directory")
    except Exception:  # noqa: BLE001 - numba's internals changed: the kernels' own import tells
        return ""
    return ""


@functools.cache
def native_problem() -> str:
    """``''`` when the native CPU kernels can serve here, else why not (the checks of the module
    docstring: :func:`numba_problem`, then the FFI layout)."""
    problem = numba_problem()
    if not problem and ffi.api_version()[0] != 0:
        problem = f"the XLA FFI API of this jaxlib is {ffi.api_version()}, not the 0.x layout the kernels read"
    return problem


def native_available() -> bool:
    """Whether the native CPU kernels can serve here; if not, says why once per process."""
    problem = native_problem()
    if problem:
        warn_once(f"neurodyn: the native CPU kernels are off: {problem}. Their jax.numpy formulas run "
                  f"instead (the same results to float rounding, slower)")
    return not problem


def resolve(what: str, requested: str | None, backends: tuple, defaults: dict, platform: str | None = None) -> str:
    """The backend ``what`` runs with: ``requested`` if given (one of ``backends``, else a
    ``SpecError`` naming them), else ``defaults[platform]`` (default: JAX's default platform;
    "jax" where the platform is not listed); "numba" becomes "jax" off the CPU or where the
    native kernels cannot serve (:func:`native_available`)."""
    if requested is not None and requested not in backends:
        raise SpecError(f"{what}: unknown backend {requested!r} (allowed: {', '.join(backends)})")
    import jax

    platform = platform or jax.default_backend()
    backend = requested or defaults.get(platform, JAX)
    if backend == NUMBA and (platform != "cpu" or not native_available()):
        return JAX
    return backend
