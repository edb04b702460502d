"""The chaotic forecasting benchmark (``python -m benchmarks forecasting``): dysts' equations as a
neurodyn model, its trajectories and Lyapunov exponent against independent references, the scores,
and the ``--quick`` run."""

import numpy as np
import pytest

dysts = pytest.importorskip("dysts")

import neurodyn  # noqa: E402
from benchmarks import bench_forecasting as bf  # noqa: E402


@pytest.fixture(autouse=True)
def float64():
    from neurodyn.precision import x64_enabled

    before = "float64" if x64_enabled() else "float32"
    neurodyn.set_precision("float64")
    yield
    neurodyn.set_precision(before)


@pytest.mark.parametrize("name", bf.SYSTEMS)
def test_the_jax_right_hand_side_is_dysts_own(name):
    system = bf.dysts_system(name)
    model = bf.flow_model(system, 1e-3)
    rng = np.random.default_rng(0)
    for x in np.asarray(system.ic) * (1 + 0.3 * rng.standard_normal((3, len(system.ic)))):
        ours = np.asarray(model.vector_field(np.asarray(x), None, 0.0))
        assert np.allclose(ours, system.rhs(x, 0.0), rtol=1e-12, atol=1e-12), name


def test_the_rk4_trajectory_follows_a_tight_scipy_integration():
    from scipy.integrate import solve_ivp

    system = bf.dysts_system("Lorenz")
    dt = system.period / (bf.PTS_PER_PERIOD * bf.STEPS_PER_SAMPLE)
    ours = bf.sample(bf.flow_model(system, dt), np.asarray(system.ic, float), bf.PTS_PER_PERIOD, bf.STEPS_PER_SAMPLE)
    t = system.period / bf.PTS_PER_PERIOD * np.arange(1, bf.PTS_PER_PERIOD + 1)
    ref = solve_ivp(lambda _, x: system.rhs(x, 0.0), (0, t[-1]), system.ic, t_eval=t, method="DOP853",
                    rtol=1e-12, atol=1e-12).y.T
    assert np.max(np.abs(ours - ref)) < 1e-6 * np.max(np.abs(ref))


def test_neurodyn_lyapunov_exponent_of_dysts_lorenz_matches_the_known_value():
    # Lorenz-63 (sigma 10, rho 28, beta 8/3; dysts stores beta = 2.667): lambda_1 = 0.9056 (Sprott 2003)
    size = dict(bf.SIZES["quick"], lyap_periods=100.0)
    assert bf.prepare("Lorenz", size)["lyapunov"] == pytest.approx(0.9056, rel=0.03)


def test_smape_is_dysts_definition_and_the_valid_time_counts_samples_before_the_threshold():
    from dysts.metrics import smape

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((50, 3)), rng.standard_normal((50, 3))
    assert bf.smape(x, y) == pytest.approx(smape(x, y), rel=1e-12)
    assert bf.smape(x, x) == 0 and bf.smape(x, -x) == pytest.approx(200)
    truth = np.zeros((10, 2))
    forecast = np.zeros((10, 2))
    forecast[6:] = 1.0  # normalised error 0.5 from sample 6 on (sigma 2)
    assert bf.valid_steps(forecast, truth, np.array([2.0, 2.0])) == (6, False)
    assert bf.valid_steps(truth, truth, np.array([2.0, 2.0])) == (10, True)


def test_quick_run_prints_every_system_and_model_and_nvar_forecasts_lorenz():
    lines = list(bf.main(quick=True))
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:-1]}
    assert set(bf.SIZES["quick"]["systems"]) <= set(rows) and "median" in rows
    lorenz = rows["Lorenz"]  # lambda / stored lambda, then sMAPE and valid time of ESN, DeepResESN, NVAR
    assert float(lorenz[0]) == pytest.approx(0.9056, rel=0.1) and float(lorenz[2]) == pytest.approx(0.892, abs=1e-3)
    smapes = [float(lorenz[i]) for i in (3, 5, 7)]
    assert all(0 <= v <= 200 for v in smapes)
    # NVAR (order 2) fits Lorenz-63's quadratic field almost exactly: a forecast far better than chance
    assert smapes[2] < 5 and float(lorenz[8].lstrip(">")) > 1.0


def test_the_example_refuses_a_system_dysts_does_not_have(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "chaotic_forecasting.py"
    spec = importlib.util.spec_from_file_location("chaotic_forecasting_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    with pytest.raises(SystemExit) as stop:
        example.main(["--quick", "--systems", "Lorenz,Lorenz63", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "--systems: Lorenz63 is not a dysts flow" in capsys.readouterr().err
