"""Scaling of the COBA E/I network at fixed fan-out (80 synapses per neuron, 80 % of them onto
excitatory targets: ``coba_ei(n, fanout=80, fused=True)``) from 4,000 to 1,000,000 neurons,
dt = 0.1 ms, float32, the default CPU event kernel.

Per size: the time to build the connectivity (vectorised and seeded; the four projections and
their fusion into one per source), the bytes per synapse of the stored synapses (int32 targets
only: fixed fan-out stores no row pointers, so exactly 4 with the homogeneous weights of the
benchmark and 8 with per-synapse float32 weights attached to the same synapses), and the wall
time per simulated second after compilation (a short run: 200 ms of biological time, 100 ms
from 256k neurons on; best of two below 256k, one run above) with the mean excitatory rate.
The exponent of wall time against N is a least-squares fit of log(time) on log(N) over the
sizes run. Where the machine sets it: beside each network, the same neurons without any
projection (the elementwise state update alone: no event, no random access) are timed, in ns
per neuron and step; their cost per neuron grows with N by as much as the network's when the
state leaves the caches, which is the memory hierarchy of the machine, not the event kernel. ``--quick`` stops at 64k. The 2-core machine is shared: timings vary by tens of
percent, and the 1M point runs once.

Last, the 64k network (16k with ``--quick``) on two CPU devices (``neurodyn.models.sharding``, a
subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``: one device per core)
against one, with the check that both give the same final state bit for bit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.core.loop import initial_state, iterate
from neurodyn.core.network import Network
from neurodyn.models import coba_ei, coba_initial_state

SIZES = (4_000, 16_000, 64_000, 256_000, 1_000_000)


def _network(n: int):
    t0 = time.perf_counter()
    net = coba_ei(n, p=None, fanout=80, i_ext=20.0, seed=1, fused=True, dtype=jnp.float32)
    jax.block_until_ready([p.synapses.indices for p in net.projections.values()])
    return net, time.perf_counter() - t0


def _bytes(net) -> tuple[float, float]:
    """Bytes per synapse over all projections: as stored, and with per-synapse float32 weights."""
    conns = [p.synapses for p in net.projections.values()]
    nnz = sum(c.nnz for c in conns)
    stored = sum(c.bytes_per_synapse() * c.nnz for c in conns) / nnz
    per_synapse = sum(c.with_weights(jnp.zeros(c.nnz, jnp.float32)).bytes_per_synapse() * c.nnz
                      for c in conns) / nnz
    return stored, per_synapse


def _wall(net, steps: int, rounds: int):
    """(compile s, best run s, mean excitatory rate in Hz) of ``steps`` steps; the spikes are
    counted per step inside the scan (no raster is kept)."""
    state = initial_state(net, coba_initial_state(net, jax.random.PRNGKey(0)))
    count = lambda s, i: jnp.sum(s.populations["exc"].spike, dtype=jnp.int32)  # noqa: E731
    run = jax.jit(lambda model, s: iterate(model, s, None, model.dt, 0, steps, count)[1].sum())
    t0 = time.perf_counter()
    spikes = int(run(net, state))
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        jax.block_until_ready(run(net, state))
        best = min(best, time.perf_counter() - t0)
    return first - best, best, spikes / net.populations["exc"].n / (steps * 1e-4)


def main(quick: bool = False):
    sizes = SIZES[:3] if quick else SIZES
    yield (f"COBA E/I at fixed fan-out 80, dt 0.1 ms, float32, {jax.default_backend()} "
           f"({jax.device_count()} device(s)); time per simulated second after compilation")
    ns, walls, alone = [], [], []
    for n in sizes:
        net, build = _network(n)
        stored, per_synapse = _bytes(net)
        seconds = 0.2 if n < 256_000 else 0.1
        steps = int(round(seconds / 1e-4))
        rounds = 2 if n < 256_000 else 1
        compile_s, wall, rate = _wall(net, steps, rounds=rounds)
        neurons = _wall(Network(net.populations, {}), steps, rounds=rounds)[1]
        ns.append(n)
        walls.append(wall / seconds)
        alone.append(neurons / seconds)
        yield (f"  N = {n:>9,}: {80 * n:>11,} synapses built in {build:5.2f} s; {stored:.2f} B/synapse "
               f"(homogeneous weight, no row pointers), {per_synapse:.2f} with per-synapse float32 weights; "
               f"{wall / seconds:8.3f} s per simulated second ({wall / steps * 1e6:8.1f} us/step = "
               f"{wall / steps / n * 1e9:.2f} ns per neuron-step; the neurons alone {neurons / steps / n * 1e9:.2f}; "
               f"{seconds * 1e3:.0f} ms run, compile {compile_s:.1f} s), exc rate {rate:.1f} Hz")
        del net
    slope, _ = np.polyfit(np.log(ns), np.log(walls), 1)
    big = [i for i, n in enumerate(ns) if n >= 64_000]
    tail = (f"; from 64k on: {np.polyfit(np.log(np.take(ns, big)), np.log(np.take(walls, big)), 1)[0]:.2f}"
            if len(big) >= 2 else "")
    yield f"  fitted exponent of wall time vs N (time ~ N^a): a = {slope:.2f} over {ns[0]:,}-{ns[-1]:,}{tail}"
    yield (f"  the neurons alone (no projections, elementwise state update only): a = "
           f"{np.polyfit(np.log(ns), np.log(alone), 1)[0]:.2f} over the same sizes; ns per neuron-step "
           f"{alone[0] / ns[0] * 1e5:.2f} at {ns[0]:,} and {alone[-1] / ns[-1] * 1e5:.2f} at {ns[-1]:,} (network: "
           f"{walls[0] / ns[0] * 1e5:.2f} and {walls[-1] / ns[-1] * 1e5:.2f})")
    yield from sharded(quick)


_SHARDED = textwrap.dedent("""
    import sys, time
    import jax, jax.numpy as jnp, numpy as np
    import neurodyn as nd
    from neurodyn.models.sharding import sharded_runner
    from neurodyn.models import coba_ei, coba_initial_state

    n, steps = int(sys.argv[1]), 500
    net = coba_ei(n, p=None, fanout=80, i_ext=20.0, seed=1, fused=True, dtype=jnp.float32)
    state = coba_initial_state(net, jax.random.PRNGKey(0))
    runs = {"1 device": lambda: one(net, state), "2 devices": lambda: two(state)[0]}
    one = jax.jit(lambda m, s: nd.run(m, s, steps)[0])
    two = sharded_runner(net, steps)
    best = {}
    for _ in range(3):
        for name, f in runs.items():
            jax.block_until_ready(f())
            t0 = time.perf_counter()
            jax.block_until_ready(f())
            best[name] = min(best.get(name, 1e9), time.perf_counter() - t0)
    same = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(
        jax.tree_util.tree_leaves(runs["1 device"]()), jax.tree_util.tree_leaves(runs["2 devices"]())))
    print(f"{best['1 device'] / steps * 1e6:.1f} {best['2 devices'] / steps * 1e6:.1f} {same}")
""")


def sharded(quick: bool):
    """One device against two (forced host devices, in a subprocess)."""
    n = 16_000 if quick else 64_000
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _SHARDED, str(n)], env=env, capture_output=True, text=True,
                         timeout=600)
    if out.returncode:
        yield f"  sharded run failed: {out.stderr.strip().splitlines()[-1]}"
        return
    one, two, same = out.stdout.split()[-3:]
    yield (f"  N = {n:,} on 2 CPU devices (neurons split, spikes all-gathered every step): {two} us/step "
           f"against {one} on 1 device ({float(one) / float(two):.2f}x); final states equal bit for bit: {same}")
