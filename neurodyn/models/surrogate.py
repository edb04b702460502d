"""Discrete-time LIF baselines trained with surrogate gradients (docs/models/ultralif.md, "Baselines").

The baselines of the UltraLIF paper (Miñoza, arXiv:2602.11206, Eqs. 29-30), per neuron::

    v~(t+1) = tau v(t) + I(t)
    s(t+1)  = H(v~(t+1) - theta)                 (hard spike forward, surrogate derivative backward)
    v(t+1)  = v~(t+1) (1 - s(t+1))               (reset to zero)

* :class:`SurrogateLIF`: fixed ``tau`` (0.9) and ``theta`` (0.5), sigmoid surrogate of slope 10
  (fast sigmoid and arctan as options, :func:`neurodyn.ops.spike.heaviside_surrogate`);
* :class:`PLIF`: learnable ``tau = sigmoid(tau_param)`` (Fang et al., ICCV 2021);
* :class:`AdaLIF`: adaptive threshold ``theta(t+1) = theta_0 + beta_adapt b(t)``,
  ``b(t+1) = tau_adapt b(t) + (1 - tau_adapt) s(t)`` (beta_adapt 0.1, tau_adapt 0.9);
* :class:`DSpikeLIF`: the DSpike spike function (Li et al., NeurIPS 2021), sharpness 4.

All share the batched update ``update(state, current) -> (state, spike)`` of the Ultra cells
(:class:`neurodyn.models.ultralif.SpikingCell`), so :mod:`neurodyn.models.snn` builds layers of
any of them. Spikes are floats 0/1 (they feed the next layer's weights).
"""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from ..core.model import plain, with_dtype
from ..errors import SpecError
from ..ops.spike import SURROGATES, dspike, heaviside_surrogate
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field
from .ultralif import CellState, SpikingCell, _logit, _post_init

Array = jax.Array

_TAU_CHECK = ("tau", lambda x: (x > 0) & (x < 1), "in (0, 1)")
_SLOPE_CHECK = ("slope", lambda x: x > 0, "> 0")


class _SurrogateCell(SpikingCell, abstract=True):
    SMOOTH: ClassVar[bool] = False

    def _spike(self, x: Array) -> Array:
        return heaviside_surrogate(x, self.kind, self.slope, self.scale_by_slope)

    def update(self, state: CellState, current: Array) -> tuple[CellState, Array]:
        """``v~ = tau v + I``, ``s = H(v~ - theta)`` (surrogate backward), ``v = v~ (1 - s)``; arrays ``(..., n)``."""
        v = self.tau * state.v + current
        s = self._spike(v - self.theta)
        return CellState(v * (1.0 - s), s), s


@pytree_dataclass(static=("n", "kind", "scale_by_slope"))
class SurrogateLIF(_SurrogateCell):
    """LIF baseline with a surrogate-gradient spike (module docstring): ``n`` neurons.

    Fields: ``tau`` leak factor in (0, 1) (0.9), ``theta`` threshold (0.5), ``slope`` the
    surrogate's steepness ``k`` (10); static ``kind`` (``"sigmoid"``, ``"fast_sigmoid"``,
    ``"arctan"``) and ``scale_by_slope`` (keep the chain-rule factor ``k``; see
    :func:`neurodyn.ops.spike.surrogate_derivative`).
    """

    n: int = 1
    tau: Array = 0.9
    theta: Array = 0.5
    slope: Array = 10.0
    kind: str = "sigmoid"
    scale_by_slope: bool = True

    _PER_NODE: ClassVar[tuple] = ("tau", "theta")
    _SCALARS: ClassVar[tuple] = ("slope",)

    def __post_init__(self):
        _check_kind(self)
        _post_init(self, self._PER_NODE, self._SCALARS, (_TAU_CHECK, _SLOPE_CHECK))

    @classmethod
    def create(cls, n: int = 1, *, tau=0.9, theta=0.5, slope: float = 10.0, kind: str = "sigmoid",
               scale_by_slope: bool = True, dtype=None) -> "SurrogateLIF":
        """``n`` neurons (tau, theta numbers or one value per neuron)."""
        model = cls(n, plain(tau), plain(theta), plain(slope), kind, bool(scale_by_slope))
        return with_dtype(model, cls._PER_NODE + cls._SCALARS, dtype)


@pytree_dataclass(static=("n", "kind", "scale_by_slope"))
class PLIF(_SurrogateCell):
    """Parametric LIF (Fang et al., "Incorporating learnable membrane time constant", ICCV 2021):
    :class:`SurrogateLIF` with ``tau = sigmoid(tau_param)`` learned (initial 0.9)."""

    n: int = 1
    tau_param: Array = math.log(9.0)
    theta: Array = 0.5
    slope: Array = 10.0
    kind: str = "sigmoid"
    scale_by_slope: bool = True

    _PER_NODE: ClassVar[tuple] = ("tau_param", "theta")
    _SCALARS: ClassVar[tuple] = ("slope",)

    def __post_init__(self):
        _check_kind(self)
        _post_init(self, self._PER_NODE, self._SCALARS, (_SLOPE_CHECK,))

    @classmethod
    def create(cls, n: int = 1, *, tau=0.9, theta=0.5, slope: float = 10.0, kind: str = "sigmoid",
               scale_by_slope: bool = True, dtype=None) -> "PLIF":
        """``n`` neurons with initial leak ``tau`` in (0, 1) (stored as its logit)."""
        model = cls(n, _logit(tau, cls.__name__), plain(theta), plain(slope), kind, bool(scale_by_slope))
        return with_dtype(model, cls._PER_NODE + cls._SCALARS, dtype)

    @property
    def tau(self) -> Array:
        """``sigmoid(tau_param)``."""
        return jax.nn.sigmoid(self.tau_param)

    def learned(self) -> tuple[str, ...]:
        return ("tau_param",)


class AdaptiveState(NamedTuple):
    """State of :class:`AdaLIF`: potential ``v``, last spike and the adaptation trace ``b``."""

    v: Array
    spike: Array
    b: Array


@pytree_dataclass(static=("n", "kind", "scale_by_slope"))
class AdaLIF(_SurrogateCell):
    """LIF with an adaptive threshold (Bellec et al., NeurIPS 2018, in the UltraLIF paper's form):
    ``theta(t+1) = theta_0 + beta_adapt b(t)``, ``b(t+1) = tau_adapt b(t) + (1 - tau_adapt) s(t)``;
    membrane, spike and reset as :class:`SurrogateLIF`. State ``(v, spike, b)``."""

    n: int = 1
    tau: Array = 0.9
    theta: Array = 0.5
    beta_adapt: Array = 0.1
    tau_adapt: Array = 0.9
    slope: Array = 10.0
    kind: str = "sigmoid"
    scale_by_slope: bool = True

    VARIABLES: ClassVar[tuple] = ("v", "spike", "b")
    units: ClassVar[dict] = {"v": "1", "spike": "1", "b": "1"}
    _PER_NODE: ClassVar[tuple] = ("tau", "theta", "beta_adapt", "tau_adapt")
    _SCALARS: ClassVar[tuple] = ("slope",)

    def __post_init__(self):
        _check_kind(self)
        _post_init(self, self._PER_NODE, self._SCALARS,
                   (_TAU_CHECK, _SLOPE_CHECK, ("tau_adapt", lambda x: (x >= 0) & (x < 1), "in [0, 1)")))

    @classmethod
    def create(cls, n: int = 1, *, tau=0.9, theta=0.5, beta_adapt=0.1, tau_adapt=0.9, slope: float = 10.0,
               kind: str = "sigmoid", scale_by_slope: bool = True, dtype=None) -> "AdaLIF":
        """``n`` neurons (the paper's AdaLIF: beta_adapt 0.1, tau_adapt 0.9)."""
        model = cls(n, plain(tau), plain(theta), plain(beta_adapt), plain(tau_adapt), plain(slope), kind,
                    bool(scale_by_slope))
        return with_dtype(model, cls._PER_NODE + cls._SCALARS, dtype)

    def batch_state(self, batch_shape: tuple = ()) -> AdaptiveState:
        """Resting state, no adaptation: arrays of shape ``(*batch_shape, n)``."""
        zero = jnp.zeros((*batch_shape, self.n), self._dtype())
        return AdaptiveState(zero, zero, zero)

    def update(self, state: AdaptiveState, current: Array) -> tuple[AdaptiveState, Array]:
        """Spike against ``theta_0 + beta_adapt b(t)``, then ``b(t+1) = tau_a b(t) + (1 - tau_a) s(t)``."""
        v = self.tau * state.v + current
        s = self._spike(v - (self.theta + self.beta_adapt * state.b))
        b = self.tau_adapt * state.b + (1.0 - self.tau_adapt) * state.spike
        return AdaptiveState(v * (1.0 - s), s, b), s

    def observe(self, state: AdaptiveState) -> dict:
        """``v``, ``spike`` and the adaptation trace ``b``."""
        return {"v": state.v, "spike": state.spike, "b": state.b}


@pytree_dataclass(static=("n",))
class DSpikeLIF(_SurrogateCell):
    """LIF with the DSpike spike function (Li et al., NeurIPS 2021; :func:`neurodyn.ops.spike.dspike`):
    forward ``H(v - theta)``, backward the derivative of
    ``[tanh(b (v / (2 theta) - 1/2)) + tanh(b/2)] / (2 tanh(b/2))``, sharpness ``b`` (4)."""

    n: int = 1
    tau: Array = 0.9
    theta: Array = 0.5
    sharpness: Array = 4.0

    _PER_NODE: ClassVar[tuple] = ("tau", "theta")
    _SCALARS: ClassVar[tuple] = ("sharpness",)

    def __post_init__(self):
        _post_init(self, self._PER_NODE, self._SCALARS, (_TAU_CHECK, ("sharpness", lambda x: x > 0, "> 0")))

    @classmethod
    def create(cls, n: int = 1, *, tau=0.9, theta=0.5, sharpness: float = 4.0, dtype=None) -> "DSpikeLIF":
        """``n`` neurons."""
        return with_dtype(cls(n, plain(tau), plain(theta), plain(sharpness)), cls._PER_NODE + cls._SCALARS, dtype)

    def _spike(self, x: Array) -> Array:
        return dspike(x, self.sharpness, 2.0 * self.theta)


def _check_kind(model) -> None:
    if model.kind not in SURROGATES:
        raise SpecError(f"{type(model).__name__}.kind: unknown value {model.kind!r} "
                        f"(allowed: {', '.join(SURROGATES)})")


def _cell_from_spec(cls):
    def build(*, n, dtype, **fields):
        return cls.create(n, dtype=dtype, **fields)
    return build


MODELS.register("surrogate_lif", _cell_from_spec(SurrogateLIF), (
    Field("tau", "per_node", default=0.9, minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True,
          doc="leak factor: v <- tau v + I"),
    Field("theta", "per_node", default=0.5, doc="threshold"),
    Field("slope", default=10.0, minimum=0.0, exclusive_minimum=True, doc="steepness k of the surrogate derivative"),
    Field("kind", "choice", default="sigmoid", choices=SURROGATES, doc="surrogate derivative"),
    Field("scale_by_slope", "bool", default=True, doc="keep the chain-rule factor k in the surrogate derivative"),
), summary="Discrete LIF v <- tau v + I, hard spike H(v - theta) with a surrogate derivative, reset to zero.",
    citation="J. M. A. Miñoza, arXiv:2602.11206, Eqs. 29-30; E. O. Neftci, H. Mostafa, F. Zenke, "
             "IEEE Signal Process. Mag. 36:51 (2019)",
    example={"n": 3, "tau": 0.8, "theta": 0.5}, context=("dtype",), cls=SurrogateLIF)


_SURROGATE_FIELDS = (
    Field("slope", default=10.0, minimum=0.0, exclusive_minimum=True, doc="steepness k of the surrogate derivative"),
    Field("kind", "choice", default="sigmoid", choices=SURROGATES, doc="surrogate derivative"),
    Field("scale_by_slope", "bool", default=True, doc="keep the chain-rule factor k in the surrogate derivative"),
)

_LEAK = Field("tau", "per_node", default=0.9, minimum=0.0, maximum=1.0, exclusive_minimum=True,
              exclusive_maximum=True, doc="leak factor: v <- tau v + I")


def _threshold(doc: str) -> Field:
    return Field("theta", "per_node", default=0.5, doc=doc)


MODELS.register("plif", _cell_from_spec(PLIF), (
    Field("tau", "per_node", default=0.9, minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True,
          doc="initial leak factor, learned as sigmoid(tau_param)"),
    Field("theta", "per_node", default=0.5, doc="threshold"),
) + _SURROGATE_FIELDS, summary="Parametric LIF: the surrogate-gradient LIF with a learnable leak tau = sigmoid(tau_param).",
    citation="W. Fang et al., ICCV 2021 (arXiv:2007.05785)",
    example={"n": 3, "tau": 0.8}, context=("dtype",), cls=PLIF)

MODELS.register("adalif", _cell_from_spec(AdaLIF), (
    _LEAK, _threshold("base threshold theta_0"),
    Field("beta_adapt", "per_node", default=0.1, doc="threshold increment per unit of adaptation trace"),
    Field("tau_adapt", "per_node", default=0.9, minimum=0.0, maximum=1.0, exclusive_maximum=True,
          doc="decay of the adaptation trace b"),
) + _SURROGATE_FIELDS, summary="LIF with an adaptive threshold theta_0 + beta_adapt b, b a low-pass trace of its spikes.",
    citation="G. Bellec et al., NeurIPS 2018 (arXiv:1803.09574); J. M. A. Miñoza, arXiv:2602.11206",
    example={"n": 3, "beta_adapt": 0.2}, context=("dtype",), cls=AdaLIF)

MODELS.register("dspike_lif", _cell_from_spec(DSpikeLIF), (
    _LEAK, _threshold("threshold"),
    Field("sharpness", default=4.0, minimum=0.0, exclusive_minimum=True, doc="DSpike sharpness b"),
), summary="LIF whose hard spike has the DSpike derivative (a tanh-shaped smooth step) in the backward pass.",
    citation="Y. Li et al., NeurIPS 2021",
    example={"n": 3, "sharpness": 3.0}, context=("dtype",), cls=DSpikeLIF)
