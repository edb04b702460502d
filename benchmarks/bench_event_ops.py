"""Event-driven synaptic propagation (``neurodyn.ops``): dense, CSR and event kernels side by side.

Every kernel runs inside one compiled ``lax.scan`` over T steps of a precomputed random spike
raster (a new pattern every step, as in a network), so the times are per step with no Python
dispatch; each is the best of several interleaved rounds (the machine is shared), after
compilation. Work is counted as synaptic events = spikes x fan-out per step; "ns/event" is the
time per step over those events.

1. Build time and memory of fixed fan-out connectivity (vectorised, seeded), 100k and 1M neurons.
2. The issue's regime: 4,000 neurons, 2 % connectivity (Erdos-Renyi rows, per-synapse float32
   weights), 0.5-2 % of the neurons spiking per step: dense ``x @ W``, pure-JAX CSR
   (``csr_matvec``, every synapse), pure-JAX event (``event_csr_matvec``), neurodyn's numba
   kernel (a C function XLA calls through its FFI) and brainevent's numba event kernel (an FFI
   call that enters Python through ctypes on every call); the floor is a numba hand loop doing
   exactly the events (scan the spike vector, add each spiking row, add the result to a running
   sum as the scans do), run over the same raster.
3. A larger fixed fan-out case (80 synapses per neuron) and a burst regime (10-20 % spiking);
   the numba kernel on these synapses as stored (no row pointers: row ``i`` from ``i * 80``)
   against the same synapses with an ``indptr`` array, side by side.
4. A sweep over synaptic weights (``jax.vmap`` over 8 weight sets): one batched JAX kernel and
   one batched numba call, against brainevent under ``jax.vmap`` (its batching rule: a
   sequential scan over the 8).
5. Per-synapse delays (a ring buffer of past spike vectors in the scan carry) against none.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from neurodyn.ops import SynapseCSR, csr_matvec, delayed_event_csr_matvec, event_csr_matvec
from neurodyn.ops.event import DEFAULT_BACKEND, DEFAULT_DELAYED_BACKEND, default_capacity


def _best_of(fns: dict, args, rounds: int) -> dict:
    """Best wall time of each compiled function over interleaved rounds (first call compiles)."""
    for f in fns.values():
        jax.block_until_ready(f(*args))
    best = dict.fromkeys(fns, np.inf)
    for _ in range(rounds):
        for name, f in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(*args))
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _scan(kernel, operand, n_post):
    """``sum_t kernel(operand, raster[t])`` as one compiled scan (the sum keeps every step live);
    the synapses are an argument, as in a model, not constants folded into the program."""
    run = jax.jit(lambda op, raster: lax.scan(lambda acc, s: (acc + kernel(op, s), None),
                                              jnp.zeros(n_post, jnp.float32), raster)[0])
    return lambda raster: run(operand, raster)


def _hand_loop():
    """The machine's floor for the same work: a compiled loop over the steps that scans each
    spike vector and adds the rows of the spiking neurons (numba, serial)."""
    import numba

    @numba.njit(fastmath=True, cache=False)
    def run(raster, indptr, indices, weights):
        n_post = indices.max() + 1
        acc = np.zeros(n_post, np.float32)
        y = np.zeros(n_post, np.float32)
        for t in range(raster.shape[0]):
            y[:] = 0.0
            for i in range(raster.shape[1]):
                if raster[t, i]:
                    for k in range(indptr[i], indptr[i + 1]):
                        y[indices[k]] += weights[k]
            acc += y
        return acc

    def timed(raster, conn, rounds):
        args = (np.asarray(raster), conn.row_pointers(), np.asarray(conn.indices), np.asarray(conn.weights))
        run(*args)
        best = np.inf
        for _ in range(rounds):
            t0 = time.perf_counter()
            run(*args)
            best = min(best, time.perf_counter() - t0)
        return best

    return timed


def _brainevent_available() -> bool:
    try:
        import brainevent  # noqa: F401
    except ImportError:
        return False
    return True


def _line(name, seconds, steps, events, reference=None):
    per_step = seconds / steps * 1e6
    per_event = seconds / max(events, 1) * 1e9
    ratio = f" | {reference / seconds:6.2f}x faster than dense" if reference else ""
    return f"    {name:34s} {per_step:9.2f} us/step {per_event:8.2f} ns/event{ratio}"


def build_time(quick: bool):
    yield "1. fixed fan-out connectivity, 80 distinct targets per neuron, no self-connections"
    sizes = (100_000,) if quick else (100_000, 1_000_000)
    for n in sizes:
        t0 = time.perf_counter()
        conn = SynapseCSR.fixed_fanout(n, n, 80, weight=0.5, seed=0, self_connections=False, dtype=jnp.float32)
        jax.block_until_ready(conn.indices)
        wall = time.perf_counter() - t0
        w = np.random.default_rng(1).normal(size=conn.nnz).astype(np.float32)
        t0 = time.perf_counter()
        hetero = conn.with_weights(w)
        jax.block_until_ready(hetero.weights)
        attach = time.perf_counter() - t0
        yield (f"    N = {n:>9,}: {conn.nnz:,} synapses built in {wall:5.2f} s, "
               f"{conn.bytes_per_synapse():.2f} B/synapse (homogeneous weight; no row pointers); per-synapse "
               f"float32 weights attached in {attach:4.2f} s, {hetero.bytes_per_synapse():.2f} B/synapse")


def regime(quick: bool, hand_loop, be: bool):
    n, p = 4000, 0.02
    steps, dense_steps, rounds = (200, 10, 3) if quick else (1000, 40, 5)
    rng = np.random.default_rng(2)
    a = rng.random((n, n)) < p
    np.fill_diagonal(a, False)
    pre, post = np.nonzero(a)
    conn = SynapseCSR.from_coo(pre, post, rng.normal(0.5, 0.1, pre.size), n_pre=n, n_post=n, dtype=jnp.float32)
    dense = jnp.asarray(conn.todense(), jnp.float32)
    cap = default_capacity(conn.fanout, n)
    yield (f"2. N = {n:,}, p = {p:.0%}: {conn.nnz:,} synapses (mean fan-out {conn.nnz / n:.1f}, longest row "
           f"{conn.fanout}), per-synapse float32 weights; event capacity {cap} spikes per pass")
    fns = {
        "dense x @ W": _scan(lambda d, s: s.astype(jnp.float32) @ d, dense, n),
        "jax csr_matvec (all synapses)": _scan(lambda c, s: csr_matvec(c, s.astype(jnp.float32)), conn, n),
        "jax event_csr_matvec": _scan(lambda c, s: event_csr_matvec(c, s, backend="jax"), conn, n),
        "numba event kernel (XLA FFI)": _scan(lambda c, s: event_csr_matvec(c, s, backend="numba"), conn, n),
    }
    if be:
        fns["brainevent event kernel"] = _scan(lambda c, s: event_csr_matvec(c, s, backend="brainevent"), conn, n)
    homogeneous = conn.with_weights(0.5)
    fns["jax event, homogeneous weight"] = _scan(lambda c, s: event_csr_matvec(c, s, backend="jax"), homogeneous, n)
    fns["numba, homogeneous weight"] = _scan(lambda c, s: event_csr_matvec(c, s, backend="numba"), homogeneous, n)
    if be:
        fns["brainevent, homogeneous weight"] = _scan(lambda c, s: event_csr_matvec(c, s, backend="brainevent"),
                                                      homogeneous, n)
    for frac in (0.005, 0.01, 0.02):
        raster = jnp.asarray(rng.random((steps, n)) < frac)
        events = int(np.asarray(raster).sum()) * conn.nnz / n
        per_call = events / steps
        dense_fns = {k: v for k, v in fns.items() if k.startswith("dense")}
        times = _best_of({k: v for k, v in fns.items() if k not in dense_fns}, (raster,), rounds)
        t_dense = _best_of(dense_fns, (raster[:dense_steps],), rounds)["dense x @ W"] * steps / dense_steps
        t_floor = hand_loop(raster, conn, rounds)
        yield (f"  {frac:.1%} spiking: {per_call:,.0f} synaptic events per step "
               f"({frac * n:.0f} spikes x {conn.nnz / n:.0f})")
        yield _line("dense x @ W", t_dense, steps, events)
        for name, t in times.items():
            yield _line(name, t, steps, events, t_dense)
        yield _line("floor: numba hand loop", t_floor, steps, events, t_dense)
        jax_t = times["jax event_csr_matvec"]
        rest = (f"; time brainevent / jax: per-synapse weights {times['brainevent event kernel'] / jax_t:.2f}, "
                f"homogeneous {times['brainevent, homogeneous weight'] / times['jax event, homogeneous weight']:.2f}"
                if be else "")
        yield (f"    jax event at {t_floor / jax_t:.0%} and numba at "
               f"{t_floor / times['numba event kernel (XLA FFI)']:.0%} of the hand loop's rate{rest}")


def large_and_bursts(quick: bool, hand_loop, be: bool):
    n, k = (16_000, 80) if quick else (64_000, 80)
    steps, rounds = (100, 3) if quick else (150, 3)
    rng = np.random.default_rng(3)
    conn = SynapseCSR.fixed_fanout(n, n, k, weight=rng.normal(size=n * k).astype(np.float32), seed=4,
                                   self_connections=False, dtype=jnp.float32)
    yield f"3. fixed fan-out, N = {n:,}, {k} synapses per neuron ({conn.bytes_per_synapse():.2f} B/synapse)"
    fns = {"jax event_csr_matvec": _scan(lambda c, s: event_csr_matvec(c, s, backend="jax"), conn, n),
           "numba event kernel (XLA FFI)": _scan(lambda c, s: event_csr_matvec(c, s, backend="numba"), conn, n),
           "jax csr_matvec (all synapses)": _scan(lambda c, s: csr_matvec(c, s.astype(jnp.float32)), conn, n)}
    # the same synapses with stored row pointers (the layout of rows of unequal length): the
    # numba kernel reads indptr instead of computing i * fanout
    pointers = dataclasses.replace(conn, indptr=jnp.asarray(conn.row_pointers(), jnp.int32), fixed=False)
    fns["numba, same synapses with indptr"] = _scan(lambda c, s: event_csr_matvec(c, s, backend="numba"),
                                                    pointers, n)
    if be:
        fns["brainevent event kernel"] = _scan(lambda c, s: event_csr_matvec(c, s, backend="brainevent"), conn, n)
    for frac in (0.01, 0.1):
        raster = jnp.asarray(rng.random((steps, n)) < frac)
        events = int(np.asarray(raster).sum()) * k
        times = _best_of(fns, (raster,), rounds)
        yield f"  {frac:.0%} spiking: {events / steps:,.0f} synaptic events per step"
        for name, t in times.items():
            yield _line(name, t, steps, events)
        yield _line("floor: numba hand loop", hand_loop(raster, conn, rounds), steps, events)
        yield (f"    numba time without / with row pointers: "
               f"{times['numba event kernel (XLA FFI)'] / times['numba, same synapses with indptr']:.2f}")
        if be:
            yield (f"    time brainevent / jax: "
                   f"{times['brainevent event kernel'] / times['jax event_csr_matvec']:.2f}")


def weight_sweep(quick: bool, be: bool):
    n, k, batch = 4000, 80, 8
    steps, rounds = (100, 3) if quick else (400, 5)
    rng = np.random.default_rng(5)
    conn = SynapseCSR.fixed_fanout(n, n, k, weight=rng.normal(size=n * k).astype(np.float32), seed=6,
                                   self_connections=False, dtype=jnp.float32)
    weights = jnp.asarray(np.asarray(conn.weights)[None] * np.linspace(0.5, 2.0, batch)[:, None], jnp.float32)
    raster = jnp.asarray(rng.random((steps, n)) < 0.01)
    yield f"4. sweep over synaptic weights: jax.vmap over {batch} weight sets, N = {n:,}, K = {k}, 1% spiking"

    def batched(kernel):
        return jax.jit(lambda w, r: lax.scan(lambda acc, s: (acc + jax.vmap(kernel, (0, None))(w, s), None),
                                             jnp.zeros((batch, n), jnp.float32), r)[0])

    def jax_kernel(w, s):
        return event_csr_matvec(conn.with_weights(w), s, backend="jax")

    fns = {"jax, vmapped (one batched kernel)": batched(jax_kernel),
           "numba, vmapped (one batched call)": batched(lambda w, s: event_csr_matvec(conn.with_weights(w), s,
                                                                                        backend="numba"))}
    single = jax.jit(lambda w, r: lax.scan(lambda acc, s: (acc + jax_kernel(w, s), None),
                                           jnp.zeros(n, jnp.float32), r)[0])
    if be:
        import brainevent

        from neurodyn.ops.event import _TaskWorkspace

        indptr = jnp.asarray(conn.row_pointers(), jnp.int32)  # brainevent needs the row pointers fixed fan-out omits

        def brainevent_own(w, s):
            return brainevent.binary_csrmv(w, conn.indices, indptr, s, shape=(n, n), transpose=True,
                                           workspace=_TaskWorkspace.empty(indptr.dtype), backend="numba")

        fns["brainevent under vmap (its sequential rule)"] = batched(brainevent_own)
    times = _best_of(fns, (weights, raster), rounds)
    t_single = _best_of({"one": single}, (weights[0], raster), rounds)["one"]
    events = int(np.asarray(raster).sum()) * k * batch
    yield _line(f"jax, {batch} separate calls", t_single * batch, steps, events)
    for name, t in times.items():
        yield _line(name, t, steps, events)


def delays(quick: bool, be: bool):
    n, k, max_delay = 4000, 80, 10
    steps, rounds = (200, 3) if quick else (1000, 5)
    rng = np.random.default_rng(7)
    w = rng.normal(size=n * k).astype(np.float32)
    plain = SynapseCSR.fixed_fanout(n, n, k, weight=w, seed=8, self_connections=False, dtype=jnp.float32)
    delayed = SynapseCSR.fixed_fanout(n, n, k, weight=w, seed=8, self_connections=False, dtype=jnp.float32,
                                      delays=rng.integers(1, max_delay + 1, n * k))
    raster = jnp.asarray(rng.random((steps, n)) < 0.01)
    yield (f"5. per-synapse delays of 1-{max_delay} steps (ring buffer of {max_delay + 1} spike vectors in the "
           f"scan carry), N = {n:,}, K = {k}, 1% spiking")

    def with_buffer(backend):
        def body(carry, s):
            acc, buffer, step = carry
            buffer = buffer.at[step % buffer.shape[0]].set(s)
            y = delayed_event_csr_matvec(delayed, buffer, step, backend=backend)
            return (acc + y, buffer, step + 1), None

        init = (jnp.zeros(n, jnp.float32), jnp.zeros((max_delay + 1, n), bool), jnp.int32(0))
        return jax.jit(lambda r: lax.scan(body, init, r)[0][0])

    fns = {"no delays, jax": _scan(lambda c, s: event_csr_matvec(c, s, backend="jax"), plain, n),
           "delays, jax": with_buffer("jax"),
           "no delays, numba": _scan(lambda c, s: event_csr_matvec(c, s, backend="numba"), plain, n),
           "delays, numba": with_buffer("numba")}
    if be:
        fns["no delays, brainevent"] = _scan(lambda c, s: event_csr_matvec(c, s, backend="brainevent"), plain, n)
        fns["delays, brainevent"] = with_buffer("brainevent")
    times = _best_of(fns, (raster,), rounds)
    events = int(np.asarray(raster).sum()) * k
    for name, t in times.items():
        yield _line(name, t, steps, events)


def main(quick: bool = False):
    be = _brainevent_available()
    hand_loop = _hand_loop()
    status = "available" if be else "not installed: its rows are skipped"
    yield (f"default backend per platform: {DEFAULT_BACKEND}, with several delays {DEFAULT_DELAYED_BACKEND} "
           f"(this run: {jax.default_backend()}, {jax.device_count()} device(s)); brainevent {status}")
    yield from build_time(quick)
    yield from regime(quick, hand_loop, be)
    yield from large_and_bursts(quick, hand_loop, be)
    yield from weight_sweep(quick, be)
    yield from delays(quick, be)
