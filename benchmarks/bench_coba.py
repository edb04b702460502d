"""The COBA E/I benchmark network (Brette et al. 2007, benchmark 1), 4,000 neurons, 2 %
connectivity, dt = 0.1 ms: neurodyn (``coba_ei``, event-driven spiking projections) against
BrainPy 2.8's own COBA network (``LifRefLTC`` + ``FullProjAlignPostMg`` + ``EventCSRLinear``,
from its test-suite example), side by side in this process, both float32 and driven by the
constant input 20 mV of the ANNarchy variant. Times are wall seconds per simulated second after
compilation (compile time apart), best of two runs; the ratio is BrainPy's time over neurodyn's.
neurodyn runs twice: four projections, and fused (one event product per source,
``coba_ei(..., fused=True)``). BrainPy's network starts from its own initial state (V ~ N(-55, 2)
mV, closed synapses) and settles at a lower rate; at these rates its cost is per-step overhead.
"""

from __future__ import annotations

import time

import jax
import numpy as np

import neurodyn as nd
from neurodyn.models import coba_ei, coba_initial_state


def _neurodyn(steps: int, fused: bool):
    net = coba_ei(4000, i_ext=20.0, seed=1, fused=fused)
    state = coba_initial_state(net, jax.random.PRNGKey(0))
    run = jax.jit(lambda model, s: nd.run(model, s, steps, record=("exc.spike",))[1]["exc.spike"].sum())
    t0 = time.perf_counter()
    count = int(run(net, state))
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        count = int(run(net, state))
        best = min(best, time.perf_counter() - t0)
    return first - best, best, count


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

    t0 = time.perf_counter()
    count = int(run())
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        count = int(run())
        best = min(best, time.perf_counter() - t0)
    return first - best, best, count


def main(quick: bool = False):
    seconds = 0.1 if quick else 1.0
    steps = int(round(seconds / 1e-4))
    times = {}
    for fused in (False, True):
        compile_nd, run_nd, count_nd = _neurodyn(steps, fused)
        times[fused] = run_nd
        label = "fused (2 products/step)" if fused else "4 projections"
        yield (f"  neurodyn  COBA-4000, {label}, {seconds:g} s: {run_nd / seconds:.3f} s per simulated second, "
               f"{run_nd / steps * 1e6:.0f} us/step (compile {compile_nd:.2f} s), exc rate "
               f"{count_nd / 3200 / seconds:.1f} Hz")
    compile_bp, run_bp, count_bp = _brainpy(steps)
    yield (f"  brainpy   COBA-4000, {seconds:g} s: {run_bp / seconds:.3f} s per simulated second, "
           f"{run_bp / steps * 1e6:.0f} us/step (compile {compile_bp:.2f} s), exc rate {count_bp / 3200 / seconds:.1f} Hz")
    yield (f"  ratio brainpy / neurodyn: {run_bp / times[False]:.2f}x (4 projections), "
           f"{run_bp / times[True]:.2f}x (fused)")
