"""The compiled computation of a sweep: one point (run plus in-scan measures) and a vmapped
chunk of points, compiled once per sweep.

Parameters that are array leaves of the model are swept by replacing that leaf inside the
vmapped function, so the rest of the model (matrices, graphs) is shared by the whole batch and
B reservoirs step with one matrix-matrix product. The step loop is :mod:`neurodyn.core.loop`'s
(the same drive convention as ``simulate``: arrays indexed by absolute step, or a function of t).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from ..core.loop import iterate, transition
from ..core.parameters import with_parameter
from ..core.tangent import flatten_state, tangent_step

BLOCK = 64  # measured steps per accumulator update, unless a measure prefers longer blocks


def block_size(measures) -> int:
    """Measured steps per accumulator update: the longest block any measure prefers, at least
    :data:`BLOCK` (a run shorter than a block is one shorter block)."""
    return max([BLOCK] + [m.block for m in measures])


def point(model, state, values, drive, *, paths, steps, transient, measures, dt):
    """Run one point and reduce it to the measures (pure; vmapped over points)."""
    for j, p in enumerate(paths):
        model = with_parameter(model, p, values[j])
    if transient:
        state = iterate(model, state, drive, dt, 0, transient)[0]
    lyap = any(m.kind == "max_lyapunov" for m in measures)
    others = tuple(m for m in measures if m.kind not in ("max_lyapunov", "function"))
    functions = tuple(m for m in measures if m.kind == "function")
    needed = tuple(sorted({m.observable for m in others} | {o for m in functions for o in m.observables}))
    obs0 = model.observe(state)
    accs = tuple(m.init(obs0) for m in others)
    vec = flatten_state(state)[0]
    v0 = jnp.ones_like(vec) / jnp.sqrt(vec.size)

    def one_step(carry, i):
        st, v, logsum = carry
        if lyap:
            st, z = tangent_step(model, st, v[:, None], drive, i, dt)
            norm = jnp.linalg.norm(z[:, 0])
            v, logsum = z[:, 0] / norm, logsum + jnp.log(norm)
        else:
            st = transition(model, st, drive, i, dt)
        obs = model.observe(st)
        return (st, v, logsum), {o: obs[o] for o in needed}

    def block(carry, idx):
        inner, accs = carry
        inner, ys = lax.scan(one_step, inner, idx)
        accs = tuple(m.update(a, ys[m.observable]) for m, a in zip(others, accs))
        return (inner, accs), ({o: ys[o] for o in needed if any(o in m.observables for m in functions)}
                               if functions else None)

    n = steps - transient
    for m in others:
        m.check(n)
    size = min(block_size(others), n)  # a run shorter than a block: one block of all its steps
    n_blocks, tail = divmod(n, size)
    carry = ((state, v0, jnp.zeros((), vec.dtype)), accs)
    idx = transient + jnp.arange(n_blocks * size, dtype=jnp.int32).reshape(n_blocks, size)
    carry, records = lax.scan(block, carry, idx)
    parts = [jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:]), records)] if functions else []
    if tail:
        carry, rest = block(carry, transient + n_blocks * size + jnp.arange(tail, dtype=jnp.int32))
        parts.append(rest)
    (_, _, logsum), accs = carry
    out = {}
    for m in functions:
        recs = {o: jnp.concatenate([p[o] for p in parts]) for o in m.observables}
        out.update({f"{m.label}.{k}": jnp.asarray(val) for k, val in m.fn(recs).items()})
    if lyap:
        out["max_lyapunov"] = logsum / (n * dt)
    for m, a in zip(others, accs):
        out.update(m.finalize(a, n))
    return out


@partial(jax.jit, static_argnames=("paths", "steps", "transient", "measures", "dt", "batched_model", "drive_fn"))
def chunk(model, state, values, drive_arrays, *, paths, steps, transient, measures, dt, batched_model, drive_fn=None):
    """Every point of a chunk in one vmapped call (``values``: ``(B, n_paths)``)."""
    drive = drive_fn if drive_fn is not None else drive_arrays
    f = partial(point, paths=paths, steps=steps, transient=transient, measures=measures, dt=dt)
    axes = (0, 0, 0, None) if batched_model else (None, None, 0, None)
    return jax.vmap(lambda m, s, v: f(m, s, v, drive), in_axes=axes[:3])(model, state, values)


def compile_count() -> int:
    """Number of compiled variants of the chunk function in this process (for tests)."""
    return chunk._cache_size()
