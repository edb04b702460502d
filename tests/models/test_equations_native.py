"""The kernel generated from an equation model's equations (neurodyn.models.equations.native)
against the JAX step generated from them: the same spikes and, up to the exponential's last bits,
the same numbers; batched, differentiated and refused where it must be (docs/spec/equations.md)."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.models import Equations, preset
from neurodyn.models.equations import native
from neurodyn.ops import backends

ROOT = Path(__file__).resolve().parents[2]
LIF_COBA = """
dv/dt = ((v_rest - v) + g_e*(e_e - v) + g_i*(e_i - v) + i_ext + I)/tau_m : mV (unless refractory)
dg_e/dt = -g_e/tau_e : 1
dg_i/dt = -g_i/tau_i : 1
"""
COBA = dict(tau_m="20 ms", v_rest="-60 mV", v_reset="-60 mV", v_th="-50 mV", t_ref="5 ms", i_ext="20 mV",
            tau_e="5 ms", tau_i="10 ms", e_e="0 mV", e_i="-80 mV")

pytestmark = pytest.mark.skipif(not backends.native_available(), reason="the native CPU kernels are off here")


def _lif_coba(n, dtype=jnp.float64):
    return Equations(LIF_COBA, threshold="v >= v_th", reset="v = v_reset", refractory="t_ref", parameters=COBA,
                     ports=["I", "v", "g_e", "g_i"], initial={"v": "-60 mV"}, n=n, dt=0.1, dtype=dtype)


def _drive(n, steps, seed=0, scale=1.0):
    """Per-neuron synaptic increments and an input current: a random drive that makes cells fire."""
    rng = np.random.default_rng(seed)
    return rng.exponential(scale, (steps, n)) * (rng.random((steps, n)) < 0.05)


def _both(model, steps, drive=None):
    """The trajectories of ``model`` with the generated kernel and with the JAX step."""
    out = {}
    for backend in ("numba", "jax"):
        out[backend] = nd.simulate(dataclasses.replace(model, backend=backend), steps, drive=drive)
    return out["numba"], out["jax"]


def _uses_kernel(model, drive=None, backend=None) -> bool:
    """Whether the compiled step of ``model`` calls the generated kernel (an FFI custom call)."""
    model = dataclasses.replace(model, backend=backend)
    state = model.init(jax.random.PRNGKey(0))
    text = jax.jit(lambda s: model.step(s, drive)).lower(state).as_text()
    return "neurodyn_equation_" in text


def test_generated_lif_coba_kernel_fires_as_the_jax_step_in_float64():
    # 200 COBA cells driven by random conductance increments for 300 ms: the same spikes, the
    # voltages equal to 1e-9 mV (exp is a different polynomial than XLA's: within 1.2 ulp, so the
    # two differ in the last bits of v; they are not bitwise equal)
    n, steps = 200, 3000
    m = _lif_coba(n)
    assert native.unsupported(m.system) == "" and _uses_kernel(m)
    drive = {"g_e": jnp.asarray(_drive(n, steps, 1, 1.0)), "g_i": jnp.asarray(_drive(n, steps, 2, 0.5))}
    a, b = _both(m, steps, drive)
    np.testing.assert_array_equal(a["spike"], b["spike"])
    np.testing.assert_allclose(a["v"], b["v"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(a["g_e"], b["g_e"], rtol=1e-12, atol=0)
    assert np.asarray(a["spike"]).sum() > 500  # the cells fire, so the comparison can fail


def test_generated_izhikevich_kernel_gives_the_jax_steps_bits():
    # Euler and the quadratic v**2 (integer_pow: v * v), no transcendental function: the loop does
    # the JAX step's operations in its order (with the same fused multiply-adds), so float64 and
    # float32 give the same bits, spike for spike (the RS .. LTS range of i_ext: tonic to bursting)
    for dtype in (jnp.float64, jnp.float32):
        m = preset("izhikevich", 40, dt=0.5, dtype=dtype, i_ext=np.linspace(0, 20, 40), d=np.linspace(2, 8, 40))
        assert _uses_kernel(m)
        a, b = _both(m, 2000)
        for f in ("v", "u", "spike"):
            np.testing.assert_array_equal(np.asarray(a[f]), np.asarray(b[f]), err_msg=f"{f} {dtype}")
        assert np.asarray(a["spike"]).sum() > 1000


@pytest.mark.parametrize("variant", ["adapting", "bursting", "initial_burst"])
def test_generated_adex_kernel_fires_as_the_jax_step(variant):
    # AdEx (Naud et al. 2008 parameter sets): exponential Euler for w, Euler for v with exp(): the
    # same spikes; v differs in its last bits through exp, amplified on the upstroke (where
    # exp((v - v_t)/delta_t) grows): to 1e-7 relative. (Not the "irregular" set: chaotic, it
    # amplifies a last-bit difference to 1e-3 mV in 250 ms)
    m = preset("adex", 3, variant=variant, dt=0.05, dtype=jnp.float64)
    assert m.system.schemes[0][0] == "euler" and m.system.schemes[1][0] == "exp" and _uses_kernel(m)
    a, b = _both(m, 6000)
    np.testing.assert_array_equal(a["spike"], b["spike"])
    np.testing.assert_allclose(a["v"], b["v"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a["w"], b["w"], rtol=1e-7, atol=1e-9)
    assert np.asarray(a["spike"]).sum() >= 6


def test_generated_kernel_reads_the_time_and_the_conditional_functions():
    # an input switched on at t_on and rectified, sin(t / period) clipped to [0, amp]: the time t is
    # an operand of the kernel only for such a model; exponential Euler with a constant leak. Same
    # spikes as the JAX step, v to 1e-9 mV (sin and exp: other implementations than XLA's)
    m = Equations("dv/dt = (e_l - v + where(t > t_on, clip(amp*sin(t/period), 0*mV, amp), 0*mV))/tau : mV "
                  "(unless refractory)", threshold="v > v_th", reset="v = e_l", refractory="1 ms",
                  parameters=dict(e_l="-70 mV", tau="10 ms", amp=["20 mV", "40 mV", "60 mV"], period="5 ms",
                                  v_th="-55 mV", t_on="20 ms"), initial={"v": "e_l"}, n=3, dtype=jnp.float64)
    assert native.layout(m.system)[1][-1] == "t" and m.system.schemes[0][1] == ("num", 1.0)
    assert native.library_calls(m.system) == ("sin",) and not _uses_kernel(m)  # not by default: below
    assert native.layout(_lif_coba(2).system)[1][-1] == "dt"  # no time where the equations do not read it
    a, b = _both(m, 3000)
    np.testing.assert_array_equal(a["spike"], b["spike"])
    np.testing.assert_allclose(a["v"], b["v"], rtol=0, atol=1e-9)
    counts = np.asarray(a["spike"]).sum(0)
    assert counts[0] == 0 < counts[1] < counts[2]  # 20 mV stays below threshold: the input matters
    assert not np.asarray(a["spike"])[:200].any()  # nothing before t_on


@pytest.mark.parametrize("rhs", ["sigmoid(x) + exprel(x) - tanh(x)", "sign(x)*abs(x)**1.5 + minimum(x, 1)*maximum(x, -1)",
                                 "log1p(x*x) + sqrt(x*x + 1) - cosh(x)/(1 + x**2) + arctan(x)", "x**3/8 - (1 + x*x)**-2 + expm1(-x*x)",
                                 "where(x > 0 and not (x > 2), sin(x) + cos(x), log10(1 + x*x))"])
def test_generated_kernel_computes_every_function_as_the_jax_step(rhs):
    # each function of the equation syntax in an Euler step (not linear in x): float64, 60 steps from
    # 6 starting values, to 1e-12 relative (the C library's functions against XLA's: last bits)
    m = Equations(f"dx/dt = ({rhs} - x)/tau : 1", threshold="x > 50", reset="x = 0", parameters={"tau": "1 ms",
                  "x0": [-1.7, -0.4, 0.3, 0.9, 1.6, 2.5]}, initial={"x": "x0"}, n=6, dt=0.01, dtype=jnp.float64)
    assert m.system.schemes[0] == ("euler",) and _uses_kernel(m, backend="numba")
    a, b = _both(m, 60)
    np.testing.assert_allclose(a["x"], b["x"], rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(np.asarray(a["x"])))


def test_generated_traub_miles_kernel_fires_as_the_jax_step():
    # the COBAHH cell (exponential Euler for every variable, exprel and exp in the rates): the same
    # spikes for 200 ms in float64, v to 1e-7 mV (the rates' exp / exprel differ in the last bits)
    m = preset("traub_miles", 3, i_ext=[150.0, 300.0, 600.0], dt=0.05, dtype=jnp.float64)
    assert _uses_kernel(m)
    a, b = _both(m, 4000)
    np.testing.assert_array_equal(a["spike"], b["spike"])
    for f in ("v", "m", "n", "h"):
        np.testing.assert_allclose(a[f], b[f], rtol=0, atol=1e-7, err_msg=f)
    assert np.all(np.asarray(a["spike"]).sum(0) >= 5)


def test_generated_hodgkin_huxley_kernel_keeps_the_refractory_condition_of_the_jax_step():
    # the squid axon with its refractory condition (refractory after a spike while v > -40 mV: a
    # boolean state in the kernel) and its temperature factor 3**((T - 6.3)/10) (a power of
    # parameters only: computed once per step, so not a reason to leave the kernel); 200 ms at
    # 2 .. 20 uA/cm2 (0.02 .. 0.2 pA/um2: the first below the rheobase): the same spikes and
    # refractory states, v to 1e-9 mV
    m = preset("hodgkin_huxley", 4, i_ext=[0.02, 0.05, 0.1, 0.2], dt=0.01, dtype=jnp.float64)
    assert m.system.refractory[0] == "condition" and native.library_calls(m.system) == () and _uses_kernel(m)
    a, b = _both(m, 20000)
    np.testing.assert_array_equal(a["spike"], b["spike"])
    np.testing.assert_array_equal(a["refractory"], b["refractory"])
    np.testing.assert_allclose(a["v"], b["v"], rtol=0, atol=1e-9)
    counts = np.asarray(a["spike"]).sum(0)
    assert counts[0] == 0 and counts[3] > counts[2] > 5, counts


def test_generated_kernel_batches_a_parameter_sweep_under_vmap():
    # a sweep of i_ext over 4 values under jax.vmap (the batch folded into the kernel's neurons)
    # equals 4 separate runs of the JAX step
    m = preset("izhikevich", 5, dt=0.5, dtype=jnp.float64)
    values = jnp.asarray([4.0, 8.0, 12.0, 16.0])

    def run(i_ext, backend):
        model = dataclasses.replace(m, params={**m.params, "i_ext": i_ext}, backend=backend)
        return nd.run(model, model.init(jax.random.PRNGKey(0)), 400, record=("spike",))[1]["spike"].sum(0)

    batched = jax.jit(jax.vmap(lambda x: run(x, "numba")))(values)
    text = jax.jit(jax.vmap(lambda x: run(x, "numba"))).lower(values).as_text()
    assert "neurodyn_equation_" in text  # the kernel, not the JAX step, runs under vmap
    want = np.stack([np.asarray(run(x, "jax")) for x in values])
    np.testing.assert_array_equal(np.asarray(batched), want)
    assert np.all(np.diff(want.sum(1)) > 0)  # more input, more spikes: the sweep is a sweep


def test_gradient_through_the_generated_kernel_is_that_of_the_jax_step():
    # below threshold for 50 ms, synapses closed: d v(T) / d i_ext through the kernel (the JVP of its
    # reference, the JAX step) equals the JAX step's, and that of the exact solution
    # v(T) = v_rest + i_ext + (v0 - v_rest - i_ext) e^{-T/tau_m}: 1 - e^{-T/tau_m} per neuron
    m = _lif_coba(3)

    def v_end(i_ext, backend):
        model = dataclasses.replace(m, params={**m.params, "i_ext": i_ext}, backend=backend)
        state = model.init(jax.random.PRNGKey(0))
        return nd.run(model, state, 500)[0].v.sum()

    got = jax.grad(lambda x: v_end(x, "numba"))(jnp.asarray(5.0))
    want = jax.grad(lambda x: v_end(x, "jax"))(jnp.asarray(5.0))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got, 3 * (1 - np.exp(-50.0 / 20.0)), rtol=1e-9)


def test_models_the_kernel_does_not_cover_run_the_jax_step():
    # RK4, white noise, no threshold: the JAX step, with the reason stated; a covered model with
    # backend "jax" does not call the kernel either
    cases = {"method rk4": preset("izhikevich", 2, method="rk4", dtype=jnp.float64),
             "a noise term": Equations("dx/dt = -x/tau + sigma*xi/sqrt(tau) : 1", parameters={"tau": "10 ms", "sigma": 0.1},
                                       threshold="x > 1", reset="x = 0", n=2),
             "no threshold": Equations("dx/dt = -x/tau : 1", parameters={"tau": "10 ms"}, n=2)}
    for reason, m in cases.items():
        assert native.unsupported(m.system) == reason
        assert not _uses_kernel(m)
        s = m.step(m.init(jax.random.PRNGKey(0)))
        assert all(bool(jnp.all(jnp.isfinite(getattr(s, f)))) for f in m.system.variables)
    assert not _uses_kernel(_lif_coba(2), backend="jax") and _uses_kernel(_lif_coba(2))


def test_by_default_models_calling_the_c_library_run_the_jax_step():
    # a call of the C library per number stops the loop's vectorisation (3,200 cells with one tanh:
    # 43 us per step in the kernel, 8.7 us in the JAX step, load 6): by default such a model runs the
    # JAX step; backend "numba" still runs the kernel; exp / expm1 / exprel are polynomials in the loop
    cell = "dv/dt = (e_l - v + a*{}((v - e_l)/k) + I)/tau : mV"
    args = dict(threshold="v > v_th", reset="v = e_l", ports=["I"], n=2,
                parameters=dict(e_l="-70 mV", a="5 mV", k="10 mV", tau="10 ms", v_th="-50 mV"))
    for fn, calls in (("tanh", ("tanh",)), ("log1p", ("log1p",)), ("exp", ()), ("exprel", ()), ("expm1", ())):
        m = Equations(cell.format(fn), **args)
        assert native.library_calls(m.system) == calls
        assert _uses_kernel(m) == (not calls) and _uses_kernel(m, backend="numba")
    m = Equations("dv/dt = (e_l - v + a*((v - e_l)/k)**2 + b*abs((v - e_l)/k)**1.5 + I)/tau : mV",
                  **{**args, "parameters": {**args["parameters"], "b": "1 mV"}})
    assert native.library_calls(m.system) == ("**",) and not _uses_kernel(m)


def test_generated_kernel_writes_a_constant_that_is_not_finite():
    # 1e400 reads as inf (a threshold never reached): the generator writes it as np.inf, and the
    # kernel steps as the JAX step (v relaxes from 0 to e_l: -70 (1 - e^{-0.9 ms / 10 ms}) after 9 steps)
    m = Equations("dv/dt = (e_l - v + I)/tau : mV", threshold="v > 1e400*mV", reset="v = e_l", ports=["I"],
                  parameters=dict(e_l="-70 mV", tau="10 ms"), n=2, dtype=jnp.float64)
    assert "np.inf" in native.loop_source(m.system, "float64", (False,) * 4) and _uses_kernel(m)
    a, b = _both(m, 10)
    np.testing.assert_allclose(a["v"], b["v"], rtol=1e-13)  # exp: the last bits
    np.testing.assert_allclose(np.asarray(a["v"])[-1], -70 * (1 - np.exp(-0.09)), rtol=1e-12)


def test_a_misspelt_backend_is_one_line_naming_the_choices():
    from neurodyn.errors import SpecError

    with pytest.raises(SpecError, match=r"unknown backend 'numab' \(allowed: jax, numba\)"):
        Equations("dx/dt = -x/tau : 1", parameters={"tau": "10 ms"}, threshold="x > 1", backend="numab")


def test_generated_loop_compiles_where_no_file_can_be_written(monkeypatch):
    # no writable directory for the generated source: the loop compiles from memory (uncached) and
    # computes the same step as the cached one
    from neurodyn.ops import _equation_kernel

    m = _lif_coba(8)
    source = native.loop_source(m.system, "float64", (True,) * 4 + (False,) * 11)
    monkeypatch.setattr(_equation_kernel, "_directory", lambda: None)
    uncached = _equation_kernel.loop.__wrapped__(source)
    monkeypatch.undo()
    cached = _equation_kernel.loop(source)
    results = []
    for update in (uncached, cached):
        rng = np.random.default_rng(0)
        state = [rng.uniform(-70, -45, 8), rng.uniform(0, 1, 8), rng.uniform(0, 1, 8), np.zeros(8)]
        spike = np.zeros(8, np.uint8)
        inputs = [np.full(8, 0.5), np.zeros(8), np.full(8, 0.1), np.full(8, 0.2)]  # I, v, g_e, g_i
        params = [20.0, -60.0, -60.0, -50.0, 5.0, 20.0, 5.0, 10.0, 0.0, -80.0, 0.1]  # COBA, dt
        update(*state, spike, *inputs, *params)
        results.append((np.stack(state), spike))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert results[0][1].sum() > 0


def test_equation_spec_runs_where_numbas_cache_cannot_be_written(tmp_path):
    """``NUMBA_CACHE_DIR`` a path that cannot be created, no other place to cache: the native kernels
    are off with one warning and an equation model runs its JAX step."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(blocker / "cache"),
           "NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator"}
    code = """
import numpy as np
import neurodyn as nd
from neurodyn.models import preset
m = preset("izhikevich", 3, dt=0.5, i_ext=[5.0, 10.0, 15.0])
counts = np.asarray(nd.simulate(m, 400)["spike"]).sum(0)
assert counts[0] < counts[1] < counts[2], counts
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("the native CPU kernels are off: numba has no writable place") == 1, out.stderr
    assert "self-check" not in out.stderr
