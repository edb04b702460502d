"""Spiking networks of neurodyn.models.snn (docs/models/ultralif.md, "Networks"): the forward pass
against a NumPy loop, gradients against central finite differences (float64), the PyTorch-default
initialisation, the trainable partition and the rate / energy read-outs."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from neurodyn.errors import SpecError
from neurodyn.models.snn import CELLS, SpikingMLP, cross_entropy, sparsity_penalty
from neurodyn.pytree import combine, partition

KEY = jax.random.PRNGKey(0)
X_SEQ = jax.random.bernoulli(jax.random.PRNGKey(1), 0.4, (4, 3, 6)).astype(float)
LABELS = jnp.asarray([0, 2, 1])


def _numpy_forward(net, x_seq):
    """UltraLIF network, rate read-out, written as a plain loop (Definition 4.1 and Eq. 28)."""
    (w1, b1), (w2, b2) = [(np.asarray(w), np.asarray(b)) for w, b in net.weights]
    cell = net.cells()[0]
    eps, tau, theta = float(cell.eps), np.asarray(cell.tau), np.asarray(cell.theta)
    v = np.zeros((x_seq.shape[1], w1.shape[1]))
    out, spikes = 0.0, []
    for x in np.asarray(x_seq):
        i_t = x @ w1 + b1
        vt = eps * np.logaddexp((v + np.log(tau)) / eps, i_t / eps)
        s = 1 / (1 + np.exp(-(vt - theta) / eps))
        v = vt * (1 - s)
        out = out + s @ w2 + b2
        spikes.append(s)
    return out / len(x_seq), np.array(spikes)


def test_rate_readout_matches_a_numpy_loop():
    net = SpikingMLP.create(KEY, (6, 5, 3), cell="ultralif", cell_options={"eps": 0.7})
    logits, aux = net.apply(X_SEQ)
    ref, spikes = _numpy_forward(net, X_SEQ)
    np.testing.assert_allclose(np.asarray(logits), ref, rtol=1e-12, atol=1e-13)
    assert float(aux["rate"]) == pytest.approx(spikes.mean(), rel=1e-12)
    # energy proxy: T * rate * N_syn with N_syn = 5 x 3 synapses driven by the hidden spikes
    assert float(aux["synaptic_operations"]) == pytest.approx(4 * spikes.mean() * 5 * 3, rel=1e-12)


def _fd_check(net, loss):
    trainable, rest = partition(net)
    flat, unravel = ravel_pytree(trainable)
    f = jax.jit(lambda p: loss(combine(unravel(p), rest)))
    g = jax.jit(jax.grad(f))(flat)
    rng = np.random.default_rng(0)
    for _ in range(3):
        d = jnp.asarray(rng.normal(size=flat.shape))
        h = 1e-5
        fd = (float(f(flat + h * d)) - float(f(flat - h * d))) / (2 * h)
        assert abs(float(g @ d) - fd) <= 1e-6 * abs(fd), (float(g @ d), fd)
    return g


@pytest.mark.parametrize("cell, readout, recurrent", [("ultralif", "rate", False), ("ultradplif", "spike", True)])
def test_gradient_of_the_loss_equals_central_finite_differences(cell, readout, recurrent):
    net = SpikingMLP.create(KEY, (6, 5, 4, 3), cell=cell, readout=readout, recurrent=recurrent)
    def loss(m):
        logits, aux = m.apply(X_SEQ)
        return cross_entropy(logits, LABELS) + sparsity_penalty(aux, 0.1)

    g = _fd_check(net, loss)
    assert np.count_nonzero(np.asarray(g)) > 0.9 * g.size


def test_weights_start_as_pytorch_linear_layers():
    # nn.Linear default: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); a uniform's sd is bound / sqrt(3)
    net = SpikingMLP.create(KEY, (200, 150, 10), cell="surrogate_lif")
    w, b = (np.asarray(a) for a in net.weights[0])
    bound = 1 / math.sqrt(200)
    assert w.shape == (200, 150) and b.shape == (150,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert abs(w.mean()) < 4 * bound / math.sqrt(3) / math.sqrt(w.size)


def test_only_weights_and_the_cells_learned_parameters_are_trainable():
    net = SpikingMLP.create(KEY, (6, 5, 3), cell="ultraplif")
    trainable, _ = partition(net)
    cell = trainable.learned[0]
    assert cell.log_eps is not None and cell.tau_param is not None and cell.theta is None
    assert len(jax.tree_util.tree_leaves(trainable)) == 4 + 2
    frozen = SpikingMLP.create(KEY, (6, 5, 3), cell="ultralif", cell_options={"learn_eps": False})
    assert len(jax.tree_util.tree_leaves(partition(frozen)[0])) == 4
    assert len(jax.tree_util.tree_leaves(partition(SpikingMLP.create(KEY, (6, 5, 3), cell="adalif"))[0])) == 4


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_every_cell_builds_a_network_that_runs_and_has_gradients(cell):
    net = SpikingMLP.create(KEY, (6, 5, 3), cell=cell, recurrent=True)

    def loss(m):
        logits, aux = m.apply(X_SEQ)
        return cross_entropy(logits, LABELS), (logits, aux)

    (_, (logits, aux)), g = jax.jit(jax.value_and_grad(loss, has_aux=True))(net)
    assert logits.shape == (3, 3) and 0.0 <= float(aux["rate"]) <= 1.0
    w_grad = np.asarray(g.weights[0][0])
    assert np.all(np.isfinite(w_grad)) and np.any(w_grad != 0)


def test_spike_readout_is_the_mean_output_spike_count():
    net = SpikingMLP.create(KEY, (6, 5, 3), cell="surrogate_lif", readout="spike")
    logits, _ = net.apply(X_SEQ * 3.0)
    values = np.asarray(logits) * X_SEQ.shape[0]
    np.testing.assert_allclose(values, np.round(values), atol=1e-12)  # counts / T
    assert np.all((0 <= values) & (values <= X_SEQ.shape[0]))


def test_cross_entropy_and_sparsity_penalty_match_numpy():
    logits = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]])
    labels = np.array([1, 2])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert float(cross_entropy(jnp.asarray(logits), jnp.asarray(labels))) == pytest.approx(-logp[[0, 1], labels].mean())
    assert float(sparsity_penalty({"rate": jnp.asarray(0.25)}, 0.1)) == pytest.approx(0.025)


def test_bad_network_input_names_the_field():
    with pytest.raises(SpecError, match="cell"):
        SpikingMLP.create(KEY, (6, 5, 3), cell="izhikevich")
    with pytest.raises(SpecError, match="sizes"):
        SpikingMLP.create(KEY, (6, 3))
    with pytest.raises(SpecError, match="readout"):
        SpikingMLP.create(KEY, (6, 5, 3), readout="voltage")
    with pytest.raises(SpecError, match="cell_options"):
        SpikingMLP.create(KEY, (6, 5, 3), cell_options={"colour": 1})
    with pytest.raises(SpecError, match="shape"):
        SpikingMLP.create(KEY, (6, 5, 3)).apply(jnp.zeros((4, 3, 7)))
