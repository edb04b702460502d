"""The temporal-order spike task (neurodyn/datasets/temporal.py): the classes differ only in the
order of input bursts, so spike counts alone are at chance, while spiking networks that carry
information across steps learn it. Numbers measured on this machine (seed 0), with margins."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from neurodyn.datasets.temporal import temporal_order
from neurodyn.models.snn import SpikingMLP, cross_entropy
from neurodyn.train import fit

DATA = temporal_order(1200, seed=0)


def _loss(model, batch, key):
    x, y = batch
    logits, _ = model.apply(jnp.swapaxes(x, 0, 1))
    return cross_entropy(logits, y), {}


def _train(cell: str, x_train, x_test, epochs: int = 60) -> float:
    model = SpikingMLP.create(jax.random.PRNGKey(0), sizes=(24, 32, 6), cell=cell)
    result = fit(model, _loss, (jnp.asarray(x_train, jnp.float32), jnp.asarray(DATA.y_train)),
                 optimizer=optax.adam(3e-2), epochs=epochs, batch_size=100, key=jax.random.PRNGKey(1),
                 progress=False)
    logits, _ = result.model.apply(jnp.swapaxes(jnp.asarray(x_test, jnp.float32), 0, 1))
    return float(jnp.mean(logits.argmax(1) == DATA.y_test))


def test_every_channel_has_the_same_expected_count_in_every_class():
    x, y = DATA.x_train, DATA.y_train
    assert x.shape == (900, 12, 24) and set(np.unique(y)) == set(range(6))
    # expected count per channel: burst_steps * 0.6 + (T - burst_steps) * 0.02 = 1.98 in all classes;
    # a class mean over ~150 samples has sd ~0.08, so 0.35 is 4.5 sd for the largest of 144 means
    per_class = np.stack([x[y == c].sum(1).mean(0) for c in range(6)])
    np.testing.assert_allclose(per_class, 1.98, atol=0.35)
    # the burst order IS the label: group g's burst starts at 4 * position(g)
    for c, order in enumerate(itertools.permutations(range(3))):
        mean = x[y == c].mean(0)
        for position, group in enumerate(order):
            burst = mean[4 * position:4 * position + 3, 8 * group:8 * group + 8]
            assert abs(burst.mean() - 0.6) < 0.05


@pytest.mark.parametrize("cell", ["surrogate_lif", "ultradlif"])
def test_spiking_networks_learn_the_order_that_counts_cannot_tell(cell):
    # measured: 0.997 for both at T = 12 (chance 1/6)
    assert _train(cell, DATA.x_train, DATA.x_test) >= 0.9


def test_with_time_collapsed_to_one_step_the_task_is_at_chance():
    # the same network on the spike counts (T = 1): measured 0.15 (chance 0.167)
    accuracy = _train("surrogate_lif", DATA.x_train.sum(1, keepdims=True), DATA.x_test.sum(1, keepdims=True),
                      epochs=30)
    assert accuracy <= 0.35


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="n_groups"):
        temporal_order(10, n_groups=7)
    with pytest.raises(ValueError, match="burst_probability"):
        temporal_order(10, burst_probability=1.5)
