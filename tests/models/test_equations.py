"""Equation-defined models (neurodyn.models.equations): the parser refuses what it must, units are
checked, the integration follows the documented rule, and the equation LIF network reproduces the
hand-written COBA network spike for spike (docs/spec/equations.md)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import SpecError
from neurodyn.models import Equations, coba_ei, coba_initial_state, ei_network

LIF_COBA = """
dv/dt = ((v_rest - v) + g_e*(e_e - v) + g_i*(e_i - v) + i_ext + I)/tau_m : mV (unless refractory)
dg_e/dt = -g_e/tau_e : 1
dg_i/dt = -g_i/tau_i : 1
"""
COBA = dict(tau_m="20 ms", v_rest="-60 mV", v_reset="-60 mV", v_th="-50 mV", t_ref="5 ms", i_ext="20 mV",
            tau_e="5 ms", tau_i="10 ms", e_e="0 mV", e_i="-80 mV")


def _coba_cell(n):
    return Equations(LIF_COBA, threshold="v >= v_th", reset="v = v_reset", refractory="t_ref", parameters=COBA,
                     ports=["I", "v", "g_e", "g_i"], n=n, dt=0.1, dtype=jnp.float64)


def test_equation_lif_coba_network_equals_the_hand_written_coba_network():
    # same connectivity seed, same initial draws (Brian's COBA start), float64, the fused numba kernel
    # of the hand-written cell against the JAX step generated from the equations: identical spike
    # trains for 200 ms
    n, steps = 300, 2000
    ref = coba_ei(n, i_ext=20.0, seed=3, dtype=jnp.float64)
    eq = ei_network(_coba_cell(240), _coba_cell(60), w_e=0.6, w_i=6.7, p=0.02, seed=3, dtype=jnp.float64)
    key = jax.random.PRNGKey(5)
    a = nd.simulate(ref, steps, state=coba_initial_state(ref, key))
    b = nd.simulate(eq, steps, state=coba_initial_state(eq, key))
    total = 0
    for pop in ("exc", "inh"):
        np.testing.assert_array_equal(np.asarray(b[f"{pop}.spike"]), np.asarray(a[f"{pop}.spike"]))
        np.testing.assert_allclose(np.asarray(b[f"{pop}.v"]), np.asarray(a[f"{pop}.v"]), rtol=0, atol=1e-9)
        total += int(np.asarray(a[f"{pop}.spike"]).sum())
    rate = total / n / (steps * 0.1e-3)
    assert 5 < rate < 60, rate  # the network is active, so the comparison can fail


def test_equation_lif_coba_network_has_the_hand_written_network_statistics_over_2_s():
    # issue 21: the same rate, CV of ISIs and Fano factor to 1 % over 2 s. A small network stated:
    # 400 neurons (320 E, 80 I) at p = 0.2, the benchmark's in-degree (64 E + 16 I inputs), in its
    # asynchronous irregular state (CV ~1.6, 14-18 Hz). A 1 % change of i_ext in one network moves the
    # excitatory rate by 7 %, so the bound can fail. (The two stay spike for spike equal over the 2 s
    # in float64: the statistics then agree exactly.)
    from neurodyn.diagnostics.spiking import fano_factor, firing_rates, isi_cv

    steps, sizes = 20000, {"exc": 320, "inh": 80}
    ref = coba_ei(400, i_ext=20.0, p=0.2, seed=3, dtype=jnp.float64)
    eq = ei_network(_coba_cell(320), _coba_cell(80), w_e=0.6, w_i=6.7, p=0.2, seed=3, dtype=jnp.float64)
    key = jax.random.PRNGKey(5)
    stats = []
    for net in (ref, eq):
        traj = nd.simulate(net, steps, state=coba_initial_state(net, key), record=())
        one = {}
        for pop, n in sizes.items():
            t, i = traj.spikes[f"{pop}.spike"]
            one[pop] = np.array([firing_rates(t, i, n, steps * 0.1).mean(), np.nanmean(isi_cv(t, i, n)),
                                 np.nanmean(fano_factor(t, i, n, 100.0, 0.0, steps * 0.1))])
        stats.append(one)
    for pop in sizes:
        np.testing.assert_allclose(stats[1][pop], stats[0][pop], rtol=0.01, err_msg=pop)
        rate, cv, _ = stats[0][pop]
        assert 5 < rate < 40 and cv > 0.8, (pop, stats[0][pop])  # asynchronous irregular, not silent


@pytest.mark.parametrize("pair", [("coba_ei", "coba_ei_equations"), ("cuba_ei", "cuba_ei_equations")])
def test_equation_specs_equal_the_hand_written_specs(pair):
    # the bundled specs, lif_coba / lif_cuba against their cells written as equations: the same
    # spikes and voltages for 200 ms in float64 (1,000 neurons, p = 0.08: the benchmark's in-degree)
    from pathlib import Path

    from neurodyn.spec import load_spec

    models = Path(__file__).resolve().parents[2] / "models"
    sets = ["precision=float64", "populations.exc.n=800", "populations.inh.n=200", "steps=2000",
            "record.every=1", *(f"couplings.{c}.p=0.08" for c in ("ee", "ei", "ie", "ii"))]
    ref, eq = (load_spec(models / f"{name}.toml", overrides=sets).simulate() for name in pair)
    for pop in ("exc", "inh"):
        np.testing.assert_array_equal(eq.spikes[f"{pop}.spike"][1], ref.spikes[f"{pop}.spike"][1])
        np.testing.assert_array_equal(eq.spikes[f"{pop}.spike"][0], ref.spikes[f"{pop}.spike"][0])
        assert len(ref.spikes[f"{pop}.spike"][0]) > 200  # the network fires, so the comparison can fail
    np.testing.assert_allclose(eq["inh.v"], ref["inh.v"], rtol=0, atol=1e-9)


def test_exponential_euler_gives_the_analytic_lif_rate():
    # dv/dt linear in v with constant input: exact between spikes, so the rate is
    # 1 / (t_ref + tau ln((V_inf - V_r) / (V_inf - V_th))) up to the step's rounding of the spike time
    m = Equations("dv/dt = (e_l - v + i_ext)/tau : mV (unless refractory)", threshold="v > v_th", reset="v = e_l",
                  refractory="2 ms", parameters=dict(tau="10 ms", e_l="-70 mV", v_th="-50 mV", i_ext="30 mV"),
                  initial={"v": "e_l"}, dt=0.01)
    assert m.system.method == "exponential_euler"
    spikes = np.asarray(nd.simulate(m, 100_000)["spike"])[:, 0]
    times = np.nonzero(spikes)[0] * 0.01
    isi = np.diff(times).mean()
    expected = 2.0 + 10.0 * np.log(30.0 / 10.0)
    assert abs(isi - expected) < 0.011, (isi, expected)


def test_units_convert_to_the_base_and_parameters_carry_them():
    m = Equations("dv/dt = (e_l - v)/tau + I/c : mV", parameters=dict(e_l="-0.07 V", tau="0.02 s", c="0.2 nF"),
                  ports=["I"])
    p = {k: float(v) for k, v in m.params.items()}
    assert p == pytest.approx({"e_l": -70.0, "tau": 20.0, "c": 200.0})
    assert m.units["v"] == "mV"
    # 1 nA into 200 pF: dv/dt = 5 mV/ms at rest
    s = m.init(jax.random.PRNGKey(0))._replace(v=jnp.asarray([-70.0]))
    out = m.step(s, {"I": jnp.asarray(1000.0)}, 0.0)
    assert float(out.v[0]) == pytest.approx(-70.0 + 0.1 * 5.0 * 20 * (1 - np.exp(-0.1 / 20)) / 0.1, rel=1e-6)


def test_method_follows_the_equations():
    lin = Equations("dv/dt = -v/tau : mV\ndg/dt = -g/tau : 1", parameters=dict(tau="10 ms"))
    assert lin.system.method == "exponential_euler"
    fhn = Equations("dv/dt = (v - v**3/3 - w)/tau : 1\ndw/dt = (v + 0.7 - 0.8*w)/(12.5*tau) : 1",
                    parameters=dict(tau="1 ms"))
    assert fhn.system.method == "rk4"
    adex = Equations("dv/dt = (-(v - e) + d*exp((v - vt)/d))/tau : mV", threshold="v > 0*mV", reset="v = e",
                     parameters=dict(e="-70 mV", d="2 mV", vt="-50 mV", tau="10 ms"))
    assert adex.system.method == "exponential_euler" and adex.system.schemes[0] == ("euler",)
    ou = Equations("dv/dt = -v/tau + sigma*sqrt(2/tau)*xi : mV", parameters=dict(tau="10 ms", sigma="2 mV"))
    assert ou.system.method == "euler_maruyama"
    forced = Equations("dv/dt = -v/tau : mV", parameters=dict(tau="10 ms"), method="rk4")
    assert forced.system.method == "rk4"


def test_euler_maruyama_ou_process_has_the_stationary_variance():
    # dv = -v/tau dt + sigma sqrt(2/tau) dW: stationary std sigma (to O(dt/tau) and sampling error)
    m = Equations("dv/dt = -v/tau + sigma*sqrt(2/tau)*xi : mV", parameters=dict(tau="5 ms", sigma="2 mV"), n=400)
    v = np.asarray(nd.simulate(m, 4000, transient=500, key=jax.random.PRNGKey(1))["v"])
    assert abs(v.std() - 2.0) < 0.05 and abs(v.mean()) < 0.05


def test_parameters_sweep_under_vmap_and_differentiate_without_recompiling():
    m = Equations("dv/dt = (e_l - v + i)/tau : mV", parameters=dict(e_l="-70 mV", i="10 mV", tau="10 ms"),
                  initial={"v": "e_l"})

    def final(i):
        mm = nd.core.parameters.with_parameter(m, "i", i)
        return nd.run(mm, mm.init(jax.random.PRNGKey(0)), 50)[0].v[0]

    vals = jax.vmap(final)(jnp.asarray([0.0, 10.0, 20.0]))
    exact = -70.0 + np.asarray([0.0, 10.0, 20.0]) * (1 - np.exp(-5.0 / 10.0))
    np.testing.assert_allclose(np.asarray(vals), exact, rtol=1e-9)
    g = jax.grad(final)(10.0)
    assert float(g) == pytest.approx(1 - np.exp(-0.5), rel=1e-9)


BASE = dict(parameters=dict(tau="10 ms", e_l="-70 mV", w="1 pA", c="100 pF"))
MALFORMED = [
    ("dv/dt = -v/tau", {}, "missing ': unit'"),
    ("dv/dt = -v/e_l : mV", {}, "term '-v/e_l' has dimension 1, but dv/dt needs mV/ms"),
    ("dv/dt = (e_l - v)/tau + w : mV", {}, "term 'w' has dimension pA, but dv/dt needs mV/ms"),
    ("dv/dt = (e_l - v + w)/tau : mV", {}, "term 'w' has dimension pA, but the numerator of dv/dt (divided by 'tau') needs mV"),
    ("dv/dt = exp(v)/tau : mV", {}, "the argument of exp in 'exp(v)' has dimension mV"),
    ("dv/dt = foo(v)/tau : mV", {}, "unknown function 'foo'"),
    ("dv/dt = __import__('os').system('true') : mV", {}, "unknown function '__import__'"),
    ("dv/dt = np.exp(v) : mV", {}, "attribute access 'np.exp' is not allowed"),
    ("dv/dt = v[0]/tau : mV", {}, "subscript 'v[0]' is not allowed"),
    ("dv/dt = (lambda x: x)(v)/tau : mV", {}, "lambda"),
    ("dv/dt = (e_l - vv)/tau : mV", {}, "unknown name 'vv' (did you mean 'v'?)"),
    ("dv/dt = -v/tau : mV\ndv/dt = 0/tau : mV", {}, "dv/dt is given twice"),
    ("dv/dt = -v/tau : furlong", {}, "unknown unit 'furlong'"),
    ("dv/dt = -v/tau : mV (when refractory)", {}, "unknown flag 'when refractory'"),
    ("dv/dt == -v/tau : mV", {}, "needs '=', not '=='"),
    ("v = e_l : mV", {}, "no differential equation"),
    ("dv/dt = (e_l - v + 'a')/tau : mV", {}, "\"'a'\" is not a number"),
    ("dv/dt = -v/tau**v : mV", {}, "the exponent of 'tau**v' has dimension mV"),
    ("dv/dt = -v/tau if v > e_l else 0 : mV", {}, "is not allowed in an equation"),
    ("dv/dt = (e_l - v)/tau : mV", {"threshold": "v + e_l"}, "must be a condition"),
    ("dv/dt = (e_l - v)/tau : mV", {"threshold": "v > 1"}, "side '1' has dimension 1 but 'v' has mV"),
    ("dv/dt = (e_l - v)/tau : mV", {"threshold": "v > e_l", "reset": "v == e_l"}, "expected an assignment"),
    ("dv/dt = (e_l - v)/tau : mV", {"threshold": "v > e_l", "reset": "u = e_l"}, "'u' is not a state variable"),
    ("dv/dt = (e_l - v)/tau : mV", {"threshold": "v > e_l", "reset": "v = w"}, "has dimension pA, but v is in mV"),
    ("dv/dt = (e_l - v)/tau : mV", {"threshold": "v > e_l", "refractory": "e_l"}, "must be a duration"),
    ("dv/dt = (e_l - v)/tau : mV (unless refractory)", {}, "'(unless refractory)' needs a refractory period"),
    ("dv/dt = (e_l - v)/tau : mV", {"method": "rk5"}, "unknown method 'rk5' (did you mean 'rk4'?)"),
    ("dv/dt = (e_l - v)/tau + I*I/tau : mV", {"ports": ["I"]}, "cannot infer the unit of port 'I'"),
    ("dv/dt = (e_l - v)/tau : mV", {"parameters": dict(tau="10 furlongs")}, "unknown unit 'furlongs'"),
    ("dv/dt = (e_l - v)/tau : mV", {"parameters": dict(tau="10 ms", e_l="-70 mV", v="1 mV")},
     "'v' is both defined by an equation and given as a parameter"),
]


@pytest.mark.parametrize("text,extra,message", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_malformed_equations_give_one_line_naming_the_problem(text, extra, message):
    kwargs = {**BASE, **extra}
    with pytest.raises(SpecError) as e:
        Equations(text, **kwargs)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_dangerous_text_is_refused_before_anything_is_built(monkeypatch):
    import neurodyn.models.equations.model as model_module

    built = []
    monkeypatch.setattr(model_module, "build_system", lambda *a, **k: built.append(1))
    from neurodyn.models.equations.parse import equation_lines

    for text in ("dv/dt = __import__('os').getcwd() : mV", "dv/dt = v.real : mV", "dv/dt = open(v) : mV"):
        with pytest.raises(SpecError):
            equation_lines(text)
    assert not built


def test_cli_refuses_a_malformed_equation_spec_with_exit_2(tmp_path, monkeypatch, capsys):
    import tomli_w

    from neurodyn.cli import main

    monkeypatch.chdir(tmp_path)
    spec = {"name": "bad", "steps": 10, "dt": 0.1,
            "populations": {"p": {"model": "equations", "n": 2, "equations": "dv/dt = __import__('os') : mV"}}}
    (tmp_path / "bad.toml").write_text(tomli_w.dumps(spec))
    assert main(["run", "bad.toml", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "__import__" in err and "populations.p" in err, err
    assert not (tmp_path / "hdf5_outputs").exists()


def test_equation_lif_equals_the_hand_written_lif():
    # the plain LIF (lif): the same exponential-Euler step, hold at reset, refractory clock
    i_ext = np.array([15.0, 20.5, 25.0, 40.0])
    ref = nd.models.LIF.create(4, tau_m=20.0, v_rest=-70.0, v_reset=-70.0, v_th=-50.0, t_ref=2.0, i_ext=i_ext,
                               dt=0.1, dtype=jnp.float64)
    eq = Equations("dv/dt = (-(v - v_rest) + i_ext + I)/tau_m : mV (unless refractory)", threshold="v >= v_th",
                   reset="v = v_reset", refractory="t_ref", ports=["I", "v"], n=4, dt=0.1, dtype=jnp.float64,
                   parameters=dict(tau_m="20 ms", v_rest="-70 mV", v_reset="-70 mV", v_th="-50 mV", t_ref="2 ms",
                                   i_ext=[f"{x} mV" for x in i_ext]))
    start = ref.init(jax.random.PRNGKey(3))
    a = nd.simulate(ref, 3000, state=start)
    b = nd.simulate(eq, 3000, state=eq.init(jax.random.PRNGKey(0))._replace(v=start.v))
    np.testing.assert_array_equal(np.asarray(b["spike"]), np.asarray(a["spike"]))
    np.testing.assert_allclose(np.asarray(b["v"]), np.asarray(a["v"]), rtol=0, atol=1e-10)
    assert np.asarray(a["spike"]).sum() > 20
