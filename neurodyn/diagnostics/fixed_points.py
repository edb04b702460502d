"""Fixed points of maps (and of one integrator step) by Newton's method with an autodiff
Jacobian, and their multipliers.

For a model of the protocol with step ``F``, a fixed point solves ``F(z) = z``; Newton iterates
``z <- z - (J_F(z) - I)^{-1} (F(z) - z)`` with ``J_F`` from ``jax.jacfwd`` on the flattened
state. Stability of a map's fixed point: every eigenvalue (multiplier) of ``J_F(z*)`` strictly
inside the unit circle. Codimension-one signatures (Kuznetsov, *Elements of Applied Bifurcation
Theory*, 3rd ed., 2004): a multiplier at +1 (fold), at -1 (flip / period doubling), a complex
pair on the unit circle (Neimark–Sacker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree


@dataclass
class FixedPoint:
    """A fixed point ``state``, its multipliers and a classification.

    ``kind`` is ``"stable focus"``, ``"stable node"``, ``"unstable focus"``, ``"unstable
    node"`` or ``"saddle"`` (real multipliers on both sides of the unit circle).
    """

    state: Any
    multipliers: np.ndarray
    stable: bool
    kind: str
    residual: float
    converged: bool

    def signature(self, tol: float = 1e-2) -> str | None:
        """The codimension-one bifurcation this fixed point is within ``tol`` of: ``"fold"``
        (a real multiplier near +1), ``"flip"`` (period doubling: near -1), ``"neimark-sacker"``
        (a complex pair with modulus near 1), or None."""
        for lam in self.multipliers:
            if abs(lam.imag) > 1e-9 and abs(abs(lam) - 1) < tol:
                return "neimark-sacker"
        for lam in self.multipliers:
            if abs(lam.imag) <= 1e-9 and abs(lam.real - 1) < tol:
                return "fold"
            if abs(lam.imag) <= 1e-9 and abs(lam.real + 1) < tol:
                return "flip"
        return None


def _classify(eig: np.ndarray) -> tuple[bool, str]:
    mod = np.abs(eig)
    stable = bool(np.all(mod < 1))
    complex_pair = bool(np.any(np.abs(eig.imag) > 1e-12))
    if stable:
        return True, "stable focus" if complex_pair else "stable node"
    if np.all(mod > 1):
        return False, "unstable focus" if complex_pair else "unstable node"
    return False, "saddle"


def fixed_points(model, guesses, *, drive=None, t=0.0, tol: float = 1e-12, max_iter: int = 100) -> list[FixedPoint]:
    """Newton-solve ``model.step(z, drive, t) = z`` from each initial guess (a model state).

    Returns one :class:`FixedPoint` per guess (``converged`` tells whether ``|F(z) - z|``
    fell below ``tol``); use float64 (``jax_enable_x64``) for tight tolerances.
    """
    out = []
    for guess in guesses:
        flat, unravel = ravel_pytree(guess)

        def residual(z):
            return ravel_pytree(model.step(unravel(z), drive, t))[0] - z

        jac_res = jax.jit(jax.jacfwd(residual))
        res_fn = jax.jit(residual)
        z = flat
        for _ in range(max_iter):
            r = res_fn(z)
            if float(jnp.max(jnp.abs(r))) < tol:
                break
            z = z - jnp.linalg.solve(jac_res(z), r)
        r = float(jnp.max(jnp.abs(res_fn(z))))
        jac = np.asarray(jac_res(z)) + np.eye(z.shape[0])
        eig = np.linalg.eigvals(jac)
        stable, kind = _classify(eig)
        out.append(FixedPoint(unravel(z), eig, stable, kind, r, bool(r < tol * 10) and np.isfinite(r)))
    return out
