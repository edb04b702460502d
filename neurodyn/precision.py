"""Floating-point precision of a process: switched once at the entry point, never inside a library call.

JAX computes in float32 unless 64-bit mode is on, and the switch is global to the process, so
neurodyn leaves it to the program: the ``neurodyn`` command line switches it from the spec's
``precision`` before building anything, and a script calls :func:`set_precision` first.
"""

from __future__ import annotations

import math

import jax
import numpy as np

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


def check_representable(data, precision: str, path: str = "") -> None:
    """Raise :class:`~neurodyn.errors.SpecError` naming the first number of a spec table
    ``data`` (nested tables and lists, walked in order) whose magnitude is finite but larger
    than the largest number of ``precision`` (float32: 3.4e38, IEEE 754 binary32), so it would
    become infinite when the spec's arrays are made (``inf`` itself is left to the fields'
    own checks)."""
    largest = float(np.finfo(precision).max)

    def walk(value, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}" if where else str(key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        elif isinstance(value, float) and math.isfinite(value) and abs(value) > largest:
            raise SpecError(f"{where}: {value:g} is beyond the largest {precision} number ({largest:.3g}) of this "
                            f"{precision} spec; give a smaller value, or precision = \"float64\"")

    walk(data, path)
