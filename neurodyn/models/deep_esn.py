"""Deep echo state network (DeepESN): a stack of leaky ESN layers updated in order within one
step, the readout reading every layer's state (C. Gallicchio, A. Micheli, L. Pedrelli, "Deep
reservoir computing: A critical experimental analysis", Neurocomputing 268:87, 2017;
docs/models/reservoirs.md, "DeepESN").

``x1(n) = (1 - a1) x1(n-1) + a1 tanh(W_in u(n) + b1 + W1 x1(n-1))``
``xl(n) = (1 - al) xl(n-1) + al tanh(V_l x_{l-1}(n) + bl + Wl xl(n-1))``, l = 2..L

Each layer is an :class:`~neurodyn.models.ESN`, stepped by the ESN's own step with
``V_l x_{l-1}(n)`` on its port ``"x"``; the model's state ``x`` is the concatenation
``[x1; ...; xL]`` (``n = L * units`` values), the feature vector of the paper's readout.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..connectivity.matrices import random_sparse, spectral_radius
from ..core.model import Model, drive_term, float_dtype
from ..errors import SpecError, check_int
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field
from .reservoir import ESN, ReservoirState, SEED_FIELD

RADIUS_OF = ("w", "leaky")


class DeepESNState(NamedTuple):
    """``x``: every layer's state, layer 1 first (shape ``(layers * units,)``)."""

    x: jax.Array


@pytree_dataclass(static=("n", "n_layers"))
class DeepESN(Model):
    """DeepESN of ``n_layers`` ESN layers of ``n / n_layers`` units (module docstring).

    Fields: ``layers`` (a tuple of :class:`~neurodyn.models.ESN`; layer 1 reads the input, the
    others have no input weights in use), ``w_inter`` (``(layers - 1, units, units)``, ``V_l``) and
    ``inter_gain`` (a scalar multiplying every ``V_l``). Ports: ``"u"`` (the input of layer 1; the
    default) and ``"x"`` (``n`` values added to the pre-activations, layer by layer).
    """

    n: int = None
    n_layers: int = None
    layers: tuple = ()
    w_inter: jax.Array = None
    inter_gain: jax.Array = 1.0

    VARIABLES: ClassVar[tuple] = ("x",)
    PORTS: ClassVar[tuple] = ("u", "x")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"x": "1"}
    time_unit: ClassVar[str] = "step"

    @classmethod
    def from_layers(cls, layers, w_inter, inter_gain: float = 1.0) -> "DeepESN":
        """A DeepESN from given ESN layers (equal sizes) and inter-layer matrices ``V_2 .. V_L``."""
        layers = tuple(layers)
        if not layers or not all(isinstance(layer, ESN) for layer in layers):
            raise SpecError("deep_esn: layers must be a non-empty sequence of ESN")
        units = layers[0].n
        if any(layer.n != units for layer in layers):
            raise SpecError(f"deep_esn: every layer needs the same number of units, got {[la.n for la in layers]}")
        dtype = layers[0].w.dtype
        w_inter = np.asarray(w_inter, float).reshape(-1, units, units) if len(layers) > 1 else \
            np.zeros((0, units, units))
        if w_inter.shape[0] != len(layers) - 1:
            raise SpecError(f"deep_esn: need {len(layers) - 1} inter-layer matrices of {units} x {units}, "
                            f"got {w_inter.shape[0]}")
        return cls(units * len(layers), len(layers), layers, jnp.asarray(w_inter, dtype),
                   jnp.asarray(inter_gain, dtype))

    @classmethod
    def create(cls, layers: int, units: int, n_inputs: int = 1, *, spectral_radius: float = 0.9,
               input_scaling: float = 1.0, inter_scaling: float = 1.0, bias_scaling: float = 0.0, leak: float = 1.0,
               density: float = 1.0, radius_of: str = "w", seed: int = 0, dtype=None) -> "DeepESN":
        """Random DeepESN: layer l's ``W_l`` U(-0.5, 0.5) with ``density``, scaled so that
        ``rho(W_l) = spectral_radius`` (``radius_of="w"``) or ``rho((1 - a) I + a W_l) =
        spectral_radius`` (``"leaky"``, the authors' DeepESN code); ``W_in`` U(-input_scaling,
        input_scaling); ``V_l`` U(-inter_scaling, inter_scaling), dense; biases U(-bias_scaling,
        bias_scaling). Layer l is drawn from ``seed + 10 l``."""
        layers = check_int("deep_esn: layers", layers)
        units = check_int("deep_esn: units", units)
        if radius_of not in RADIUS_OF:
            raise SpecError(f"deep_esn: radius_of must be one of {', '.join(map(repr, RADIUS_OF))}, got {radius_of!r}")
        d = float_dtype(dtype)
        stack = []
        for l in range(layers):
            rng = np.random.default_rng(seed + 10 * l + 1)
            w = _scaled(random_sparse(units, density=density, seed=seed + 10 * l), spectral_radius, leak, radius_of)
            w_in = rng.uniform(-input_scaling, input_scaling, (units, n_inputs)) if l == 0 else np.zeros((units, 1))
            bias = rng.uniform(-bias_scaling, bias_scaling, units) if bias_scaling > 0 else np.zeros(units)
            stack.append(ESN.from_matrices(w, w_in, bias, leak=leak, dtype=d))
        rng = np.random.default_rng(seed + 7)
        w_inter = rng.uniform(-inter_scaling, inter_scaling, (layers - 1, units, units))
        return cls.from_layers(stack, w_inter)

    @property
    def n_inputs(self) -> int:
        """Size of the input ``u`` (layer 1's)."""
        return self.layers[0].n_inputs

    def init(self, key: jax.Array) -> DeepESNState:
        """Zero state in every layer."""
        return DeepESNState(jnp.zeros(self.n, self.layers[0].w.dtype))

    def step(self, state: DeepESNState, drive=None, t=None) -> DeepESNState:
        """Layers in order; layer l > 1 receives ``inter_gain * V_l x_{l-1}(n)`` of this step."""
        units = self.n // self.n_layers
        xs = jnp.reshape(state.x, (self.n_layers, units))
        extra = drive_term(drive, "x", "u")
        extra = jnp.reshape(jnp.broadcast_to(extra, (self.n,)), (self.n_layers, units)) if jnp.ndim(extra) else None
        u = drive_term(drive, "u", "u")
        new = []
        for l, layer in enumerate(self.layers):
            pre = jnp.zeros(units, xs.dtype) if l == 0 else self.inter_gain * (self.w_inter[l - 1] @ new[-1])
            if extra is not None:
                pre = pre + extra[l]
            port = {"x": pre, "u": u} if l == 0 else {"x": pre}
            new.append(layer.step(ReservoirState(xs[l]), port, t).x)
        return DeepESNState(jnp.concatenate(new))

    def observe(self, state: DeepESNState) -> dict:
        """All layers' states ``x`` (layer 1 first)."""
        return {"x": state.x}

    def layer_states(self, x) -> list:
        """``x`` (``(..., n)``, e.g. harvested states) split into the layers' ``(..., units)`` parts."""
        return np.split(np.asarray(x), self.n_layers, axis=-1)

    def jacobian_at_origin(self) -> jax.Array:
        """The Jacobian of the step at x = 0 (zero input and bias): block lower-triangular, layer l's
        diagonal block ``(1 - a_l) I + a_l W_l``, so its spectrum is the union of the layers'."""
        return jax.jacfwd(lambda x: self.step(DeepESNState(x)).x)(jnp.zeros(self.n, self.layers[0].w.dtype))


def _scaled(w: np.ndarray, rho: float, leak: float, radius_of: str) -> np.ndarray:
    """``W`` scaled to ``rho(W) = rho`` or to ``rho((1 - a) I + a W) = rho``."""
    if radius_of == "w":
        current = spectral_radius(w)
        return w * (rho / current) if current > 0 else w
    eye = np.eye(len(w))
    jac = (1 - leak) * eye + leak * w
    jac = jac * (rho / spectral_radius(jac))
    return (jac - (1 - leak) * eye) / leak


def _deep_esn_from_spec(*, n, layers, n_inputs, spectral_radius, input_scaling, inter_scaling, bias_scaling, leak,
                        density, radius_of, seed, spec_seed, dtype) -> DeepESN:
    if n % layers:
        raise SpecError(f"deep_esn: n = {n} units do not divide into {layers} layers of equal size "
                        f"(try n = {layers * max(1, round(n / layers))})")
    return DeepESN.create(layers, n // layers, n_inputs, spectral_radius=spectral_radius, input_scaling=input_scaling,
                          inter_scaling=inter_scaling, bias_scaling=bias_scaling, leak=leak, density=density,
                          radius_of=radius_of, seed=seed if seed is not None else spec_seed or 0, dtype=dtype)


MODELS.register("deep_esn", _deep_esn_from_spec, (
    Field("layers", "integer", default=2, minimum=1, doc="number of layers L (n / L units each)"),
    Field("n_inputs", "integer", default=1, minimum=1, doc="size of the input u (port \"u\", layer 1)"),
    Field("spectral_radius", default=0.9, minimum=0.0, doc="spectral radius of every layer (see radius_of)"),
    Field("input_scaling", default=1.0, minimum=0.0, doc="W_in drawn U(-input_scaling, input_scaling)"),
    Field("inter_scaling", default=1.0, minimum=0.0, doc="inter-layer V_l drawn U(-inter_scaling, inter_scaling)"),
    Field("bias_scaling", default=0.0, minimum=0.0, doc="biases drawn U(-bias_scaling, bias_scaling)"),
    Field("leak", default=1.0, minimum=0.0, maximum=1.0, exclusive_minimum=True, doc="leak rate a of every layer"),
    Field("density", default=1.0, minimum=0.0, maximum=1.0, exclusive_minimum=True,
          doc="fraction of non-zero entries of each W_l"),
    Field("radius_of", "choice", default="w", choices=RADIUS_OF,
          doc="scale rho(W_l) (w) or rho((1 - a) I + a W_l) (leaky, the authors' code)"),
    dataclasses.replace(SEED_FIELD, doc="seed of every layer's matrices"),
), summary="Deep echo state network: L leaky ESN layers updated in order within a step, layer l driven by layer "
           "l-1's state; x = all layers' states.",
    citation="C. Gallicchio, A. Micheli, L. Pedrelli, Deep reservoir computing: A critical experimental analysis, "
             "Neurocomputing 268:87 (2017)",
    example={"n": 12, "layers": 3, "spectral_radius": 0.9, "leak": 0.6, "bias_scaling": 0.2, "inter_scaling": 0.5,
             "seed": 1},
    context=("spec_seed", "dtype"), cls=DeepESN)
