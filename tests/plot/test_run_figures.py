"""``neurodyn plot`` on run files: which figures, their axes, units, titles and lines."""

from pathlib import Path

import numpy as np

from neurodyn.cli import main
from neurodyn.io import load
from neurodyn.plot import run_figures


def test_plot_draws_a_run_file_chosen_from_its_content(run_spec, workdir, capsys):
    run_spec("chialvo_ring_star", "--steps", "1500", "--set", "couplings.star.strength=0.02")
    assert main(["plot", "chialvo_ring_star.h5"]) == 0
    written = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in written if p.endswith(".png")) == [
        "chialvo_ring_star.phase.png", "chialvo_ring_star.raster.png", "chialvo_ring_star.timeseries.png"]
    data = load("chialvo_ring_star.h5")
    figs = run_figures(data)
    assert set(figs) == {"timeseries", "phase", "raster"}  # no order parameter in a Chialvo run
    for fig in figs.values():
        heading = fig._suptitle.get_text()
        assert "chialvo_ring_star, seed 1" in heading
        assert "neurons = chialvo (n = 4); couplings star, ring, triadic; --set couplings.star.strength=0.02" in heading
    series = figs["timeseries"].axes
    assert [ax.get_ylabel() for ax in series] == ["neurons.x (dimensionless)", "neurons.y (dimensionless)"]
    # a map run of 500 recorded iterations: by default its last MAP_WINDOW (200) iterations, as dots
    assert series[-1].get_xlabel() == "time (iteration); last 200 of 500 iterations (--window START:STOP for others)"
    assert [len(ax.get_lines()) for ax in series] == [4, 4]  # one series per neuron
    assert all(line.get_linestyle() == "None" and line.get_marker() == "." for line in series[0].get_lines())
    # the samples drawn are the file's: steps 1300..1499 (transient 1000, 500 recorded)
    np.testing.assert_array_equal(series[0].get_lines()[2].get_ydata(),
                                  data["report"]["neurons"]["x"]["data"][-200:, 2])
    np.testing.assert_array_equal(series[0].get_lines()[2].get_xdata(), np.arange(1300, 1500))
    assert all(ax.get_legend()._bbox_to_anchor is not None for ax in series)  # legends right of the axes
    phase = figs["phase"].axes[0]
    assert (phase.get_xlabel(), phase.get_ylabel()) == ("neurons.x (dimensionless)", "neurons.y (dimensionless)")
    assert len(phase.get_lines()) == 4
    assert all(line.get_linestyle() == "None" for line in phase.get_lines())  # iterates, not a flow
    raster, rate = figs["raster"].axes
    assert raster.get_ylabel() == "neuron index (neurons)" and rate.get_ylabel() == "pop. rate (1 / iteration)"
    n_spikes = len(data["spikes"]["neurons"]["timestamps"])
    assert len(raster.get_lines()[0].get_xdata()) == n_spikes
    assert f"{n_spikes:,} spikes; 4 neurons" in raster.get_title()


def test_window_and_variable_options(run_spec, workdir, capsys):
    data = run_spec("chialvo_ring_star", "--steps", "1500")
    figs = run_figures(data, variables=["neurons.x"], phase=("neurons.y", "neurons.x"), window=(1200, 1300))
    (ax,) = figs["timeseries"].axes
    t = ax.get_lines()[0].get_xdata()
    assert t[0] == 1200 and t[-1] == 1300 and len(t) == 101
    assert ax.get_xlabel() == "time (iteration)"  # a window asked for replaces the default one
    phase = figs["phase"].axes[0]
    assert phase.get_xlabel().startswith("neurons.y") and len(phase.get_lines()[0].get_xdata()) == 101
    spikes = figs["raster"].axes[0].get_lines()[0].get_xdata()
    assert spikes.size and spikes.min() >= 1200 and spikes.max() <= 1300
    assert main(["plot", "chialvo_ring_star.h5", "--variables", "neurons.x", "--window", "1200:1300",
                 "--phase", "neurons.y,neurons.x"]) == 0
    capsys.readouterr()
    for args, message in [(["--variables", "neurons.z"],
                           "unknown variable 'neurons.z' (recorded: neurons.x, neurons.y)"),
                          (["--window", "5:3"], "--window '5:3': START must be below STOP"),
                          (["--phase", "neurons.x"], "expected two variables")]:
        assert main(["plot", "chialvo_ring_star.h5", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("neurodyn: error:") and "\n" not in err and message in err, err


def test_spiking_run_has_ms_mv_and_a_rate_in_hz(run_spec, workdir):
    data = run_spec("lif_rate", "--steps", "20000")  # 200 ms; rates 45.5 Hz, 98.6 Hz, 0 (see the spec)
    figs = run_figures(data)
    assert set(figs) == {"timeseries", "raster"}  # one variable: no phase portrait
    (v,) = figs["timeseries"].axes
    assert (v.get_ylabel(), v.get_xlabel()) == ("neurons.v (mV)", "time (ms)")
    raster, rate = figs["raster"].axes
    assert rate.get_ylabel() == "pop. rate (Hz)" and rate.get_xlabel() == "time (ms)"
    drawn = rate.patches[0].get_data()
    assert drawn.edges[0] == 0.0 and drawn.edges[-1] >= 200.0
    # the drawn rate averaged over the run is the number of spikes per neuron per second
    total = len(data["spikes"]["neurons"]["timestamps"])
    assert total > 0
    assert abs(drawn.values @ np.diff(drawn.edges) / 200.0 - total / 3 / 0.2) < 1e-9


def test_kuramoto_run_shows_its_order_parameter(run_spec, workdir):
    data = run_spec("kuramoto_all_to_all", "--steps", "600", "--set", "populations.oscillators.n=64",
                "--set", "record.transient=0")
    figs = run_figures(data)
    assert set(figs) == {"timeseries", "order_parameter"}  # theta and r differ in nodes: no phase portrait
    # theta is drawn as a phase raster: theta_i - psi wrapped to [-pi, pi), rows sorted by mean frequency
    image = figs["timeseries"].axes[1].get_images()[0]
    theta = data["report"]["oscillators"]["theta"]["data"]
    t = data["report"]["oscillators"]["theta"]["times"]
    psi = np.arctan2(np.sin(theta).mean(1), np.cos(theta).mean(1))
    order = np.argsort((theta[-1] - theta[0]) / (t[-1] - t[0]), kind="stable")
    expected = np.mod(theta[:, order] - psi[:, None] + np.pi, 2 * np.pi) - np.pi
    np.testing.assert_allclose(np.asarray(image.get_array()).T, expected, atol=1e-9)
    assert image.get_clim() == (-np.pi, np.pi)
    ax = figs["order_parameter"].axes[0]
    assert ax.get_ylabel() == "order parameter r (dimensionless)" and ax.get_xlabel() == "time (dimensionless)"
    r = data["report"]["oscillators"]["r"]["data"][:, 0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["oscillators.r (recorded)", f"time average <r>_t = {r.mean():.4g}"]
    assert "kuramoto_all_to_all, seed 1" in figs["order_parameter"]._suptitle.get_text()


def test_large_population_raster_draws_a_stated_subset_and_the_rate_of_all(run_spec, workdir):
    from neurodyn.plot.run import MAX_RASTER_NEURONS

    data = run_spec("coba_ei", "--steps", "300", "--set", "record.variables=[]")
    figs = run_figures(data)
    exc_raster, exc_rate = figs["raster"].axes[:2]
    ids = exc_raster.get_lines()[0].get_ydata()
    assert ids.max() < MAX_RASTER_NEURONS
    assert f"neurons 0-{MAX_RASTER_NEURONS - 1} of 3200 drawn; population rate of all 3200" in exc_raster.get_title()
    # the rate panel counts every spike of the population, not only the drawn neurons
    drawn = exc_rate.patches[0].get_data()
    total = len(data["spikes"]["exc"]["timestamps"])
    assert total > len(ids)
    assert abs(drawn.values @ np.diff(drawn.edges) * 3200 / 1000.0 - total) < 1e-6 * total
