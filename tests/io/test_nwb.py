"""NWB export of a run's spikes (neurodyn.io.nwb): pynwb, the NWB reference reader, reads back
every neuron's spike times (in seconds) and the population metadata of the run."""

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb", reason="pynwb is not installed (pip install 'neurodyn[nwb]')")

from neurodyn.cli import main  # noqa: E402
from neurodyn.errors import SpecError  # noqa: E402
from neurodyn.io import load  # noqa: E402
from neurodyn.io.nwb import export_nwb  # noqa: E402

SPEC = """
name = "nwb_small"
steps = 400
dt = 0.1
seed = 3

[populations.fast]
model = "lif"
n = 4
t_ref = 0.0
i_ext = [30.0, 0.0, 45.0, 60.0]   # neuron 1 stays silent: it still has its row

[populations.slow]
model = "lif"
n = 3
i_ext = [25.0, 35.0, 0.0]

[record]
variables = []
"""


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("nwb")
    (root / "spec.toml").write_text(SPEC)
    run = root / "run.h5"
    assert main(["run", str(root / "spec.toml"), "--out", str(run), "--quiet"]) == 0
    return run


def test_pynwb_reads_every_spike_and_the_populations(run_file, tmp_path):
    out = export_nwb(run_file, tmp_path / "run.nwb")
    spikes = load(run_file)["spikes"]
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        pops = nwb.processing["neurodyn"]["populations"].to_dataframe()
        assert nwb.identifier == "neurodyn-nwb_small-3" and 'name = "nwb_small"' in nwb.notes
    assert list(units["population"]) == ["fast"] * 4 + ["slow"] * 3
    assert list(units["node_id"]) == [0, 1, 2, 3, 0, 1, 2]
    for (pop, i), times in zip(zip(units["population"], units["node_id"]), units["spike_times"]):
        expected = spikes[pop]["timestamps"][spikes[pop]["node_ids"] == i] / 1000.0  # ms -> s
        np.testing.assert_array_equal(np.sort(times), np.sort(expected))  # bit for bit
    assert len(units["spike_times"].iloc[1]) == 0 and len(units["spike_times"].iloc[6]) == 0
    assert list(pops["population"]) == ["fast", "slow"]
    assert list(pops["n_neurons"]) == [4, 3] and list(pops["model"]) == ["lif", "lif"]
    assert list(pops["n_spikes"]) == [len(spikes["fast"]["timestamps"]), len(spikes["slow"]["timestamps"])]
    assert len(spikes["fast"]["timestamps"]) > 5 and len(spikes["slow"]["timestamps"]) > 2


def test_spikes_counted_in_iterations_are_refused(tmp_path):
    import h5py

    with h5py.File(tmp_path / "maps.h5", "w") as f:
        g = f.create_group("spikes/ring")
        g.create_dataset("timestamps", data=np.array([1.0, 2.0])).attrs["units"] = "iteration"
        g.create_dataset("node_ids", data=np.array([0, 1], np.uint64))
    with pytest.raises(SpecError, match="^export_nwb: population 'ring': spikes counted in 'iteration'"):
        export_nwb(tmp_path / "maps.h5", tmp_path / "maps.nwb")
    assert not (tmp_path / "maps.nwb").exists()
