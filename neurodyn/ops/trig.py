"""Vectorisable ``sincos``: sine and cosine from one range reduction.

XLA's CPU ``sin``/``cos`` run at about 2.6 ns per float32 element on the 2-core test machine
(NumPy's SIMD ``sin`` takes 0.7 ns), which made every phase-oscillator step transcendental-bound.
This implementation is plain arithmetic, so XLA fuses and vectorises it with the rest of the
step: Cody–Waite reduction by pi/2 (three-part constant, exact products for ``|x| < 2^20 pi/2``
in float64 and ``|x| < 2^12`` in float32 beyond which accuracy degrades gradually), then the
fdlibm minimax kernels (float64; ``__kernel_sin``/``__kernel_cos``, Sun Microsystems 1993) or the
Cephes ``sinf``/``cosf`` kernels (float32; S. L. Moshier) on ``[-pi/4, pi/4]`` and a quadrant
swap. Accuracy (tests/ops/test_trig.py): within 2 ulp-scale of NumPy for float64 phases up to
1e5 rad.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_TWO_OVER_PI = 0.63661977236758134308
# pi/2 = P1 + P2 + P3 with P1, P2 short enough that j * P1, j * P2 are exact
_F64 = (1.57079632673412561417e00, 6.07710050630396597660e-11, 2.02226624871116645580e-21)
_F32 = (1.5703125, 4.837512969970703125e-4, 7.54978995489188216e-8)
_SIN64 = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
          2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
_COS64 = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
          -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)
_SIN32 = (-1.6666654611e-1, 8.3321608736e-3, -1.9515295891e-4)
_COS32 = (4.166664568298827e-2, -1.388731625493765e-3, 2.443315711809948e-5)


def _poly(z, coeffs):
    acc = jnp.asarray(coeffs[-1], z.dtype)
    for c in reversed(coeffs[:-1]):
        acc = acc * z + c
    return acc


def sincos(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(sin x, cos x)`` elementwise, for float32 or float64 ``x`` (radians)."""
    x = jnp.asarray(x)
    wide = x.dtype == jnp.float64
    p1, p2, p3 = _F64 if wide else _F32
    j = jnp.round(x * _TWO_OVER_PI)
    r = ((x - j * p1) - j * p2) - j * p3
    z = r * r
    if wide:
        s = r + r * z * _poly(z, _SIN64)
        c = 1.0 - 0.5 * z + z * z * _poly(z, _COS64)
    else:
        s = r + r * z * _poly(z, _SIN32)
        c = 1.0 - 0.5 * z + z * z * _poly(z, _COS32)
    q = j.astype(jnp.int32) & 3
    sin = jnp.where(q == 0, s, jnp.where(q == 1, c, jnp.where(q == 2, -s, -c)))
    cos = jnp.where(q == 0, c, jnp.where(q == 1, -s, jnp.where(q == 2, -c, s)))
    return sin, cos
