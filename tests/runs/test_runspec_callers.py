"""``RunSpec.simulate`` and ``RunSpec.run`` stay as thin callers of the run layer (issue 18): the
same numbers as :func:`neurodyn.runs.simulate_spec` and the same file as ``neurodyn run``."""

from pathlib import Path

import numpy as np

import neurodyn as nd
from neurodyn.cli import main
from neurodyn.io import load

SPEC = Path(__file__).resolve().parents[2] / "models" / "chialvo_single.toml"


def test_runspec_methods_call_the_run_layer(tmp_path):
    spec = nd.load_spec(SPEC, steps=1500)
    a, b = spec.simulate(), nd.runs.simulate_spec(spec)
    for name in ("neuron.x", "neuron.y"):
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
    spec.run(tmp_path / "method.h5")
    assert main(["run", str(SPEC), "--steps", "1500", "--quiet", "--out", str(tmp_path / "cli.h5")]) == 0
    m, c = load(tmp_path / "method.h5"), load(tmp_path / "cli.h5")
    np.testing.assert_array_equal(m["report"]["neuron"]["x"]["data"], c["report"]["neuron"]["x"]["data"])


def test_io_save_is_still_the_run_layers_save(tmp_path):
    spec = nd.load_spec(SPEC, steps=1200)
    traj = spec.simulate()
    nd.io.save(traj, tmp_path / "io.h5", spec=spec)
    nd.runs.save(traj, tmp_path / "runs.h5", spec=spec)
    a, b = load(tmp_path / "io.h5"), load(tmp_path / "runs.h5")
    np.testing.assert_array_equal(a["report"]["neuron"]["x"]["data"], b["report"]["neuron"]["x"]["data"])
    assert a["meta"]["spec"] == b["meta"]["spec"]
