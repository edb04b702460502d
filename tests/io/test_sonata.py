"""libsonata (the SONATA reference reader) reads neurodyn's spikes from the run file and every
report value from `neurodyn export`, equal to what neurodyn.io.load reads."""

import sys
from pathlib import Path

import libsonata
import numpy as np
import pytest

from neurodyn.cli import main
from neurodyn.io import export_sonata, load

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bundled import SMALL_RUNS, SPECS, TASKS, bundled_names  # noqa: E402


def test_every_bundled_spec_has_a_small_run():
    assert sorted(SMALL_RUNS) == bundled_names()


@pytest.mark.parametrize("spec", sorted(SMALL_RUNS))
def test_libsonata_reads_every_spike_and_report_value(tmp_path, spec):
    run = tmp_path / "run.h5"
    assert main(["run", str(SPECS / f"{spec}.toml"), *SMALL_RUNS[spec], "--out", str(run), "--quiet"]) == 0
    data = load(run)
    assert main(["export", str(run), str(tmp_path / "sonata")]) == 0

    for source in (run, tmp_path / "sonata" / "spikes.h5") if data["spikes"] else ():
        reader = libsonata.SpikeReader(str(source))
        assert sorted(reader.get_population_names()) == sorted(data["spikes"])
        for pop, spikes in data["spikes"].items():
            population = reader[pop]
            assert population.sorting == "by_time" and population.time_units == spikes["units"]
            read = population.get_dict()
            np.testing.assert_array_equal(read["timestamps"], spikes["timestamps"])
            np.testing.assert_array_equal(read["node_ids"], spikes["node_ids"])
    if not spec.startswith("kuramoto") and spec not in TASKS:
        assert sum(len(s["timestamps"]) for s in data["spikes"].values()) > 0  # the comparison saw spikes

    exported = set()
    for pop, variables in data["report"].items():
        for var, rep in variables.items():
            population = libsonata.ElementReportReader(str(tmp_path / "sonata" / f"report_{var}.h5"))[pop]
            frame = population.get()
            # SONATA stores report data as float32: the float64 run file's values, rounded once
            np.testing.assert_array_equal(np.asarray(frame.data), rep["data"].reshape(len(rep["data"]), -1)
                                          .astype(np.float32))
            # libsonata builds its times by adding the step: equal up to rounding
            np.testing.assert_allclose(frame.times, rep["times"], rtol=1e-12, atol=1e-9)
            assert [node for node, _ in frame.ids] == rep["node_ids"].tolist()
            assert population.data_units == rep["units"]
            assert population.time_units == data["meta"]["time_unit"]
            exported.add((pop, var))
    assert exported == {(p, v) for p, vs in data["report"].items() for v in vs}


def test_export_writes_one_report_file_per_variable_and_upgrades_old_spike_files(tmp_path):
    import h5py

    # a run file of neurodyn 0.1: sorting as a string, gzip-compressed spikes
    old = tmp_path / "old.h5"
    with h5py.File(old, "w") as f:
        g = f.create_group("spikes/p")
        g.attrs["sorting"] = "by_time"
        g.create_dataset("timestamps", data=[2.0, 5.0], compression="gzip").attrs["units"] = "ms"
        g.create_dataset("node_ids", data=np.array([1, 0], np.uint64), compression="gzip")
        r = f.create_group("report/p/v")
        r.create_dataset("data", data=np.arange(6.0).reshape(3, 2), compression="gzip").attrs["units"] = "mV"
        r.create_dataset("mapping/node_ids", data=np.arange(2, dtype=np.uint64))
        r.create_dataset("mapping/time", data=[0.5, 2.0, 0.5]).attrs["units"] = "ms"
    assert load(old)["spikes"]["p"]["sorting"] == "by_time"
    paths = export_sonata(old, tmp_path / "out")
    assert sorted(p.name for p in paths) == ["report_v.h5", "spikes.h5"]
    spikes = libsonata.SpikeReader(str(tmp_path / "out" / "spikes.h5"))["p"]
    assert spikes.sorting == "by_time" and spikes.get() == [(1, 2.0), (0, 5.0)]
    frame = libsonata.ElementReportReader(str(tmp_path / "out" / "report_v.h5"))["p"].get()
    np.testing.assert_array_equal(np.asarray(frame.data), np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(frame.times, [0.5, 1.0, 1.5])
