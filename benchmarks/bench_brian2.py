"""neurodyn against Brian2 2.9.0 at its best targets (cython; cpp_standalone with 1 and 2 OpenMP
threads), side by side in one run, on three networks (issues 21 and 22), float32 on both sides,
every spike of every population recorded:

1. COBA-4000 (Brette et al. 2007, benchmark 1; 20 mV input, dt 0.1 ms) with additive all-to-all
   pair STDP on its E->E synapses (tau_+ 16.8 ms, tau_- 33.7 ms, a_+ = a_- = 0.005, w_max 1,
   initial weights 0.6; neurodyn's ``PairSTDP`` on a ``PlasticProjection``, Brian2's standard
   Song/Abbott ``Synapses`` model with event-driven traces), 1 s; also the static network
   (four projections and fused) for the plastic / static ratio; the plastic network runs as four
   projections and "all carried": ``ei`` and the fused ``ie`` + ``ii`` carried by the plastic
   projection's kernel, one native call per step for every synapse (the same network: same
   spikes and weights), the latter with the kernel's default threads and with one thread; the
   fastest form by wall time is compared with Brian2.
2. COBAHH-4000 (benchmark 3, Traub-Miles cells, ``models/cobahh.toml``: the ``traub_miles``
   equation preset, exponential Euler at dt 0.1 ms on both sides, as Brian2's COBAHH example;
   the paper used 0.01 ms), 1 s.
3. The Izhikevich (2003) 1,000-neuron network (800 + 200 cells, all to all, 1M synapses, Euler at
   dt 1 ms, the network of ``bench_equations``: the ``izhikevich`` equation preset, and the same
   model hand-written as a class, median of five interleaved rounds), 10 s. Parameters and weights are the same numbers on both
   sides; the thalamic noise has the same statistics (neurodyn: a drive array; Brian2: randn()
   each step).

neurodyn runs ``simulate()`` (spikes of both populations recorded as events, as ``neurodyn run``
does), best of two after compilation. Brian2 runs in a subprocess of ``.venv-brian2/bin/python``
(``benchmarks/brian2_peer.py``; without that environment its lines are one line saying so); its
time is the simulation loop alone by its own timer (best of two), the number most favourable to it.
Ratios are Brian2's time over neurodyn's. Connectivity is drawn by each simulator with its own
random numbers (the same statistics), so the spike rates printed beside each time show that both
simulate the same network. The machine is shared: single timings vary by tens of percent; the
ratios are measured side by side in one run.
"""

from __future__ import annotations

import jax
import numpy as np

from benchmarks.bench_equations import _interleaved, _izhikevich
from benchmarks.bench_plasticity import plastic, timed, timing
from benchmarks.brian2_peer import TARGETS, brian2_lines
from neurodyn.models import coba_ei
from neurodyn.spec import load_spec


def _rates(n_e, n_i, ne, ni, seconds):
    return f"exc {n_e / ne / seconds:.1f} Hz, inh {n_i / ni / seconds:.1f} Hz"


def stdp(quick: bool = False):
    """COBA-4000 with pair STDP on E->E: neurodyn plastic against static and against Brian2."""
    seconds = 0.1 if quick else 1.0
    steps = int(round(seconds / 0.1e-3))
    runs = {}
    rows = {"static, four projections": coba_ei(4000, i_ext=20.0, seed=1),
            "static, fused": coba_ei(4000, i_ext=20.0, seed=1, fused=True)}
    rows["plastic E->E"] = plastic(rows["static, four projections"])
    rows["plastic E->E, all carried"] = plastic(rows["static, four projections"], fused=True)  # same network
    rows["plastic E->E, all carried, 1 thread"] = plastic(rows["static, four projections"], fused=True, threads=1)
    for label, net in rows.items():
        runs[label] = r = timing(net, steps)
        yield (f"  neurodyn  COBA-4000, {label}, {seconds:g} s: {r['run_s'] / seconds:.3f} s per simulated second "
               f"(CPU {r['cpu_s'] / seconds:.3f}; compile {r['compile_s']:.1f} s); "
               f"{_rates(r['n_e'], r['n_i'], 3200, 800, seconds)}")
    for clock, key in (("wall", "run_s"), ("CPU", "cpu_s")):
        t = {label: r[key] for label, r in runs.items()}
        yield (f"  ratio plastic / static ({clock}): {t['plastic E->E'] / t['static, four projections']:.2f}x (four "
               f"projections), {t['plastic E->E'] / t['static, fused']:.2f}x (over the fused static network), "
               f"{t['plastic E->E, all carried'] / t['static, four projections']:.2f}x (plastic, all carried, over "
               f"four projections); target <= 2x")
    plastic_forms = ("plastic E->E", "plastic E->E, all carried", "plastic E->E, all carried, 1 thread")
    best = min(plastic_forms, key=lambda label: runs[label]["run_s"])
    yield f"  neurodyn's best plastic form (by wall time), compared with Brian2 below: {best}"
    yield from brian2_lines("coba_stdp", 4000, seconds, 0.1, runs[best]["run_s"], "COBA-4000 + STDP",
                            targets=TARGETS[:1] if quick else TARGETS, neurodyn_cpu=runs[best]["cpu_s"])


def cobahh(quick: bool = False):
    """COBAHH-4000 from models/cobahh.toml against Brian2."""
    seconds = 0.05 if quick else 1.0
    steps = int(round(seconds / 0.1e-3))
    spec = load_spec("models/cobahh.toml", steps=steps)
    system = spec.model.populations["exc"].system
    compile_s, run_s, n_e, n_i = timed(spec.model, steps, state=spec.state)
    yield (f"  neurodyn  COBAHH-4000 (models/cobahh.toml; {system.method}, dt {spec.dt:g} ms), {seconds:g} s: "
           f"{run_s / seconds:.3f} s per simulated second (compile {compile_s:.1f} s); "
           f"{_rates(n_e, n_i, 3200, 800, seconds)}")
    yield from brian2_lines("cobahh", 4000, seconds, 0.1, run_s, "COBAHH-4000",
                            targets=TARGETS[:1] if quick else TARGETS)


def izhikevich(quick: bool = False):
    """The Izhikevich 2003 network from equations against the hand-written class and Brian2."""
    seconds = 1.0 if quick else 10.0
    steps = int(round(seconds / 1e-3))
    labels = {"equations": "zoo preset izhikevich (equations)", "class": "hand-written class"}
    runs = {kind: _izhikevich(kind, steps) for kind in labels}
    counts = {kind: run() for kind, run in runs.items()}  # compiles
    rounds = _interleaved(runs, 5)  # short runs: median of 5 interleaved rounds
    times = {kind: float(np.median(t)) for kind, t in rounds.items()}
    for kind, label in labels.items():
        n_e, n_i = counts[kind]
        yield (f"  neurodyn  Izhikevich 1,000 (1M synapses, euler, dt 1 ms), {label}, {seconds:g} s: "
               f"{times[kind] / seconds:.3f} s per simulated second; {_rates(n_e, n_i, 800, 200, seconds)}")
    yield f"  ratio equations / class: {times['equations'] / times['class']:.2f}x (target <= 1.2x)"
    yield from brian2_lines("izhikevich", 1000, seconds, 1.0, times["equations"], "Izhikevich 1,000",
                            targets=TARGETS[:1] if quick else TARGETS)


def main(quick: bool = False):
    yield f"  float32, JAX {jax.__version__} on {jax.default_backend()}"
    yield from stdp(quick)
    yield from cobahh(quick)
    yield from izhikevich(quick)
