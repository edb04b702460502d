"""Plasticity on the event-driven path: the COBA network (Brette et al. 2007, 4,000 neurons, 2 %
connectivity, i_ext = 20 mV, dt = 0.1 ms, float32) with pair STDP on its E->E synapses
(``PlasticProjection``, the spec's ``plasticity = {rule = "stdp", ...}``: traces 16.8 / 33.7 ms,
additive, w_max = 1) against the same network with static synapses, both run by
``neurodyn.simulate`` recording every spike of both populations as events, side by side in this
process. Times are seconds per simulated second after compilation, best of two runs, as wall time
and as the process's CPU time (on the shared machine the wall time also counts waiting for a core;
the cost axes below use the CPU time). The
static network runs as four projections (the plastic one replaces ``ee`` of the same four) and
fused (its fastest form); the plastic projection with its compiled kernel (numba, the CPU
default) and with the pure-JAX passes.

Cost against activity: the same networks with five strengths of inhibition (w_i 10 to 2: rates
from about 15 to 50 Hz at fixed N and the same synapses; the drive hardly moves the rate), and the fixed fan-out variant (80
synapses per neuron) at 4,000, 16,000 and 64,000 neurons (the same rate at growing N): the extra
time per step of the plastic network over the static one, divided by the synaptic events it
handles per step (arriving E->E spikes x fan-out plus E spikes x fan-in, counted from the
plastic network's spikes), stays flat if the cost grows with spikes x fan-out and not with the
number of synapses; and a silent network of 16,000 neurons (no excitation) with 0.2 to 3.3
million synapses: without events the extra time stays flat if nothing visits every synapse. The machine is shared: single timings vary by tens of percent.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

import neurodyn as nd
from neurodyn.models import PairSTDP, PlasticProjection, coba_ei, coba_initial_state

RULE = dict(tau_plus=16.8, tau_minus=33.7, a_plus=0.005, a_minus=0.005, w_max=1.0)


def plastic(net, backend=None):
    """``net`` with its ``ee`` projection made plastic (same synapses, initial weights 0.6)."""
    ee = net.projections["ee"]
    dt = float(net.populations["exc"].dt)
    proj = PlasticProjection.create("exc", "exc", ee.synapses, rule=PairSTDP(**RULE), port="g_e", dt=dt,
                                    backend=backend)
    return dataclasses.replace(net, projections={**net.projections, "ee": proj})


def timing(net, steps: int, rounds: int = 2, state=None) -> dict:
    """``compile_s``, ``run_s`` (best wall time of ``rounds`` runs), ``cpu_s`` (best process CPU
    time of the same runs: on a shared machine the wall time also counts the waits for a core,
    the CPU time does not), ``n_e``, ``n_i`` (E and I spikes) of ``simulate`` recording every
    spike, from ``state`` (default: the COBA initial state of key 0)."""
    state = coba_initial_state(net, jax.random.PRNGKey(0)) if state is None else state

    def once():
        return nd.simulate(net, steps, state=state, record=(), progress=False)

    t0 = time.perf_counter()
    once()
    first = time.perf_counter() - t0
    best, cpu, traj = np.inf, np.inf, None
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        traj = once()
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return {"compile_s": first - best, "run_s": best, "cpu_s": cpu, "n_e": len(traj.spikes["exc.spike"][0]),
            "n_i": len(traj.spikes["inh.spike"][0])}


def timed(net, steps: int, rounds: int = 2, state=None):
    """(compile s, best run s, E spikes, I spikes) of :func:`timing`."""
    t = timing(net, steps, rounds, state)
    return t["compile_s"], t["run_s"], t["n_e"], t["n_i"]


#: the inhibitory increments of the rate axis (w_i, in units of the leak conductance; 6.7 is the
#: benchmark's): the drive barely moves this network's rate (15-17 Hz for i_ext 10.5 to 40 mV),
#: the strength of inhibition does, with the same synapses
INHIBITION = (10.0, 6.7, 4.0, 3.0, 2.0)


def cost_against_rate(inhibition, steps: int):
    """Lines of the cost per step of COBA-4000 (i_ext 20 mV) at each inhibitory increment ``w_i``:
    E rate of the plastic network, its synaptic events per step (arriving E->E spikes x fan-out +
    E spikes x fan-in), static and plastic us/step, and the extra time per event."""
    seconds = steps * 1e-4
    for w_i in inhibition:
        net = coba_ei(4000, i_ext=20.0, w_i=w_i, seed=1)
        t_static = timing(net, steps)["cpu_s"]
        run = timing(plastic(net), steps)  # the plastic network's spikes make its events
        t_plastic, n_e = run["cpu_s"], run["n_e"]
        fan = net.projections["ee"].synapses.nnz / 3200  # mean fan-out = mean fan-in of E->E
        events = 2 * n_e * fan / steps  # arriving rows x fan-out + postsynaptic columns x fan-in, per step
        extra = (t_plastic - t_static) / steps * 1e6
        yield (f"  w_i {w_i:4.1f}: E rate {n_e / 3200 / seconds:5.1f} Hz, {events:7.0f} synaptic events per "
               f"step; static {t_static / steps * 1e6:6.1f} us/step, plastic {t_plastic / steps * 1e6:6.1f} us/step, "
               f"extra {extra:5.1f} us = {extra * 1e3 / max(events, 1):5.2f} ns per event")


def cost_against_synapses(fanouts, steps: int, n: int = 16000):
    """Lines of the cost per step of a silent COBA network (no excitation: w_e = 0, i_ext = 0, so
    only the first steps spike) of ``n`` neurons at each fixed fan-out: the number of synapses
    grows, the events stay near zero; the extra time of the plastic network is then its cost per
    step without events, and stays flat if nothing visits every synapse."""
    for fan in fanouts:
        net = coba_ei(n, p=None, fanout=fan, i_ext=0.0, w_e=0.0, seed=1)
        t_static = timing(net, steps)["cpu_s"]
        run = timing(plastic(net), steps)
        t_plastic, n_e = run["cpu_s"], run["n_e"]
        yield (f"  fan-out {fan:4d}: {net.projections['ee'].synapses.nnz:8d} E->E synapses, {n_e:5d} E spikes in "
               f"{steps} steps; static {t_static / steps * 1e6:6.1f} us/step, plastic {t_plastic / steps * 1e6:6.1f}, "
               f"extra {(t_plastic - t_static) / steps * 1e6:6.1f} us/step")


def main(quick: bool = False):
    seconds = 0.2 if quick else 1.0
    steps = int(round(seconds / 1e-4))
    yield (f"COBA-4000, {seconds:g} s simulated, every spike recorded (s per simulated second, best of 2: wall "
           f"time and process CPU time)")
    base = coba_ei(4000, i_ext=20.0, seed=1)
    rows = {"static, four projections": base, "static, fused": coba_ei(4000, i_ext=20.0, seed=1, fused=True),
            "plastic E->E (numba kernel)": plastic(base), "plastic E->E (pure JAX)": plastic(base, "jax")}
    runs = {}
    for label, net in rows.items():
        runs[label] = run = timing(net, steps)
        yield (f"  {label:30s} wall {run['run_s'] / seconds:7.3f} s/s, CPU {run['cpu_s'] / seconds:7.3f} s/s  "
               f"(compile {run['compile_s']:5.1f} s; rates E {run['n_e'] / 3200 / seconds:.1f} Hz, "
               f"I {run['n_i'] / 800 / seconds:.1f} Hz)")
    for clock, key in (("wall", "run_s"), ("CPU", "cpu_s")):
        t = {label: run[key] for label, run in runs.items()}
        static = t["static, four projections"]
        yield (f"  ratio plastic / static ({clock}): numba {t['plastic E->E (numba kernel)'] / static:.2f}x, pure JAX "
               f"{t['plastic E->E (pure JAX)'] / static:.2f}x (target <= 2x); over the fused static network "
               f"{t['plastic E->E (numba kernel)'] / t['static, fused']:.2f}x")

    yield ("cost per step against the rate (N = 4,000, 2 % connectivity, the same synapses, inhibition w_i "
           "varied; CPU time; extra = plastic - static)")
    yield from cost_against_rate((6.7,) if quick else INHIBITION, steps)

    yield ("cost per step against the number of synapses without events (N = 16,000, silent: w_e = 0, i_ext = 0; "
           "CPU time)")
    yield from cost_against_synapses((20,) if quick else (20, 80, 320), steps)

    yield "cost per step against N (fixed fan-out 80, i_ext 20 mV: the same rate at every size; CPU time)"
    for n in ((4000,) if quick else (4000, 16000, 64000)):
        net = coba_ei(n, fanout=80, i_ext=20.0, seed=1)
        n_steps = steps if n <= 16000 else steps // 4
        t_static = timing(net, n_steps, rounds=1)["cpu_s"]
        run = timing(plastic(net), n_steps, rounds=1)  # the plastic network's spikes make its events
        t_plastic, n_e = run["cpu_s"], run["n_e"]
        fan = net.projections["ee"].synapses.nnz / (0.8 * n)
        events = 2 * n_e * fan / n_steps
        extra = (t_plastic - t_static) / n_steps * 1e6
        yield (f"  N {n:6d}: {net.projections['ee'].synapses.nnz:9d} E->E synapses, E rate "
               f"{n_e / (0.8 * n) / (n_steps * 1e-4):5.1f} Hz, {events:8.0f} events per step; static "
               f"{t_static / n_steps * 1e6:7.1f} us/step, plastic {t_plastic / n_steps * 1e6:7.1f}, extra "
               f"{extra * 1e3 / max(events, 1):5.2f} ns per event")
