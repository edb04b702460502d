"""Equation-defined models against hand-written ones, side by side in this process (issue 21).

1. COBA-4000 (Brette et al. 2007, benchmark 1; 20 mV input, about 20 Hz), float32, dt 0.1 ms,
   fused projections, every spike of both populations recorded (``simulate()`` as ``neurodyn run``
   does): the hand-written ``lif_coba`` cell (its fused numba kernel, ``neurodyn.ops.lif``) against
   the same cell written as equations (the JAX step generated from the parsed text, fused by XLA),
   and the hand-written cell with its ``jax.numpy`` formula (``backend="jax"``) for scale.
2. The 1,000-neuron Izhikevich (2003) network (800 + 200 cells, all-to-all weights, thalamic noise
   as a drive array), float32, forward Euler at dt 1 ms, every spike recorded: the zoo preset
   ``izhikevich`` against the same model hand-written as a class (docs/writing-a-model.md).

Times are wall seconds per simulated second after compilation (best of two); ratios are the
equation model's time over the hand-written one's. The machine is shared: single timings vary by
tens of percent; the ratios are measured in one run.
"""

from __future__ import annotations

import time
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn as nd
from neurodyn.core import Model, Network, drive_term
from neurodyn.models import Equations, SpikingProjection, coba_ei, coba_initial_state, ei_network, preset
from neurodyn.models.synapses import fuse
from neurodyn.ops.synapses import SynapseCSR
from neurodyn.pytree import pytree_dataclass

LIF_COBA = """
dv/dt = ((v_rest - v) + g_e*(e_e - v) + g_i*(e_i - v) + i_ext + I)/tau_m : mV (unless refractory)
dg_e/dt = -g_e/tau_e : 1
dg_i/dt = -g_i/tau_i : 1
"""
COBA = dict(tau_m="20 ms", v_rest="-60 mV", v_reset="-60 mV", v_th="-50 mV", t_ref="5 ms", i_ext="20 mV",
            tau_e="5 ms", tau_i="10 ms", e_e="0 mV", e_i="-80 mV")


def _time(once, rounds: int = 2):
    t0 = time.perf_counter()
    out = once()
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = once()
        best = min(best, time.perf_counter() - t0)
    return first - best, best, out


def _coba(kind: str, steps: int):
    if kind == "equations":
        cell = lambda n: Equations(LIF_COBA, threshold="v >= v_th", reset="v = v_reset", refractory="t_ref",
                                   parameters=COBA, ports=["I", "v", "g_e", "g_i"], n=n, dt=0.1)
        net = ei_network(cell(3200), cell(800), w_e=0.6, w_i=6.7, p=0.02, seed=1, fused=True)
    else:
        net = coba_ei(4000, i_ext=20.0, seed=1, fused=True, backend=None if kind == "kernel" else "jax")
    state = coba_initial_state(net, jax.random.PRNGKey(0))
    compile_s, run_s, traj = _time(lambda: nd.simulate(net, steps, state=state, record=(), progress=False))
    return compile_s, run_s, len(traj.spikes["exc.spike"][0])


class IzhState(NamedTuple):
    v: jax.Array
    u: jax.Array
    spike: jax.Array


@pytree_dataclass(static=("n",))
class Izhikevich(Model):
    """The Izhikevich (2003) cell hand-written as a class: Euler at dt (ms) for v and u from the
    state at the start of the step, spike at v >= 30 mV, v = c, u += d."""

    n: int
    a: jax.Array
    b: jax.Array
    c: jax.Array
    d: jax.Array
    dt: jax.Array

    VARIABLES: ClassVar[tuple] = ("v", "u", "spike")
    PORTS: ClassVar[tuple] = ("I",)
    INPUT_PORT: ClassVar[str] = "I"
    EVENTS: ClassVar[tuple] = ("spike",)
    units: ClassVar[dict] = {"v": "mV", "u": "mV", "spike": "1"}
    time_unit: ClassVar[str] = "ms"
    SMOOTH: ClassVar[bool] = False

    def init(self, key):
        return IzhState(self.c + 0 * self.a, self.b * self.c, jnp.zeros((self.n,), bool))

    def step(self, state, drive=None, t=0.0):
        v, u = state.v, state.u
        i = drive_term(drive, "I", "I")
        v_new = v + self.dt * (0.04 * v * v + 5 * v + 140.0 - u + i)
        u_new = u + self.dt * (self.a * (self.b * v - u))
        spike = v_new >= 30.0
        return IzhState(jnp.where(spike, self.c, v_new), jnp.where(spike, u_new + self.d, u_new), spike)

    def observe(self, state):
        return {"v": state.v, "u": state.u, "spike": state.spike}


def _izhikevich(kind: str, steps: int, rounds: int = 2):
    """(compile s, best run s, excitatory spikes, inhibitory spikes) of the network simulated for
    ``steps`` of 1 ms, every spike recorded, best of ``rounds``; ``kind``: "class" or "equations"."""
    rng = np.random.default_rng(2003)
    ne, ni = 800, 200
    re, ri = rng.random(ne), rng.random(ni)
    a = np.r_[0.02 * np.ones(ne), 0.02 + 0.08 * ri].astype(np.float32)
    b = np.r_[0.2 * np.ones(ne), 0.25 - 0.05 * ri].astype(np.float32)
    c = np.r_[-65 + 15 * re**2, -65 * np.ones(ni)].astype(np.float32)
    d = np.r_[8 - 6 * re**2, 2 * np.ones(ni)].astype(np.float32)
    s = np.c_[0.5 * rng.random((ne + ni, ne)), -rng.random((ne + ni, ni))].astype(np.float32)
    noise = np.c_[5 * rng.standard_normal((steps, ne)), 2 * rng.standard_normal((steps, ni))].astype(np.float32)
    n = ne + ni
    if kind == "equations":
        model = preset("izhikevich", n, a=a, b=b, c=c, d=d, dt=1.0, method="euler")
    else:
        model = Izhikevich(n, *(jnp.asarray(x) for x in (a, b, c, d)), jnp.asarray(1.0, jnp.float32))
    post, pre = np.nonzero(np.ones((n, n), bool))
    conn = SynapseCSR.from_coo(pre, post, s[post, pre], n_pre=n, n_post=n)
    net = Network({"izh": model}, {"rec": SpikingProjection.create("izh", "izh", conn, port="I")})
    drive = {"izh": {"I": jnp.asarray(noise)}}
    compile_s, run_s, traj = _time(lambda: nd.simulate(net, steps, drive=drive, record=(), progress=False),
                                   rounds)
    ids = np.asarray(traj.spikes["izh.spike"][1])
    return compile_s, run_s, int((ids < ne).sum()), int((ids >= ne).sum())


def main(quick: bool = False):
    seconds = 0.1 if quick else 1.0
    steps = int(round(seconds / 1e-4))
    times = {}
    for kind, label in (("kernel", "hand-written lif_coba (fused numba kernel)"),
                        ("equations", "lif_coba written as equations (generated JAX step)"),
                        ("formula", "hand-written lif_coba, jax.numpy formula")):
        compile_s, run_s, count = _coba(kind, steps)
        times[kind] = run_s
        yield (f"  COBA-4000, {label}, {seconds:g} s, every spike recorded: {run_s / seconds:.3f} s per simulated "
               f"second (compile {compile_s:.2f} s), exc rate {count / 3200 / seconds:.1f} Hz")
    yield (f"  ratio equations / hand-written kernel: {times['equations'] / times['kernel']:.2f}x; "
           f"equations / hand-written formula: {times['equations'] / times['formula']:.2f}x")
    izh_seconds = 1.0 if quick else 10.0
    izh_steps = int(izh_seconds * 1000)
    for kind, label in (("class", "hand-written class"), ("equations", "zoo preset izhikevich (equations)")):
        compile_s, run_s, n_e, n_i = _izhikevich(kind, izh_steps)
        times[f"izh {kind}"] = run_s
        yield (f"  Izhikevich 1,000 neurons, 1M synapses, dt 1 ms, {izh_seconds:g} s, {label}: {run_s:.3f} s "
               f"(compile {compile_s:.2f} s), rates exc {n_e / 800 / izh_seconds:.1f} Hz, inh "
               f"{n_i / 200 / izh_seconds:.1f} Hz")
    yield f"  ratio equations / class: {times['izh equations'] / times['izh class']:.2f}x"
