"""UltraLIF cells: spiking neurons made differentiable by ultradiscretization (docs/models/ultralif.md).

J. M. A. Miñoza, "UltraLIF: Fully Differentiable Spiking Neural Networks via Ultradiscretization
and Max-Plus Algebra", arXiv:2602.11206 (ICML 2026). The Euler LIF ``v(t+1) = tau v(t) + I(t)``
written in log variables (``v = e^{V/eps}``, ``I = e^{J/eps}``) turns sums into log-sum-exp:

* UltraLIF (Definition 4.1), per neuron::

      V~(t+1) = LSE_eps(V(t) + log tau, I(t))
      s(t+1)  = sigma((V~(t+1) - theta) / eps)             (soft spike in (0, 1))
      V(t+1)  = V~(t+1) (1 - s(t+1)) + V_reset s(t+1)       (soft reset)

* UltraDLIF (Definition 4.2): gap-junction diffusion on the ring of units,
  ``V~_i = LSE_eps(V_{i-1}, V_i, V_{i+1}) + I_i`` (circular boundary), same spike and reset.

``LSE_eps(x) = eps log sum_i exp(x_i / eps)`` lies in ``[max x, max x + eps log n]``, so as
``eps -> 0`` the cells tend to the max-plus (tropical) LIF ``V(t+1) = max(V + log tau, I)``
with a hard spike and reset (:class:`MaxPlusLIF`), within ``t eps log 2`` (``t eps log 3`` for
the diffusion) on trajectories that stay away from the threshold (paper, Prop. 5.2, Cor. 5.3).

The learnable temperature is ``eps = clip(exp(log_eps), 0.1, 20)`` (paper, section 4.4);
``learn_eps=False`` freezes it at ``exp(log_eps)`` (no gradient reaches ``log_eps``, no clipping).
Every cell has the batched update :meth:`SpikingCell.update` ``(state, current) -> (state, spike)`` over arrays of shape
``(..., n)``, which ``step`` and the layers of :mod:`neurodyn.models.snn` both use.
"""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.model import Model, convert_parameters, drive_term, is_plain, plain, with_dtype
from ..errors import SpecError
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field

Array = jax.Array

EPS_MIN, EPS_MAX = 0.1, 20.0
"""The range the learnable temperature is clipped to (paper, section 4.4)."""


def lse(x: Array, eps, axis: int = -1) -> Array:
    """Log-sum-exp with temperature: ``LSE_eps(x) = eps log sum_i exp(x_i / eps)`` along ``axis``.

    Computed stably as ``m + eps logsumexp((x - m) / eps)`` with ``m = max_i x_i`` (held constant
    for differentiation: the gradient is ``softmax(x / eps)`` exactly). Bounds (paper, Lemma 3.2):
    ``m <= LSE_eps(x) <= m + eps log n``; ``LSE_eps(0, x) = eps softplus(x / eps)``. ``eps > 0`` a
    number or an array broadcasting against the result (``x`` with ``axis`` removed).
    """
    x = jnp.asarray(x)
    m = jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    eps = jnp.asarray(eps, x.dtype)
    scale = jnp.expand_dims(eps, axis) if eps.ndim else eps
    return jnp.squeeze(m, axis) + eps * jax.nn.logsumexp((x - m) / scale, axis=axis)


def _lse2(a: Array, b: Array, eps) -> Array:
    """``LSE_eps(a, b) = max(a, b) + eps softplus(-|a - b| / eps)`` (two terms, no stacking)."""
    return jnp.maximum(a, b) + eps * jax.nn.softplus(-jnp.abs(a - b) / eps)


def _ring(v: Array) -> tuple[Array, Array]:
    """Left and right neighbours ``(V_{i-1}, V_{i+1})`` along the last axis, circular boundary."""
    return jnp.roll(v, 1, axis=-1), jnp.roll(v, -1, axis=-1)


class CellState(NamedTuple):
    """State of a spiking cell: the potential ``v`` and the last step's spike (``(..., n)`` each)."""

    v: Array
    spike: Array


class SpikingCell(Model, abstract=True):
    """Shared surface of the discrete-time spiking cells (UltraLIF family, max-plus LIF, surrogate LIFs).

    A subclass defines ``update(state, current) -> (state, spike)`` on arrays of any leading
    shape ``(..., n)``. ``step`` applies it with the input current of port ``"I"`` after adding
    port ``"v"`` (an instantaneous jump of the potential) to ``v``; ``observe`` gives ``v`` and
    the spike. :meth:`learned` names the fields a network trains (the paper's learnable
    parameters); every float field stays differentiable when the cell is used on its own.
    """

    VARIABLES: ClassVar[tuple] = ("v", "spike")
    PORTS: ClassVar[tuple] = ("I", "v")
    INPUT_PORT: ClassVar[str] = "I"
    units: ClassVar[dict] = {"v": "1", "spike": "1"}
    time_unit: ClassVar[str] = "step"

    def _dtype(self):
        return jnp.result_type(*(getattr(self, f) for f in self._PER_NODE + self._SCALARS
                                 if hasattr(getattr(self, f), "dtype")))

    def learned(self) -> tuple[str, ...]:
        """The fields a network trains (the others are held fixed there)."""
        return ()

    def batch_state(self, batch_shape: tuple = ()) -> CellState:
        """Resting state (``v = 0``, no spike) for a batch: arrays of shape ``(*batch_shape, n)``."""
        zero = jnp.zeros((*batch_shape, self.n), self._dtype())
        return CellState(zero, zero)

    def init(self, key: Array) -> CellState:
        """``V`` uniform between ``v_reset`` and ``theta``, no spike (a network starts at rest
        instead: :meth:`batch_state`)."""
        rest = self.batch_state(())
        u = jax.random.uniform(key, (self.n,), rest.v.dtype)
        low = getattr(self, "v_reset", 0.0)
        return rest._replace(v=low + u * (self.theta - low))

    def step(self, state, drive=None, t=None):
        """One time step: ``update(state with v + jump, I)`` (ports ``"I"`` and ``"v"``)."""
        current = jnp.broadcast_to(jnp.asarray(drive_term(drive, "I", "I"), state.v.dtype), state.v.shape)
        state = state._replace(v=state.v + drive_term(drive, "v", "I"))
        return self.update(state, current)[0]

    def observe(self, state) -> dict:
        """The potential ``v`` and the spike ``spike`` (soft for the Ultra cells, 0/1 otherwise)."""
        return {"v": state.v, "spike": state.spike}


def _post_init(model, per_node: tuple, scalars: tuple, checks) -> None:
    """Convert plain fields and range-check them (traced or placeholder leaves pass through)."""
    plain = {k for k in per_node + scalars if is_plain(getattr(model, k))}
    convert_parameters(model, per_node, scalars)
    name = type(model).__name__
    for field, ok, text in checks:
        if field not in plain:
            continue
        value = np.asarray(getattr(model, field))  # on the host: building a model compiles nothing
        if not np.all(ok(value)):
            raise SpecError(f"{name}.{field}: must be {text}, got {value.tolist()!r}")


def _logit(tau, name: str):
    """``log(tau / (1 - tau))`` as a plain value, for a leak given in (0, 1)."""
    t = np.asarray(tau, float)
    if not np.all((t > 0) & (t < 1)):
        raise SpecError(f"{name}.tau: must be in (0, 1), got {t.tolist()!r}")
    return (np.log(t) - np.log1p(-t)).tolist()


def _sharpness(sharpness):
    """The stored slope: 1 without a disentangled spike (``__post_init__`` checks it is > 0)."""
    return 1.0 if sharpness is None else plain(sharpness)


def _log_eps(eps, learn_eps: bool) -> float:
    eps = float(eps)
    if learn_eps and not EPS_MIN <= eps <= EPS_MAX:
        raise SpecError(f"eps: a learned eps must start in [{EPS_MIN}, {EPS_MAX}] (its clipping range), got {eps!r}; "
                        "set learn_eps = false for a fixed temperature outside it")
    if not eps > 0:
        raise SpecError(f"eps: must be > 0, got {eps!r}")
    return math.log(eps)


class _Ultra(SpikingCell, abstract=True):
    """Soft spike, soft reset and the learnable temperature shared by the four Ultra cells."""

    @property
    def eps(self) -> Array:
        """The temperature: ``clip(exp(log_eps), 0.1, 20)`` when learned; ``exp(log_eps)``, any
        value > 0 and gradient-free, when ``learn_eps`` is False (a fixed temperature, as the
        authors' ablations; the small values of the convergence tests)."""
        if self.learn_eps:
            return jnp.clip(jnp.exp(self.log_eps), EPS_MIN, EPS_MAX)
        return jax.lax.stop_gradient(jnp.exp(self.log_eps))

    def learned(self) -> tuple[str, ...]:
        return ("log_eps",) if self.learn_eps else ()

    def spike_of(self, v_tilde: Array, eps: Array) -> Array:
        """``sigma((V~ - theta) / eps)``, or ``sigma(beta (V~ - theta))`` when ``disentangled``."""
        scale = self.sharpness if self.disentangled else 1.0 / eps
        return jax.nn.sigmoid((v_tilde - self.theta) * scale)

    def _fire(self, v_tilde: Array, eps: Array) -> tuple[CellState, Array]:
        s = self.spike_of(v_tilde, eps)
        v = v_tilde * (1.0 - s) + self.v_reset * s
        return CellState(v, s), s


_TEMPORAL_CHECKS = (("sharpness", lambda x: x > 0, "> 0"),)


@pytree_dataclass(static=("n", "learn_eps", "disentangled"))
class UltraLIF(_Ultra):
    """UltraLIF (paper, Definition 4.1; equations in the module docstring): ``n`` neurons.

    Fields: ``log_eps`` (scalar; ``eps = clip(exp(log_eps), 0.1, 20)``, initial eps 1), ``tau``
    the leak factor ``tau_0`` in (0, 1) (0.9), ``theta`` the threshold (0.5), ``v_reset`` (0),
    ``sharpness`` the spike slope ``beta`` used instead of ``1/eps`` when ``disentangled`` is
    True (paper, appendix A.3). Potentials are log-domain and dimensionless. ``UltraLIF.create(n)``.
    """

    n: int = 1
    log_eps: Array = 0.0
    tau: Array = 0.9
    theta: Array = 0.5
    v_reset: Array = 0.0
    sharpness: Array = 1.0
    learn_eps: bool = True
    disentangled: bool = False

    _PER_NODE: ClassVar[tuple] = ("tau", "theta", "v_reset")
    _SCALARS: ClassVar[tuple] = ("log_eps", "sharpness")

    def __post_init__(self):
        _post_init(self, self._PER_NODE, self._SCALARS,
                   (("tau", lambda x: (x > 0) & (x < 1), "in (0, 1)"),) + _TEMPORAL_CHECKS)

    @classmethod
    def create(cls, n: int = 1, *, eps: float = 1.0, tau=0.9, theta=0.5, v_reset=0.0, learn_eps: bool = True,
               sharpness: float | None = None, dtype=None) -> "UltraLIF":
        """``n`` neurons; ``sharpness`` (a number) switches to the disentangled spike ``sigma(beta (V - theta))``."""
        model = cls(n, _log_eps(eps, learn_eps), plain(tau), plain(theta), plain(v_reset), _sharpness(sharpness),
                    bool(learn_eps), sharpness is not None)
        return with_dtype(model, cls._PER_NODE + cls._SCALARS, dtype)

    def log_tau(self) -> Array:
        """``log tau_0`` (negative)."""
        return jnp.log(self.tau)

    def update(self, state: CellState, current: Array) -> tuple[CellState, Array]:
        """``V~ = LSE_eps(V + log tau, I)``, soft spike, soft reset; arrays ``(..., n)``."""
        eps = self.eps
        return self._fire(_lse2(state.v + self.log_tau(), current, eps), eps)


@pytree_dataclass(static=("n", "learn_eps", "disentangled"))
class UltraPLIF(_Ultra):
    """UltraPLIF: UltraLIF with a learnable leak ``tau_0 = sigmoid(tau_param)`` (paper, section 4.4),
    initialised at ``tau_0 = 0.9``. Other fields as :class:`UltraLIF`."""

    n: int = 1
    log_eps: Array = 0.0
    tau_param: Array = math.log(0.9 / 0.1)
    theta: Array = 0.5
    v_reset: Array = 0.0
    sharpness: Array = 1.0
    learn_eps: bool = True
    disentangled: bool = False

    _PER_NODE: ClassVar[tuple] = ("tau_param", "theta", "v_reset")
    _SCALARS: ClassVar[tuple] = ("log_eps", "sharpness")

    def __post_init__(self):
        _post_init(self, self._PER_NODE, self._SCALARS, _TEMPORAL_CHECKS)

    @classmethod
    def create(cls, n: int = 1, *, eps: float = 1.0, tau=0.9, theta=0.5, v_reset=0.0, learn_eps: bool = True,
               sharpness: float | None = None, dtype=None) -> "UltraPLIF":
        """``n`` neurons with initial leak ``tau`` in (0, 1) (stored as its logit)."""
        model = cls(n, _log_eps(eps, learn_eps), _logit(tau, cls.__name__), plain(theta), plain(v_reset),
                    _sharpness(sharpness), bool(learn_eps), sharpness is not None)
        return with_dtype(model, cls._PER_NODE + cls._SCALARS, dtype)

    @property
    def tau(self) -> Array:
        """``sigmoid(tau_param)``."""
        return jax.nn.sigmoid(self.tau_param)

    def learned(self) -> tuple[str, ...]:
        return ("tau_param",) + super().learned()

    def log_tau(self) -> Array:
        """``log sigmoid(tau_param)``, computed without forming the sigmoid."""
        return jax.nn.log_sigmoid(self.tau_param)

    update = UltraLIF.update


@pytree_dataclass(static=("n", "learn_eps", "disentangled", "normalize"))
class UltraDLIF(_Ultra):
    """UltraDLIF (paper, Definition 4.2): ``V~_i = LSE_eps(V_{i-1}, V_i, V_{i+1}) + I_i`` on the ring
    of the ``n`` units (circular boundary), soft spike and soft reset as :class:`UltraLIF`.

    ``normalize=True`` subtracts ``eps log 3`` (the log of the 1/3 diffusion weights, which the
    paper drops), so the LSE is a soft average rather than a gain: ``V~ in [max - eps log 3, max]``.
    The default (False) is the paper's cell.
    """

    n: int = 1
    log_eps: Array = 0.0
    theta: Array = 0.5
    v_reset: Array = 0.0
    sharpness: Array = 1.0
    learn_eps: bool = True
    disentangled: bool = False
    normalize: bool = False

    _PER_NODE: ClassVar[tuple] = ("theta", "v_reset")
    _SCALARS: ClassVar[tuple] = ("log_eps", "sharpness")

    def __post_init__(self):
        _post_init(self, self._PER_NODE, self._SCALARS, _TEMPORAL_CHECKS)

    @classmethod
    def create(cls, n: int = 1, *, eps: float = 1.0, theta=0.5, v_reset=0.0, learn_eps: bool = True,
               sharpness: float | None = None, normalize: bool = False, dtype=None) -> "UltraDLIF":
        """``n`` neurons on a ring."""
        model = cls(n, _log_eps(eps, learn_eps), plain(theta), plain(v_reset), _sharpness(sharpness),
                    bool(learn_eps), sharpness is not None, bool(normalize))
        return with_dtype(model, cls._PER_NODE + cls._SCALARS, dtype)

    def centre(self, v: Array) -> Array:
        """The centre term of the 3-term LSE (``V_i``; ``V_i + log tau`` for UltraDPLIF)."""
        return v

    def update(self, state: CellState, current: Array) -> tuple[CellState, Array]:
        """``V~_i = LSE_eps(V_{i-1}, V_i, V_{i+1}) [- eps log 3] + I_i``, soft spike, soft reset."""
        eps = self.eps
        left, right = _ring(state.v)
        v_tilde = lse(jnp.stack([left, self.centre(state.v), right], axis=-1), eps) + current
        if self.normalize:
            v_tilde = v_tilde - eps * math.log(3.0)
        return self._fire(v_tilde, eps)


@pytree_dataclass(static=("n", "learn_eps", "disentangled", "normalize"))
class UltraDPLIF(UltraDLIF):
    """UltraDPLIF: UltraDLIF with a learnable leak on the centre term,
    ``V~_i = LSE_eps(V_{i-1}, V_i + log tau_0, V_{i+1}) + I_i``, ``tau_0 = sigmoid(tau_param)``
    (initial 0.9). The paper reports it indistinguishable from UltraDLIF (the neighbour terms
    dominate the LSE); the authors' ablation code scales the centre potential by ``tau`` instead
    (see docs/models/ultralif.md)."""

    n: int = 1
    log_eps: Array = 0.0
    theta: Array = 0.5
    v_reset: Array = 0.0
    sharpness: Array = 1.0
    learn_eps: bool = True
    disentangled: bool = False
    normalize: bool = False
    tau_param: Array = math.log(0.9 / 0.1)

    _PER_NODE: ClassVar[tuple] = ("theta", "v_reset", "tau_param")

    @classmethod
    def create(cls, n: int = 1, *, eps: float = 1.0, tau=0.9, theta=0.5, v_reset=0.0, learn_eps: bool = True,
               sharpness: float | None = None, normalize: bool = False, dtype=None) -> "UltraDPLIF":
        """``n`` neurons on a ring with initial leak ``tau`` in (0, 1)."""
        model = cls(n, _log_eps(eps, learn_eps), plain(theta), plain(v_reset), _sharpness(sharpness),
                    bool(learn_eps), sharpness is not None, bool(normalize), _logit(tau, cls.__name__))
        return with_dtype(model, cls._PER_NODE + cls._SCALARS, dtype)

    @property
    def tau(self) -> Array:
        """``sigmoid(tau_param)``."""
        return jax.nn.sigmoid(self.tau_param)

    def learned(self) -> tuple[str, ...]:
        return ("tau_param",) + super().learned()

    def centre(self, v: Array) -> Array:
        return v + jax.nn.log_sigmoid(self.tau_param)


MODES = ("temporal", "spatial")


def _heaviside(x: Array) -> Array:
    return (x >= 0).astype(x.dtype)


@pytree_dataclass(static=("n", "mode"))
class MaxPlusLIF(SpikingCell):
    """The max-plus (tropical) LIF, the ``eps -> 0`` limit of the Ultra cells (paper, Prop. 5.2):

    * ``mode="temporal"`` (limit of UltraLIF): ``V~(t+1) = max(V(t) + log tau, I(t))``;
    * ``mode="spatial"`` (limit of UltraDLIF, max-plus diffusion / morphological dilation):
      ``V~_i(t+1) = max(V_{i-1}, V_i, V_{i+1}) + I_i`` on a ring;

    then the hard spike ``s = H(V~ - theta)`` (1 at or above threshold) and hard reset
    ``V = V~ (1 - s) + V_reset s``. Its spike has zero derivative almost everywhere (no surrogate):
    the reference against which the Ultra cells' convergence and gradients are tested.
    """

    n: int = 1
    tau: Array = 0.9
    theta: Array = 0.5
    v_reset: Array = 0.0
    mode: str = "temporal"

    _PER_NODE: ClassVar[tuple] = ("tau", "theta", "v_reset")
    _SCALARS: ClassVar[tuple] = ()
    SMOOTH: ClassVar[bool] = False

    def __post_init__(self):
        if self.mode not in MODES:
            raise SpecError(f"MaxPlusLIF.mode: unknown value {self.mode!r} (allowed: {', '.join(MODES)})")
        _post_init(self, self._PER_NODE, (), (("tau", lambda x: (x > 0) & (x < 1), "in (0, 1)"),))

    @classmethod
    def create(cls, n: int = 1, *, tau=0.9, theta=0.5, v_reset=0.0, mode: str = "temporal", dtype=None) -> "MaxPlusLIF":
        """``n`` neurons (tau, theta, v_reset numbers or one value per neuron)."""
        return with_dtype(cls(n, plain(tau), plain(theta), plain(v_reset), mode), cls._PER_NODE, dtype)

    def update(self, state: CellState, current: Array) -> tuple[CellState, Array]:
        """Max-plus integration, hard spike, hard reset; arrays ``(..., n)``."""
        if self.mode == "temporal":
            v_tilde = jnp.maximum(state.v + jnp.log(self.tau), current)
        else:
            left, right = _ring(state.v)
            v_tilde = jnp.maximum(jnp.maximum(left, state.v), right) + current
        s = _heaviside(v_tilde - self.theta)
        return CellState(v_tilde * (1.0 - s) + self.v_reset * s, s), s


# ---------------------------------------------------------------- registry

_CITATION = ("J. M. A. Miñoza, UltraLIF: Fully Differentiable Spiking Neural Networks via Ultradiscretization "
             "and Max-Plus Algebra, arXiv:2602.11206 (ICML 2026)")


def _eps_field() -> Field:
    return Field("eps", default=1.0, minimum=0.0, exclusive_minimum=True,
                 doc="temperature eps: learned as clip(exp(log_eps), 0.1, 20) (start in that range), "
                     "or fixed with learn_eps = false")


def _common_fields(with_tau: bool) -> tuple:
    tau = (Field("tau", "per_node", default=0.9, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                 exclusive_maximum=True, doc="leak factor tau_0 (log tau enters the LSE)"),) if with_tau else ()
    return (_eps_field(), *tau,
            Field("theta", "per_node", default=0.5, doc="threshold of the soft spike"),
            Field("v_reset", "per_node", default=0.0, doc="reset potential"),
            Field("learn_eps", "bool", default=True, doc="whether eps is trained (false: frozen)"),
            Field("sharpness", default=None, minimum=0.0, exclusive_minimum=True,
                  doc="disentangled spike slope beta: s = sigmoid(beta (V - theta)); none = 1/eps (the paper)"))


def _builder(cls):
    def build(*, n, dtype, **fields):
        return cls.create(n, dtype=dtype, **fields)
    return build


_SPATIAL = (Field("normalize", "bool", default=False, doc="subtract eps log 3 (false: the paper's cell)"),)

MODELS.register("ultralif", _builder(UltraLIF), _common_fields(True),
                summary="UltraLIF: V~ = LSE_eps(V + log tau, I), soft spike sigmoid((V~ - theta)/eps), soft reset.",
                citation=_CITATION, example={"n": 3, "eps": 0.8, "theta": 0.5}, context=("dtype",), cls=UltraLIF)
MODELS.register("ultraplif", _builder(UltraPLIF), _common_fields(True),
                summary="UltraPLIF: UltraLIF with a learnable leak tau = sigmoid(tau_param).",
                citation=_CITATION, example={"n": 3, "eps": 0.8, "tau": 0.8}, context=("dtype",), cls=UltraPLIF)
MODELS.register("ultradlif", _builder(UltraDLIF), _common_fields(False) + _SPATIAL,
                summary="UltraDLIF: V~_i = LSE_eps(V_{i-1}, V_i, V_{i+1}) + I_i on a ring, soft spike, soft reset.",
                citation=_CITATION, example={"n": 4, "eps": 0.8, "theta": 0.5}, context=("dtype",), cls=UltraDLIF)
MODELS.register("ultradplif", _builder(UltraDPLIF), _common_fields(True) + _SPATIAL,
                summary="UltraDPLIF: UltraDLIF with a learnable leak on the centre term V_i + log tau.",
                citation=_CITATION, example={"n": 4, "eps": 0.8, "tau": 0.8}, context=("dtype",), cls=UltraDPLIF)
MODELS.register("maxplus_lif", _builder(MaxPlusLIF), (
    Field("tau", "per_node", default=0.9, minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True,
          doc="leak factor tau_0 (temporal mode)"),
    Field("theta", "per_node", default=0.5, doc="threshold of the hard spike"),
    Field("v_reset", "per_node", default=0.0, doc="reset potential"),
    Field("mode", "choice", default="temporal", choices=MODES,
          doc="temporal: max(V + log tau, I); spatial: max over ring neighbours + I"),
), summary="Max-plus (tropical) LIF: V~ = max(V + log tau, I) (or ring dilation + I), hard spike and reset; "
           "the eps -> 0 limit of the Ultra cells.",
    citation=_CITATION, example={"n": 3, "theta": 2.0, "tau": 0.99}, context=("dtype",), cls=MaxPlusLIF)
