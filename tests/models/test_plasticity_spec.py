"""Plastic couplings in specs: ``plasticity = {...}`` / ``stp = {...}`` under a spiking coupling,
the weights' evolution recorded, the final weights in the run file, one-line errors."""

import h5py
import jax
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import SpecError
from neurodyn.runs import write_run
from neurodyn.models import PairSTDP, PlasticProjection
from neurodyn.spec import build_spec

SPEC = {
    "name": "plastic", "steps": 2000, "dt": 0.1, "seed": 1, "precision": "float64",
    "populations": {
        "exc": {"model": "lif_coba", "n": 80, "i_ext": 25.0, "init": {"v": {"dist": "uniform", "low": -60.0,
                                                                            "high": -50.0}}},
    },
    "couplings": {
        "ee": {"kind": "spiking", "source": "exc", "target": "exc", "port": "g_e", "p": 0.2, "weight": 0.3,
               "delay": 2, "seed": 1,
               "plasticity": {"rule": "stdp", "tau_plus": 16.8, "tau_minus": 33.7, "a_plus": 0.05,
                              "a_minus": 0.02, "w_max": 1.0}},
    },
    "record": {"variables": ["ee.w_mean", "ee.w_hist", "ee.w_sample"], "every": 100},
}


def test_spec_builds_a_plastic_projection_whose_parameters_are_leaves():
    spec = build_spec(SPEC)
    proj = spec.model.projections["ee"]
    assert isinstance(proj, PlasticProjection) and isinstance(proj.rule, PairSTDP)
    assert float(proj.rule.tau_plus) == 16.8 and proj.synapses.delay_steps == (2,)
    from neurodyn.core.parameters import get_parameter, with_parameter
    from neurodyn.spec.paths import model_path

    path = model_path("couplings.ee.plasticity.a_plus")
    assert float(get_parameter(spec.model, path)) == 0.05
    assert float(with_parameter(spec.model, path, 0.07).projections["ee"].rule.a_plus) == 0.07


def test_run_file_holds_the_weight_records_and_the_final_weights(tmp_path):
    spec = build_spec(SPEC)
    path = write_run(spec, tmp_path / "plastic.h5", progress=False)
    final, _ = nd.run(spec.model, spec.state, spec.steps, record=())
    w = np.asarray(final.projections["ee"].weights)
    with h5py.File(path, "r") as f:
        stored = f["diagnostics/ee.weights"][()]
        mean = f["report/ee/w_mean/data"][()][:, 0]
        hist = f["report/ee/w_hist/data"][()]
        pre, post = f["diagnostics/ee.pre"][()], f["diagnostics/ee.post"][()]
    np.testing.assert_allclose(stored, w, rtol=0, atol=0)
    assert np.abs(w - 0.3).max() > 0.05  # the weights learned
    assert hist.shape == (20, 20) and np.all(hist.sum(axis=1) == w.size)  # every synapse in a bin, every record
    assert mean[0] == pytest.approx(0.3) and mean[-1] != pytest.approx(0.3)
    dense = spec.model.projections["ee"].synapses.with_weights(w).todense()
    rebuilt = np.zeros_like(dense)
    np.add.at(rebuilt, (pre, post), stored)
    np.testing.assert_allclose(rebuilt, dense)


@pytest.mark.parametrize("change, message", [
    ({"rule": "stpd"}, "plasticity.rule: unknown value 'stpd' (allowed: stdp, triplet, vogels, reward_stdp)"),
    ({"tau_pluss": 1.0}, "unknown field 'tau_pluss'"),
    ({"tau_plus": -1.0}, "tau_plus: must be > 0"),
])
def test_bad_plasticity_tables_are_refused_with_one_line(change, message):
    data = {**SPEC, "couplings": {"ee": {**SPEC["couplings"]["ee"],
                                         "plasticity": {**SPEC["couplings"]["ee"]["plasticity"], **change}}}}
    with pytest.raises(SpecError, match=None) as e:
        build_spec(data)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_stp_table_builds_tsodyks_markram():
    data = {**SPEC, "couplings": {"ee": {**{k: v for k, v in SPEC["couplings"]["ee"].items() if k != "plasticity"},
                                         "stp": {"U": 0.2, "tau_rec": 300.0, "tau_facil": 50.0}}},
            "record": {"variables": ["exc.v"], "every": 100}}
    spec = build_spec(data)
    proj = spec.model.projections["ee"]
    assert proj.rule is None and float(proj.stp.tau_facil) == 50.0
    final, _ = nd.run(spec.model, spec.state, 300, record=())
    assert float(np.min(np.asarray(final.projections["ee"].x))) < 1.0  # resources were used
