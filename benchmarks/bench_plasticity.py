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
default) and with the pure-JAX passes, and the fused plastic network (``ie`` + ``ii`` fused,
``ei`` carried by the plastic kernel) with the kernel on two threads and on one.

Cost against activity: the same networks with five strengths of inhibition (w_i 10 to 2: rates
from about 15 to 50 Hz at fixed N and the same synapses; the drive hardly moves the rate), and the fixed fan-out variant (80
synapses per neuron) at 4,000, 16,000 and 64,000 neurons (the same rate at growing N): the extra
time per step of the plastic network over the static one, divided by the synaptic events it
handles per step (arriving E->E spikes x fan-out plus E spikes x fan-in, counted from the
plastic network's spikes), stays flat if the cost grows with spikes x fan-out and not with the
number of synapses; and a silent network of 16,000 neurons (no excitation) with 0.2 to 3.3
million synapses: without events the extra time stays flat if nothing visits every synapse. The machine is shared: single timings vary by tens of percent.

The floor (:func:`floor`, last): the plastic network's work per simulated second counted from its
own spikes (events delivered, presynaptic and postsynaptic weight updates), the CPU time of one
hand numba loop on one thread doing the network's whole step over those spikes (trace decays,
deliveries, STDP updates, the 4,000 neurons with the LIF kernel's own loop, recording every spike;
:func:`replay`, tested to end at the network's weights and potentials), and the fraction of that
rate the network reaches.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

import neurodyn as nd
from neurodyn.models import PairSTDP, PlasticProjection, coba_ei, coba_initial_state
from neurodyn.models.synapses import fuse

RULE = dict(tau_plus=16.8, tau_minus=33.7, a_plus=0.005, a_minus=0.005, w_max=1.0)


def plastic(net, backend=None, fused: bool = False, threads: int | None = None):
    """``net`` (four projections) with its ``ee`` projection made plastic (same synapses, initial
    weights 0.6). ``fused``: the two inhibitory projections ``ie`` and ``ii`` as one
    (:func:`~neurodyn.models.synapses.fuse`) and both it and ``ei`` delivered by the plastic
    projection's own call (:meth:`~neurodyn.models.PlasticProjection.carrying`: ``ei`` in its
    rows' pass, the inhibitory one from the ``inh`` spikes; one projection, still ``"ee"``):
    the same network (the same sums, synapse by synapse: same spikes and weights), one native
    call per step for all synapses instead of four. ``threads``: of the plasticity kernel (None: its default,
    :data:`neurodyn.ops.plasticity.THREADS`; two use a worker thread where the machine has two
    cores; the same result on one)."""
    ee = net.projections["ee"]
    dt = float(net.populations["exc"].dt)
    proj = PlasticProjection.create("exc", "exc", ee.synapses, rule=PairSTDP(**RULE), port="g_e", dt=dt,
                                    backend=backend)
    if threads is not None:
        proj = dataclasses.replace(proj, threads=threads)
    projections = {**net.projections, "ee": proj}
    if fused:
        projections = {"ee": proj.carrying(projections["ei"]).carrying(fuse([projections["ie"], projections["ii"]]))}
    return dataclasses.replace(net, projections=projections)


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
    yield from _main(quick)
    yield ("the floor of the plastic network's work on this machine (1 s simulated; CPU time; the network's own "
           "E and I spikes replayed)")
    yield from floor(2000 if quick else 10000)


def _main(quick: bool = False):
    seconds = 0.2 if quick else 1.0
    steps = int(round(seconds / 1e-4))
    yield (f"COBA-4000, {seconds:g} s simulated, every spike recorded (s per simulated second, best of 2: wall "
           f"time and process CPU time)")
    base = coba_ei(4000, i_ext=20.0, seed=1)
    rows = {"static, four projections": base, "static, fused": coba_ei(4000, i_ext=20.0, seed=1, fused=True),
            "plastic E->E (numba kernel)": plastic(base), "plastic E->E (pure JAX)": plastic(base, "jax"),
            "plastic, fused, 2 threads": plastic(base, fused=True, threads=2),
            "plastic, fused, 1 thread": plastic(base, fused=True, threads=1)}
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
               f"{t['plastic E->E (numba kernel)'] / t['static, fused']:.2f}x; fused plastic (ei and ie + ii carried "
               f"by the plastic kernel) over four static projections: {t['plastic, fused, 2 threads'] / static:.2f}x (2 threads), "
               f"{t['plastic, fused, 1 thread'] / static:.2f}x (1 thread)")

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


def _floor_loop():
    """A hand numba loop (one function, one thread) doing the plastic COBA network's whole work
    per step over its recorded spikes: the trace decays (pre and post of E->E), delivery of every
    event of the four projections (``y[target] += w``), the presynaptic update of each arriving
    E->E synapse and the postsynaptic update of each column of a spiking E cell (additive pair
    STDP, hard bounds), the trace jumps, the update of all 4,000 neurons with those inputs (the
    LIF kernel's own loop, :func:`neurodyn.ops._lif_kernel.update_conductance`: the same
    arithmetic, branch-free, so its cost does not depend on which neurons spike) and the
    recording of every spike the neurons emit (their indices). No XLA, no call frames: the
    machine's rate for this work. ``neurons`` False: the synaptic work only."""
    import numba

    from neurodyn.ops._lif_kernel import update_conductance

    @numba.njit(cache=True, error_model="numpy")
    def loop(e_ptr, e_idx, i_ptr, i_idx, steps_e, ptr_e, steps_i, ptr_i, ee_ptr, ee_tgt, col_ptr, col_slots,
             col_rows, w, w_ei, w_ie, w_ii, a_plus, a_minus, w_max, d_pre, d_post, neurons, state_e, state_i, lif,
             record):
        n_e = ee_ptr.shape[0] - 1
        n_i = i_ptr.shape[0] - 1
        pre = np.zeros(n_e, np.float32)
        post = np.zeros(n_e, np.float32)
        y_ee, y_ie = np.zeros(n_e, np.float32), np.zeros(n_e, np.float32)  # inputs of exc from E and from I
        y_ei, y_ii = np.zeros(n_i, np.float32), np.zeros(n_i, np.float32)  # inputs of inh
        spike_e, spike_i = np.zeros(n_e, np.uint8), np.zeros(n_i, np.uint8)
        words_e, words_i = spike_e[:n_e - n_e % 8].view(np.uint64), spike_i[:n_i - n_i % 8].view(np.uint64)
        zero = np.float32(0.0)
        c_m, v_rest, v_reset, v_th, t_ref, i_ext, d_e, d_i, e_e, e_i, dt = (lif[0], lif[1], lif[2], lif[3], lif[4],
                                                                         lif[5], lif[6], lif[7], lif[8], lif[9],
                                                                         lif[10])
        v_e, ref_e, ge_e, gi_e = state_e[0].copy(), state_e[1].copy(), state_e[2].copy(), state_e[3].copy()
        v_i, ref_i, ge_i, gi_i = state_i[0].copy(), state_i[1].copy(), state_i[2].copy(), state_i[3].copy()
        n_rec = 0
        total = np.float32(0.0)
        for s in range(ptr_e.shape[0] - 1):
            for j in range(n_e):
                pre[j] *= d_pre
                post[j] *= d_post
            y_ee[:] = 0.0
            y_ie[:] = 0.0
            y_ei[:] = 0.0
            y_ii[:] = 0.0
            for q in range(ptr_e[s], ptr_e[s + 1]):
                r = steps_e[q]
                for k in range(ee_ptr[r], ee_ptr[r + 1]):  # plastic row: deliver, presynaptic update
                    t = ee_tgt[k]
                    wk = w[k]
                    y_ee[t] += wk
                    w[k] = min(max(wk - w_max * a_minus * post[t], 0.0), w_max)
                for k in range(e_ptr[r], e_ptr[r + 1]):  # static E -> I
                    y_ei[e_idx[k]] += w_ei
                pre[r] += 1.0
            for q in range(ptr_e[s], ptr_e[s + 1]):  # postsynaptic columns
                c = steps_e[q]
                for p in range(col_ptr[c], col_ptr[c + 1]):
                    k = col_slots[p]
                    w[k] = min(max(w[k] + w_max * a_plus * pre[col_rows[p]], 0.0), w_max)
                post[c] += 1.0
            for q in range(ptr_i[s], ptr_i[s + 1]):
                r = steps_i[q]
                for k in range(i_ptr[r], i_ptr[r + 1]):  # static I -> E and I -> I (fused rows)
                    t = i_idx[k]
                    if t < n_e:
                        y_ie[t] += w_ie
                    else:
                        y_ii[t - n_e] += w_ii
            if neurons:
                update_conductance(v_e, ref_e, ge_e, gi_e, zero, zero, y_ee, y_ie, c_m, v_rest, v_reset, v_th, t_ref,
                                   i_ext, d_e, d_i, e_e, e_i, dt, spike_e)
                update_conductance(v_i, ref_i, ge_i, gi_i, zero, zero, y_ei, y_ii, c_m, v_rest, v_reset, v_th, t_ref,
                                   i_ext, d_e, d_i, e_e, e_i, dt, spike_i)
                # record every spike (its cell; steps by a counter), flags read eight at a time
                for x in range(words_e.shape[0]):
                    if words_e[x] != 0:
                        for j in range(8 * x, 8 * x + 8):
                            if spike_e[j]:
                                record[n_rec % record.shape[0]] = j
                                n_rec += 1
                for x in range(words_i.shape[0]):
                    if words_i[x] != 0:
                        for j in range(8 * x, 8 * x + 8):
                            if spike_i[j]:
                                record[n_rec % record.shape[0]] = n_e + j
                                n_rec += 1
            total += y_ee[0] + y_ii[0]
        return total + n_rec, w, v_e, v_i

    return loop


def replay_inputs(base, net, traj, steps: int) -> tuple:
    """The arguments of :func:`_floor_loop` (without ``neurons``, the neurons' state and the
    record) replaying the spikes of ``traj`` (a run of ``net``, the fused plastic form of
    ``base`` from :func:`plastic`), and the counts of its work: (arguments, events delivered,
    presynaptic updates, postsynaptic updates, E spikes, I spikes)."""
    from neurodyn.models.spiking import _SYN_PARAMETERS
    from neurodyn.ops.lif import kernel_parameters

    exc, inh = net.populations["exc"], net.populations["inh"]
    n_e, n_i = exc.n, inh.n

    def events(key):
        """The cells of the spikes each step's projections see (a spike recorded at time
        ``s dt`` arrives in step ``s``; the last step's arrive after the run), grouped by step."""
        t, i = (np.asarray(a) for a in traj.spikes[key][:2])
        step = np.rint(t / float(exc.dt)).astype(np.int64)
        keep = step < steps
        step, i = step[keep], i[keep]
        order = np.lexsort((i, step))
        return i[order].astype(np.int32), np.searchsorted(step[order], np.arange(steps + 1)).astype(np.int64)

    steps_e, ptr_e = events("exc.spike")
    steps_i, ptr_i = events("inh.spike")
    ee = net.projections["ee"]
    conn, index = ee.synapses, ee.index
    ee_ptr = conn.row_pointers().astype(np.int64)
    ei, inh_conn = base.projections["ei"].synapses, net.projections["ee"].guest.synapses
    e_ptr, i_ptr = ei.row_pointers().astype(np.int64), inh_conn.row_pointers().astype(np.int64)
    pre_updates = int(np.diff(ee_ptr)[steps_e].sum())
    post_updates = int(np.diff(np.asarray(index.col_ptr))[steps_e].sum())
    delivered = pre_updates + int(np.diff(e_ptr)[steps_e].sum()) + int(np.diff(i_ptr)[steps_i].sum())
    f32 = np.float32
    weight = {name: f32(np.asarray(base.projections[name].synapses.weights).reshape(-1)[0]) for name in ("ei", "ie",
                                                                                                      "ii")}
    lif = np.asarray([float(x) for x in kernel_parameters({k: getattr(exc, k) for k in _SYN_PARAMETERS + ("dt",)},
                                                          True)], f32)
    decay = [f32(np.exp(-float(exc.dt) / RULE[tau])) for tau in ("tau_plus", "tau_minus")]
    args = (e_ptr, np.asarray(ei.indices), i_ptr, np.asarray(inh_conn.indices), steps_e, ptr_e, steps_i, ptr_i, ee_ptr,
            np.asarray(conn.indices), np.asarray(index.col_ptr), np.asarray(index.col_slots),
            np.asarray(index.col_rows), np.broadcast_to(np.asarray(conn.weights, f32), (conn.nnz,)).copy(), weight["ei"], weight["ie"],
            weight["ii"], f32(RULE["a_plus"]), f32(RULE["a_minus"]), f32(RULE["w_max"]), *decay)
    return args, lif, delivered, pre_updates, post_updates, len(steps_e) / n_e, len(steps_i) / n_i


def replay(base, net, traj, state, steps: int, neurons: bool = True):
    """:func:`_floor_loop` over the spikes of ``traj`` from the neurons' ``state`` (the run's
    initial state): returns (its CPU seconds, the final E->E weights, the final E and I
    potentials, the counts of :func:`replay_inputs`)."""
    args, lif, *counts = replay_inputs(base, net, traj, steps)
    args = list(args)
    args[13] = args[13].copy()  # the weights, updated in place

    def neuron_state(pop):
        s = state.populations[pop]
        return np.stack([np.asarray(x) for x in (s.v, s.refractory, s.g_e, s.g_i)]).astype(np.float32)

    loop = _floor_loop()
    record = np.zeros(1 << 20, np.int32)
    c0 = time.process_time()
    _, w, v_e, v_i = loop(*args, neurons, neuron_state("exc"), neuron_state("inh"), lif, record)
    return time.process_time() - c0, w, v_e, v_i, counts


def floor(steps: int = 10000):
    """Lines of the work per simulated second of the plastic COBA-4000 network (counted from its
    own spikes) and the machine's best rate for it (:func:`_floor_loop`, best of 3 by CPU time
    after a first call that compiles: the synaptic work alone and the whole step with the
    neurons and the recording), against the network's own CPU time."""
    base = coba_ei(4000, i_ext=20.0, seed=1)
    net = plastic(base, fused=True)
    run = timing(net, steps, rounds=3)
    state = coba_initial_state(net, jax.random.PRNGKey(0))
    traj = nd.simulate(net, steps, state=state, record=(), progress=False)
    seconds = steps * 1e-4
    synaptic = min(replay(base, net, traj, state, steps, False)[0] for _ in range(4))
    whole = min(replay(base, net, traj, state, steps, True)[0] for _ in range(4))
    delivered, pre_updates, post_updates, n_e, n_i = replay_inputs(base, net, traj, steps)[2:]
    neurons = timing(nd.Network(net.populations, {}), steps, rounds=3)["cpu_s"]
    yield (f"  work per simulated second: {delivered / seconds:,.0f} synaptic events delivered (four projections), "
           f"{pre_updates / seconds:,.0f} presynaptic and {post_updates / seconds:,.0f} postsynaptic E->E weight "
           f"updates; E {n_e / seconds:.1f} Hz, I {n_i / seconds:.1f} Hz")
    yield (f"  hand numba loop, one thread: synaptic work only {synaptic / seconds:.3f} s CPU per simulated second "
           f"({synaptic / (delivered + pre_updates + post_updates) * 1e9:.2f} ns per event or update); the whole "
           f"step (+ the 4,000 neurons with the LIF kernel's loop and recording every spike) {whole / seconds:.3f} s "
           f"= {whole / steps * 1e6:.2f} us per step (the floor); neurodyn's neurons alone (simulate, no "
           f"projections) {neurons / seconds:.3f} s")
    yield (f"  neurodyn plastic network (ei and ie + ii carried by the plastic kernel): {run['cpu_s'] / seconds:.3f} s "
           f"CPU per simulated "
           f"second = {run['cpu_s'] / steps * 1e6:.2f} us per step: {whole / run['cpu_s']:.0%} of the floor's rate")
