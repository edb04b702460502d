"""Network v2: ports, projections with state and delays, sequential stacks, dt, and the three
defects of the stage-1 core (each of these tests failed on the stage-1 main)."""

from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

import neurodyn as nd
from neurodyn.connectivity import ring
from neurodyn.core import Model, Network, stack
from neurodyn.diagnostics import lyapunov_spectrum
from neurodyn.errors import SpecError
from neurodyn.models import ESN, Chialvo, DiffusiveCoupling, KuramotoGraph, KuramotoMeanField, LinearProjection
from neurodyn.pytree import pytree_dataclass


class ImpulseState(NamedTuple):
    count: jax.Array
    x: jax.Array


@pytree_dataclass(static=("n",))
class Impulse(Model):
    """Emits x = 1 on every node at step 0 and 0 afterwards."""

    n: int
    VARIABLES: ClassVar[tuple] = ("x",)
    PORTS: ClassVar[tuple] = ("x",)
    INPUT_PORT: ClassVar[str] = "x"
    units: ClassVar[dict] = {"x": "1"}
    time_unit: ClassVar[str] = "iteration"

    def init(self, key):
        return ImpulseState(jnp.zeros((), jnp.int32), jnp.ones(self.n))

    def step(self, state, drive, t):
        return ImpulseState(state.count + 1, jnp.zeros(self.n))

    def observe(self, state):
        return {"x": state.x}


@pytree_dataclass(static=("n",))
class Sink(Model):
    """``x_{n+1} = I_n``: shows what its port received at each step."""

    n: int
    VARIABLES: ClassVar[tuple] = ("x",)
    PORTS: ClassVar[tuple] = ("x",)
    INPUT_PORT: ClassVar[str] = "x"
    units: ClassVar[dict] = {"x": "1"}
    time_unit: ClassVar[str] = "iteration"

    def init(self, key):
        return jnp.zeros(self.n)

    def step(self, state, drive, t):
        from neurodyn.core import drive_term

        return jnp.zeros(self.n) + drive_term(drive, "x", "x")

    def observe(self, state):
        return {"x": state}


# ---------------------------------------------------------------- defect 1: ESN in a Network

def test_esn_in_a_network_with_a_coupling_runs_and_takes_its_input_port():
    # stage 1: KeyError 'u' (ESN.step read drive["u"] while couplings add to variables)
    esn = ESN.create(20, 1, spectral_radius=0.9, seed=3)
    coupling = DiffusiveCoupling.create(["res"], [20], "x", ring(20), 0.1)
    net = Network({"res": esn}, {"ring": coupling})
    u = jnp.asarray(np.sin(np.arange(50) * 0.3))[:, None]
    traj = nd.simulate(net, 50, drive={"res": {"u": u}})
    assert np.all(np.isfinite(traj["res.x"])) and np.abs(traj["res.x"][-1]).max() > 0.01
    # the coupling input equals an additive pre-activation input: same as the bare ESN driven on port "x"
    x = np.zeros(20)
    w, w_in = np.asarray(esn.w), np.asarray(esn.w_in)
    lap = -ring(20).laplacian()
    for n in range(49):
        x = np.tanh(w @ x + w_in[:, 0] * float(u[n, 0]) + 0.1 * lap @ x)
    np.testing.assert_allclose(traj["res.x"][-1], x, atol=1e-12)


def test_a_drive_to_a_port_that_does_not_exist_names_it_and_lists_the_ports():
    # stage 1: silently added as zero
    net = Network({"neurons": Chialvo.create(3)})
    with pytest.raises(SpecError, match=r"no input port 'z' \(ports: x, y\)"):
        nd.simulate(net, 10, drive={"neurons": {"z": jnp.ones((10, 3))}})
    with pytest.raises(SpecError, match="no input port 'v'"):
        Network({"a": Chialvo.create(3)}, {"p": LinearProjection.create("a", "a", np.eye(3), port="v")})


# ---------------------------------------------------------------- defect 2: grad through int leaves

def test_grad_with_respect_to_a_graph_kuramoto_model_equals_finite_difference():
    # stage 1: jax.grad raised TypeError on the model's int32 index arrays
    omega = np.random.default_rng(0).normal(0, 0.5, 12)
    model = KuramotoGraph.create(ring(12, 2), omega=omega, coupling=0.8, lag=0.2, dt=0.05)
    state = model.init(jax.random.PRNGKey(1))

    def loss(m):
        final, _ = nd.run(m, state, 30, record=())
        return jnp.sum(jnp.sin(final.theta))

    g = nd.grad(loss)(model)
    assert g.adjacency.rows is None and g.adjacency.cols is None  # integer leaves are static
    h = 1e-6
    for name in ("coupling", "lag"):
        plus = loss(nd.core.parameters.with_parameter(model, name, getattr(model, name) + h))
        minus = loss(nd.core.parameters.with_parameter(model, name, getattr(model, name) - h))
        fd = (plus - minus) / (2 * h)
        np.testing.assert_allclose(float(getattr(g, name)), float(fd), rtol=1e-6)
    assert np.all(np.isfinite(np.asarray(g.omega))) and np.abs(np.asarray(g.omega)).max() > 0


# ---------------------------------------------------------------- defect 3: dt on Network

def test_lyapunov_spectrum_of_a_wrapped_flow_equals_the_bare_one():
    # stage 1: the wrapped spectrum came out dt (0.05) times the bare one: Network had no dt
    omega = np.random.default_rng(4).normal(0, 1.0, 16)
    model = KuramotoMeanField.create(16, omega=omega, coupling=3.0, dt=0.05)
    state = model.init(jax.random.PRNGKey(0))
    bare = lyapunov_spectrum(model, 2000, k=3, state=state, renorm_every=10)
    net = Network({"osc": model})
    assert float(net.dt) == 0.05
    wrapped = lyapunov_spectrum(net, 2000, k=3, state={"osc": state}, renorm_every=10)
    np.testing.assert_allclose(np.asarray(wrapped), np.asarray(bare), rtol=0, atol=1e-10)
    assert abs(float(bare[0])) < 0.05 and float(bare[1]) < -1.0  # per time unit, not per step


def test_network_refuses_populations_with_different_time_steps():
    a = KuramotoMeanField.create(4, dt=0.05)
    b = KuramotoMeanField.create(4, dt=0.1)
    with pytest.raises(SpecError, match="share one time step"):
        Network({"a": a, "b": b})


# ---------------------------------------------------------------- delays

@pytest.mark.parametrize("delay", [0, 1, 4])
def test_a_projection_with_delay_d_delivers_exactly_d_steps_later(delay):
    net = Network({"src": Impulse(3), "sink": Sink(3)},
                  {"p": LinearProjection.create("src", "sink", 2.0 * np.eye(3), delay=delay)})
    traj = nd.simulate(net, 10, record=("sink.x",))
    arrived = np.nonzero(traj["sink.x"][:, 0])[0]
    # the impulse of step 0 enters the sink's update from step d to d + 1 (recorded at index d + 1)
    np.testing.assert_array_equal(arrived, [delay + 1])
    np.testing.assert_array_equal(traj["sink.x"][delay + 1], [2.0, 2.0, 2.0])


def test_per_synapse_delays_and_delays_under_vmap():
    delays = np.array([0, 2, 5])
    w = sp.identity(3, format="csr")
    proj = LinearProjection.create("src", "sink", w, delay=delays)
    net = Network({"src": Impulse(3), "sink": Sink(3)}, {"p": proj})
    state = net.init(jax.random.PRNGKey(0))

    def sink_trace(gain):
        p = nd.core.parameters.with_parameter(net, "projections.p.gain", gain)
        return nd.run(p, state, 10, record=("sink.x",))[1]["sink.x"]

    traces = np.asarray(jax.vmap(sink_trace)(jnp.array([1.0, -3.0])))
    for b, gain in enumerate((1.0, -3.0)):
        for node, d in enumerate(delays):
            expected = np.zeros(10)
            expected[d + 1] = gain
            np.testing.assert_array_equal(traces[b, :, node], expected)


def test_synaptic_trace_decays_geometrically():
    proj = LinearProjection.create("src", "sink", np.eye(2), delay=1, decay=0.5)
    traj = nd.simulate(Network({"src": Impulse(2), "sink": Sink(2)}, {"p": proj}), 8, record=("sink.x",))
    np.testing.assert_allclose(traj["sink.x"][:, 0], [0, 0, 1, 0.5, 0.25, 0.125, 0.0625, 0.03125])


# ---------------------------------------------------------------- sequential stacks

def test_two_layer_stack_responds_in_the_same_step_as_the_deep_esn_equations():
    # DeepESN (Gallicchio, Micheli, Pedrelli 2017): x1(n) = tanh(W1 x1(n-1) + Win1 u(n)),
    # x2(n) = tanh(W2 x2(n-1) + Win2 x1(n)): layer 2 reads layer 1's state of the SAME step
    l1 = ESN.create(8, 1, spectral_radius=0.8, seed=1)
    l2 = ESN.from_matrices(np.asarray(ESN.create(6, 1, spectral_radius=0.7, seed=2).w),
                           np.random.default_rng(3).uniform(-1, 1, (6, 8)))
    net = stack({"l1": l1, "l2": l2}, {"up": LinearProjection.create("l1", "l2", np.eye(8), port="u")})
    u = np.zeros((6, 1))
    u[0, 0] = 1.0
    traj = nd.simulate(net, 6, drive={"l1": jnp.asarray(u)})
    x1, x2 = np.zeros(8), np.zeros(6)
    expect1, expect2 = [], []
    for n in range(6):
        expect1.append(x1.copy()), expect2.append(x2.copy())
        x1 = np.tanh(np.asarray(l1.w) @ x1 + np.asarray(l1.w_in)[:, 0] * u[n, 0])
        x2 = np.tanh(np.asarray(l2.w) @ x2 + np.asarray(l2.w_in) @ x1)
    np.testing.assert_allclose(traj["l2.x"], np.array(expect2), atol=1e-14)
    assert np.abs(traj["l2.x"][1]).max() > 0.01  # responds at the first step, no lag
    # the same network updated in parallel lags one step per layer
    parallel = Network(net.populations, net.projections)
    lagged = nd.simulate(parallel, 6, drive={"l1": jnp.asarray(u)})
    np.testing.assert_array_equal(lagged["l2.x"][1], np.zeros(6))
