"""Floating-point precision of a process: switched once at the entry point, never inside a library call.

JAX computes in float32 unless 64-bit mode is on, and the switch is global to the process, so
neurodyn leaves it to the program: the ``neurodyn`` command line switches it from the spec's
``precision`` before building anything, and a script calls :func:`set_precision` first.
"""

from __future__ import annotations

import jax

from .errors import SpecError

PRECISIONS = ("float32", "float64")


def set_precision(precision: str) -> None:
    """Compute in ``"float64"`` (JAX's 64-bit mode on) or ``"float32"`` (off, JAX's default).

    Call it before creating arrays: arrays made before keep their dtype.
    """
    if precision not in PRECISIONS:
        raise SpecError(f"precision: unknown value {precision!r} (allowed: {', '.join(PRECISIONS)})")
    jax.config.update("jax_enable_x64", precision == "float64")


def x64_enabled() -> bool:
    """Whether float64 arrays can be made (JAX's 64-bit mode is on)."""
    return bool(jax.config.jax_enable_x64)
