"""`neurodyn run models/coba_ei.toml` writes SONATA spikes and the E/I diagnostics streamed in the
loop; libsonata reads the spikes back; `neurodyn plot` draws the raster with the statistics."""

from pathlib import Path

import libsonata
import numpy as np
import pytest

from neurodyn.cli import main
from neurodyn.diagnostics.spiking import isi_cv
from neurodyn.io import load

SPECS = Path(__file__).resolve().parents[1] / "models"
# 1,000 neurons with the 4,000-neuron benchmark's in-degree (p = 0.08: 64 E + 16 I inputs), 250 ms
# of which the first 50 ms are a transient: about a second of compute after compilation
REDUCED = ["--steps", "2500", "--set", "populations.exc.n=800", "--set", "populations.inh.n=200",
           "--set", "record.transient=500", *(f"--set=couplings.{c}.p=0.08" for c in ("ee", "ei", "ie", "ii"))]
STATS = ("rate", "cv_isi", "fano", "synchrony", "ei_ratio", "ei_net", "ei_correlation")


@pytest.fixture(scope="module")
def coba_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("coba") / "coba.h5"
    assert main(["run", str(SPECS / "coba_ei.toml"), *REDUCED, "--out", str(path), "--quiet"]) == 0
    return path


def test_run_writes_sonata_spikes_and_streamed_ei_diagnostics(coba_file):
    import h5py

    data = load(coba_file)
    assert data["meta"]["status"] == "complete"
    sizes = {"exc": 800, "inh": 200}
    duration_s = 2000 * 0.1e-3
    with h5py.File(coba_file) as f:
        for pop in sizes:
            for stat in STATS:
                attrs = f["diagnostics"][f"{pop}.{stat}"].attrs
                assert "method" in attrs and attrs["start_step"] == 500 and attrs["steps"] == 2000
            assert f["diagnostics"][f"{pop}.ei_correlation"].attrs["bin_ms"] == pytest.approx(2.0)
            assert f["diagnostics"][f"{pop}.fano"].attrs["window_ms"] == pytest.approx(100.0)
            assert f["diagnostics"][f"{pop}.fano"].attrs["windows"] == 2
    for pop, n in sizes.items():
        times, ids = data["spikes"][pop]["timestamps"], data["spikes"][pop]["node_ids"]
        diag = {stat: data["diagnostics"][f"{pop}.{stat}"] for stat in STATS}
        assert len(times) > 2 * n and times.min() > 50.0  # spikes after the transient only
        # the streamed statistics count the spikes of the file: rates exactly, CVs of the same ISIs
        np.testing.assert_allclose(diag["rate"], np.bincount(ids.astype(int), minlength=n) / duration_s, rtol=1e-6)
        cv = isi_cv(times, ids, n)
        np.testing.assert_array_equal(np.isnan(diag["cv_isi"]), np.isnan(cv))
        np.testing.assert_allclose(diag["cv_isi"], cv, rtol=1e-4, atol=1e-6)  # float32 run
        for stat in ("rate", "cv_isi", "fano", "ei_ratio", "ei_net", "ei_correlation"):
            assert diag[stat].shape == (n,)
        # the asynchronous irregular balanced state (docs/models/spiking.md; the 1,000-neuron network
        # in float32 measured: exc rate 30 Hz, CV 0.8, ratio 1.1, correlation 0.65, chi 0.2)
        assert 10.0 < diag["rate"].mean() < 50.0
        assert 0.6 < np.nanmean(diag["cv_isi"]) < 1.5
        assert 0.8 < np.nanmean(diag["ei_ratio"][np.isfinite(diag["ei_ratio"])]) < 1.3
        assert 0.4 < np.nanmean(diag["ei_correlation"]) < 1.0
        assert 0.0 < float(diag["synchrony"]) < 0.4


def test_libsonata_reads_the_coba_spikes_with_the_counts_of_the_file(coba_file):
    import h5py

    data = load(coba_file)
    reader = libsonata.SpikeReader(str(coba_file))
    assert sorted(reader.get_population_names()) == ["exc", "inh"]
    with h5py.File(coba_file) as f:
        for pop, n in (("exc", 800), ("inh", 200)):
            read = reader[pop].get_dict()
            raw = f["spikes"][pop]["node_ids"][()]
            counts = np.bincount(np.asarray(read["node_ids"], int), minlength=n)
            np.testing.assert_array_equal(counts, np.bincount(raw.astype(int), minlength=n))
            np.testing.assert_array_equal(counts, np.bincount(data["spikes"][pop]["node_ids"].astype(int), minlength=n))
            np.testing.assert_array_equal(read["timestamps"], data["spikes"][pop]["timestamps"])
            assert reader[pop].sorting == "by_time"


def test_plot_draws_the_coba_raster_with_the_streamed_statistics(coba_file, capsys):
    from neurodyn.plot import run_figures

    assert main(["plot", str(coba_file)]) == 0
    written = [Path(p) for p in capsys.readouterr().out.split() if p.endswith(".png")]
    assert coba_file.with_name("coba.raster.png") in written
    assert coba_file.with_name("coba.raster.png").stat().st_size > 10_000
    data = load(coba_file)
    fig = run_figures(data)["raster"]
    titles = [ax.get_title() for ax in fig.axes]
    exc = data["diagnostics"]["exc.ei_ratio"]
    assert f"E/I ratio {np.mean(exc[np.isfinite(exc)]):.3g}" in titles[0]
    assert "exc: " in titles[0] and "neurons 0-499 of 800 drawn; population rate of all 800" in titles[0]
    # the population-rate panel (Hz per neuron in bins) integrates to every spike of the file
    values, edges = fig.axes[1].patches[0].get_data()[:2]
    assert np.sum(values * np.diff(edges)) / 1000.0 * 800 == pytest.approx(len(data["spikes"]["exc"]["timestamps"]),
                                                                            rel=1e-9)


def test_spiking_statistics_can_be_switched_off_without_changing_the_spikes(coba_file, tmp_path):
    path = tmp_path / "plain.h5"
    assert main(["run", str(SPECS / "coba_ei.toml"), *REDUCED, "--set", "record.spiking_statistics=false",
                 "--out", str(path), "--quiet"]) == 0
    plain, monitored = load(path), load(coba_file)
    assert not any(name.startswith(("exc.", "inh.")) for name in plain.get("diagnostics", {}))
    for pop in ("exc", "inh"):  # the monitor observes the network without changing it
        np.testing.assert_array_equal(plain["spikes"][pop]["node_ids"], monitored["spikes"][pop]["node_ids"])
        np.testing.assert_array_equal(plain["spikes"][pop]["timestamps"], monitored["spikes"][pop]["timestamps"])
