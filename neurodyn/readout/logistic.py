"""Multinomial logistic-regression readout for sequence classification (docs/models/reservoirs.md,
"Readout"): softmax over a linear map of one feature vector per sequence (its last or mean
state), L2-regularised, fitted by L-BFGS.

With features ``z_n`` (a constant is added: the intercept, not regularised), one-hot labels
``Y`` and weights ``W`` (F x K), ``b`` (K), it minimises

``L(W, b) = - sum_n sum_k Y_nk log softmax(z_n W + b)_k + (l2 / 2) ||W||_F^2``

(the objective of scikit-learn's ``LogisticRegression(C=1 / l2)`` with the multinomial loss;
D. R. Cox, J. R. Stat. Soc. B 20:215, 1958; J. Nocedal, Math. Comp. 35:773, 1980 for L-BFGS).
The problem is convex; the fit minimises ``L / n`` with optax's L-BFGS (zoom line search) in one
compiled ``lax.while_loop``, in JAX's float precision (float64 when enabled).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecError
from ..pytree import pytree_dataclass
from .classifier import pool_states
from .metrics import accuracy

POOLS = ("last", "mean", "none")


def softmax(logits: np.ndarray) -> np.ndarray:
    """``exp(a_k - max a) / sum_j exp(a_j - max a)`` along the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _mean_loss(w, z, onehot, l2):
    logits = z @ w[1:] + w[0]
    return (-jnp.sum(onehot * jax.nn.log_softmax(logits)) + 0.5 * l2 * jnp.sum(w[1:] ** 2)) / z.shape[0]


@partial(jax.jit, static_argnames=("max_iter",))
def _lbfgs(z, onehot, l2, tol, max_iter: int):
    """Weights ``(1 + F, K)`` minimising the mean regularised cross-entropy by L-BFGS."""
    import optax  # imported on use (0.05 s of every start-up otherwise)
    import optax.tree_utils as otu

    opt = optax.lbfgs(memory_size=20)
    loss = partial(_mean_loss, z=z, onehot=onehot, l2=l2)
    value_and_grad = optax.value_and_grad_from_state(loss)

    def step(carry):
        w, state = carry
        value, grad = value_and_grad(w, state=state)
        updates, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(w, updates), state

    def going(carry):
        count = otu.tree_get(carry[1], "count")
        grad = otu.tree_get(carry[1], "grad")
        return (count == 0) | ((count < max_iter) & (jnp.max(jnp.abs(grad)) > tol))

    w0 = jnp.zeros((z.shape[1] + 1, onehot.shape[1]), z.dtype)
    return jax.lax.while_loop(going, step, (w0, opt.init(w0)))[0]


@pytree_dataclass(static=("pool", "standardize", "max_iter"))
class LogisticClassifier:
    """Multinomial logistic regression on pooled reservoir states; an immutable pytree:
    :meth:`fit` returns a fitted copy (the same ``fit / predict / score`` as
    :class:`~neurodyn.readout.RidgeClassifier`).

    ``l2``: the L2 weight (scikit-learn's ``C = 1 / l2``); ``pool``: ``"last"`` or ``"mean"``
    state of each sequence (a list of ``(T_i, N)`` arrays from :func:`neurodyn.readout.harvest`,
    reset between sequences), or ``"none"`` for an ``(n_sequences, F)`` feature matrix;
    ``standardize``: regularise z-scored features (the stored ``weights`` act on raw features);
    ``tol``: L-BFGS stops when every entry of the gradient of the mean loss ``L / n`` is below it
    (default 1e-9 in float64, 1e-5 in float32); ``max_iter``: its iteration limit.
    ``weights`` ``(1 + F, K)``, row 0 the intercepts; ``classes``: the sorted labels.
    """

    l2: float = 1.0
    pool: str = "last"
    standardize: bool = False
    tol: float | None = None
    max_iter: int = 20_000
    weights: np.ndarray | None = None
    classes: np.ndarray | None = None

    def features(self, states) -> np.ndarray:
        """``(n_sequences, F)`` features of ``states`` under ``pool``."""
        if self.pool not in POOLS:
            raise SpecError(f"LogisticClassifier.pool: must be one of {', '.join(POOLS)}, got {self.pool!r}")
        if self.pool == "none":
            z = np.asarray(states, float)
            if z.ndim != 2:
                raise SpecError(f"LogisticClassifier: pool='none' needs an (n_sequences, F) matrix, "
                                f"got shape {z.shape}")
            return z
        return pool_states(states, self.pool)

    def fit(self, states, labels) -> "LogisticClassifier":
        """Fitted copy on the sequences' states (see ``pool``) and one label per sequence."""
        if not float(self.l2) > 0:
            raise SpecError(f"LogisticClassifier.l2: must be > 0, got {self.l2!r}")
        z = self.features(states)
        labels = np.asarray(labels)
        if len(labels) != len(z):
            raise SpecError(f"LogisticClassifier.fit: {len(z)} sequences but {len(labels)} labels")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise SpecError("LogisticClassifier.fit: needs at least two classes")
        onehot = (labels[:, None] == classes[None, :]).astype(float)
        mean = z.mean(axis=0) if self.standardize else np.zeros(z.shape[1])
        scale = z.std(axis=0) if self.standardize else np.ones(z.shape[1])
        scale = np.where(scale > 0, scale, 1.0)
        zs = (z - mean) / scale
        dtype = jnp.result_type(float)
        tol = self.tol if self.tol is not None else (1e-9 if dtype == jnp.float64 else 1e-5)
        w = np.asarray(_lbfgs(jnp.asarray(zs, dtype), jnp.asarray(onehot, dtype), jnp.asarray(float(self.l2), dtype),
                              jnp.asarray(tol, dtype), int(self.max_iter)), float)
        raw = w[1:] / scale[:, None]
        weights = np.vstack([w[:1] - mean @ raw, raw])
        return dataclasses.replace(self, weights=weights, classes=classes)

    def decision(self, states) -> np.ndarray:
        """``(n_sequences, K)`` logits ``z W + b``."""
        if self.weights is None:
            raise ValueError("LogisticClassifier.predict called before fit")
        return self.features(states) @ self.weights[1:] + self.weights[0]

    def predict_proba(self, states) -> np.ndarray:
        """``(n_sequences, K)`` class probabilities (columns in the order of ``classes``)."""
        return softmax(self.decision(states))

    def predict(self, states) -> np.ndarray:
        """The most probable label of each sequence."""
        return self.classes[np.argmax(self.decision(states), axis=1)]

    def score(self, states, labels) -> dict:
        """``{"accuracy", "log_loss"}`` (mean negative log-probability of the true label)."""
        proba = self.predict_proba(states)
        labels = np.asarray(labels)
        index = np.searchsorted(self.classes, labels)
        known = (index < len(self.classes)) & (self.classes[np.minimum(index, len(self.classes) - 1)] == labels)
        picked = np.where(known, proba[np.arange(len(labels)), np.minimum(index, len(self.classes) - 1)], 0.0)
        return {"accuracy": accuracy(self.classes[np.argmax(proba, axis=1)], labels),
                "log_loss": float(-np.mean(np.log(np.maximum(picked, 1e-300))))}
