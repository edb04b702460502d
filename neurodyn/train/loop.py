"""Gradient training of any differentiable neurodyn model with optax (docs/training.md).

:func:`fit` minimises the mean over mini-batches of ``loss_fn(model, batch, key)`` by
back-propagation through time (the model's scan is differentiated like any JAX function).
Only the trainable partition of the model (:func:`neurodyn.pytree.partition`: inexact leaves
outside frozen fields, or the leaves a given mask selects) is updated; the static part is
passed to the compiled step unchanged.

One epoch is ONE compiled call: a ``lax.scan`` over the mini-batches whose body is the train
step (loss, gradient, optimizer update). The data stay on the device; each epoch draws a
permutation from ``fold_in(key, epoch)`` and gathers the batches inside the scan, so the
program is compiled once per :func:`fit` call and the run is a pure function of its key: the
same key, data and optimizer give the same parameters bit for bit, which is what lets a
checkpointed run resume to the identical continuation (:mod:`neurodyn.train.checkpoint`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..errors import SpecError, check_int
from ..pytree import combine, partition
from ..resources import check_writable
from .checkpoint import read_checkpoint, write_checkpoint

LossFn = Callable[[Any, Any, jax.Array], tuple[jax.Array, Any]]


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``monitor``: a history name (``"val_loss"``, ``"val_accuracy"``, ``"loss"``, ...);
    ``mode``: ``"min"`` (losses) or ``"max"`` (accuracies); ``restore_best``: return the
    parameters of the best epoch rather than the last one.
    """

    patience: int = 5
    monitor: str = "val_loss"
    mode: str = "min"
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self):
        check_int("EarlyStopping.patience", self.patience, 1)
        if self.mode not in ("min", "max"):
            raise SpecError(f"EarlyStopping.mode must be 'min' or 'max', got {self.mode!r}")
        if not self.min_delta >= 0:
            raise SpecError(f"EarlyStopping.min_delta must be >= 0, got {self.min_delta!r}")

    def improved(self, value: float, best: float) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta`` (any finite value beats NaN)."""
        if not math.isfinite(value):
            return False
        if math.isnan(best):
            return True
        return value < best - self.min_delta if self.mode == "min" else value > best + self.min_delta


@dataclasses.dataclass
class TrainResult:
    """What :func:`fit` returns.

    ``model``: the trained model (the best epoch's parameters when early stopping restores them);
    ``history``: ``{name: float64 array, one value per completed epoch}`` with ``loss`` (mean
    training loss over the epoch's batches), ``train_<aux>`` for every scalar entry of the loss's
    aux dict, and with validation data ``val_loss``, ``val_<aux>`` and ``val_<metric>``;
    ``epochs``: completed epochs; ``best_epoch``: the monitored best (0-based, -1 without early
    stopping); ``stopped_early``; ``opt_state``: the final optimizer state; ``checkpoint``: its path.
    """

    model: Any
    history: dict[str, np.ndarray]
    epochs: int
    best_epoch: int = -1
    stopped_early: bool = False
    opt_state: Any = None
    checkpoint: Path | None = None


def _leading(data, what: str) -> int:
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise SpecError(f"fit: {what} holds no arrays")
    sizes = {int(np.shape(a)[0]) if np.ndim(a) else -1 for a in leaves}
    if len(sizes) != 1 or -1 in sizes:
        raise SpecError(f"fit: every array of {what} must have the same leading (sample) axis, got sizes "
                        f"{sorted(sizes)}")
    return sizes.pop()


def _scalars(aux) -> dict:
    """The 0-d floating entries of a loss's aux dict (averaged into the history)."""
    if not isinstance(aux, Mapping):
        return {}
    return {k: jnp.asarray(v) for k, v in aux.items()
            if jnp.ndim(v) == 0 and jnp.issubdtype(jnp.result_type(v), jnp.inexact)}


def _cached(build: Callable) -> Callable:
    """``build`` memoised on its (hashable) arguments; unhashable ones just build anew."""
    cached = functools.lru_cache(maxsize=16)(build)

    @functools.wraps(build)
    def wrapper(*args):
        try:
            hash(args)
        except TypeError:
            return build(*args)
        return cached(*args)

    return wrapper


@_cached
def make_epoch(loss_fn: LossFn, optimizer, n_samples: int, batch_size: int) -> Callable:
    """The compiled epoch ``(trainable, opt_state, static, data, key) -> (trainable, opt_state,
    mean loss, mean aux scalars)``: a ``lax.scan`` of the train step over ``n_samples //
    batch_size`` batches of a permutation drawn from ``key`` (the last partial batch is left out
    of that epoch; a new permutation each epoch uses every sample over time). The permuted data
    are gathered once per epoch: memory for one shuffled copy of the data set. Cached: fits
    with the same loss function, optimizer object and sizes share one compiled program."""
    n_batches = n_samples // batch_size

    def train_step(carry, xs):
        trainable, opt_state, static = carry
        batch, key = xs

        def objective(t):
            return loss_fn(combine(t, static), batch, key)

        (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(trainable)
        updates, opt_state = optimizer.update(grads, opt_state, trainable)
        trainable = jax.tree_util.tree_map(lambda p, u: (p + u).astype(p.dtype), trainable, updates)
        return (trainable, opt_state, static), (loss, _scalars(aux))

    @jax.jit
    def epoch(trainable, opt_state, static, data, key):
        perm_key, batch_key = jax.random.split(key)
        order = jax.random.permutation(perm_key, n_samples)[: n_batches * batch_size]
        # one gather per epoch into (n_batches, batch_size, ...): the scan then slices batches
        # without per-step gathers (measured faster on CPU at small per-batch work)
        batches = jax.tree_util.tree_map(lambda a: a[order].reshape((n_batches, batch_size) + a.shape[1:]), data)
        keys = jax.random.split(batch_key, n_batches)
        (trainable, opt_state, _), (losses, aux) = lax.scan(train_step, (trainable, opt_state, static), (batches, keys))
        return trainable, opt_state, jnp.mean(losses), jax.tree_util.tree_map(jnp.mean, aux)

    return epoch


def make_evaluate(loss_fn: LossFn, metrics: Mapping[str, Callable] | None) -> Callable:
    """The compiled evaluation ``(trainable, static, data, key) -> {name: value}``: ``loss``, the
    aux scalars and every ``metrics[name](model, data, key)``, on the whole of ``data`` at once."""
    return _evaluate(loss_fn, tuple((metrics or {}).items()))


@_cached
def _evaluate(loss_fn: LossFn, metrics: tuple) -> Callable:
    metrics = dict(metrics)

    @jax.jit
    def evaluate(trainable, static, data, key):
        model = combine(trainable, static)
        loss, aux = loss_fn(model, data, key)
        out = {"loss": jnp.asarray(loss), **_scalars(aux)}
        out.update({name: jnp.asarray(fn(model, data, key)) for name, fn in metrics.items()})
        return out

    return evaluate


def fit(model, loss_fn: LossFn, data, *, optimizer, epochs: int, batch_size: int, key: jax.Array,
        validation=None, metrics: Mapping[str, Callable] | None = None,
        early_stopping: EarlyStopping | int | None = None, checkpoint: str | Path | None = None,
        resume: bool = True, progress: bool = True, trainable=None) -> TrainResult:
    """Train ``model`` by mini-batch gradient descent with an optax optimizer.

    Args:
        model: any pytree model (a neurodyn model, a Network, a dataclass holding a reservoir
            and a readout, ...).
        loss_fn: ``loss_fn(model, batch, key) -> (loss, aux)``; ``batch`` has the structure of
            ``data`` with ``batch_size`` rows, ``key`` is a fresh PRNG key per batch (for
            stochastic encoding or noise). ``aux`` may be a dict: its scalar entries are
            averaged into the history as ``train_<name>``.
        data: a pytree of arrays sharing their leading (sample) axis, e.g. ``(x, y)``.
        optimizer: an ``optax.GradientTransformation`` (schedules inside it count optimizer
            steps: ``epochs * (n // batch_size)`` in all).
        epochs: the number of epochs to reach (a resumed run trains only the remaining ones).
        batch_size: samples per step; the partial last batch of each epoch's permutation is
            left out of that epoch.
        key: the run's PRNG key; epoch ``e`` uses ``fold_in(train_key, e)``, so a run is a pure
            function of it.
        validation: data evaluated each epoch (whole, in one call): ``val_loss``, ``val_<aux>``
            and ``val_<metric>`` in the history.
        metrics: ``{name: fn(model, batch, key) -> scalar}`` evaluated on ``validation``.
        early_stopping: an :class:`EarlyStopping` (an int is its ``patience`` on ``val_loss``).
        checkpoint: an HDF5 path written atomically after every epoch; with ``resume``, an
            existing checkpoint is loaded and training continues from it to the same result
            an uninterrupted run gives (its stored key and state win over ``key``).
        progress: a tqdm bar over epochs (only when stderr is a terminal).
        trainable: which leaves to train: a mask pytree or ``leaf -> bool`` (default
            :func:`neurodyn.pytree.trainable_mask`).

    Returns:
        a :class:`TrainResult`.
    """
    epochs = check_int("fit: epochs", epochs, 0)
    batch_size = check_int("fit: batch_size", batch_size, 1)
    n = _leading(data, "data")
    if batch_size > n:
        raise SpecError(f"fit: batch_size {batch_size} exceeds the {n} training samples")
    if validation is not None:
        _leading(validation, "validation")
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise SpecError(f"fit: early_stopping must be an EarlyStopping or an int patience, got {early_stopping!r}")
        if early_stopping.monitor.startswith("val_") and validation is None:
            raise SpecError(f"fit: early_stopping monitors {early_stopping.monitor!r} but no validation data was given")
    if metrics and validation is None:
        raise SpecError("fit: metrics are evaluated on validation data; give validation=...")

    params, static = partition(model, trainable)
    if not jax.tree_util.tree_leaves(params):
        raise SpecError("fit: the model has no trainable leaves (every leaf is static or frozen)")
    data = jax.tree_util.tree_map(jnp.asarray, data)
    validation = None if validation is None else jax.tree_util.tree_map(jnp.asarray, validation)
    opt_state = optimizer.init(params)
    history: dict[str, list[float]] = {}
    start, best, best_epoch, best_value, wait, stopped = 0, None, -1, float("nan"), 0, False
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        check_writable(checkpoint, "checkpoint", "give another checkpoint path")  # before any epoch is computed
        if resume and checkpoint.is_file():
            saved = read_checkpoint(checkpoint, params_like=params, opt_state_like=opt_state)
            params, opt_state, key = saved["params"], saved["opt_state"], saved["key"]
            history = {k: list(v) for k, v in saved["history"].items()}
            start, best, best_epoch = saved["epoch"], saved["best"], saved["best_epoch"]
            best_value, wait, stopped = saved["best_value"], saved["wait"], saved["stopped"]
    train_key, val_key = jax.random.split(key)
    epoch_fn = make_epoch(loss_fn, optimizer, n, batch_size)
    evaluate = make_evaluate(loss_fn, metrics) if validation is not None else None

    bar = None
    if progress and start < epochs and not stopped and sys.stderr.isatty():
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, initial=start, desc="fit", unit="epoch", leave=False)
    epoch = start
    try:
        while epoch < epochs and not stopped:
            params, opt_state, loss, aux = epoch_fn(params, opt_state, static, data,
                                                    jax.random.fold_in(train_key, epoch))
            row = {"loss": float(loss), **{f"train_{k}": float(v) for k, v in aux.items()}}
            if evaluate is not None:
                row.update({f"val_{k}": float(v) for k, v in evaluate(params, static, validation, val_key).items()})
            for name, value in row.items():
                history.setdefault(name, []).append(value)
            if early_stopping is not None:
                if early_stopping.monitor not in row:
                    raise SpecError(f"fit: early_stopping monitors {early_stopping.monitor!r}, which is not in the "
                                    f"history (available: {', '.join(row)})")
                value = row[early_stopping.monitor]
                if early_stopping.improved(value, best_value):
                    best, best_epoch, best_value, wait = params, epoch, value, 0
                else:
                    wait += 1
                    stopped = wait >= early_stopping.patience
            epoch += 1
            if checkpoint is not None:
                write_checkpoint(checkpoint, params=params, opt_state=opt_state, history=history, epoch=epoch, key=key,
                                 best=best, best_epoch=best_epoch, best_value=best_value, wait=wait, stopped=stopped)
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k in ("loss", "val_loss")})
    finally:
        if bar is not None:
            bar.close()
    final = best if (early_stopping is not None and early_stopping.restore_best and best is not None) else params
    return TrainResult(model=combine(final, static), history={k: np.asarray(v, np.float64) for k, v in history.items()},
                       epochs=epoch, best_epoch=best_epoch, stopped_early=stopped, opt_state=opt_state,
                       checkpoint=checkpoint)
