"""Equation-defined models against hand-written ones, side by side in this process (issue 21).

1. COBA-4000 (Brette et al. 2007, benchmark 1; 20 mV input, about 20 Hz), float32, dt 0.1 ms,
   fused projections, every spike of both populations recorded (``simulate()`` as ``neurodyn run``
   does): the hand-written ``lif_coba`` cell (its fused numba kernel, ``neurodyn.ops.lif``) against
   the same cell written as equations, stepped by the kernel generated from its equations (the
   default on the CPU, ``neurodyn.models.equations.native``) and by the JAX step generated from
   them (``backend="jax"``, fused by XLA).
2. The 1,000-neuron Izhikevich (2003) network (800 + 200 cells, all-to-all weights, thalamic noise
   as a drive array), float32, forward Euler at dt 1 ms, every spike recorded: the zoo preset
   ``izhikevich`` (generated kernel, and JAX step) against the same model hand-written as a class
   (docs/writing-a-model.md).
3. The neurons alone: 3,200 cells of each spiking zoo model (float32, no input), the step of the
   kernel generated from the equations against the JAX step generated from them, in us per step.

Times are wall seconds after compilation. The machine is shared and its load moves single
timings by tens of percent, so the configurations of one comparison run interleaved: each round
runs each once, in an order rotated from round to round; a time is the median over the rounds,
and a ratio the median of the per-round ratios (its range in brackets). The load average is
printed with each comparison.
"""

from __future__ import annotations

import dataclasses
import os
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


def _interleaved(runs: dict, rounds: int) -> dict:
    """{name: [seconds of each round]} of the compiled callables ``runs``, run once each per round
    in an order rotated by one every round (after one untimed call each: compilation)."""
    for once in runs.values():
        once()
    names, times = list(runs), {name: [] for name in runs}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def _ratio(times: dict, a: str, b: str) -> str:
    """The median of the per-round ratios ``a / b``, with their range."""
    r = np.asarray(times[a]) / np.asarray(times[b])
    return f"{np.median(r):.2f}x [{r.min():.2f}-{r.max():.2f}]"


def _load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _coba(kind: str, steps: int):
    """A callable simulating COBA-4000 for ``steps``, every spike recorded, returning the number of
    excitatory spikes; ``kind``: "kernel" (hand-written), "equations" (generated kernel) or
    "equations-jax" (generated JAX step)."""
    if kind.startswith("equations"):
        backend = "jax" if kind == "equations-jax" else None
        cell = lambda n: Equations(LIF_COBA, threshold="v >= v_th", reset="v = v_reset", refractory="t_ref",
                                   parameters=COBA, ports=["I", "v", "g_e", "g_i"], n=n, dt=0.1, backend=backend)
        net = ei_network(cell(3200), cell(800), w_e=0.6, w_i=6.7, p=0.02, seed=1, fused=True)
    else:
        net = coba_ei(4000, i_ext=20.0, seed=1, fused=True)
    state = coba_initial_state(net, jax.random.PRNGKey(0))
    return lambda: len(nd.simulate(net, steps, state=state, record=(), progress=False).spikes["exc.spike"][0])


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


def _izhikevich(kind: str, steps: int):
    """A callable simulating the network for ``steps`` of 1 ms, every spike recorded, returning
    (excitatory, inhibitory) spike counts; ``kind``: "class", "equations" (generated kernel) or
    "equations-jax" (generated JAX step)."""
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
    if kind.startswith("equations"):
        model = preset("izhikevich", n, a=a, b=b, c=c, d=d, dt=1.0, method="euler")
        if kind == "equations-jax":
            model = dataclasses.replace(model, backend="jax")
    else:
        model = Izhikevich(n, *(jnp.asarray(x) for x in (a, b, c, d)), jnp.asarray(1.0, jnp.float32))
    post, pre = np.nonzero(np.ones((n, n), bool))
    conn = SynapseCSR.from_coo(pre, post, s[post, pre], n_pre=n, n_post=n)
    net = Network({"izh": model}, {"rec": SpikingProjection.create("izh", "izh", conn, port="I")})
    drive = {"izh": {"I": jnp.asarray(noise)}}

    def once():
        ids = np.asarray(nd.simulate(net, steps, drive=drive, record=(), progress=False).spikes["izh.spike"][1])
        return int((ids < ne).sum()), int((ids >= ne).sum())

    return once


def _cells(name: str, backend: str, steps: int, **parameters):
    """A callable running ``steps`` steps of 3,200 cells of the zoo model ``name`` (compiled)."""
    model = dataclasses.replace(preset(name, 3200, **parameters), backend=backend)
    state = model.init(jax.random.PRNGKey(0))
    state = state._replace(v=state.v + 10 * jax.random.uniform(jax.random.PRNGKey(1), (3200,), state.v.dtype))
    run = jax.jit(lambda s: jax.lax.scan(lambda s, _: (model.step(s), None), s, None, steps)[0].v.sum())
    return lambda: run(state).block_until_ready()


CELLS = {"izhikevich": dict(dt=0.5, i_ext=10.0), "adex": dict(variant="bursting"), "qif": {}, "eif": {},
         "traub_miles": dict(i_ext=300.0), "hodgkin_huxley": dict(dt=0.01, i_ext=0.1)}


def main(quick: bool = False):
    seconds, rounds = (0.1, 3) if quick else (1.0, 7)
    steps = int(round(seconds / 1e-4))
    labels = {"kernel": "hand-written lif_coba (its fused numba kernel)",
              "equations": "lif_coba as equations (kernel generated from them)",
              "equations-jax": "lif_coba as equations (JAX step generated from them)"}
    runs = {kind: _coba(kind, steps) for kind in labels}
    counts = {kind: run() for kind, run in runs.items()}
    yield f"  COBA-4000, {seconds:g} s, every spike recorded, {rounds} interleaved rounds ({_load()})"
    times = _interleaved(runs, rounds)
    for kind, label in labels.items():
        yield (f"    {label}: {np.median(times[kind]) / seconds:.3f} s per simulated second, "
               f"exc rate {counts[kind] / 3200 / seconds:.1f} Hz")
    yield (f"    ratio equations / hand-written: {_ratio(times, 'equations', 'kernel')} (generated kernel), "
           f"{_ratio(times, 'equations-jax', 'kernel')} (JAX step) ({_load()})")
    izh_seconds = 1.0 if quick else 10.0
    izh_steps = int(izh_seconds * 1000)
    labels = {"class": "hand-written class", "equations": "zoo preset izhikevich (generated kernel)",
              "equations-jax": "zoo preset izhikevich (JAX step)"}
    runs = {kind: _izhikevich(kind, izh_steps) for kind in labels}
    counts = {kind: run() for kind, run in runs.items()}
    yield (f"  Izhikevich 1,000 neurons, 1M synapses, dt 1 ms, {izh_seconds:g} s, every spike recorded, {rounds} "
           f"interleaved rounds ({_load()})")
    times = _interleaved(runs, rounds)
    for kind, label in labels.items():
        n_e, n_i = counts[kind]
        yield (f"    {label}: {np.median(times[kind]):.3f} s, rates exc {n_e / 800 / izh_seconds:.1f} Hz, inh "
               f"{n_i / 200 / izh_seconds:.1f} Hz")
    yield (f"    ratio equations / class: {_ratio(times, 'equations', 'class')} (generated kernel), "
           f"{_ratio(times, 'equations-jax', 'class')} (JAX step) ({_load()})")
    steps = 100 if quick else 500
    yield f"  neurons alone, 3,200 cells, float32, {3 * rounds} interleaved rounds of {steps} steps ({_load()})"
    for name, parameters in CELLS.items():
        runs = {backend: _cells(name, backend, steps, **parameters) for backend in ("numba", "jax")}
        times = _interleaved(runs, 3 * rounds)  # short runs: more rounds against the load's bursts
        yield (f"    {name}: generated kernel {np.median(times['numba']) / steps * 1e6:.1f} us per step, JAX step "
               f"{np.median(times['jax']) / steps * 1e6:.1f} us, ratio {_ratio(times, 'numba', 'jax')}")
