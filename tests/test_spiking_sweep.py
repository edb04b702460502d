"""A sweep over the synaptic weight of a spiking E/I network (``couplings.ee.weight``) runs as one
vmapped, once-compiled call over the traced weight (no model rebuilt per point) and equals the
single runs of the same specs exactly."""

import copy

import jax.numpy as jnp
import numpy as np

import neurodyn as nd
from neurodyn.core.parameters import get_parameter, with_parameter
from neurodyn.spec.build import build_spec
from neurodyn.spec.paths import set_path
from neurodyn.sweep import Measure, compile_count, sweep
from neurodyn.sweep.job import prepare
from neurodyn.sweep.runner import as_grid

STEPS = 800
PAIRS = (("ee", "exc", "exc"), ("ei", "exc", "inh"), ("ie", "inh", "exc"), ("ii", "inh", "inh"))
INIT = {"v": {"dist": "uniform", "low": -60.0, "high": -50.0}}
DATA = {  # CUBA (Brette et al. 2007, benchmark 2) at 200 neurons, p = 0.1
    "name": "cuba_small", "steps": STEPS, "dt": 0.1, "seed": 2, "precision": "float64",
    "populations": {"exc": {"model": "lif_cuba", "n": 160, "init": INIT},
                    "inh": {"model": "lif_cuba", "n": 40, "init": INIT}},
    "couplings": {name: {"kind": "spiking", "source": s, "target": t, "port": "g_e" if s == "exc" else "g_i",
                         "p": 0.1, "weight": 1.62 if s == "exc" else -9.0, "seed": k + 1}
                  for k, (name, s, t) in enumerate(PAIRS)},
    "record": {"variables": []},
}


def raster(recs):
    """Every spike of both populations at every measured step (a user measure, in the vmapped call)."""
    return {"exc": recs["exc.spike"].astype(jnp.float64), "inh": recs["inh.spike"].astype(jnp.float64)}


def test_weight_sweep_is_one_vmapped_call_equal_to_the_single_runs(tmp_path):
    spec = build_spec(copy.deepcopy(DATA))
    weights = np.linspace(0.5, 2.25, 8)
    grid = as_grid({"couplings.ee.weight": weights})
    measures = ["mean:exc.v", Measure.function(raster, ("exc.spike", "inh.spike"))]
    job, _, _ = prepare(spec, grid, measures, chunk=8)
    # the spec's weight is a traced leaf of the spiking projection (its synapses' weights): the
    # 8 points share one connectivity and step as one batch
    assert job.traced_paths == ("projections.ee.weight",) and job.structural is None
    assert get_parameter(spec.model, "projections.ee.weight") is spec.model.projections["ee"].synapses.weights
    before = compile_count()
    res = sweep(spec, grid, measures, out=tmp_path / "w.sweep.h5", chunk=8, progress=False)
    assert compile_count() - before == 1 and res.computed == 8  # one chunk of 8: one compiled, vmapped call
    counts = res.results["raster.exc"].sum(axis=(1, 2))
    assert len(set(counts)) == 8  # every weight changes the activity
    for k, w in enumerate(weights):
        data = copy.deepcopy(DATA)
        set_path(data, "couplings.ee.weight", float(w))
        single = build_spec(data)  # built from scratch, simulated alone
        traj = nd.simulate(single.model, STEPS, state=single.state, record=("exc.v",))
        for pop, n in (("exc", 160), ("inh", 40)):
            t, i = traj.spikes[f"{pop}.spike"]
            steps = np.rint(np.asarray(t) / 0.1).astype(int) - 1  # spike of the state after step s
            expected = np.zeros((STEPS, n))
            expected[steps, i.astype(int)] = 1.0
            np.testing.assert_array_equal(res.results[f"raster.{pop}"][k], expected)
        # mean of V over the states after each step (the sweep's measured samples)
        after = nd.simulate(single.model, STEPS + 1, state=single.state, record=("exc.v",))["exc.v"][1:]
        np.testing.assert_allclose(res.results["mean(exc.v)"][k], after.mean(), rtol=1e-12)


def test_spec_weight_path_sets_the_synapses_weights():
    spec = build_spec(copy.deepcopy(DATA))
    changed = with_parameter(spec.model, "projections.ie.weight", -4.5)
    assert float(changed.projections["ie"].synapses.weights) == -4.5
    assert float(spec.model.projections["ie"].synapses.weights) == -9.0  # models are immutable
