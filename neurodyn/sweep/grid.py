"""Sweep grids: Cartesian products of ranges and lists, random and Latin-hypercube samples.

An axis is written ``path=start:stop:count`` (``count`` evenly spaced values, both ends
included), ``path=[v1, v2, ...]`` or ``path=v1,v2,...``. ``path`` is a dotted parameter path of
the spec (``couplings.star.strength``, ``populations.neurons.k``) or of the model.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import numpy as np

from ..errors import SpecError


@dataclass(frozen=True)
class Grid:
    """The points of a sweep: ``values[i, j]`` is parameter ``paths[j]`` at point ``i``.

    ``shape`` is the Cartesian shape (for phase diagrams) or ``(n_points,)`` for samples;
    ``definition`` is the JSON text that identifies the grid in a sweep file.
    """

    paths: tuple[str, ...]
    values: np.ndarray
    shape: tuple[int, ...]
    definition: str

    @property
    def n_points(self) -> int:
        """Number of points."""
        return self.values.shape[0]

    def axes(self) -> list[np.ndarray]:
        """The distinct values of each axis of a Cartesian grid."""
        return [np.unique(self.values[:, j]) for j in range(len(self.paths))]


def parse_axis(text: str) -> tuple[str, np.ndarray]:
    """``"path=start:stop:count"``, ``"path=[a, b]"`` or ``"path=a,b"`` -> (path, values)."""
    if "=" not in text:
        raise SpecError(f"--grid {text!r}: expected path=start:stop:count or path=v1,v2,...")
    path, _, spec = (s.strip() for s in text.partition("="))
    if not path or any(not p for p in path.split(".")):
        raise SpecError(f"--grid {text!r}: empty parameter path")
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
            if count < 1:
                raise SpecError(f"--grid {text!r}: the range is empty (count {count} < 1)")
            values = np.linspace(start, stop, count)
        else:
            values = np.array([float(v) for v in spec.strip("[]").split(",") if v.strip()])
    except SpecError:
        raise
    except ValueError:
        raise SpecError(f"--grid {text!r}: cannot read {spec!r} as start:stop:count or a list of numbers") from None
    if values.size == 0:
        raise SpecError(f"--grid {text!r}: the list of values is empty")
    if not np.all(np.isfinite(values)):
        raise SpecError(f"--grid {text!r}: values must be finite numbers")
    return path, values


def cartesian(axes: list[tuple[str, np.ndarray]]) -> Grid:
    """All combinations of the axes (the last axis varies fastest)."""
    if not axes:
        raise SpecError("a sweep needs at least one --grid axis")
    paths = tuple(p for p, _ in axes)
    if len(set(paths)) != len(paths):
        raise SpecError(f"a parameter appears twice in the grid: {paths}")
    values = np.array(list(itertools.product(*[v for _, v in axes])), float).reshape(-1, len(axes))
    definition = json.dumps({"kind": "cartesian", "axes": {p: v.tolist() for p, v in axes}})
    return Grid(paths, values, tuple(len(v) for _, v in axes), definition)


def random_sample(bounds: dict[str, tuple[float, float]], n: int, seed: int = 0) -> Grid:
    """``n`` points drawn uniformly in the box ``bounds`` (seeded)."""
    lo, hi = _bounds(bounds, n)
    values = lo + (hi - lo) * np.random.default_rng(seed).random((n, len(bounds)))
    return Grid(tuple(bounds), values, (n,), json.dumps({"kind": "random", "bounds": bounds, "n": n, "seed": seed}))


def latin_hypercube(bounds: dict[str, tuple[float, float]], n: int, seed: int = 0) -> Grid:
    """``n`` points of a Latin hypercube in ``bounds``: each axis cut into n equal strata, one
    point per stratum, strata permuted independently per axis (McKay, Beckman, Conover 1979)."""
    lo, hi = _bounds(bounds, n)
    rng = np.random.default_rng(seed)
    d = len(bounds)
    u = (np.stack([rng.permutation(n) for _ in range(d)], axis=1) + rng.random((n, d))) / n
    values = lo + (hi - lo) * u
    return Grid(tuple(bounds), values, (n,), json.dumps({"kind": "lhs", "bounds": bounds, "n": n, "seed": seed}))


def _bounds(bounds, n):
    if n < 1:
        raise SpecError(f"a sample needs at least one point, got {n}")
    if not bounds:
        raise SpecError("a sample needs at least one parameter range")
    lo = np.array([float(b[0]) for b in bounds.values()])
    hi = np.array([float(b[1]) for b in bounds.values()])
    if np.any(hi < lo):
        raise SpecError(f"sample bounds must have low <= high: {bounds}")
    return lo, hi
