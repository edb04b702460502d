"""The one metric registry (neurodyn.readout.metrics.METRICS): a metric is registered once, with
its name, its one-line doc and one masked function, and is then available to a spec's [task],
to a sweep's task scores and to Ridge.score alike; the masked functions equal independent
NumPy formulas."""

import inspect
from pathlib import Path

import numpy as np
import pytest

import neurodyn as nd
from neurodyn.readout import Ridge
from neurodyn.readout.metrics import METRICS, register_metric, score
from neurodyn.sweep.measures import MEASURES

SPECS = Path(__file__).resolve().parents[2] / "models"
PACKAGE = Path(nd.__file__).resolve().parent
DOC = "max |y_hat - y| over the test rows and outputs"


@pytest.fixture
def max_error():
    """A metric registered from a test, removed afterwards (from the registry and the sweep's measures)."""
    register_metric("max_abs_error", lambda p, y, w, xp: xp.max(w[:, None] * xp.abs(p - y)), DOC)
    yield
    del METRICS["max_abs_error"]
    MEASURES._entries.pop("max_abs_error", None)


def test_each_metric_is_named_once_in_the_package():
    # the metric names are written in the registry and nowhere else as a list of their own
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if path.name == "metrics.py" and path.parent.name == "readout":
            continue
        assert '"nrmse_rms", "mse"' not in text and "METRIC_DOCS" not in text, path
    assert list(METRICS)[:6] == ["nrmse", "nrmse_rms", "mse", "r2", "memory_capacity", "accuracy"]
    for m in METRICS.values():
        assert m.doc and "\n" not in m.doc and list(inspect.signature(m.fn).parameters) == ["pred", "y", "w", "xp"]


def test_masked_metrics_equal_numpy_formulas_on_the_weighted_rows():
    rng = np.random.default_rng(0)
    y, p = rng.normal(1.0, 2.0, (40, 3)), rng.normal(1.0, 2.0, (40, 3))
    w = (rng.random(40) < 0.6).astype(float)
    ys, ps = y[w == 1], p[w == 1]
    e2 = (ps - ys) ** 2
    corr = [np.corrcoef(ps[:, k], ys[:, k])[0, 1] ** 2 for k in range(3)]
    expected = {"mse": e2.mean(), "nrmse": np.sqrt(e2.mean() / ys.var()), "nrmse_rms": np.sqrt(e2.mean() / np.mean(ys ** 2)),
                "r2": np.mean(1 - e2.sum(0) / ((ys - ys.mean(0)) ** 2).sum(0)), "memory_capacity": np.sum(corr),
                "accuracy": np.mean(ps.argmax(1) == ys.argmax(1))}
    import jax.numpy as jnp

    for name, value in expected.items():
        np.testing.assert_allclose(score(name, p, y, w), value, rtol=1e-12)
        np.testing.assert_allclose(float(score(name, jnp.asarray(p), jnp.asarray(y), jnp.asarray(w), jnp)), value,
                                   rtol=1e-5)  # JAX in the session's precision


def test_a_registered_metric_reaches_specs_sweeps_and_readouts(max_error, tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(80, 4)), rng.normal(size=(80, 1))
    fit = Ridge(ridge=1e-3).fit(x, y)
    got = fit.score(x, y, metrics=("max_abs_error", "mse"))
    assert got["max_abs_error"] == pytest.approx(np.max(np.abs(fit.predict(x) - y)), rel=1e-12)
    # a spec's [task] accepts it and writes it with its doc
    sets = ["populations.reservoir.n=12", "task.washout=10", "task.train=60", "task.test=30",
            'task.metrics=["max_abs_error", "nrmse"]', "task.readout.ridge=1e-6"]
    spec = nd.load_spec(SPECS / "esn_narma10.toml", steps=100, overrides=sets)
    result = nd.runs.run_spec(spec, tmp_path / "t.h5")
    data = nd.io.load(result.path)
    assert float(data["diagnostics"]["max_abs_error"]) == result.task.scores["max_abs_error"] > 0
    with nd.io.open_for_reading(result.path) as f:
        assert f["diagnostics/max_abs_error"].attrs["definition"] == DOC
    # a sweep computes it inside the compiled chunk, equal to the run's readout on the same point
    res = nd.sweep(spec, {"task.readout.ridge": [1e-6]}, ["max_abs_error", "nrmse"], progress=False)
    np.testing.assert_allclose(res.results["max_abs_error"][0], result.task.scores["max_abs_error"], rtol=1e-9)
    np.testing.assert_allclose(res.results["nrmse"][0], result.task.scores["nrmse"], rtol=1e-9)
    assert DOC in MEASURES["max_abs_error"].summary
