"""Sequence classification by a ridge readout on one-hot targets (the readout of ResESN/ResRMN
classification; docs/models/reservoirs.md): one feature vector per sequence, the last state or
the mean state, and the label of the largest output."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import SpecError
from ..pytree import pytree_dataclass
from .metrics import accuracy
from .ridge import Ridge


def pool_states(states, pool: str) -> np.ndarray:
    """``(n_sequences, N)`` features from a list of ``(T_i, N)`` state arrays: ``"last"`` or ``"mean"``."""
    if pool not in ("last", "mean"):
        raise SpecError(f"RidgeClassifier.pool: must be 'last' or 'mean', got {pool!r}")
    seqs = [np.asarray(s, float).reshape(len(s), -1) for s in states]
    return np.stack([s[-1] if pool == "last" else s.mean(axis=0) for s in seqs])


@pytree_dataclass(static=("pool",))
class RidgeClassifier:
    """Ridge regression on one-hot targets over pooled states; an immutable pytree.

    ``readout``: the :class:`Ridge` used (its ``ridge`` may list candidates chosen by blocked
    cross-validation over the sequences; ``standardize`` applies); ``pool``: ``"last"`` or
    ``"mean"`` state of each sequence (states from :func:`neurodyn.readout.harvest` on a list of
    sequences, reset between them). ``classes``: the sorted labels seen in :meth:`fit`.
    """

    readout: Ridge = dataclasses.field(default_factory=lambda: Ridge(1e-6))
    pool: str = "last"
    classes: np.ndarray | None = None

    def fit(self, states, labels) -> "RidgeClassifier":
        """Fitted copy on a list of per-sequence state arrays and one label per sequence."""
        labels = np.asarray(labels)
        classes = np.unique(labels)
        onehot = (labels[:, None] == classes[None, :]).astype(float)
        readout = dataclasses.replace(self.readout, washout=0).fit(pool_states(states, self.pool), onehot)
        return dataclasses.replace(self, readout=readout, classes=classes)

    def decision(self, states) -> np.ndarray:
        """``(n_sequences, n_classes)`` readout outputs."""
        if self.classes is None:
            raise ValueError("RidgeClassifier.predict called before fit")
        return self.readout.predict(pool_states(states, self.pool))

    def predict(self, states) -> np.ndarray:
        """The label of the largest output for each sequence."""
        return self.classes[np.argmax(self.decision(states), axis=1)]

    def score(self, states, labels) -> dict:
        """``{"accuracy"}`` on a list of per-sequence states."""
        return {"accuracy": accuracy(self.predict(states), labels)}
