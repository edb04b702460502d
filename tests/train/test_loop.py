"""The training loop (neurodyn.train.fit): least-squares optimum, one compilation per fit, only the
trainable partition moves, early stopping, reproducibility from the key, clear errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from neurodyn.errors import SpecError
from neurodyn.pytree import pytree_dataclass
from neurodyn.train import EarlyStopping, fit


@pytree_dataclass(frozen=("scale",))
class Linear:
    w: jax.Array
    b: jax.Array
    scale: jax.Array


def _loss(model, batch, key):
    x, y = batch
    pred = model.scale * (x @ model.w) + model.b
    return jnp.mean((pred - y) ** 2), {"mae": jnp.mean(jnp.abs(pred - y)), "not_a_scalar": pred}


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, x @ np.array([1.5, -0.5, 2.0, 0.0]) + 0.3 + 0.1 * rng.normal(size=n)


def _model():
    return Linear(jnp.zeros(4), jnp.zeros(()), jnp.asarray(1.0))


def test_fit_reaches_the_least_squares_optimum():
    x, y = _data()
    result = fit(_model(), _loss, (x, y), optimizer=optax.adam(optax.cosine_decay_schedule(0.05, 60 * 8)), epochs=60,
                 batch_size=32, key=jax.random.PRNGKey(0), progress=False)
    design = np.c_[x, np.ones(len(x))]
    exact, *_ = np.linalg.lstsq(design, y, rcond=None)  # the closed-form minimiser of the same loss
    got = np.r_[np.asarray(result.model.w), float(result.model.b)]
    assert np.max(np.abs(got - exact)) < 2e-3
    full_loss = np.mean((design @ got - y) ** 2)
    assert full_loss <= 1.001 * np.mean((design @ exact - y) ** 2)
    assert set(result.history) == {"loss", "train_mae"} and result.history["loss"].shape == (60,)
    assert result.history["loss"][-1] < 0.05 * result.history["loss"][0]


def test_one_compilation_per_fit_and_frozen_leaves_do_not_move():
    x, y = _data()
    traces = []

    def counted(model, batch, key):
        traces.append(1)  # runs only while JAX traces the function
        return _loss(model, batch, key)

    model = Linear(jnp.zeros(4), jnp.zeros(()), jnp.asarray(2.0))
    result = fit(model, counted, (x, y), optimizer=optax.sgd(0.01), epochs=7, batch_size=64, key=jax.random.PRNGKey(1),
                 validation=(x[:50], y[:50]), progress=False)
    # one trace for the epoch scan (value_and_grad traces the loss once) and one for validation:
    # seven epochs, no recompilation
    assert len(traces) == 2
    assert float(result.model.scale) == 2.0  # frozen field: static for the optimizer
    assert set(result.history) == {"loss", "train_mae", "val_loss", "val_mae"}
    # an explicit mask trains only b
    only_b = fit(model, _loss, (x, y), optimizer=optax.sgd(0.05), epochs=3, batch_size=64, key=jax.random.PRNGKey(1),
                 trainable=Linear(False, True, False), progress=False)
    assert np.array_equal(np.asarray(only_b.model.w), np.zeros(4)) and float(only_b.model.b) != 0.0


def test_fit_is_a_pure_function_of_its_key():
    x, y = _data()
    kw = dict(optimizer=optax.adam(0.01), epochs=3, batch_size=32, progress=False)
    a = fit(_model(), _loss, (x, y), key=jax.random.PRNGKey(4), **kw)
    b = fit(_model(), _loss, (x, y), key=jax.random.PRNGKey(4), **kw)
    c = fit(_model(), _loss, (x, y), key=jax.random.PRNGKey(5), **kw)
    assert np.array_equal(np.asarray(a.model.w), np.asarray(b.model.w))
    assert not np.array_equal(np.asarray(a.model.w), np.asarray(c.model.w))  # another shuffle order


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch():
    x, y = _data()
    # validation on data the model cannot fit better than its start: y_val = 0 everywhere, so
    # the first epoch (closest to w = 0) is the best and later epochs only worsen val_loss
    result = fit(_model(), _loss, (x, y), optimizer=optax.sgd(0.02), epochs=50, batch_size=32,
                 key=jax.random.PRNGKey(0), validation=(x[:64], np.zeros(64)),
                 early_stopping=EarlyStopping(patience=3), progress=False)
    val = result.history["val_loss"]
    assert result.stopped_early and result.epochs == 4 and len(val) == 4
    assert result.best_epoch == int(np.argmin(val)) == 0
    # the returned model is epoch 0's: its validation loss is the recorded best
    pred = np.asarray(x[:64] @ np.asarray(result.model.w)) + float(result.model.b)
    assert np.isclose(np.mean(pred ** 2), val[0], rtol=1e-10)
    # "max" mode on a metric
    acc = fit(_model(), _loss, (x, y), optimizer=optax.sgd(0.02), epochs=50, batch_size=32, key=jax.random.PRNGKey(0),
              validation=(x[:64], np.zeros(64)), metrics={"minus_mse": lambda m, b, k: -_loss(m, b, k)[0]},
              early_stopping=EarlyStopping(patience=2, monitor="val_minus_mse", mode="max"), progress=False)
    assert acc.epochs == 3 and acc.best_epoch == 0


def test_bad_arguments_are_named():
    x, y = _data()
    kw = dict(optimizer=optax.sgd(0.1), epochs=1, key=jax.random.PRNGKey(0), progress=False)
    with pytest.raises(SpecError, match="batch_size 1000 exceeds the 256 training samples"):
        fit(_model(), _loss, (x, y), batch_size=1000, **kw)
    with pytest.raises(SpecError, match="same leading"):
        fit(_model(), _loss, (x, y[:10]), batch_size=8, **kw)
    with pytest.raises(SpecError, match="monitors 'val_loss' but no validation"):
        fit(_model(), _loss, (x, y), batch_size=8, early_stopping=2, **kw)
    with pytest.raises(SpecError, match="no trainable leaves"):
        fit(_model(), _loss, (x, y), batch_size=8, trainable=lambda leaf: False, **kw)
    with pytest.raises(SpecError, match="batch_size must be an integer >= 1"):
        fit(_model(), _loss, (x, y), batch_size=0, **kw)
