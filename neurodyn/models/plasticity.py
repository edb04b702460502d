"""Intrinsic plasticity (IP) for tanh and sigmoid reservoirs, run inside the scan
(docs/models/reservoirs.md, "Intrinsic plasticity").

Every unit has a gain ``a_i`` and a shift ``b_i`` applied to its net input ``z_i``:
``y_i = f(a_i z_i + b_i)``, ``z = W x + W_in u + bias``, ``x <- (1 - l) x + l y`` (leak ``l``).
After each step ``a`` and ``b`` move by a stochastic-gradient step that minimises the
Kullback-Leibler divergence between the distribution of ``y_i`` and a target:

* sigmoid ``f``, exponential target of mean ``mu`` (J. Triesch, "Synergies between intrinsic and
  synaptic plasticity in individual model neurons", NIPS 17, 2005):
  ``db = eta (1 - (2 + 1/mu) y + y^2 / mu)``, ``da = eta / a + db z``;
* tanh ``f``, Gaussian target of mean ``mu`` and standard deviation ``sigma`` (B. Schrauwen,
  M. Wardermann, D. Verstraeten, J. J. Steil, D. Stroobandt, "Improving reservoirs using
  intrinsic plasticity", Neurocomputing 71:1159, 2008):
  ``db = -eta (-mu / sigma^2 + (y / sigma^2)(2 sigma^2 + 1 - y^2 + mu y))``, ``da = eta / a + db z``.

Both use the output ``y`` and net input ``z`` of the current step and the gain before the update.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.model import Model, drive_term, float_dtype
from ..errors import SpecError
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field
from .reservoir import ESN, RANDOM_RESERVOIR_FIELDS, SEED_FIELD, add_input

ACTIVATIONS = ("tanh", "sigmoid")


class IPState(NamedTuple):
    """Unit outputs ``x`` (N), gains ``gain`` (N) and shifts ``shift`` (N)."""

    x: jax.Array
    gain: jax.Array
    shift: jax.Array


def ip_update(activation: str, y, z, gain, learning_rate, mean, std):
    """``(d gain, d shift)`` of the published IP rules (module docstring) for outputs ``y`` and
    net inputs ``z``: Triesch 2005 for ``"sigmoid"`` (exponential target of mean ``mean``;
    ``std`` unused), Schrauwen et al. 2008 for ``"tanh"`` (Gaussian target ``mean``, ``std``)."""
    if activation == "sigmoid":
        d_shift = learning_rate * (1 - (2 + 1 / mean) * y + y ** 2 / mean)
    else:
        var = std ** 2
        d_shift = -learning_rate * (-mean / var + (y / var) * (2 * var + 1 - y ** 2 + mean * y))
    return learning_rate / gain + d_shift * z, d_shift


@pytree_dataclass(static=("n", "n_inputs", "activation"))
class IPReservoir(Model):
    """Leaky reservoir whose units adapt their gain and shift by intrinsic plasticity (module
    docstring); ``learning_rate = 0`` freezes them (:meth:`freeze`).

    Fields: ``w``, ``w_in``, ``bias``, ``leak`` (as :class:`~neurodyn.models.ESN`),
    ``learning_rate`` eta, ``target_mean`` mu, ``target_std`` sigma (tanh only), and the initial
    ``initial_gain`` / ``initial_shift`` (1 and 0: the plain reservoir). Ports ``"u"`` (input,
    default) and ``"x"`` (additive net input). Observable: ``x``.
    """

    n: int
    n_inputs: int
    activation: str
    w: jax.Array
    w_in: jax.Array
    bias: jax.Array
    leak: jax.Array
    learning_rate: jax.Array
    target_mean: jax.Array
    target_std: jax.Array
    initial_gain: jax.Array
    initial_shift: jax.Array

    VARIABLES: ClassVar[tuple] = ("x", "gain", "shift")
    PORTS: ClassVar[tuple] = ("u", "x")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"x": "1"}
    time_unit: ClassVar[str] = "step"

    @classmethod
    def from_esn(cls, esn: ESN, *, activation: str = "tanh", learning_rate: float = 1e-3,
                 target_mean: float | None = None, target_std: float = 0.2) -> "IPReservoir":
        """IP on the matrices, bias and leak of ``esn``; ``target_mean`` defaults to 0 (tanh) or
        0.2 (sigmoid)."""
        if activation not in ACTIVATIONS:
            raise SpecError(f"IPReservoir.activation: must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        mean = (0.0 if activation == "tanh" else 0.2) if target_mean is None else float(target_mean)
        if activation == "sigmoid" and not 0 < mean < 1:
            raise SpecError(f"IPReservoir.target_mean: a sigmoid's exponential target needs 0 < mean < 1, got {mean}")
        if activation == "tanh" and not (-1 < mean < 1 and target_std > 0):
            raise SpecError(f"IPReservoir: a tanh target needs -1 < target_mean < 1 and target_std > 0, "
                            f"got {mean}, {target_std}")
        if not float(learning_rate) >= 0:
            raise SpecError(f"IPReservoir.learning_rate: must be >= 0, got {learning_rate!r}")
        d = esn.w.dtype
        n = esn.n
        return cls(n, esn.n_inputs, activation, esn.effective_w, esn.input_gain * esn.w_in, esn.bias,
                   esn.leak, jnp.asarray(learning_rate, d), jnp.asarray(mean, d), jnp.asarray(target_std, d),
                   jnp.ones(n, d), jnp.zeros(n, d))

    def init(self, key: jax.Array) -> IPState:
        """Zero outputs, the initial gains and shifts."""
        return IPState(jnp.zeros(self.n, self.w.dtype), self.initial_gain, self.initial_shift)

    def net_input(self, state: IPState, drive) -> jax.Array:
        """``z = W x + W_in u + bias + I``."""
        return add_input(self.w @ state.x + self.bias + drive_term(drive, "x", "u"), self.w_in, drive)

    def step(self, state: IPState, drive=None, t=None) -> IPState:
        """``y = f(a z + b)``, ``x <- (1 - l) x + l y``, then the IP update of ``a`` and ``b``."""
        z = self.net_input(state, drive)
        pre = state.gain * z + state.shift
        y = jnp.tanh(pre) if self.activation == "tanh" else jax.nn.sigmoid(pre)
        d_gain, d_shift = ip_update(self.activation, y, z, state.gain, self.learning_rate, self.target_mean,
                                    self.target_std)
        return IPState((1 - self.leak) * state.x + self.leak * y, state.gain + d_gain, state.shift + d_shift)

    def observe(self, state: IPState) -> dict:
        """The unit outputs ``x``."""
        return {"x": state.x}

    def freeze(self, state: IPState) -> "IPReservoir":
        """The reservoir with the gains and shifts of ``state`` fixed (no further plasticity)."""
        return replace(self, learning_rate=jnp.zeros_like(self.learning_rate), initial_gain=state.gain,
                       initial_shift=state.shift)

    def as_esn(self, state: IPState) -> ESN:
        """For tanh: the plain :class:`~neurodyn.models.ESN` computing the same map with the gains
        and shifts of ``state`` folded in (``diag(a) W``, ``diag(a) W_in``, ``a bias + b``)."""
        if self.activation != "tanh":
            raise SpecError("IPReservoir.as_esn: only a tanh reservoir is an ESN")
        a = state.gain
        return ESN.from_matrices(np.asarray(a[:, None] * self.w), np.asarray(a[:, None] * self.w_in),
                                 np.asarray(a * self.bias + state.shift), leak=float(self.leak),
                                 dtype=float_dtype(self.w.dtype))


def _ip_from_spec(*, n, n_inputs, spectral_radius, input_scaling, bias_scaling, leak, density, activation,
                  learning_rate, target_mean, target_std, seed, spec_seed, dtype) -> IPReservoir:
    esn = ESN.create(n, n_inputs, spectral_radius=spectral_radius, input_scaling=input_scaling,
                     bias_scaling=bias_scaling, leak=leak, density=density,
                     seed=seed if seed is not None else spec_seed or 0, dtype=dtype)
    return IPReservoir.from_esn(esn, activation=activation, learning_rate=learning_rate, target_mean=target_mean,
                                target_std=target_std)


MODELS.register("ip_reservoir", _ip_from_spec, RANDOM_RESERVOIR_FIELDS + (
    Field("activation", "choice", default="tanh", choices=ACTIVATIONS,
          doc="tanh (Gaussian target, Schrauwen et al.) or sigmoid (exponential target, Triesch)"),
    Field("learning_rate", default=1e-3, minimum=0.0, doc="eta of the IP rule (0: frozen)"),
    Field("target_mean", default=None, doc="mean of the target output distribution",
          default_text="0 (tanh) or 0.2 (sigmoid)"),
    Field("target_std", default=0.2, minimum=0.0, exclusive_minimum=True,
          doc="standard deviation of the Gaussian target (tanh)"),
    SEED_FIELD,
), summary="Leaky tanh or sigmoid reservoir whose units adapt gain and shift by intrinsic plasticity.",
    citation="J. Triesch, NIPS 17 (2005); B. Schrauwen, M. Wardermann, D. Verstraeten, J. J. Steil, D. Stroobandt, "
             "Neurocomputing 71:1159 (2008)",
    example={"n": 10, "density": 0.5, "spectral_radius": 0.9, "bias_scaling": 0.2, "learning_rate": 0.01,
             "seed": 1},
    context=("spec_seed", "dtype"), cls=IPReservoir)
