"""E/I-balanced rate reservoir with local homeostatic inhibitory plasticity and the one-step
design (K. Srinivasan, D. Plenz, M. Girvan, "Boosting Reservoir Computing with Brain-inspired
Adaptive Dynamics", arXiv:2504.12480, 2025; docs/models/reservoirs.md, "E/I reservoir").

Sigmoid rate units, a fraction ``exc_fraction`` excitatory and the rest inhibitory (Dale's law:
every outgoing weight of a unit has its sign), in discrete time:

``V_i(t+1) = l V_i(t) + sum_j A^E_ij r_j(t) - sum_j A^I_ij r_j(t) + (W_in u(t))_i``,
``r_i(t) = 1 / (1 + exp(-c (V_i(t) - theta)))``

with non-negative matrices ``A^E`` (columns of excitatory units) and ``A^I`` (columns of
inhibitory units). Only the paper's abstract could be read: the connectivity, the weight law,
the balance parameter, the input law and the plasticity rule below follow a third-party
reading of it, and every such detail is a parameter.

* Connectivity: every unit receives ``in_degree`` excitatory and ``in_degree`` inhibitory
  inputs (no self-connection unless ``self_connections``), weights ``|N(mu, (weight_cv mu)^2)|``, ``mu = mean_exc`` for
  excitatory and ``balance * mean_exc`` for inhibitory ones.
* Global E/I balance ``b = sum_ij A^I_ij / sum_ij A^E_ij``: the ratio of total inhibitory to
  total excitatory weight, made exact by rescaling ``A^I`` after the draw; ``b = 1`` is balanced,
  ``b > 1`` inhibition-dominated, ``b < 1`` excitation-dominated. The signed variant
  ``(w_I - w_E) / w_E = b - 1`` is :func:`ei_balance` with ``signed=True``.
* Input: a fraction ``input_fraction`` of the units receive the input, weights
  ``U(-input_scaling / 2, input_scaling / 2)``.
* Homeostatic plasticity (:class:`AdaptiveEIReservoir`): every existing inhibitory synapse onto
  unit i follows ``A^I_ij <- max(0, A^I_ij + delta (r_i(t) - rho_i))`` toward a target rate
  ``rho_i`` (homogeneous, or heterogeneous drawn from Beta(2, 2)); its fixed point has
  ``<r_i> = rho_i`` for every unit whose inhibition is not clipped at zero.
* One-step design (:func:`one_step_design`): scale the inhibitory inputs of unit i by
  ``Omega_i`` chosen so that the fixed point under a constant input ``u_bar`` has ``r = rho``:
  ``(1 - l)(theta + logit(rho_i) / c) = (A^E rho)_i - Omega_i (A^I rho)_i + (W_in u_bar)_i``.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..core.loop import init_state
from ..core.model import Model, drive_term, float_dtype
from ..errors import SpecError, check_int
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field
from .reservoir import add_input

TARGETS = ("homogeneous", "heterogeneous")


class EIState(NamedTuple):
    """Membrane potentials ``v`` (shape ``(N,)``); the rates are ``sigmoid(c (v - theta))``."""

    v: jax.Array


class AdaptiveEIState(NamedTuple):
    """Potentials ``v`` and the plastic inhibitory matrix ``w_inh`` (``A^I``, shape ``(N, N)``)."""

    v: jax.Array
    w_inh: jax.Array


@pytree_dataclass(static=("n", "n_exc", "n_inputs"))
class EIReservoir(Model):
    """Sigmoid E/I rate reservoir with fixed weights (equations in the module docstring).

    Fields: ``w_exc`` (``A^E``, N x N, non-negative, non-zero only in the first ``n_exc``
    columns), ``w_inh`` (``A^I``, non-negative, non-zero only in the last ``N - n_exc``
    columns), ``w_in`` (N x n_inputs), ``gain`` c, ``threshold`` theta, ``leak`` l (0: no memory
    in the potential). Observables: ``x`` the rates r in (0, 1) (the reservoir state readouts
    use: ``harvest(..., record=("x",))``) and ``v`` the potentials. Ports: ``"u"`` (input through
    ``W_in``, the default) and ``"v"`` (an additive input to the potential).
    """

    n: int
    n_exc: int
    n_inputs: int
    w_exc: jax.Array
    w_inh: jax.Array
    w_in: jax.Array
    gain: jax.Array
    threshold: jax.Array
    leak: jax.Array

    VARIABLES: ClassVar[tuple] = ("v",)
    PORTS: ClassVar[tuple] = ("u", "v")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"x": "1", "v": "1"}
    time_unit: ClassVar[str] = "step"

    @classmethod
    def create(cls, n: int, n_inputs: int = 1, *, exc_fraction: float = 0.8, in_degree: int = 50,
               balance: float = 1.0, mean_exc: float | None = None, weight_cv: float = 0.2, gain: float = 10.0,
               threshold: float = 0.0, leak: float = 0.0, input_fraction: float = 0.3, input_scaling: float = 1.0,
               self_connections: bool = False, seed: int = 0, dtype=None) -> "EIReservoir":
        """Random E/I reservoir (module docstring). ``mean_exc`` defaults to
        ``1 / (in_degree * exc_fraction)`` (the third-party reading); ``balance`` is the exact
        ratio of total inhibitory to total excitatory weight; ``self_connections``: whether a unit
        may be drawn as one of its own inputs."""
        n, n_inputs = check_int("ei_reservoir: n", n, 2), check_int("ei_reservoir: n_inputs", n_inputs)
        in_degree = check_int("ei_reservoir: in_degree", in_degree)
        if not 0 < exc_fraction < 1:
            raise SpecError(f"ei_reservoir.exc_fraction: must be in (0, 1), got {exc_fraction!r}")
        n_exc = int(round(exc_fraction * n))
        n_inh = n - n_exc
        if not 1 <= n_exc <= n - 1:
            raise SpecError(f"ei_reservoir.exc_fraction: {exc_fraction} of n = {n} leaves no excitatory or no "
                            f"inhibitory unit")
        own = 0 if self_connections else 1
        if in_degree > min(n_exc, n_inh) - own:
            raise SpecError(f"ei_reservoir.in_degree: every unit needs {in_degree} excitatory and {in_degree} "
                            f"inhibitory inputs other than itself, but there are {n_exc} excitatory and {n_inh} "
                            f"inhibitory units (give in_degree <= {min(n_exc, n_inh) - own} or a larger n)")
        for name, value in (("balance", balance), ("weight_cv", weight_cv), ("gain", gain)):
            if not float(value) > 0:
                raise SpecError(f"ei_reservoir.{name}: must be > 0, got {value!r}")
        if not 0 <= leak < 1:
            raise SpecError(f"ei_reservoir.leak: must be in [0, 1), got {leak!r}")
        if not 0 < input_fraction <= 1:
            raise SpecError(f"ei_reservoir.input_fraction: must be in (0, 1], got {input_fraction!r}")
        mean_exc = 1.0 / (in_degree * exc_fraction) if mean_exc is None else float(mean_exc)
        if not mean_exc > 0:
            raise SpecError(f"ei_reservoir.mean_exc: must be > 0, got {mean_exc!r}")
        rng = np.random.default_rng(seed)
        w_exc, w_inh = np.zeros((n, n)), np.zeros((n, n))
        for i in range(n):
            exc = np.delete(np.arange(n_exc), i) if i < n_exc and not self_connections else np.arange(n_exc)
            inh = (np.delete(np.arange(n_exc, n), i - n_exc) if i >= n_exc and not self_connections
                   else np.arange(n_exc, n))
            w_exc[i, rng.choice(exc, in_degree, replace=False)] = np.abs(
                rng.normal(mean_exc, weight_cv * mean_exc, in_degree))
            w_inh[i, rng.choice(inh, in_degree, replace=False)] = np.abs(
                rng.normal(balance * mean_exc, weight_cv * balance * mean_exc, in_degree))
        w_inh *= balance * w_exc.sum() / w_inh.sum()
        w_in = np.zeros((n, n_inputs))
        receivers = rng.choice(n, max(1, int(round(input_fraction * n))), replace=False)
        w_in[receivers] = rng.uniform(-input_scaling / 2, input_scaling / 2, (len(receivers), n_inputs))
        return cls.from_matrices(w_exc, w_inh, w_in, n_exc=n_exc, gain=gain, threshold=threshold, leak=leak,
                                 dtype=dtype)

    @classmethod
    def from_matrices(cls, w_exc, w_inh, w_in, *, n_exc: int, gain: float = 10.0, threshold: float = 0.0,
                      leak: float = 0.0, dtype=None) -> "EIReservoir":
        """A reservoir from given non-negative ``A^E``, ``A^I`` (N x N) and ``W_in``; Dale's law
        is checked: ``A^E`` non-zero only in columns ``< n_exc``, ``A^I`` only in the others."""
        d = float_dtype(dtype)
        w_exc, w_inh = np.asarray(w_exc, float), np.asarray(w_inh, float)
        if w_exc.ndim != 2 or w_exc.shape[0] != w_exc.shape[1] or w_inh.shape != w_exc.shape:
            raise SpecError(f"ei_reservoir: w_exc and w_inh must be square and of one shape, got {w_exc.shape} "
                            f"and {w_inh.shape}")
        n = w_exc.shape[0]
        if (w_exc < 0).any() or (w_inh < 0).any():
            raise SpecError("ei_reservoir: w_exc and w_inh hold magnitudes and must be non-negative")
        if w_exc[:, n_exc:].any() or w_inh[:, :n_exc].any():
            raise SpecError(f"ei_reservoir: Dale's law: w_exc may be non-zero only in columns < n_exc = {n_exc}, "
                            f"w_inh only in columns >= n_exc")
        w_in = np.asarray(w_in, float).reshape(n, -1)
        return cls(n, int(n_exc), w_in.shape[1], jnp.asarray(w_exc, d), jnp.asarray(w_inh, d), jnp.asarray(w_in, d),
                   jnp.asarray(gain, d), jnp.asarray(threshold, d), jnp.asarray(leak, d))

    def init(self, key: jax.Array) -> EIState:
        """Zero potentials (rates ``sigmoid(-c theta)``)."""
        return EIState(jnp.zeros(self.n, self.w_exc.dtype))

    def rates(self, v: jax.Array) -> jax.Array:
        """``r = 1 / (1 + exp(-c (v - theta)))``."""
        return jax.nn.sigmoid(self.gain * (v - self.threshold))

    def potential(self, v: jax.Array, w_inh: jax.Array, drive) -> jax.Array:
        """``l v + A^E r - A^I r + W_in u + I`` for the inhibitory matrix ``w_inh``."""
        r = self.rates(v)
        pre = self.leak * v + self.w_exc @ r - w_inh @ r + drive_term(drive, "v", "u")
        return add_input(pre, self.w_in, drive)

    def step(self, state: EIState, drive=None, t=None) -> EIState:
        """``V <- l V + A^E r - A^I r + W_in u`` (module docstring)."""
        return EIState(self.potential(state.v, self.w_inh, drive))

    def observe(self, state) -> dict:
        """Rates ``x`` and potentials ``v``."""
        return {"x": self.rates(state.v), "v": state.v}


def ei_balance(reservoir: EIReservoir, *, signed: bool = False):
    """Global E/I balance: ``sum A^I / sum A^E`` (1 balanced, > 1 inhibition-dominated), or the
    signed variant ``(sum A^I - sum A^E) / sum A^E`` (0 balanced) when ``signed``."""
    ratio = jnp.sum(reservoir.w_inh) / jnp.sum(reservoir.w_exc)
    return ratio - 1 if signed else ratio


def target_rates(n: int, kind: str = "heterogeneous", *, rate: float = 0.2, seed: int = 0) -> np.ndarray:
    """Target rates ``rho_i``: all equal to ``rate`` (``"homogeneous"``) or i.i.d. Beta(2, 2)
    (``"heterogeneous"``, mean 1/2; the paper's heterogeneity)."""
    if kind == "homogeneous":
        if not 0 < rate < 1:
            raise SpecError(f"ei_reservoir.target_rate: must be in (0, 1), got {rate!r}")
        return np.full(n, float(rate))
    if kind == "heterogeneous":
        return np.random.default_rng(seed).beta(2.0, 2.0, n)
    raise SpecError(f"ei_reservoir.targets: unknown value {kind!r} (allowed: {', '.join(TARGETS)})")


@pytree_dataclass(static=(), frozen=("mask",))
class AdaptiveEIReservoir(Model):
    """An :class:`EIReservoir` whose inhibitory weights adapt inside the scan (the adaptation
    phase): they are part of the state, ``A^I_ij <- mask_ij max(0, A^I_ij + delta (r_i - rho_i))``
    after each step, with ``r`` the new rates. ``mask`` (frozen) marks the existing inhibitory
    synapses (a synapse clipped to zero can grow back; absent ones stay absent).

    Fields: ``reservoir`` (its ``w_inh`` is the initial ``A^I``), ``targets`` rho (N),
    ``learning_rate`` delta. :meth:`freeze` returns the fixed reservoir for readout training;
    :func:`adapt` runs the phase in epochs and reports the rate mismatch.
    """

    reservoir: EIReservoir
    targets: jax.Array
    learning_rate: jax.Array
    mask: jax.Array

    VARIABLES: ClassVar[tuple] = ("v", "w_inh")
    PORTS: ClassVar[tuple] = ("u", "v")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"x": "1", "v": "1"}
    time_unit: ClassVar[str] = "step"

    @classmethod
    def create(cls, reservoir: EIReservoir, targets, learning_rate: float = 1e-3) -> "AdaptiveEIReservoir":
        """The plastic version of ``reservoir`` with target rates ``targets`` (a number or N values)."""
        d = reservoir.w_exc.dtype
        rho = np.broadcast_to(np.asarray(targets, float), (reservoir.n,))
        if not ((rho > 0) & (rho < 1)).all():
            raise SpecError("ei_reservoir.targets: target rates must lie in (0, 1)")
        if not float(learning_rate) >= 0:
            raise SpecError(f"ei_reservoir.learning_rate: must be >= 0, got {learning_rate!r}")
        mask = (np.asarray(reservoir.w_inh) > 0).astype(float)
        return cls(reservoir, jnp.asarray(rho, d), jnp.asarray(learning_rate, d), jnp.asarray(mask, d))

    @property
    def n(self) -> int:
        """Number of units (the wrapped reservoir's), as couplings and projections read it."""
        return self.reservoir.n

    def init(self, key: jax.Array) -> AdaptiveEIState:
        """Zero potentials and the reservoir's inhibitory matrix."""
        return AdaptiveEIState(self.reservoir.init(key).v, self.reservoir.w_inh)

    def step(self, state: AdaptiveEIState, drive=None, t=None) -> AdaptiveEIState:
        """One reservoir step with the current ``A^I``, then the homeostatic update."""
        v = self.reservoir.potential(state.v, state.w_inh, drive)
        error = self.reservoir.rates(v) - self.targets
        w_inh = self.mask * jnp.maximum(state.w_inh + self.learning_rate * error[:, None], 0.0)
        return AdaptiveEIState(v, w_inh)

    def observe(self, state: AdaptiveEIState) -> dict:
        """Rates ``x`` and potentials ``v``."""
        return {"x": self.reservoir.rates(state.v), "v": state.v}

    def freeze(self, state: AdaptiveEIState) -> EIReservoir:
        """The fixed reservoir with the adapted inhibitory matrix of ``state``."""
        from dataclasses import replace

        return replace(self.reservoir, w_inh=state.w_inh)


@partial(jax.jit, static_argnames=("epochs",))
def _adapt(model: AdaptiveEIReservoir, state: AdaptiveEIState, inputs, epochs: int):
    def one_step(st, u):
        st = model.step(st, u)
        return st, model.observe(st)["x"]

    def epoch(st, _):
        st, rates = lax.scan(one_step, st, inputs)
        return st, jnp.mean(jnp.abs(jnp.mean(rates, axis=0) - model.targets))

    return lax.scan(epoch, state, None, length=epochs)


def adapt(model: AdaptiveEIReservoir, inputs, *, epochs: int = 10, state=None, key=None):
    """The unsupervised adaptation phase: ``epochs`` passes of the plastic ``model`` over
    ``inputs`` ``(T, n_inputs)`` (the state carried from one pass to the next), as one compiled scan.

    Returns ``(reservoir, state, mismatch)``: the frozen :class:`EIReservoir`, the final state and
    ``mismatch[e] = mean_i |<r_i>_e - rho_i|``, the mean distance of each unit's time-averaged
    rate in epoch ``e`` from its target.
    """
    epochs = check_int("adapt: epochs", epochs)
    u = jnp.asarray(np.asarray(inputs, float).reshape(len(inputs), -1), model.reservoir.w_exc.dtype)
    if u.shape[1] != model.reservoir.n_inputs:
        raise SpecError(f"adapt: inputs have {u.shape[1]} columns, the reservoir takes {model.reservoir.n_inputs}")
    state = init_state(model, state, key)
    final, mismatch = _adapt(model, state, u, epochs)
    return model.freeze(final), final, np.asarray(mismatch, float)


def one_step_factors(reservoir: EIReservoir, targets, mean_input=0.0) -> jax.Array:
    """``Omega_i = [(A^E rho)_i + (W_in u_bar)_i - (1 - l)(theta + logit(rho_i) / c)] / (A^I rho)_i``,
    clipped at 0: the inhibitory scale putting the fixed point under the constant input ``u_bar``
    at ``r = rho`` (the fixed point of ``V = l V + A^E r - Omega A^I r + W_in u_bar`` with
    ``r = sigmoid(c (V - theta))``; for ``l = 0`` this is Srinivasan, Plenz & Girvan's design, with
    the 1/c and the sign of the logit term as the fixed-point equation gives them)."""
    rho = jnp.broadcast_to(jnp.asarray(targets, reservoir.w_exc.dtype), (reservoir.n,))
    u_bar = jnp.broadcast_to(jnp.asarray(mean_input, reservoir.w_exc.dtype), (reservoir.n_inputs,))
    v_star = reservoir.threshold + jnp.log(rho / (1 - rho)) / reservoir.gain
    numerator = reservoir.w_exc @ rho + reservoir.w_in @ u_bar - (1 - reservoir.leak) * v_star
    return jnp.maximum(numerator / (reservoir.w_inh @ rho), 0.0)


def one_step_design(reservoir: EIReservoir, targets, mean_input=0.0) -> EIReservoir:
    """``reservoir`` with row i of ``A^I`` scaled by :func:`one_step_factors`' ``Omega_i``: no
    adaptation phase, the target rates built in (exact at the fixed point where no
    ``Omega_i`` is clipped)."""
    from dataclasses import replace

    omega = one_step_factors(reservoir, targets, mean_input)
    return replace(reservoir, w_inh=omega[:, None] * reservoir.w_inh)


def _ei_from_spec(*, n, n_inputs, exc_fraction, in_degree, balance, mean_exc, weight_cv, gain, threshold, leak,
                  input_fraction, input_scaling, self_connections, adapt, targets, target_rate, learning_rate, seed,
                  spec_seed, dtype):
    seed = seed if seed is not None else spec_seed or 0
    reservoir = EIReservoir.create(n, n_inputs, exc_fraction=exc_fraction, in_degree=in_degree, balance=balance,
                                   mean_exc=mean_exc, weight_cv=weight_cv, gain=gain, threshold=threshold, leak=leak,
                                   input_fraction=input_fraction, input_scaling=input_scaling,
                                   self_connections=self_connections, seed=seed, dtype=dtype)
    if not adapt:
        return reservoir
    rho = target_rates(n, targets, rate=target_rate, seed=seed + 1)
    return AdaptiveEIReservoir.create(reservoir, rho, learning_rate)


MODELS.register("ei_reservoir", _ei_from_spec, (
    Field("n_inputs", "integer", default=1, minimum=1, doc="size of the input u (port \"u\")"),
    Field("exc_fraction", default=0.8, minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True,
          doc="fraction of excitatory units (the first ones)"),
    Field("in_degree", "integer", default=50, minimum=1, doc="excitatory and inhibitory inputs per unit (k of each)"),
    Field("balance", default=1.0, minimum=0.0, exclusive_minimum=True,
          doc="sum of inhibitory / sum of excitatory weights (1 balanced, > 1 inhibition-dominated)"),
    Field("mean_exc", default=None, minimum=0.0, exclusive_minimum=True, doc="mean excitatory weight mu_E",
          default_text="1 / (in_degree exc_fraction)"),
    Field("weight_cv", default=0.2, minimum=0.0, exclusive_minimum=True,
          doc="weights |N(mu, (weight_cv mu)^2)|"),
    Field("gain", default=10.0, minimum=0.0, exclusive_minimum=True, doc="sigmoid gain c"),
    Field("threshold", default=0.0, doc="sigmoid threshold theta"),
    Field("leak", default=0.0, minimum=0.0, maximum=1.0, exclusive_maximum=True, doc="potential leak l"),
    Field("input_fraction", default=0.3, minimum=0.0, maximum=1.0, exclusive_minimum=True,
          doc="fraction of units receiving the input"),
    Field("input_scaling", default=1.0, minimum=0.0, doc="input weights U(-input_scaling/2, input_scaling/2)"),
    Field("self_connections", "bool", default=False, doc="whether a unit may be one of its own inputs"),
    Field("adapt", "bool", default=False,
          doc="plastic inhibitory weights in the state (the adaptation phase, AdaptiveEIReservoir)"),
    Field("targets", "choice", default="heterogeneous", choices=TARGETS,
          doc="target rates: all target_rate, or Beta(2, 2) (with adapt)"),
    Field("target_rate", default=0.2, minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True,
          doc="the homogeneous target rate"),
    Field("learning_rate", default=1e-3, minimum=0.0, doc="delta of the homeostatic rule (with adapt)"),
    Field("seed", "integer", default=None, minimum=0, doc="seed of the weights, inputs and targets",
          default_text="the spec's seed"),
), summary="E/I sigmoid rate reservoir (Dale's law, global balance), optionally with homeostatic inhibitory "
           "plasticity toward target rates.",
    citation="K. Srinivasan, D. Plenz, M. Girvan, Boosting Reservoir Computing with Brain-inspired Adaptive "
             "Dynamics, arXiv:2504.12480 (2025)",
    example={"n": 10, "in_degree": 1, "balance": 1.2, "gain": 2.0, "input_fraction": 0.5, "seed": 1},
    context=("spec_seed", "dtype"), cls=EIReservoir)
