"""The COBA E/I benchmark network (Brette et al. 2007, benchmark 1), 4,000 neurons, 2 %
connectivity, dt = 0.1 ms: neurodyn (``coba_ei``, event-driven spiking projections) against
BrainPy 2.8's own COBA network (``LifRefLTC`` + ``FullProjAlignPostMg`` + ``EventCSRLinear``,
from its test-suite example), side by side in this process, both float32 and driven by the
constant input 20 mV of the ANNarchy variant. Times are wall seconds per simulated second after
compilation (compile time apart), best of two runs; the ratio is BrainPy's time over neurodyn's.

neurodyn runs with its default CPU event kernel (numba, an XLA FFI call) as four projections
and fused (one event product per source, ``coba_ei(..., fused=True)``), for 1 s and 5 s, and
fused with the brainevent and pure-JAX kernels for comparison. The floor of a step: the kernels
XLA runs per step (counted in the compiled loop body), the same program on a 10-neuron network
(per-step overhead: launching those kernels with almost no data), the neurons alone (no
projections; stepped by the fused LIF kernel of ``neurodyn.ops.lif`` and, for comparison, by the
``jax.numpy`` formula) and the two event products alone. BrainPy's network starts from its own initial
state (V ~ N(-55, 2) mV, closed synapses) and settles at a lower rate; at these rates its cost
is per-step overhead. The machine is shared: single timings vary by tens of percent.

Brian2 2.9.0 runs the same network (same equations, parameters, initial-state distributions and
connection probability; its own random numbers) in a subprocess with ``.venv-brian2/bin/python``:
Brian2 needs NumPy < 2, so it lives in its own environment (create it with ``python
benchmarks/brian2_env.py``; without it the Brian2 lines are one line saying so) and this process
never imports it (``benchmarks/brian2_peer.py``, shared with ``bench_brian2``). Its ``cython``
target and (full runs) ``cpp_standalone`` with 1 and 2 OpenMP threads, float32, exponential
Euler (the scheme ``coba_ei`` uses), a ``SpikeMonitor`` on each population (every spike recorded,
as neurodyn's ``simulate()``). For cython a first ``run()`` fills Brian2's code cache (reported as
its compile time: Cython compilation when the cache under ``~/.cython`` is cold, well under a
second once it is warm), then the best of two ``run()`` calls, each restored to the same initial
state; cpp_standalone is compiled once and its binary run twice. Times are by the wall clock (the
loop alone, Brian2's own timer, in parentheses). The ratio is Brian2's time over neurodyn's
``simulate()``. One difference of schedule: Brian2 adds a spike to its targets in the step it
is emitted, neurodyn one step (0.1 ms) later.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import neurodyn as nd
from neurodyn.core.network import Network
from neurodyn.models import coba_ei, coba_initial_state
from neurodyn.ops import event_csr_matvec

from benchmarks.brian2_peer import BRIAN2_PYTHON, MISSING, TARGETS, brian2, label


def _best(fn, *args, rounds: int = 2):
    """(compile seconds, best run seconds, result) of a compiled function."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return first - best, best, out


def _run(steps: int, record: bool = True):
    if record:
        return jax.jit(lambda model, s: nd.run(model, s, steps, record=("exc.spike",))[1]["exc.spike"].sum())
    return jax.jit(lambda model, s: nd.run(model, s, steps)[0].populations["exc"].v.sum())


def _neurodyn(steps: int, n: int = 4000, **options):
    net = coba_ei(n, i_ext=20.0, seed=1, **options)
    return _best(_run(steps), net, coba_initial_state(net, jax.random.PRNGKey(0)))


def _simulate(steps: int, **options):
    """``neurodyn.simulate`` as ``neurodyn run`` uses it: both populations' spikes recorded as events
    (packed 32 per word in the compiled loop, turned into (time, node) pairs on the host, all
    timed), no state variables recorded."""
    net = coba_ei(4000, i_ext=20.0, seed=1, **options)
    state = coba_initial_state(net, jax.random.PRNGKey(0))

    def once():
        return nd.simulate(net, steps, state=state, record=(), progress=False)

    t0 = time.perf_counter()
    once()
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        traj = once()
        best = min(best, time.perf_counter() - t0)
    return first - best, best, len(traj.spikes["exc.spike"][0])


def kernels_per_step(fn, *args) -> dict:
    """The operations XLA runs per iteration of the (largest) loop of ``fn``: fused
    elementwise kernels, custom calls (the event kernels), copies and others, counted in the
    compiled HLO's while body."""
    text = fn.lower(*args).compile().as_text()
    bodies = re.findall(r"body=%([\w.\-]+)", text)
    counts = {}
    for body in bodies:
        block = re.search(r"^%" + re.escape(body) + r" .*?^}", text, re.S | re.M)
        # an operation's shape is one word, or a tuple "(f32[3200]{0}, pred[3200]{0}, ...)" for several results
        ops = re.findall(r"^\s+(?:ROOT )?%[\w.\-]+ = (?:\([^)]*\)|[^ ]+) ([\w\-]+)\(", block.group(0), re.M) if block else []
        kinds = {}
        for op in ops:
            if op in ("parameter", "get-tuple-element", "tuple", "constant", "bitcast"):
                continue
            kind = op if op in ("fusion", "custom-call", "copy") else "other"
            kinds[kind] = kinds.get(kind, 0) + 1
        if sum(kinds.values()) > sum(counts.values()):
            counts = kinds
    return counts


def _floor(steps: int):
    """Per-step times (us) of the parts of the fused network's step."""
    net = coba_ei(4000, i_ext=20.0, seed=1, fused=True)
    state = coba_initial_state(net, jax.random.PRNGKey(0))
    run = _run(steps, record=False)
    kernels = kernels_per_step(run, net, state)
    full = _best(run, net, state)[1]
    tiny = coba_ei(10, i_ext=20.0, seed=1, fused=True, p=None, fanout=8)
    overhead = _best(run, tiny, coba_initial_state(tiny, jax.random.PRNGKey(0)))[1]
    alone = Network(net.populations, {})
    neurons = _best(run, alone, coba_initial_state(alone, jax.random.PRNGKey(0)))[1]
    # the same neurons stepped by the jax.numpy formula instead of the fused kernel (neurodyn.ops.lif)
    formula = Network({k: dataclasses.replace(p, backend="jax") for k, p in net.populations.items()}, {})
    neurons_jax = _best(run, formula, coba_initial_state(formula, jax.random.PRNGKey(0)))[1]
    # the two event products over a raster with the network's spike counts (~ 15 Hz)
    rng = np.random.default_rng(0)
    rasters = [jnp.asarray(rng.random((steps, p.synapses.n_pre)) < 0.0015) for p in net.projections.values()]
    conns = [p.synapses for p in net.projections.values()]

    def products(cs, rs):
        def body(acc, s):
            return acc + sum(event_csr_matvec(c, x) for c, x in zip(cs, s)), None
        return lax.scan(body, jnp.zeros(4000, jnp.float32), rs)[0]

    events = _best(jax.jit(products), conns, rasters)[1]
    us = lambda t: t / steps * 1e6  # noqa: E731
    return kernels, us(full), us(overhead), us(neurons), us(neurons_jax), us(events)


def _brainpy(steps: int):
    import brainpy as bp
    import brainpy.math as bm

    bm.set_dt(0.1)
    pars = dict(V_rest=-60., V_th=-50., V_reset=-60., tau=20., tau_ref=5., V_initializer=bp.init.Normal(-55., 2.))

    class COBA(bp.DynamicalSystem):
        def __init__(self, inp=20.0, prob=0.02):
            super().__init__()
            self.inp = inp
            self.E = bp.dyn.LifRefLTC(3200, **pars)
            self.I = bp.dyn.LifRefLTC(800, **pars)

            def proj(pre, post, w, tau, e_rev):
                return bp.dyn.FullProjAlignPostMg(
                    pre=pre, delay=None,
                    comm=bp.dnn.EventCSRLinear(bp.conn.FixedProb(prob, pre=pre.num, post=post.num), w),
                    syn=bp.dyn.Expon.desc(post.varshape, tau=tau), out=bp.dyn.COBA.desc(E=e_rev), post=post)

            self.E2E, self.E2I = proj(self.E, self.E, 0.6, 5., 0.), proj(self.E, self.I, 0.6, 5., 0.)
            self.I2E, self.I2I = proj(self.I, self.E, 6.7, 10., -80.), proj(self.I, self.I, 6.7, 10., -80.)

        def update(self):
            self.E2I()
            self.I2I()
            self.I2E()
            self.E2E()
            self.E(self.inp)
            self.I(self.inp)
            return self.E.spike.value

    net = COBA()
    indices = np.arange(steps)

    @bm.jit
    def run():
        return bm.for_loop(net.step_run, indices).sum()

    return _best(run)


def _brian2_lines(durations, times: dict, targets=TARGETS):
    """The Brian2 lines of :func:`main`: for each duration and target (``benchmarks/brian2_peer.py``:
    the same COBA-4000 network in Brian2, float32, every spike recorded) its wall seconds per
    simulated second (best ``run()`` after the first; the loop alone by Brian2's timer in
    parentheses), exc rate (spikes / 3,200 / duration, Hz), compile time, and the ratios Brian2 /
    neurodyn over the ``simulate()`` and fused-run times in ``times`` (keys ``"simulate <s>"``,
    ``"fused <s>"``)."""
    if not BRIAN2_PYTHON.exists():
        yield f"  brian2    {MISSING}"
        return
    for secs in durations:
        steps = int(round(secs / 1e-4))
        for target, threads in targets:
            name = label(target, threads)
            try:
                result = brian2("coba", 4000, secs, 0.1, target, threads)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                yield f"  brian2    COBA-4000, {name}, failed: {e}"
                continue
            wall, loop = min(result["walls"]), min(result["loops"])
            yield (f"  brian2    COBA-4000 (2.9.0, {name}, {result['dtype']}, all spikes recorded, subprocess), "
                   f"{secs:g} s: {wall / secs:.3f} s per simulated second (its loop alone {loop / secs:.3f}), "
                   f"{wall / steps * 1e6:.1f} us/step (compile {result['compile']:.2f} s; network build "
                   f"{result['build']:.2f} s), exc rate {result['spikes']['exc'] / 3200 / secs:.1f} Hz")
            nd_sim = times[f"simulate {secs:g}"]
            ratios = [f"{wall / nd_sim:.2f}x (simulate, all spikes recorded; Brian2's loop alone {loop / nd_sim:.2f}x)"]
            if f"fused {secs:g}" in times:
                ratios.append(f"{wall / times[f'fused {secs:g}']:.2f}x (fused, exc spikes recorded)")
            yield f"  ratio brian2 ({name}) / neurodyn, {secs:g} s: {', '.join(ratios)}"


def main(quick: bool = False):
    seconds = 0.1 if quick else 1.0
    steps = int(round(seconds / 1e-4))
    times = {}
    cases = [("4 projections", dict(fused=False)), ("fused (2 products/step)", dict(fused=True))]
    if not quick:
        cases += [("fused, brainevent kernel", dict(fused=True, backend="brainevent")),
                  ("fused, pure-JAX kernel", dict(fused=True, backend="jax"))]
    for label, options in cases:
        compile_nd, run_nd, count_nd = _neurodyn(steps, **options)
        times[label] = run_nd
        if options == dict(fused=True):
            times[f"fused {seconds:g}"] = run_nd
        yield (f"  neurodyn  COBA-4000, {label}, {seconds:g} s: {run_nd / seconds:.3f} s per simulated second, "
               f"{run_nd / steps * 1e6:.1f} us/step (compile {compile_nd:.2f} s), exc rate "
               f"{int(count_nd) / 3200 / seconds:.1f} Hz")
    if not quick:
        long = 5 * steps
        compile_nd, run_nd, count_nd = _neurodyn(long, fused=True)
        times["fused 5"] = run_nd
        yield (f"  neurodyn  COBA-4000, fused, 5 s: {run_nd / 5:.3f} s per simulated second "
               f"(compile {compile_nd:.2f} s), exc rate {int(count_nd) / 3200 / 5:.1f} Hz")
    for secs in ((seconds,) if quick else (seconds, 5 * seconds)):
        compile_nd, run_nd, count_nd = _simulate(int(round(secs / 1e-4)), fused=True)
        times[f"simulate {secs:g}"] = run_nd
        yield (f"  neurodyn  COBA-4000, fused, simulate() recording every spike of both populations as events "
               f"(as `neurodyn run`), {secs:g} s: {run_nd / secs:.3f} s per simulated second, "
               f"{run_nd / secs * 1e2:.1f} us/step (compile {compile_nd:.2f} s), exc rate "
               f"{count_nd / 3200 / secs:.1f} Hz")
    kernels, full, overhead, neurons, neurons_jax, events = _floor(steps)
    yield (f"  floor of the fused step (no recording): {full:.1f} us/step with {sum(kernels.values())} operations "
           f"per step ({', '.join(f'{v} {k}' for k, v in sorted(kernels.items()))}); the same program on 10 "
           f"neurons {overhead:.2f} us (per-step overhead); neurons alone {neurons:.1f} us with the fused LIF "
           f"kernel ({neurons / 4000 * 1e3:.2f} ns per neuron; {neurons_jax:.1f} us with the jax.numpy formula); "
           f"the 2 event products alone {events:.1f} us")
    compile_bp, run_bp, count_bp = _brainpy(steps)
    yield (f"  brainpy   COBA-4000, {seconds:g} s: {run_bp / seconds:.3f} s per simulated second, "
           f"{run_bp / steps * 1e6:.0f} us/step (compile {compile_bp:.2f} s), exc rate "
           f"{int(count_bp) / 3200 / seconds:.1f} Hz")
    yield (f"  ratio brainpy / neurodyn: {run_bp / times['4 projections']:.2f}x (4 projections), "
           f"{run_bp / times['fused (2 products/step)']:.2f}x (fused), {run_bp / times[f'simulate {seconds:g}']:.2f}x "
           f"(simulate, all spikes recorded); target 0.1 s per simulated second: simulate with all spikes recorded "
           f"at {times[f'simulate {seconds:g}'] / seconds / 0.1:.2f}x of it")
    yield from _brian2_lines((seconds,) if quick else (seconds, 5 * seconds), times,
                             TARGETS[:1] if quick else TARGETS)
