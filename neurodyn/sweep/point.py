"""The compiled computation of a sweep: one point (run plus in-scan measures) and a vmapped
chunk of points, compiled once per sweep.

Parameters that are array leaves of the model are swept by replacing that leaf inside the
vmapped function, so the rest of the model (matrices, graphs) is shared by the whole batch and
B reservoirs step with one matrix-matrix product. The step loop is :mod:`neurodyn.core.loop`'s
(the same drive convention as ``simulate``: arrays indexed by absolute step, or a function of t).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp

from ..core.loop import Observer, init_observers, join_drive, scan_blocks
from ..core.parameters import with_parameter
from ..core.tangent import MaxLyapunov
from .measures import Measure

BLOCK = 64  # measured steps per accumulator update, unless a measure prefers longer blocks


def block_size(measures) -> int:
    """Measured steps per accumulator update: the longest block any measure (or observer)
    prefers, at least :data:`BLOCK` (a run shorter than a block is one shorter block)."""
    return max([BLOCK] + [m.block if isinstance(m, Measure) else m.block_size for m in measures])


@dataclass(frozen=True)
class Measures(Observer):
    """The registered measures of a sweep point as one observer: every step it reads the
    observables they need (one ``observe`` per step), once per block it folds the block's
    observations into each measure's accumulator (:class:`~neurodyn.sweep.measures.Measure`:
    ``init`` / ``update`` / ``finalize``); ``Measure.function`` measures get the block's
    observations as block output (all of them stacked, for the function at the end)."""

    accumulated: tuple = ()  # measures with accumulators (mean, cross_correlation, ...)
    functions: tuple = ()  # Measure.function measures

    @property
    def needed(self) -> tuple:
        return tuple(sorted({m.observable for m in self.accumulated} | {o for m in self.functions
                                                                          for o in m.observables}))

    def init(self, model, state):
        obs = model.observe(state)
        return tuple(m.init(obs) for m in self.accumulated)

    def step(self, carry, model, state, i):
        obs = model.observe(state)
        return carry, {o: obs[o] for o in self.needed}

    def block(self, carry, model, state, i, outputs):
        carry = tuple(m.update(a, outputs[m.observable]) for m, a in zip(self.accumulated, carry))
        kept = {o: outputs[o] for o in self.needed if any(o in m.observables for m in self.functions)}
        return carry, (kept if self.functions else None)

    def finalize(self, carry, steps):
        out = {}
        for m, a in zip(self.accumulated, carry):
            out.update(m.finalize(a, steps))
        return out


def point(model, state, values, drive, *, paths, steps, transient, measures, dt):
    """Run one point and reduce it to the measures (pure; vmapped over points): the block-scan
    driver (:func:`neurodyn.core.loop.scan_blocks`) with the measures as observers -- the
    Lyapunov tangent (``max_lyapunov``), the registered measures (:class:`Measures`) and any
    :class:`~neurodyn.core.Observer` given as a measure."""
    for j, p in enumerate(paths):
        model = with_parameter(model, p, values[j])
    if transient:
        state = scan_blocks(model, state, drive, dt, 0, None, transient)[0]
    registered = tuple(m for m in measures if isinstance(m, Measure))
    others = tuple(m for m in registered if m.kind not in ("max_lyapunov", "function"))
    functions = tuple(m for m in registered if m.kind == "function")
    tangent = (MaxLyapunov(dt),) if any(m.kind == "max_lyapunov" for m in registered) else ()
    observers = tangent + (Measures(others, functions),) + tuple(m for m in measures if not isinstance(m, Measure))
    n = steps - transient
    for m in others:
        m.check(n)
    size = min(block_size(others), n)  # a run shorter than a block: one block of all its steps
    n_blocks, tail = divmod(n, size)
    carries = init_observers(observers, model, state)
    state, carries, outputs = scan_blocks(model, state, drive, dt, transient, n_blocks, size, observers, carries)
    j = len(tangent)  # the Measures observer
    parts = [jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:]), outputs[j])] if functions else []
    if tail:
        state, carries, rest = scan_blocks(model, state, drive, dt, transient + n_blocks * size, None, tail, observers,
                                           carries)
        if functions:
            parts.append(rest[j])
    out = {}
    for m in functions:
        recs = {o: jnp.concatenate([p[o] for p in parts]) for o in m.observables}
        out.update({f"{m.label}.{k}": jnp.asarray(val) for k, val in m.fn(recs).items()})
    for o, c in zip(observers, carries):
        out.update(o.finalize(c, n))
    return out


@partial(jax.jit, static_argnames=("paths", "steps", "transient", "measures", "dt", "batched_model", "drive_fn"))
def chunk(model, state, values, drive_arrays, *, paths, steps, transient, measures, dt, batched_model, drive_fn=None):
    """Every point of a chunk in one vmapped call (``values``: ``(B, n_paths)``)."""
    drive = join_drive(drive_fn, drive_arrays)
    f = partial(point, paths=paths, steps=steps, transient=transient, measures=measures, dt=dt)
    axes = (0, 0, 0, None) if batched_model else (None, None, 0, None)
    return jax.vmap(lambda m, s, v: f(m, s, v, drive), in_axes=axes[:3])(model, state, values)


def compile_count() -> int:
    """Number of compiled variants of the chunk function in this process (for tests)."""
    return chunk._cache_size()
