"""Edge of chaos: the maximal (conditional) Lyapunov exponent over a 2-D parameter grid
(docs/diagnostics.md; Legenstein & Maass 2007; Büsing, Schrauwen & Legenstein 2010)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from .lyapunov import max_lyapunov


@dataclass
class EdgeOfChaos:
    """``exponent[i, j]`` at ``(x[i], y[j])``; ``boundary[i]``: the y where the exponent first
    crosses 0 along y at x[i] (linear interpolation; NaN if it does not). Draw it with
    :func:`neurodyn.plot.edge_of_chaos`."""

    x: np.ndarray
    y: np.ndarray
    exponent: np.ndarray
    boundary: np.ndarray
    x_name: str = "x"
    y_name: str = "y"

    def save(self, path) -> None:
        """Write ``/diagnostics/edge_of_chaos/{x, y, exponent, boundary}`` to an HDF5 file."""
        import h5py

        with h5py.File(path, "a") as f:
            g = f.require_group("diagnostics").require_group("edge_of_chaos")
            for name in ("x", "y", "exponent", "boundary"):
                if name in g:
                    del g[name]
                g.create_dataset(name, data=getattr(self, name))
            g.attrs.update({"x_name": self.x_name, "y_name": self.y_name,
                            "method": "maximal (conditional) Lyapunov exponent, Benettin, one tangent vector"})


def _zero_crossings(y, lam) -> np.ndarray:
    out = np.full(lam.shape[0], np.nan)
    for i, row in enumerate(lam):
        s = np.nonzero(np.diff(np.sign(row)) != 0)[0]
        if len(s):
            j = s[0]
            out[i] = y[j] - row[j] * (y[j + 1] - y[j]) / (row[j + 1] - row[j])
    return out


def edge_of_chaos(make_model: Callable[[Any, Any], Any], x, y, *, steps: int = 1000, transient: int = 200,
                  drive: Any = None, key: jax.Array | None = None, chunk: int = 1024, x_name: str = "x",
                  y_name: str = "y") -> EdgeOfChaos:
    """Maximal (conditional) Lyapunov exponent on the grid ``x`` x ``y``.

    ``make_model(xv, yv)`` builds the model at one grid point from traced scalars (e.g. a base
    ESN with its W and W_in rescaled — one shared matrix, no recompilation). Grid points are
    evaluated ``chunk`` at a time, each chunk one vmapped compiled call; ``drive`` (shared by all
    points) gives conditional exponents of the driven system.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    xx, yy = np.meshgrid(x, y, indexing="ij")
    flat_x, flat_y = xx.ravel(), yy.ravel()
    k = key if key is not None else jax.random.PRNGKey(0)

    @jax.jit
    @jax.vmap
    def lam(xv, yv):
        return max_lyapunov(make_model(xv, yv), steps, transient=transient, drive=drive, key=k)

    dtype = jnp.result_type(float)
    out = np.concatenate([np.asarray(lam(jnp.asarray(flat_x[i:i + chunk], dtype), jnp.asarray(flat_y[i:i + chunk], dtype)))
                          for i in range(0, len(flat_x), chunk)])
    exponent = out.reshape(xx.shape)
    return EdgeOfChaos(x, y, exponent, _zero_crossings(y, exponent), x_name, y_name)
