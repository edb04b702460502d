"""Monitors on subsets (issue 21, part 6): recording chosen neurons gives exactly those neurons'
columns and spikes of a full recording; a population rate monitor equals the binned spike count of
a full recording; the streamed spiking statistics on a subset equal the full statistics at those
neurons; a run file of a subset keeps the SONATA layout (node ids) and `neurodyn plot`/`info` read it."""

import copy
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurodyn.cli import main
from neurodyn.core.monitors import node_indices
from neurodyn.core.simulate import simulate
from neurodyn.diagnostics.spiking import SpikingMonitor
from neurodyn.errors import SpecError
from neurodyn.io import load
from neurodyn.spec import load_spec

SPECS = Path(__file__).resolve().parents[2] / "models"
# the COBA benchmark network at 200 neurons (p = 0.1: 16 E + 4 I inputs), 100 ms
SMALL = ["steps=1000", "populations.exc.n=160", "populations.inh.n=40",
         *(f"couplings.{c}.p=0.1" for c in ("ee", "ei", "ie", "ii"))]
EXC, INH = [3, 0, 77, 159], "5:40:5"


@pytest.fixture(scope="module")
def spec():
    return load_spec(SPECS / "coba_ei.toml", overrides=SMALL)


@pytest.fixture(scope="module")
def runs(spec):
    kw = dict(state=spec.state, record=("exc.v", "exc.g_e", "inh.v"), every=10, transient=100,
              events=("exc.spike", "inh.spike"))
    full = simulate(spec.model, 1003, **kw)  # 3 steps past the last full interval: the tail
    sub = simulate(spec.model, 1003, neurons={"exc": EXC, "inh": INH}, rates=("exc", "inh"), **kw)
    return full, sub


def test_subset_recording_equals_those_neurons_of_a_full_recording(runs):
    full, sub = runs
    exc, inh = np.sort(EXC), np.arange(5, 40, 5)
    for name, idx in (("exc.v", exc), ("exc.g_e", exc), ("inh.v", inh)):
        assert sub.data[name].shape == (90, len(idx))
        np.testing.assert_array_equal(sub.data[name], full.data[name][:, idx])
        np.testing.assert_array_equal(sub.node_ids[name], idx)
    for name, idx in (("exc.spike", exc), ("inh.spike", inh)):
        t, i = full.spikes[name]
        keep = np.isin(i, idx)
        assert keep.sum() > 10  # the chosen neurons fire
        np.testing.assert_array_equal(sub.spikes[name][0], t[keep])
        np.testing.assert_array_equal(sub.spikes[name][1], i[keep])
    np.testing.assert_array_equal(sub.times, full.times)


def test_population_rate_is_the_binned_count_of_every_neuron(runs):
    full, sub = runs
    for pop, n in (("exc", 160), ("inh", 40)):
        t, _ = full.spikes[f"{pop}.spike"]
        # interval j starts at sample time t_j and holds the spikes stamped t_j + dt .. t_j + 10 dt
        edges = np.append(full.times, full.times[-1] + 1.0) + 0.05
        expected = np.histogram(t, edges)[0] / (n * 1.0e-3)  # spikes per neuron per second
        rate = sub.data[f"{pop}.population_rate"]
        assert rate.shape == (90,) and sub.units[f"{pop}.population_rate"] == "Hz"
        np.testing.assert_allclose(rate, expected, rtol=1e-12)
        assert rate.mean() > 5.0  # the network fires (a zero rate would pass the comparison)


def test_spiking_statistics_on_a_subset_equal_the_full_ones_at_those_neurons(spec):
    full = SpikingMonitor.create(spec.model, start=100)
    part = SpikingMonitor.create(spec.model, start=100, neurons={"exc": EXC, "inh": INH})
    diag = simulate(spec.model, 1000, state=spec.state, record=(), events=(), observers=(full,)).diagnostics
    exc, inh = np.sort(EXC), np.arange(5, 40, 5)
    sub = simulate(spec.model, 1000, state=spec.state, record=(), events=(), observers=(part,)).diagnostics
    for pop, idx in (("exc", exc), ("inh", inh)):
        np.testing.assert_array_equal(sub[f"{pop}.node_ids"][0], idx)
        for stat in ("rate", "cv_isi", "fano", "ei_ratio", "ei_net", "ei_correlation"):
            np.testing.assert_allclose(sub[f"{pop}.{stat}"][0], diag[f"{pop}.{stat}"][0][idx], rtol=1e-6,
                                       equal_nan=True, err_msg=f"{pop}.{stat}")
        assert np.nanmean(sub[f"{pop}.rate"][0]) > 5.0


def test_node_selections_read_lists_and_slices_and_name_bad_ones():
    np.testing.assert_array_equal(node_indices("n", "0:10:3", 20), [0, 3, 6, 9])
    np.testing.assert_array_equal(node_indices("n", ":3", 20), [0, 1, 2])
    np.testing.assert_array_equal(node_indices("n", [4, 1], 20), [1, 4])
    for bad, words in (([1, 1], "once"), ([20], "outside"), ("0:30", "ends after"), ("a:b", "slice"),
                       ([0.5], "integer"), ("3:3", "no node"), (True, "list")):
        with pytest.raises(SpecError, match=words):
            node_indices("record.neurons.exc", bad, 20)


def test_a_subset_run_file_keeps_the_sonata_layout_and_plots(tmp_path, capsys):
    path = tmp_path / "sub.h5"
    sets = [f"--set={s}" for s in SMALL] + ["--set=record.variables=['exc.v','inh.v']", "--set=record.every=10",
                                            "--set=record.neurons={exc=[3,0,77,159],inh='5:40:5'}",
                                            "--set=record.rates=['exc']"]
    assert main(["run", str(SPECS / "coba_ei.toml"), *sets, "--out", str(path), "--quiet"]) == 0
    data = load(path)
    np.testing.assert_array_equal(data["report"]["exc"]["v"]["node_ids"], [0, 3, 77, 159])
    assert data["report"]["exc"]["v"]["data"].shape == (100, 4)
    np.testing.assert_array_equal(data["report"]["inh"]["v"]["node_ids"], np.arange(5, 40, 5))
    assert data["report"]["exc"]["population_rate"]["units"] == "Hz"
    assert set(np.unique(data["spikes"]["exc"]["node_ids"])) <= {0, 3, 77, 159}
    np.testing.assert_array_equal(data["diagnostics"]["exc.node_ids"], [0, 3, 77, 159])
    assert data["diagnostics"]["exc.rate"].shape == (4,)
    assert "inh.population_rate" not in {f"{p}.{v}" for p, r in data["report"].items() for v in r}
    with h5py.File(path) as f:  # SONATA: the spikes of the recorded neurons, with their own ids
        assert f["spikes/exc/node_ids"].dtype == np.uint64
    # libsonata (the reference reader) reads the subset's spikes and, after export, its report
    import libsonata

    spikes = libsonata.SpikeReader(str(path))["exc"].get_dict()
    np.testing.assert_array_equal(spikes["node_ids"], data["spikes"]["exc"]["node_ids"])
    assert main(["export", str(path), str(tmp_path / "sonata")]) == 0
    frame = libsonata.ElementReportReader(str(tmp_path / "sonata" / "report_v.h5"))["exc"].get()
    assert [node for node, _ in frame.ids] == [0, 3, 77, 159]
    np.testing.assert_array_equal(np.asarray(frame.data), data["report"]["exc"]["v"]["data"].astype(np.float32))
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    assert "node_ids: uint64 (4,) = [0, 3, 77, 159]" in capsys.readouterr().out
    assert main(["plot", str(path)]) == 0
    assert (tmp_path / "sub.raster.png").stat().st_size > 0 and (tmp_path / "sub.timeseries.png").exists()


@pytest.mark.parametrize("record, words", [
    ({"neurons": {"exx": [0]}}, "record.neurons: unknown population 'exx'"),
    ({"neurons": {"exc": [0, 160]}}, "record.neurons.exc: node index 160"),
    ({"neurons": {"exc": "0:200"}}, "record.neurons.exc: the slice"),
    ({"rates": ["inx"]}, "record.rates: unknown population 'inx'"),
])
def test_bad_subsets_and_rates_name_the_field(record, words):
    from neurodyn.spec import build_spec
    import tomllib

    data = tomllib.loads((SPECS / "coba_ei.toml").read_text())
    data["populations"]["exc"]["n"], data["populations"]["inh"]["n"] = 160, 40
    data["record"] = record
    with pytest.raises(SpecError, match=words.replace(".", r"\.").replace("(", r"\(")):
        build_spec(data)


def test_a_million_neuron_spec_recording_a_subset_passes_the_disk_check():
    # the disk estimate counts the recorded neurons: every v of 10^6 neurons over 2 * 10^6 steps is
    # 8 TB (refused), the v of 10 of them 80 MB
    from neurodyn.errors import ResourceError
    from neurodyn.resources import limits
    from neurodyn.spec import build_spec

    data = {"steps": 2_000_000, "dt": 0.1, "populations": {"exc": {"model": "lif_cuba", "n": 1_000_000}},
            "record": {"variables": ["exc.v"], "every": 1}}
    with limits(disk=True):
        with pytest.raises(ResourceError, match="record.neurons"):
            build_spec(copy.deepcopy(data))
        data["record"]["neurons"] = {"exc": "0:1000000:100000"}
        spec = build_spec(data)
    np.testing.assert_array_equal(spec.neurons["exc"], np.arange(0, 1_000_000, 100_000))


def test_a_subset_records_scalar_observables_of_the_population_whole(tmp_path):
    # the Kuramoto order parameter r and phase psi are one value for the population
    from neurodyn.spec import build_spec

    data = {"steps": 200, "dt": 0.05, "populations": {"osc": {"model": "kuramoto", "n": 50, "coupling": 2.0}},
            "record": {"variables": ["osc.theta", "osc.r"], "neurons": {"osc": "0:50:10"}}}
    spec = build_spec(data)
    sub, full = spec.simulate(), simulate(spec.model, 200, state=spec.state, record=("osc.theta", "osc.r"))
    np.testing.assert_array_equal(sub["osc.theta"], full["osc.theta"][:, ::10])
    np.testing.assert_array_equal(sub["osc.r"], full["osc.r"])
    assert "osc.r" not in sub.node_ids and sub["osc.r"].shape == (200,)
    data = load(spec.run(tmp_path / "osc.h5").path)
    np.testing.assert_array_equal(data["report"]["osc"]["theta"]["node_ids"], [0, 10, 20, 30, 40])
    np.testing.assert_array_equal(data["report"]["osc"]["r"]["data"][:, 0], full["osc.r"])


def test_a_subset_trajectory_saved_from_python_keeps_its_node_ids(runs, tmp_path):
    from neurodyn.runs import save

    _, sub = runs
    data = load(save(sub, tmp_path / "sub.h5"))
    np.testing.assert_array_equal(data["report"]["exc"]["v"]["node_ids"], [0, 3, 77, 159])
    np.testing.assert_array_equal(data["report"]["exc"]["v"]["data"], sub["exc.v"])
    assert data["report"]["inh"]["population_rate"]["units"] == "Hz"
    np.testing.assert_array_equal(data["spikes"]["inh"]["node_ids"], sub.spikes["inh.spike"][1])
