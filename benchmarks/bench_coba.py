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
never imports it. Its ``cython`` target, float32, exponential Euler (the scheme ``coba_ei`` uses),
a ``SpikeMonitor`` on each population (every spike recorded, as neurodyn's ``simulate()``). A
first ``run()`` fills Brian2's code cache (reported as its compile time: Cython compilation when
the cache under ``~/.cython`` is cold, well under a second once it is warm); then the best of two
``run()`` calls, each restored to the same initial state, is timed by the wall clock (the loop
alone, Brian2's own timer, in parentheses). The ratio is Brian2's time over neurodyn's
``simulate()``. One difference of schedule: Brian2 adds a spike to its targets in the step it
is emitted, neurodyn one step (0.1 ms) later.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import neurodyn as nd
from neurodyn.core.network import Network
from neurodyn.models import coba_ei, coba_initial_state
from neurodyn.ops import event_csr_matvec


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


BRIAN2_PYTHON = Path(__file__).resolve().parent.parent / ".venv-brian2" / "bin" / "python"

# Brian2's COBA (Brette et al. 2007, benchmark 1) as coba_ei(4000, i_ext=20.0) builds it: 3,200 + 800 LIF
# neurons, tau_m dV/dt = (V_rest - V) + g_e (E_e - V) + g_i (E_i - V) + i_ext, g_e, g_i in units of the leak
# conductance, increments 0.6 / 6.7, p = 0.02, V ~ N(-65, 5) mV, g_e ~ N(4, 1.5), g_i ~ N(20, 12) clipped at 0.
# argv: the simulated durations (s, comma-separated) and the timed rounds; prints one JSON line.
_BRIAN2 = textwrap.dedent('''
    import json, sys, time
    import numpy as np
    from brian2 import (Network, NeuronGroup, SpikeMonitor, Synapses, defaultclock, get_device, ms, mV, prefs,
                        seed)

    prefs.codegen.target = "cython"
    prefs.core.default_float_dtype = np.float32
    durations, rounds = [float(x) for x in sys.argv[1].split(",")], int(sys.argv[2])
    defaultclock.dt = 0.1 * ms
    seed(1)
    t0 = time.perf_counter()
    eqs = """
    dv/dt = ((v_rest - v) + g_e * (e_e - v) + g_i * (e_i - v) + i_ext) / tau_m : volt (unless refractory)
    dg_e/dt = -g_e / tau_e : 1
    dg_i/dt = -g_i / tau_i : 1
    """
    ns = dict(tau_m=20 * ms, v_rest=-60 * mV, v_reset=-60 * mV, v_th=-50 * mV, tau_e=5 * ms, tau_i=10 * ms,
              e_e=0 * mV, e_i=-80 * mV, i_ext=20 * mV)
    cells = NeuronGroup(4000, eqs, threshold="v >= v_th", reset="v = v_reset", refractory=5 * ms,
                        method="exponential_euler", namespace=ns)
    cells.v = "-65*mV + 5*mV*randn()"
    cells.g_e = "clip(4 + 1.5*randn(), 0, inf)"
    cells.g_i = "clip(20 + 12*randn(), 0, inf)"
    exc, inh = cells[:3200], cells[3200:]
    from_exc = Synapses(exc, cells, on_pre="g_e += 0.6")
    from_exc.connect(p=0.02)
    from_inh = Synapses(inh, cells, on_pre="g_i += 6.7")
    from_inh.connect(p=0.02)
    spikes_e, spikes_i = SpikeMonitor(exc), SpikeMonitor(inh)
    net = Network(cells, from_exc, from_inh, spikes_e, spikes_i)
    net.store()
    out = {"build": time.perf_counter() - t0, "dtype": str(cells.v[:].dtype), "runs": []}
    for k, seconds in enumerate(durations):
        walls, loops, counts = [], [], []
        for _ in range(rounds + (k == 0)):  # the first run of all fills the code cache
            net.restore()
            t0 = time.perf_counter()
            net.run(seconds * 1000 * ms, report=None)
            walls.append(time.perf_counter() - t0)
            loops.append(get_device()._last_run_time)
            counts.append(int(spikes_e.num_spikes))
        out["runs"].append({"seconds": seconds, "walls": walls, "loops": loops, "counts": counts})
    print(json.dumps(out))
''')


def _brian2(durations, rounds: int = 2) -> dict:
    """Brian2's COBA-4000 (``_BRIAN2``) run by ``.venv-brian2/bin/python`` for each of ``durations``
    (simulated seconds): ``{"build": s, "dtype": str, "runs": [{"seconds", "walls", "loops", "counts"}]}``
    with the wall and loop seconds and exc spike counts of every ``run()`` call (the first call of all
    fills the code cache). Raises ``RuntimeError`` with Brian2's last error line if it fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([str(BRIAN2_PYTHON), "-c", _BRIAN2, ",".join(f"{d:g}" for d in durations), str(rounds)],
                             cwd=tmp, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode:
        lines = out.stderr.strip().splitlines() or ["no output"]
        raise RuntimeError(lines[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _brian2_lines(durations, times: dict):
    """The Brian2 lines of :func:`main`: wall seconds per simulated second (best ``run()`` after the
    first), exc rate (spikes / 3,200 / duration, Hz), compile time, and the ratios Brian2 / neurodyn
    over the ``simulate()`` and fused-run times in ``times`` (keys ``"simulate <s>"``, ``"fused <s>"``)."""
    if not BRIAN2_PYTHON.exists():
        yield ("  brian2    skipped: no .venv-brian2/ (Brian2 2.9.0 needs numpy<2, so it has its own environment; "
               "create it with `python benchmarks/brian2_env.py`)")
        return
    try:
        result = _brian2(durations)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        yield f"  brian2    COBA-4000 failed: {e}"
        return
    for k, run in enumerate(result["runs"]):
        secs, walls, loops = run["seconds"], run["walls"], run["loops"]
        timed = slice(1, None) if k == 0 else slice(None)
        wall, loop = min(walls[timed]), min(loops[timed])
        steps = int(round(secs / 1e-4))
        extra = (f" (compile: first run() {walls[0] - wall:.2f} s longer; network build {result['build']:.2f} s)"
                 if k == 0 else "")
        yield (f"  brian2    COBA-4000 (2.9.0, cython, {result['dtype']}, all spikes recorded, subprocess), "
               f"{secs:g} s: "
               f"{wall / secs:.3f} s per simulated second (its loop alone {loop / secs:.3f}), "
               f"{wall / steps * 1e6:.1f} us/step{extra}, exc rate {run['counts'][-1] / 3200 / secs:.1f} Hz")
        nd_sim = times[f"simulate {secs:g}"]
        ratios = [f"{wall / nd_sim:.2f}x (simulate, all spikes recorded; Brian2's loop alone {loop / nd_sim:.2f}x)"]
        if f"fused {secs:g}" in times:
            ratios.append(f"{wall / times[f'fused {secs:g}']:.2f}x (fused, exc spikes recorded)")
        yield f"  ratio brian2 / neurodyn, {secs:g} s: {', '.join(ratios)}"


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
    yield from _brian2_lines((seconds,) if quick else (seconds, 5 * seconds), times)
