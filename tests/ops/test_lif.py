"""The fused LIF step kernel (neurodyn.ops.lif) against its JAX reference formula and an
independent NumPy loop: values to float rounding, spikes identical, under vmap and grad, and the
caller's arrays untouched by the in-place update."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.errors import SpecError
from neurodyn.models.spiking import SynapticLIF
from neurodyn.ops import lif

PARAMS = dict(tau_m=20.0, v_rest=-60.0, v_reset=-60.0, v_th=-50.0, t_ref=5.0, i_ext=20.0, tau_e=5.0, tau_i=10.0,
              e_e=0.0, e_i=-80.0, dt=0.1)
TOL = {np.float32: dict(rtol=2e-6, atol=2e-5), np.float64: dict(rtol=1e-13, atol=1e-11)}


def _case(n, dtype, seed=0, per_neuron=(), inputs=("inc_e", "inc_i")):
    """A state with some refractory neurons and some above threshold; parameters named in
    ``per_neuron`` get one value per neuron, the others stay scalars; ``inputs`` present."""
    rng = np.random.default_rng(seed)
    state = (rng.uniform(-75, -40, n), rng.choice([0.0, 0.0, 0.0, 0.05, 1.3], n), rng.uniform(0, 10, n),
             rng.uniform(0, 30, n))
    params = {k: (v * rng.uniform(0.9, 1.1, n) if k in per_neuron else v) for k, v in PARAMS.items()}
    sizes = dict(current=rng.uniform(0, 5, n), jump=rng.uniform(0, 3, n), inc_e=rng.uniform(0, 2, n),
                 inc_i=rng.uniform(0, 2, n))
    inp = tuple(sizes[k] if k in inputs else 0.0 for k in lif.INPUTS)
    cast = lambda x: jnp.asarray(x, dtype)  # noqa: E731
    return (tuple(cast(x) for x in state), tuple(cast(x) for x in inp),
            {k: cast(v) for k, v in params.items()})


def _numpy_step(state, inputs, p, conductance):
    """The update written out in NumPy float64, independently of the JAX reference."""
    v, ref, ge, gi = (np.asarray(x, np.float64) for x in state)
    cur, jump, inc_e, inc_i = (np.asarray(x, np.float64) for x in inputs)
    p = {k: np.asarray(x, np.float64) for k, x in p.items()}
    if conductance:
        leak = 1 + ge + gi
        v_inf = (p["v_rest"] + ge * p["e_e"] + gi * p["e_i"] + p["i_ext"] + cur) / leak
        v_new = v_inf + (v - v_inf) * np.exp(-leak * p["dt"] / p["tau_m"])
    else:
        v_inf = p["v_rest"] + ge + gi + p["i_ext"] + cur
        v_new = v_inf + (v - v_inf) * np.exp(-p["dt"] / p["tau_m"])
    free = ref <= 0
    v_new = np.where(free, v_new + jump, p["v_reset"])
    spike = free & (v_new >= p["v_th"])
    v_new = np.where(spike, p["v_reset"], v_new)
    ref_new = np.where(spike, p["t_ref"], np.maximum(ref - p["dt"], 0))
    return v_new, ref_new, spike, ge * np.exp(-p["dt"] / p["tau_e"]) + inc_e, gi * np.exp(-p["dt"] / p["tau_i"]) + inc_i


def _step(state, inputs, p, conductance, backend):
    out = lif.synaptic_lif_step(state, inputs, lif.kernel_parameters(p, conductance), conductance=conductance,
                                backend=backend)
    # the kernel must really serve (it falls back to the reference formula if its self-check fails)
    assert backend != "numba" or (lif.KERNEL.targets() and None not in lif.KERNEL.targets().values())
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("conductance", [True, False])
@pytest.mark.parametrize("per_neuron, inputs", [((), ("inc_e", "inc_i")),
                                                (("i_ext", "tau_m", "v_th", "e_i"), lif.INPUTS),
                                                (tuple(PARAMS), ("current", "jump"))])
def test_kernel_equals_the_reference_and_a_numpy_loop(dtype, conductance, per_neuron, inputs):
    state, inp, p = _case(1001, dtype, per_neuron=per_neuron, inputs=inputs)
    fused = _step(state, inp, p, conductance, "numba")
    reference = _step(state, inp, p, conductance, "jax")
    numpy = _numpy_step(state, inp, p, conductance)
    assert fused.v.dtype == dtype and fused.spike.dtype == jnp.bool_
    assert 20 < int(fused.spike.sum()) < 800 and int((state[1] > 0).sum()) > 100  # spikes and refractory cells
    for name, a, b, c in zip(fused._fields, fused, reference, numpy):
        if name == "spike":
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)
        else:
            np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=name)
            np.testing.assert_allclose(a, c, **TOL[dtype], err_msg=name)


def test_kernel_exponential_is_within_1_35_ulp_in_float32_and_1_25_in_float64():
    """The kernel's own e^x (a polynomial after reduction by ln 2), read through the membrane
    decay: a conductance neuron with ``V_inf = 0`` (``V_rest = E_e = E_i = i_ext = 0``), ``V = 1``
    and ``c_m = 1`` steps to ``V' = e^{-L}``, ``L = 1 + g_e + g_i``; NumPy's extended precision
    gives the exact value."""
    for dtype, lo, ulps in ((np.float32, 86.0, 1.35), (np.float64, 700.0, 1.25)):
        leak = np.linspace(1.0, lo, 20001).astype(dtype)
        n = leak.size
        zero = jnp.zeros(n, dtype)
        state = (jnp.ones(n, dtype), zero, jnp.asarray(leak - 1, dtype), zero)
        params = [jnp.asarray(x, dtype) for x in (1.0, 0.0, -1e30, 1e30, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0)]
        assert lif.KERNEL.serves(("cond", np.dtype(dtype).name, (False,) * 15))
        out = lif.synaptic_lif_step(state, (0.0, 0.0, 0.0, 0.0), params, conductance=True, backend="numba")
        exact = np.exp(-leak.astype(np.longdouble))
        err = np.abs(np.asarray(out.v, np.longdouble) - exact) / np.spacing(exact.astype(dtype)).astype(np.longdouble)
        assert float(err.max()) <= ulps, (dtype, float(err.max()))
    # NaN propagates: a NaN conductance gives a NaN membrane potential, not a number
    nan = lif.synaptic_lif_step((jnp.ones(3), jnp.zeros(3), jnp.asarray([0.0, np.nan, 1.0]), jnp.zeros(3)),
                                (0.0, 0.0, 0.0, 0.0), lif.kernel_parameters(PARAMS, True), conductance=True,
                                backend="numba")
    assert np.isnan(np.asarray(nan.v)).tolist() == [False, True, False]


def test_kernel_leaves_the_callers_arrays_untouched():
    """The kernel updates the state in place (XLA aliases its results to its arguments); arrays
    the caller still holds must not change: XLA copies them first."""
    state, inp, p = _case(100, np.float64)
    before = [np.array(x) for x in state]
    out = _step(state, inp, p, True, "numba")
    for x, b in zip(state, before):
        np.testing.assert_array_equal(np.asarray(x), b)
    assert not np.array_equal(np.asarray(out.g_e), before[2])


def test_kernel_under_vmap_equals_each_member_and_grad_equals_the_reference():
    state, inp, p = _case(64, np.float64, per_neuron=("v_th",), inputs=lif.INPUTS)
    i_ext = jnp.asarray([10.0, 20.0, 30.0])
    states = tuple(jnp.stack([x, x + 0.5, x - 0.25]) for x in state)

    def step(s, ie, backend):
        return _step(s, inp, {**p, "i_ext": ie}, True, backend)

    batched = jax.vmap(step, in_axes=(0, 0, None))(states, i_ext, "numba")
    for b in range(3):
        one = step(tuple(x[b] for x in states), i_ext[b], "numba")
        for a, c in zip(batched, one):
            np.testing.assert_array_equal(a[b], c)  # the same kernel over the same neurons: identical
    # nested vmap (a sweep of sweeps) folds into one call as well
    nested = jax.vmap(jax.vmap(step, in_axes=(None, 0, None)), in_axes=(0, None, None))(states, i_ext, "numba")
    np.testing.assert_array_equal(nested.v[1, 2], step(tuple(x[1] for x in states), i_ext[2], "numba").v)
    reference = jax.vmap(step, in_axes=(0, 0, None))(states, i_ext, "jax")
    np.testing.assert_allclose(batched.v, reference.v, rtol=1e-13, atol=1e-11)

    def loss(s, ie, backend):
        out = step(s, ie, backend)
        return jnp.sum(out.v ** 2) + jnp.sum(out.g_e * out.g_i)

    grads = jax.grad(loss, argnums=(0, 1))(state, 20.0, "numba")
    expected = jax.grad(loss, argnums=(0, 1))(state, 20.0, "jax")
    for a, b in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    assert float(jnp.abs(grads[0][0]).sum()) > 0


def test_model_steps_with_either_backend_alike_and_checks_its_backend():
    """``SynapticLIF(backend=...)`` picks the kernel or the formula; the two give the same spikes
    over 200 steps of a driven population (a short run: spike times are chaotic in a network, not
    in an uncoupled population)."""
    runs = {}
    for backend in ("numba", "jax"):
        model = SynapticLIF.create(50, synapse="conductance", i_ext=np.linspace(5, 40, 50), backend=backend)
        state = model.init(jax.random.PRNGKey(3))
        drive = {"g_e": jnp.full(50, 0.05), "g_i": jnp.full(50, 0.02)}

        def body(s, _, model=model, drive=drive):
            s = model.step(s, drive)
            return s, s.spike

        runs[backend] = np.asarray(jax.lax.scan(body, state, None, length=200)[1])
    assert runs["numba"].sum() > 50
    np.testing.assert_array_equal(runs["numba"], runs["jax"])
    with pytest.raises(SpecError, match="backend"):
        SynapticLIF.create(3, backend="cuda")
    with pytest.raises(SpecError, match="backend"):
        lif.synaptic_lif_step(*_case(3, np.float64)[:2], lif.kernel_parameters(PARAMS, True), conductance=True,
                              backend="cuda")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_packs_its_spikes_and_a_recorder_takes_those_words(dtype):
    """The kernel writes its spikes also as uint32 words (bit k of word w = neuron 32 w + k) and
    attaches them to its spike array: ``pack_bits`` of that array inside the compiled step is the
    kernel's words (no packing pass in the program), equal to NumPy's packbits; under vmap each
    member's words; an array derived from the spikes is packed by ``pack_bits`` itself."""
    from neurodyn.ops.bits import pack_bits

    def expected(spike):
        spike = np.asarray(spike)
        return np.packbits(np.pad(spike, [(0, 0)] * (spike.ndim - 1) + [(0, -spike.shape[-1] % 32)]), axis=-1,
                           bitorder="little").view("<u4")

    for n in (1, 31, 32, 37, 100, 801):
        state, inp, p = _case(n, dtype, seed=n, inputs=lif.INPUTS)

        def record(s, inp):
            out = _step(s, inp, p, True, "numba")
            return out.spike, pack_bits(out.spike), pack_bits(~(~out.spike))

        spike, words, derived = jax.jit(record)(state, inp)
        assert 0 < np.asarray(spike).sum() < n or n < 32
        np.testing.assert_array_equal(words, expected(spike))
        np.testing.assert_array_equal(derived, expected(spike))
        # the words come from the kernel: the only packing in the program is that of the derived array
        text = str(jax.make_jaxpr(record)(state, inp))
        assert text.count("bitcast_convert_type") == 1, text
        states = tuple(jnp.stack([x, x + 2.5, x - 1.0]) for x in state)
        spike, words, derived = jax.jit(jax.vmap(record, in_axes=(0, None)))(states, inp)
        np.testing.assert_array_equal(words, expected(spike))
        np.testing.assert_array_equal(derived, expected(spike))
