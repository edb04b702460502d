"""Chaotic forecasting benchmark after W. Gilpin, "Chaos as an interpretable benchmark for
forecasting and data-driven modelling" (NeurIPS Datasets and Benchmarks 2021, arXiv:2110.05266),
with the systems of its ``dysts`` package (0.95, equations and parameters shipped with the
package; nothing is downloaded): ESN, DeepResESN and NVAR forecasts of neurodyn, scored by sMAPE
and by the valid prediction time in Lyapunov times.

Protocol (the dysts repository's multivariate benchmark, ``benchmarks/esn_benchmarks.py`` and
``nvar_benchmarks.py``): each system's series has the paper's granularity, 100 points per dominant
period (its ``pts_per_period = 100`` resampling; ``period`` from dysts' metadata), and length,
12 periods (1,200 points): the model is fitted on the first 1,000 points and forecasts the last
200 (two periods) in closed loop; its one hyper-parameter is chosen on a separate validation
series (the 12 periods just before the test series) by the forecast's sMAPE, as there. sMAPE
(dysts' definition, ``dysts.metrics.smape``): ``200 mean |x - y| / (|x| + |y|)`` over all points
and coordinates of the original (not standardised) series. Valid prediction time: the first
forecast time at which the error ``sqrt(mean_i ((y_i - x_i) / sigma_i)^2)`` (sigma_i: standard
deviation of coordinate i in the fit data) exceeds 0.4, times the largest Lyapunov exponent; it
is measured on a longer forecast of 10 periods from the same fit (">" marks a forecast that
stayed valid to its end).

Trajectories: dysts' own right-hand side (its ``_rhs``, with NumPy's functions mapped onto
jax.numpy) wrapped as a neurodyn continuous model and integrated by RK4 with 1,000 steps per
period (dysts' own ``make_trajectory``, Radau at 1e-12 tolerances, took 30-200 s per system on this
shared machine), sampled
every 10 steps, from dysts' stored initial condition after a transient of 20 periods. The same
model gives the largest Lyapunov exponent by ``neurodyn.diagnostics.max_lyapunov`` (tangent
dynamics by autodiff, 200 periods); dysts' stored estimate is printed beside it. Every system
here is a 3-variable autonomous flow whose right-hand side traces under JAX, so every valid time
uses neurodyn's exponent; a system whose right-hand side does not trace is refused with a message
(dysts' stored exponent would be the fallback for such systems).

Models (inputs z-scored with the fit data's mean and deviation; forecasts mapped back; each
reservoir is drawn once, seed 0, and the candidates change only its leak or (alpha, beta)):
ESN of 500 units, 10 % density, spectral radius 0.99, input scaling 1 (dense W_in), ridge 1e-4,
washout 100 (dysts' ``ESNForecast`` settings), leak rate chosen from 0.1, 0.3, 0.6, 1.0;
DeepResESN (Pinna, Ceni & Gallicchio, arXiv:2508.21172) of 2 x 250 units, random orthogonal
residual branch, spectral radius 0.99, input scaling 1, inter-layer scaling 0.1, same readout,
(alpha, beta) chosen from (0.5, 0.1), (0.9, 0.1), (0.5, 0.5), (0.1, 1); NVAR (Gauthier et al.
2021) of order 2 with a constant, predicting the increment, ridge 1e-6, (k, s) chosen from
k in {2, 3, 4} x s in {1, 5}. ``--quick``: two systems, fit 400 / forecast 100 (valid time over
200), reservoirs of 60 units, the first candidate only, exponents over 20 periods.

Published numbers beside ours: the 2021 paper's forecasting benchmark, as far as its text could be
checked here, is univariate with the darts library's models and reports no reservoir computer or
NVAR number. The dysts repository holds
per-system sMAPE of a ReservoirPy ESN (same settings as above, leak 0.1-1.1, on raw series) and a
ReservoirPy NVAR (order 1, delays 2-120) on this multivariate protocol
(``benchmarks/results/results_{esn,nvar}_multivariate.json.gz`` at commit ea8bf95); they are
quoted per system (``PUBLISHED``). They were measured on dysts' precomputed series of other
initial conditions, so only the spread over systems is comparable, not one system's value.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import types

import numpy as np

SYSTEMS = ("Lorenz", "Rossler", "Aizawa", "Arneodo", "Chen", "ChenLee", "Chua", "DequanLi", "Halvorsen",
           "Thomas", "SprottB", "SprottS", "RabinovichFabrikant", "Rucklidge", "GenesioTesi", "Dadras", "Sakarya",
           "LuChen", "HindmarshRose", "MooreSpiegel")
PTS_PER_PERIOD, STEPS_PER_SAMPLE = 100, 10  # 100 samples per period, RK4 with 1,000 steps per period
# fit / scored forecast / forecast for the valid time (samples), reservoir units, Lyapunov periods,
# candidates tried per model
SIZES = {"full": dict(systems=SYSTEMS, fit=1000, test=200, long=1000, units=500, lyap_periods=200.0, candidates=None),
         "quick": dict(systems=("Lorenz", "Halvorsen"), fit=400, test=100, long=200, units=60, lyap_periods=20.0,
                       candidates=1)}
THRESHOLD = 0.4
LEAKS = (0.1, 0.3, 0.6, 1.0)
RES_PAIRS = ((0.5, 0.1), (0.9, 0.1), (0.5, 0.5), (0.1, 1.0))
NVAR_DELAYS = tuple((k, s) for k in (2, 3, 4) for s in (1, 5))

# sMAPE of the dysts repository's ReservoirPy ESN and NVAR on the multivariate 100-points-per-period,
# 12-period protocol (results_esn_multivariate.json.gz / results_nvar_multivariate.json.gz, commit ea8bf95)
PUBLISHED = {"Lorenz": (121.8, 115.0), "Rossler": (173.5, 105.2), "Aizawa": (4.6, 40.3), "Arneodo": (101.8, 124.5),
             "Chen": (108.7, 93.9), "ChenLee": (160.1, 90.1), "Chua": (35.2, 106.8), "DequanLi": (105.7, 93.7),
             "Halvorsen": (106.3, 90.6), "Thomas": (53.2, 67.5), "SprottB": (114.2, 142.9), "SprottS": (5.8, 58.3),
             "RabinovichFabrikant": (6.5, 49.1), "Rucklidge": (32.5, 97.7), "GenesioTesi": (35.4, 147.2),
             "Dadras": (148.0, 130.7), "Sakarya": (159.2, 95.3), "LuChen": (92.8, 21.3), "HindmarshRose": (14.0, 115.3),
             "MooreSpiegel": (141.6, 133.4)}


def dysts_system(name: str):
    """The dysts flow ``name`` (dysts 0.95): its object, with parameters and metadata from the
    JSON shipped inside the package."""
    import dysts.flows

    return getattr(dysts.flows, name)()


def jax_rhs(system):
    """dysts' right-hand side ``_rhs(x1, ..., xd, t, *params)`` as a function of JAX arrays: the
    original Python function (numba's ``py_func``) re-bound with ``np`` meaning ``jax.numpy``."""
    import jax.numpy as jnp

    f = getattr(system._rhs, "py_func", system._rhs)
    return types.FunctionType(f.__code__, {**f.__globals__, "np": jnp}, f.__name__, f.__defaults__, f.__closure__)


def flow_model(system, dt: float):
    """A neurodyn continuous model of ``dx/dt = f(x)`` (dysts' equations), stepped by RK4 with
    step ``dt`` (the system's time unit)."""
    import jax
    import jax.numpy as jnp

    from neurodyn.core import rk4
    from neurodyn.pytree import pytree_dataclass

    rhs, x0 = jax_rhs(system), np.asarray(system.ic, float)

    @pytree_dataclass(static=("dt",))
    class DystsFlow:
        params: jax.Array
        dt: float

        def init(self, key):
            return jnp.asarray(x0)

        def vector_field(self, x, drive, t):
            return jnp.stack([jnp.asarray(v, x.dtype) * jnp.ones((), x.dtype)
                              for v in rhs(*x, t, *self.params)])

        def step(self, x, drive, t):
            return rk4(self.vector_field, x, drive, t, self.dt)

        def observe(self, x):
            return {"x": x}

    return DystsFlow(jnp.asarray(np.asarray(system.param_list, float)), float(dt))


def sample(model, x0, samples: int, every: int):
    """``samples`` states of ``model`` from ``x0``, one every ``every`` steps (the first after ``every``)."""
    import jax

    def block(x, _):
        x = jax.lax.fori_loop(0, every, lambda i, y: model.step(y, None, 0.0), x)
        return x, x

    return np.asarray(jax.jit(lambda x: jax.lax.scan(block, x, None, length=samples)[1])(x0))


def smape(x, y) -> float:
    """Symmetric mean absolute percentage error, dysts' definition: ``200 mean |x - y| / (|x| + |y|)``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(200 * np.mean(np.abs(x - y) / (np.abs(x) + np.abs(y))))


def valid_steps(forecast, truth, sigma, threshold: float = THRESHOLD) -> tuple[int, bool]:
    """Samples before the normalised error ``sqrt(mean_i ((y_i - x_i) / sigma_i)^2)`` first exceeds
    ``threshold``, and whether it never did."""
    err = np.sqrt(np.mean(((np.asarray(forecast) - truth) / sigma) ** 2, axis=1))
    over = np.flatnonzero(err > threshold)
    return (int(over[0]), False) if over.size else (len(err), True)


def prepare(name: str, size: dict, *, transient_periods: float = 20.0):
    """Validation and test series of system ``name`` and its largest Lyapunov exponent."""
    import jax

    from neurodyn.diagnostics import max_lyapunov

    system = dysts_system(name)
    period = float(system.period)
    dt = period / (PTS_PER_PERIOD * STEPS_PER_SAMPLE)
    model = flow_model(system, dt)
    try:
        jax.eval_shape(lambda x: model.step(x, None, 0.0), model.init(None))
    except Exception as e:  # noqa: BLE001 -- a right-hand side JAX cannot trace
        raise NotImplementedError(f"{name}: dysts' right-hand side does not trace under JAX ({e})") from e
    x = sample(model, model.init(None), int(transient_periods * PTS_PER_PERIOD), STEPS_PER_SAMPLE)[-1]
    fit, test, long = size["fit"], size["test"], size["long"]
    n = 2 * (fit + test) + (long - test)
    series = sample(model, x, n, STEPS_PER_SAMPLE)
    if not np.all(np.isfinite(series)):
        raise FloatingPointError(f"{name}: the integration diverged")
    steps = int(size["lyap_periods"] * PTS_PER_PERIOD * STEPS_PER_SAMPLE)
    lam = float(max_lyapunov(model, steps, state=jax.numpy.asarray(series[-1]), dt=dt))
    return dict(name=name, period=period, sample_dt=period / PTS_PER_PERIOD, lyapunov=lam, lyapunov_source="neurodyn",
                stored_lyapunov=float(system.maximum_lyapunov_estimated),
                validation=series[:fit + test], test=series[fit + test:])


@functools.lru_cache(maxsize=None)
def _base(kind: str, n: int, units: int):
    """The random reservoir of ``kind`` for ``n`` inputs, built once (its spectral radius scaling is
    the slow part); the candidates only change its leak or (alpha, beta)."""
    from neurodyn.models import ESN, deep_res_esn

    if kind == "ESN":
        return ESN.create(units, n, spectral_radius=0.99, input_scaling=1.0, density=0.1, seed=0)
    return deep_res_esn(2, units // 2, n, spectral_radius=0.99, input_scaling=1.0, inter_scaling=0.1,
                        orthogonal="random", stability="off", seed=0)


def _esn(leak, n, units):
    return dataclasses.replace(_base("ESN", n, units), leak=leak)


def _deep(pair, n, units):
    net = _base("DeepResESN", n, units)
    a, b = pair
    return dataclasses.replace(net, populations={k: dataclasses.replace(p, alpha=a, beta=b)
                                                 for k, p in net.populations.items()})


def _nvar(pair, n, units):
    from neurodyn.models import NVAR

    k, s = pair
    return NVAR.create(n, delay=k, order=2, strides=s, constant=True)


MODELS = {  # name -> (builder, candidates, ridge, drive key, readout predicts the increment)
    "ESN": (_esn, LEAKS, 1e-4, None, False),
    "DeepResESN": (_deep, RES_PAIRS, 1e-4, "layer1", False),
    "NVAR": (_nvar, NVAR_DELAYS, 1e-6, None, True),
}


def forecast(kind: str, candidate, fit, steps: int, units: int = 500) -> np.ndarray:
    """Closed-loop forecast of ``steps`` samples after the series ``fit`` by the model ``kind``
    with hyper-parameter ``candidate``: ridge readout on the z-scored series, one step ahead."""
    from neurodyn.readout import Ridge, generate, harvest

    build, _, ridge, into, increment = MODELS[kind]
    mu, sd = fit.mean(0), fit.std(0)
    z = (fit - mu) / sd
    model = build(candidate, z.shape[1], units)
    states = harvest(model, z[:-1], into=into)
    target = z[1:] - z[:-1] if increment else z[1:]
    readout = Ridge(ridge=ridge, washout=100).fit(states, target)
    out = generate(model, readout, z, steps, into=into, increment=increment)
    out = np.where(np.isfinite(out), out, 1e6)
    return mu + sd * np.clip(out, -1e6, 1e6)


def evaluate(kind: str, data: dict, size: dict) -> dict:
    """Choose the hyper-parameter on the validation series, then fit and score on the test series."""
    val, test, fit, n_test, n_long = data["validation"], data["test"], size["fit"], size["test"], size["long"]
    candidates = MODELS[kind][1][:size["candidates"]]
    scores = [smape(val[fit:], forecast(kind, c, val[:fit], n_test, size["units"])) for c in candidates]
    best = candidates[int(np.argmin(scores))]
    pred = forecast(kind, best, test[:fit], n_long, size["units"])
    truth = test[fit:fit + n_long]
    n, never = valid_steps(pred, truth, test[:fit].std(0))
    return dict(candidate=best, smape=smape(truth[:n_test], pred[:n_test]),
                vpt=n * data["sample_dt"] * data["lyapunov"], vpt_capped=never)


def run(size: dict):
    """Rows ``(data, {model: result})`` for each system of ``size`` (:data:`SIZES`), in order."""
    for name in size["systems"]:
        data = prepare(name, size)
        yield data, {kind: evaluate(kind, data, size) for kind in MODELS}


def table(rows):
    """The result lines of :func:`run`'s rows, each yielded as soon as its row is computed."""
    yield (f"  {'system':<20s} {'lambda (neurodyn / dysts)':>26s}  "
           + "  ".join(f"{k + ' sMAPE':>16s} {'VPT':>6s}" for k in MODELS) + "  published ESN / NVAR sMAPE")
    all_s, all_v, names = {k: [] for k in MODELS}, {k: [] for k in MODELS}, []
    for data, res in rows:
        names.append(data["name"])
        cells = []
        for k in MODELS:
            r = res[k]
            all_s[k].append(r["smape"])
            all_v[k].append(r["vpt"])
            cells.append(f"{r['smape']:16.1f} {('>' if r['vpt_capped'] else '') + format(r['vpt'], '.2f'):>6s}")
        pub = PUBLISHED.get(data["name"])
        yield (f"  {data['name']:<20s} {data['lyapunov']:12.3f} / {data['stored_lyapunov']:<11.3f}  "
               + "  ".join(cells) + (f"  {pub[0]:.1f} / {pub[1]:.1f}" if pub else "  -"))
    pubs = [PUBLISHED[n] for n in names if n in PUBLISHED]
    yield (f"  {'median':<20s} {'':>26s}  " + "  ".join(
        f"{np.median(all_s[k]):16.1f} {np.median(all_v[k]):6.2f}" for k in MODELS)
        + (f"  {np.median([p[0] for p in pubs]):.1f} / {np.median([p[1] for p in pubs]):.1f}" if pubs else ""))


def main(quick: bool = False):
    import neurodyn

    neurodyn.set_precision("float64")
    t0 = time.perf_counter()
    size = SIZES["quick" if quick else "full"]
    yield (f"{len(size['systems'])} dysts systems, {PTS_PER_PERIOD} points per period: fit {size['fit']} points, "
           f"sMAPE of the next {size['test']}, valid prediction time (error > {THRESHOLD}) in Lyapunov times over "
           f"{size['long']}; reservoirs of {size['units']} units")
    yield from table(run(size))
    yield f"  ({time.perf_counter() - t0:.0f} s)"
