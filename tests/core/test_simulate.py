import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import DivergenceError, SpecError
from neurodyn.models import Chialvo, chialvo_ring_star
from neurodyn.pytree import pytree_dataclass


def _net():
    return chialvo_ring_star(9, star=0.02, ring_strength=0.03, triadic=0.004, b=0.18)


def test_chunked_run_equals_unchunked_bitwise():
    net = _net()
    kw = dict(key=jax.random.PRNGKey(3), transient=50, every=3, spikes={"neurons.x": 1.0})
    whole = nd.simulate(net, 3001, **kw)
    for chunk in (1, 7, 300):
        part = nd.simulate(net, 3001, chunk=chunk, **kw)
        for name in whole.names:
            np.testing.assert_array_equal(part[name], whole[name])
        np.testing.assert_array_equal(part.times, whole.times)
        for a, b in zip(part.spikes["neurons.x"], whole.spikes["neurons.x"]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(part.final_state["neurons"].x, whole.final_state["neurons"].x)
    assert len(whole.spikes["neurons.x"][0]) > 50


def test_same_seed_is_bitwise_identical_and_other_seed_differs():
    net = _net()
    a = nd.simulate(net, 2000, key=jax.random.PRNGKey(11))
    b = nd.simulate(net, 2000, key=jax.random.PRNGKey(11))
    c = nd.simulate(net, 2000, key=jax.random.PRNGKey(12))
    np.testing.assert_array_equal(a["neurons.x"], b["neurons.x"])
    assert not np.array_equal(a["neurons.x"], c["neurons.x"])


def test_recording_every_k_after_transient_samples_the_plain_orbit():
    net = _net()
    state = net.init(jax.random.PRNGKey(0))
    _, full = nd.run(net, state, 1000)  # every state before each step
    traj = nd.simulate(net, 1000, state=state, every=7, transient=100)
    n = (1000 - 100) // 7
    assert traj["neurons.x"].shape == (n, 10)
    np.testing.assert_array_equal(traj.times, 100 + 7 * np.arange(n))
    np.testing.assert_array_equal(traj["neurons.x"], np.asarray(full["neurons.x"])[100::7][:n])
    assert traj.steps == 1000
    _, last = nd.run(net, state, 1001)
    np.testing.assert_array_equal(traj.final_state["neurons"].x, np.asarray(last["neurons.x"])[1000])


def test_spikes_are_upward_threshold_crossings():
    net = _net()
    traj = nd.simulate(net, 2000, key=jax.random.PRNGKey(1), transient=10, spikes={"neurons.x": 1.0})
    x = traj["neurons.x"]  # samples at steps 10..1999
    up = (x[:-1] < 1.0) & (x[1:] >= 1.0)
    steps, nodes = np.nonzero(up)
    t, ids = traj.spikes["neurons.x"]
    inside = t <= 1999
    np.testing.assert_array_equal(t[inside], 10 + steps + 1)
    np.testing.assert_array_equal(ids[inside], nodes)
    assert np.all(np.diff(t) >= 0)


def test_drive_array_and_function_agree_and_drive_enters_k():
    model = Chialvo.create(3, b=0.6)
    state = model.init(jax.random.PRNGKey(0))
    ts = jnp.arange(500.0)
    amp = jnp.array([0.0, 0.01, -0.01])
    arr = nd.simulate(model, 500, state=state, drive=jnp.sin(0.1 * ts)[:, None] * amp)
    fun = nd.simulate(model, 500, state=state, drive=lambda t: jnp.sin(0.1 * t) * amp)
    np.testing.assert_allclose(arr["x"], fun["x"], rtol=0, atol=1e-13)
    # a constant drive I is the same as k + I (Chialvo 1995: input adds to k)
    const = nd.simulate(model, 300, state=state, drive=lambda t: 0.005 * jnp.ones(3))
    shifted = nd.simulate(Chialvo.create(3, b=0.6, k=0.035), 300, state=state)
    np.testing.assert_allclose(const["x"], shifted["x"], atol=1e-12)
    with pytest.raises(SpecError, match="drive has 10 time steps"):
        nd.simulate(model, 500, state=state, drive=jnp.zeros((10, 3)))


@pytree_dataclass(static=("n",))
class Doubling:
    """A user-written model: x -> 2x overflows float64 after 1024 steps from x = 1."""

    n: int
    gain: jax.Array

    def init(self, key):
        return (jnp.ones(self.n),)

    def step(self, state, drive, t):
        return (state[0] * self.gain,)

    def observe(self, state):
        return {"x": state[0]}


def test_divergence_names_step_and_variable_and_keeps_records():
    model = Doubling(2, jnp.array(2.0))
    appended = []

    class Writer:
        def append(self, times, data, spikes):
            appended.append(len(times))

    with pytest.raises(DivergenceError, match="step 1024") as info:
        nd.simulate(model, 5000, chunk=100, writer=Writer())
    err = info.value
    assert err.step == 1024 and err.variable == "x"
    traj = err.trajectory
    assert traj.steps == 1023
    assert traj["x"].shape == (1024, 2)  # states 0..1023 are finite
    assert np.all(np.isfinite(traj["x"]))
    np.testing.assert_array_equal(traj["x"][-1], [2.0 ** 1023] * 2)
    assert sum(appended) == 1024  # the writer got every finite sample


def test_network_divergence_names_population():
    net = _net()
    state = net.init(jax.random.PRNGKey(0))
    state = {"neurons": state["neurons"]._replace(y=state["neurons"].y.at[3].set(705.0))}
    with pytest.raises(DivergenceError, match="population 'neurons'") as info:
        nd.simulate(net, 100, state=state)
    assert info.value.variable == "neurons.x" and info.value.step == 2


def test_grad_and_vmap_through_run():
    model = Chialvo.create(2, b=0.6)
    state = model.init(jax.random.PRNGKey(0))

    def final_x(k):
        m = Chialvo(model.n, model.a, model.b, model.c, k * jnp.ones(2))
        return nd.run(m, state, 40)[0].x.sum()

    g = jax.grad(final_x)(0.03)
    fd = (final_x(0.03 + 1e-7) - final_x(0.03 - 1e-7)) / 2e-7  # central difference: O(h^2) + O(eps/h)
    assert np.isfinite(g) and abs(g - fd) < 1e-6 * max(1.0, abs(fd))
    bs = jnp.array([0.6, 0.18, 0.3])
    batched = jax.vmap(lambda b: nd.run(Chialvo(2, model.a, b * jnp.ones(2), model.c, model.k), state, 300)[1]["x"])(bs)
    for i, b in enumerate(bs):
        single = nd.run(Chialvo.create(2, b=float(b)), state, 300)[1]["x"]
        np.testing.assert_array_equal(batched[i], single)


def test_bad_arguments_are_spec_errors():
    net = _net()
    with pytest.raises(SpecError, match="unknown observable"):
        nd.simulate(net, 10, record=("neurons.z",))
    with pytest.raises(SpecError, match="steps"):
        nd.simulate(net, 0)
    with pytest.raises(SpecError, match="transient"):
        nd.simulate(net, 10, transient=10)


@pytest.mark.parametrize("numba_from_words", [0, None], ids=["numba", "numpy-below-threshold"])
def test_spike_flags_packed_in_the_scan_unpack_to_the_same_events(numba_from_words, monkeypatch):
    """Spike flags leave the compiled loop as bits in uint32 words; the host recovers exactly the
    (step, node) pairs of the boolean array, sorted, for sizes that are and are not multiples of 32
    -- through the numba loop (threshold 0) and through NumPy (small inputs, the default)."""
    import jax.numpy as jnp
    import numpy as np

    from neurodyn.ops import bits
    from neurodyn.ops.bits import _unpack_numpy, pack_bits, unpack_events

    if numba_from_words is not None:
        monkeypatch.setattr(bits, "_NUMBA_FROM_WORDS", numba_from_words)

    rng = np.random.default_rng(0)
    for n in (1, 31, 32, 33, 100, 3200):
        flags = rng.random((7, n)) < 0.1
        flags[1], flags[2], flags[3, ::2] = True, False, True  # every bit set, none, alternating
        words = np.stack([np.asarray(pack_bits(jnp.asarray(row))) for row in flags])
        assert words.dtype == np.uint32 and words.shape == (7, -(-n // 32))
        # the same bits as NumPy's packbits (little bit order) read as little-endian uint32 words
        padded = np.pad(flags, ((0, 0), (0, -n % 32)))
        expected = np.packbits(padded, axis=1, bitorder="little").view("<u4")
        np.testing.assert_array_equal(words, expected)
        steps, nodes = unpack_events(words, n)
        expected_steps, expected_nodes = np.nonzero(flags)
        np.testing.assert_array_equal(steps, expected_steps)
        np.testing.assert_array_equal(nodes, expected_nodes)
        # bits past the last node (padding) are not events; a strided view unpacks the same
        words[:, -1] |= np.uint32(0xFFFFFFFF) << np.uint32(n % 32) if n % 32 else np.uint32(0)
        steps, nodes = unpack_events(words, n)
        np.testing.assert_array_equal(nodes, expected_nodes)
        wide = np.zeros((7, 2 * words.shape[1]), np.uint32)
        wide[:, ::2] = words
        steps, nodes = unpack_events(wide[:, ::2], n)
        np.testing.assert_array_equal(steps, expected_steps)
        np.testing.assert_array_equal(nodes, expected_nodes)
        # one source's columns among others' (every bit of theirs set) in one record
        ones = lambda k: np.full((7, k), 0xFFFFFFFF, np.uint32)  # noqa: E731
        record = np.concatenate([ones(3), words, ones(2)], axis=1)
        steps, nodes = unpack_events(record, n, columns=(3, 3 + words.shape[1]))
        np.testing.assert_array_equal(steps, expected_steps)
        np.testing.assert_array_equal(nodes, expected_nodes)
        # the NumPy fallback (used where numba's disk cache cannot be written) gives the same
        steps, nodes = _unpack_numpy(words, n)
        np.testing.assert_array_equal(steps, expected_steps)
        np.testing.assert_array_equal(nodes, expected_nodes)


def test_step_times_are_the_decimal_times_of_whole_steps():
    """Times of whole steps of a decimal dt are the doubles nearest the decimal times (1282 steps
    of 0.1 ms are 128.2, not 1282 * 0.1 = 128.20000000000002); other dt fall back to k * dt."""
    import numpy as np

    from neurodyn.core.model import step_times

    k = np.arange(200_000)
    for dt, scale in ((0.1, 10), (0.025, 1000 / 25), (0.01, 100), (1.0, 1), (0.5, 2)):
        t = step_times(k, dt)
        assert t.dtype == np.float64
        # exactly the double nearest to k / scale (one correctly rounded division)
        np.testing.assert_array_equal(t, k / scale)
    assert float(step_times(1282, 0.1)) == 128.2 and 1282 * 0.1 != 128.2
    assert [repr(float(x)) for x in step_times(np.array([3, 468]), 0.1)] == ["0.3", "46.8"]
    np.testing.assert_array_equal(step_times(k[:10], 1 / 3), k[:10] * (1 / 3))
    big = np.array([2 ** 60])
    np.testing.assert_array_equal(step_times(big, 0.1), big * 0.1)



def test_spike_times_in_a_run_file_are_the_decimal_times_of_their_steps(tmp_path):
    """A float32 LIF population driven above threshold, saved from Python: every spike time in the
    file is the double nearest to (step / 10) ms, with no float32 or float64 rounding noise."""
    import h5py
    import numpy as np

    import neurodyn as nd

    model = nd.models.LIF(n=5, i_ext=np.linspace(25.0, 60.0, 5).astype(np.float32), dt=np.float32(0.1))
    traj = nd.simulate(model, 3000, record=())
    nd.io.save(traj, tmp_path / "lif.h5")
    with h5py.File(tmp_path / "lif.h5") as f:
        (group,) = f["spikes"]
        t = f["spikes"][group]["timestamps"][:]
        assert f["/neurodyn"].attrs["dt"] == 0.1
    assert len(t) > 50
    steps = np.round(t * 10)
    np.testing.assert_array_equal(t, steps / 10)  # 468 steps -> 46.8, not 46.800000000000004


def test_every_spike_source_recorded_in_one_record_splits_back_to_its_own_events():
    """The words of every spike source (two LIF populations whose sizes are not multiples of 32,
    the kernel's attached words, and a threshold crossing packed in the loop, on a subset) travel
    as one array per step and are split on the host: each source's events equal those read off
    its samples recorded at every step."""
    from neurodyn.models import coba_ei, coba_initial_state

    net = coba_ei(73, p=0.2, i_ext=20.0, seed=3)
    state = coba_initial_state(net, jax.random.PRNGKey(1))
    n_e = net.populations["exc"].n
    chosen = np.arange(1, n_e, 2)
    traj = nd.simulate(net, 600, state=state, record=("exc.spike", "inh.spike", "exc.v"),
                       spikes={"exc.v": -55.0}, neurons={"exc.v": chosen})
    dt = traj.dt
    for name in ("exc.spike", "inh.spike"):
        rows, cols = np.nonzero(np.asarray(traj.data[name])[1:])  # sample j + 1: the state after step j
        t, i = traj.spikes[name]
        assert len(rows) > 20 and t.max() < 600 * dt
        np.testing.assert_allclose(t[t < 600 * dt - dt / 2], (rows + 1) * dt, rtol=1e-12)
        np.testing.assert_array_equal(i[t < 600 * dt - dt / 2], cols)
    v = np.asarray(traj.data["exc.v"])
    rows, cols = np.nonzero((v[:-1] < -55.0) & (v[1:] >= -55.0))
    t, i = traj.spikes["exc.v"]
    assert len(rows) > 20
    keep = t < 600 * dt - dt / 2
    np.testing.assert_allclose(t[keep], (rows + 1) * dt, rtol=1e-12)
    np.testing.assert_array_equal(i[keep], chosen[cols])


def test_recording_lif_spikes_compiles_no_packing_of_its_own():
    """simulate's spike recorder takes the words the LIF kernel attached to its spikes: the
    compiled chunk recording both populations' spikes has no packing pass (the pure-JAX packing's
    bitcast of bytes to words), while recording a threshold crossing has one."""
    from neurodyn.core.loop import init_observers
    from neurodyn.core.simulate import Record, Spikes, _chunk
    from neurodyn.models import coba_ei, coba_initial_state

    net = coba_ei(73, p=0.2, i_ext=20.0, seed=3)
    state = coba_initial_state(net, jax.random.PRNGKey(1))

    def program(spikes):
        observers = (Record(), spikes)
        carries = init_observers(observers, net, state)
        return _chunk.lower(net, state, np.int32(0), 0.1, carries, None, blocks=4, block=2, observers=observers,
                            drive_fn=None).as_text()

    assert "neurodyn_lif" in program(Spikes())
    assert "bitcast_convert" not in program(Spikes(events=("exc.spike", "inh.spike")))
    assert "bitcast_convert" in program(Spikes(crossing=("exc.v",), thresholds=(-55.0,)))
