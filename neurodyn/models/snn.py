"""Feed-forward and recurrent spiking networks built from any spiking cell (docs/models/ultralif.md, "Networks").

A :class:`SpikingMLP` of sizes ``(n_in, h_1, ..., h_L, n_out)`` runs, for every time step ``t``
of an input sequence ``x(t)`` (spikes or currents)::

    I_l(t) = s_{l-1}(t) W_l + b_l  [+ s_l(t-1) R_l  when recurrent]      (s_0 = x)
    s_l(t) = cell_l.update(state_l, I_l(t))                               (l = 1..L)

and reads out either the *rate* ``logits = (1/T) sum_t (s_L(t) W_out + b_out)`` (a non-spiking
output layer averaged over time, as the UltraLIF authors' library, Miñoza arXiv:2602.11206
Eq. 28) or the *spikes* of an output layer of the same cells, averaged over time. The time
loop is one ``lax.scan``; the input layer's product for all ``T`` steps is one matrix product
before it, and the read-out's one after it. Layers are dense matrix products: a batch of a
hundred samples times 64 units is dense work, which a sparse or event-driven kernel would only
slow down -- and the Ultra cells' soft spikes lie in (0, 1), never exactly 0, so there are no
silent units for an event-driven product to skip.

Weights start as PyTorch's ``nn.Linear`` default (Kaiming-uniform with ``a = sqrt(5)``):
``W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, as in the paper's code. The network is a pytree:
weights and the cells' learned parameters (:meth:`SpikingCell.learned`, e.g. UltraLIF's
``log_eps``) are trainable leaves; the cells' fixed parameters sit in a frozen field.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from ..core.model import float_dtype
from ..errors import SpecError
from ..pytree import combine, pytree_dataclass
from .surrogate import PLIF, AdaLIF, DSpikeLIF, SurrogateLIF
from .ultralif import UltraDLIF, UltraDPLIF, UltraLIF, UltraPLIF

Array = jax.Array

CELLS = {"ultralif": UltraLIF, "ultraplif": UltraPLIF, "ultradlif": UltraDLIF, "ultradplif": UltraDPLIF,
         "surrogate_lif": SurrogateLIF, "plif": PLIF, "adalif": AdaLIF, "dspike": DSpikeLIF}
"""Cell names accepted by :meth:`SpikingMLP.create`."""

READOUTS = ("rate", "spike")


def _split_cell(cell) -> tuple[Any, Any]:
    """``(learned, fixed)``: two copies of ``cell``, each holding ``None`` where the other holds a field."""
    learned = set(cell.learned())
    parts = []
    for keep in (True, False):
        new = object.__new__(type(cell))
        for f in dataclasses.fields(cell):
            value = getattr(cell, f.name)
            if f.name not in type(cell).__static_fields__ and (f.name in learned) != keep:
                value = None
            object.__setattr__(new, f.name, value)
        parts.append(new)
    return parts[0], parts[1]


def _uniform(key, shape, fan_in: int, dtype) -> Array:
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, dtype, -bound, bound)


@pytree_dataclass(static=("sizes", "cell", "readout", "recurrent"), frozen=("fixed",))
class SpikingMLP:
    """Layers of spiking cells with a rate or spike read-out (module docstring).

    Fields: ``weights`` (one ``(W, b)`` per layer, ``W`` of shape ``(fan_in, fan_out)``),
    ``recurrent_weights`` (one ``(h_l, h_l)`` matrix per hidden layer when ``recurrent``, else
    empty), ``learned`` / ``fixed`` (the cells' trainable and fixed parts, one per spiking layer);
    static ``sizes``, ``cell`` (its name), ``readout``, ``recurrent``. Build with :meth:`create`.
    """

    weights: tuple
    recurrent_weights: tuple
    learned: tuple
    fixed: tuple
    sizes: tuple = ()
    cell: str = "ultralif"
    readout: str = "rate"
    recurrent: bool = False

    @classmethod
    def create(cls, key: Array, sizes=(64, 64, 10), cell: str = "ultralif", cell_options: dict | None = None,
               readout: str = "rate", recurrent: bool = False, dtype=None) -> "SpikingMLP":
        """A network of ``sizes = (n_in, h_1, ..., h_L, n_out)`` (at least one hidden layer).

        ``cell``: one of :data:`CELLS`; ``cell_options``: keyword arguments of that cell's
        ``create`` (e.g. ``{"eps": 0.5, "learn_eps": False}`` or ``{"kind": "arctan"}``);
        ``readout``: ``"rate"`` (non-spiking output layer averaged over time) or ``"spike"``
        (an output layer of the same cells, spike counts averaged over time); ``recurrent``:
        add ``s_l(t-1) R_l`` to each hidden layer's input.
        """
        if cell not in CELLS:
            raise SpecError(f"SpikingMLP.cell: unknown cell {cell!r} (allowed: {', '.join(CELLS)})")
        if readout not in READOUTS:
            raise SpecError(f"SpikingMLP.readout: unknown value {readout!r} (allowed: {', '.join(READOUTS)})")
        try:
            sizes = tuple(int(s) for s in sizes)
        except (TypeError, ValueError):
            raise SpecError(f"SpikingMLP.sizes: expected layer sizes (n_in, hidden..., n_out), got {sizes!r}") from None
        if len(sizes) < 3 or min(sizes) < 1:
            raise SpecError(f"SpikingMLP.sizes: expected (n_in, at least one hidden size, n_out), all >= 1, "
                            f"got {sizes!r}")
        d = float_dtype(dtype)
        options = dict(cell_options or {})
        keys = jax.random.split(key, 2 * len(sizes))
        weights = tuple((_uniform(keys[2 * i], (a, b), a, d), _uniform(keys[2 * i + 1], (b,), a, d))
                        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])))
        rkeys = jax.random.split(keys[-1], len(sizes))
        recurrent_weights = tuple(_uniform(rkeys[i], (h, h), h, d) for i, h in enumerate(sizes[1:-1])) \
            if recurrent else ()
        spiking = sizes[1:] if readout == "spike" else sizes[1:-1]
        try:
            cells = [CELLS[cell].create(h, dtype=d, **options) for h in spiking]
        except TypeError as err:
            raise SpecError(f"SpikingMLP.cell_options: {err}") from None
        parts = [_split_cell(c) for c in cells]
        return cls(weights, recurrent_weights, tuple(p[0] for p in parts), tuple(p[1] for p in parts), sizes, cell,
                   readout, bool(recurrent))

    def cells(self) -> tuple:
        """The spiking cells, learned and fixed parts combined (hidden layers, then the output layer
        for a spike read-out)."""
        return tuple(combine(a, b) for a, b in zip(self.learned, self.fixed))

    def apply(self, x_seq: Array) -> tuple[Array, dict]:
        """Run the network over ``x_seq`` of shape ``(T, B, n_in)``.

        Returns ``(logits, aux)``: ``logits`` of shape ``(B, n_out)``; ``aux["rate"]`` the mean
        spike rate of the hidden layers (over neurons, time and batch), ``aux["synaptic_operations"]``
        the energy proxy ``T * rate_l * N_syn,l`` summed over hidden layers ``l`` (``N_syn,l`` the
        synapses their spikes drive: the next layer's fan-in and, when recurrent, the recurrent
        ones; per sample; paper, section 6), ``aux["layer_rates"]`` the rate of each hidden layer.
        """
        x_seq = jnp.asarray(x_seq)
        if x_seq.ndim != 3 or x_seq.shape[-1] != self.sizes[0]:
            raise SpecError(f"SpikingMLP.apply: expected inputs of shape (T, B, {self.sizes[0]}), got {x_seq.shape}")
        dtype = self.weights[0][0].dtype
        x_seq = x_seq.astype(dtype)
        steps, batch = x_seq.shape[0], x_seq.shape[1]
        cells = self.cells()
        hidden = len(self.sizes) - 2
        w0, b0 = self.weights[0]
        first = x_seq @ w0 + b0  # (T, B, h_1): the input layer for every step at once

        def body(states, current):
            new_states, spikes = [], []
            s = None
            for layer, cell in enumerate(cells):
                if layer > 0:
                    w, b = self.weights[layer]
                    current = s @ w + b
                if self.recurrent and layer < hidden:
                    current = current + states[layer].spike @ self.recurrent_weights[layer]
                state, s = cell.update(states[layer], current)
                new_states.append(state)
                spikes.append(s)
            return tuple(new_states), tuple(spikes)

        start = tuple(c.batch_state((batch,)) for c in cells)
        _, spikes = jax.lax.scan(body, start, first)
        layer_rates = jnp.stack([jnp.mean(s) for s in spikes[:hidden]])
        widths = jnp.asarray(self.sizes[1:-1], dtype)
        rate = jnp.sum(layer_rates * widths) / jnp.sum(widths)
        fan_out = jnp.asarray([self.sizes[l + 2] + (self.sizes[l + 1] if self.recurrent else 0)
                               for l in range(hidden)], dtype)
        synops = steps * jnp.sum(layer_rates * widths * fan_out)
        if self.readout == "rate":
            w, b = self.weights[-1]
            logits = jnp.mean(spikes[hidden - 1], axis=0) @ w + b
        else:
            logits = jnp.mean(spikes[-1], axis=0)
        return logits, {"rate": rate, "synaptic_operations": synops, "layer_rates": layer_rates}


def cross_entropy(logits: Array, labels: Array) -> Array:
    """Mean cross-entropy of ``softmax(logits)`` against integer ``labels``:
    ``-(1/B) sum_b log softmax(logits_b)[labels_b]``; ``logits`` ``(B, C)``, ``labels`` ``(B,)``."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, jnp.asarray(labels)[:, None].astype(jnp.int32), axis=-1))


def sparsity_penalty(aux: dict, lam: float) -> Array:
    """``lam * rate``: the spike-rate penalty added to the loss, ``L = L_CE + lam * s_bar``
    (paper, section 6; lam in {0, 0.01, 0.1} there)."""
    return lam * aux["rate"]
