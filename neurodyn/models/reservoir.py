"""Echo state networks (MODELS.md 1): the leaky-integrator ESN and its linear variant.

``x(n) = (1 - a) x(n-1) + a phi(W_in [1; u(n)] + W x(n-1))`` with ``phi = tanh`` (or the
identity for the linear reservoir), leak rate ``a`` in (0, 1], input u(n) given as the drive
(shape ``(n_inputs,)`` per step). W is dense: at the sizes reservoirs use (N <= a few thousand)
a dense matvec (and, batched over a sweep, a matmul) beats a sparse gather on CPU.
References: H. Jaeger, GMD Report 148 (2001); M. Lukoševičius, "A Practical Guide to Applying
Echo State Networks" (2012).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..connectivity.matrices import random_sparse, scale_to_spectral_radius
from ..core.model import Model, drive_term, float_dtype
from ..errors import SpecError
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field


class ReservoirState(NamedTuple):
    """Reservoir activations ``x`` (shape ``(N,)``)."""

    x: jax.Array


@pytree_dataclass(static=("n", "n_inputs", "activation"))
class ESN(Model):
    """Leaky-integrator echo state network (``activation="tanh"``) or linear reservoir
    (``activation="identity"``).

    Fields: ``w`` (N x N recurrent matrix), ``w_in`` (N x n_inputs), ``bias`` (N), ``leak`` (a),
    and two scalar gains, ``recurrent_gain`` and ``input_gain``: the step uses
    ``recurrent_gain * W`` and ``input_gain * W_in``. Sweeping the gains (e.g. the spectral radius
    of a W normalised to rho(W) = 1) keeps ONE shared matrix, so a vmapped batch of reservoirs
    steps with one matrix-matrix product instead of one matrix per point.
    """

    n: int
    n_inputs: int
    activation: str
    w: jax.Array
    w_in: jax.Array
    bias: jax.Array
    leak: jax.Array
    recurrent_gain: jax.Array
    input_gain: jax.Array

    VARIABLES: ClassVar[tuple] = ("x",)
    PORTS: ClassVar[tuple] = ("u", "x")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"x": "1"}
    time_unit: ClassVar[str] = "step"

    @classmethod
    def from_matrices(cls, w, w_in, bias=None, *, leak: float = 1.0, activation: str = "tanh",
                      dtype=None) -> "ESN":
        """A reservoir with a given recurrent matrix (e.g. orthogonal or cyclic) and inputs."""
        d = float_dtype(dtype)
        w = np.asarray(w, float)
        w_in = np.asarray(w_in, float).reshape(w.shape[0], -1)
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise SpecError(f"recurrent matrix must be square, got shape {w.shape}")
        if activation not in ("tanh", "identity"):
            raise SpecError(f"activation must be 'tanh' or 'identity', got {activation!r}")
        if not 0 < leak <= 1:
            raise SpecError(f"leak rate must be in (0, 1], got {leak}")
        bias = np.zeros(w.shape[0]) if bias is None else np.broadcast_to(np.asarray(bias, float), (w.shape[0],))
        return cls(w.shape[0], w_in.shape[1], activation, jnp.asarray(w, d), jnp.asarray(w_in, d),
                   jnp.asarray(bias, d), jnp.asarray(leak, d), jnp.asarray(1.0, d), jnp.asarray(1.0, d))

    @classmethod
    def create(cls, n: int, n_inputs: int = 1, *, spectral_radius: float = 0.9, input_scaling: float = 1.0,
               bias_scaling: float = 0.0, leak: float = 1.0, density: float = 0.1, activation: str = "tanh",
               seed: int = 0, dtype=None) -> "ESN":
        """Random reservoir: sparse W (``density``, U(-0.5, 0.5)) scaled to ``spectral_radius``,
        dense ``W_in`` U(-input_scaling, input_scaling), bias U(-bias_scaling, bias_scaling)."""
        rng = np.random.default_rng(seed + 1)
        w = scale_to_spectral_radius(random_sparse(n, density=density, seed=seed), spectral_radius)
        w_in = rng.uniform(-input_scaling, input_scaling, (n, n_inputs))
        bias = rng.uniform(-bias_scaling, bias_scaling, n) if bias_scaling > 0 else np.zeros(n)
        return cls.from_matrices(w, w_in, bias, leak=leak, activation=activation, dtype=dtype)

    def init(self, key: jax.Array) -> ReservoirState:
        """Zero initial state (the usual reservoir convention)."""
        return ReservoirState(jnp.zeros(self.n, self.w.dtype))

    def step(self, state: ReservoirState, drive=None, t=None) -> ReservoirState:
        """``x <- (1 - a) x + a phi(g W x + g_in W_in u + b + I)``.

        Ports: ``"u"`` the input vector (``n_inputs`` values, through ``W_in``; the default port),
        ``"x"`` an additive input ``I`` to the pre-activation of every unit (a coupling or a
        projection from another population)."""
        pre = self.recurrent_gain * (self.w @ state.x) + self.bias + drive_term(drive, "x", "u")
        u = drive_term(drive, "u", "u")
        if not (isinstance(u, float) and u == 0.0):
            pre = pre + self.input_gain * (self.w_in @ jnp.reshape(jnp.asarray(u, self.w.dtype), (self.n_inputs,)))
        act = jnp.tanh(pre) if self.activation == "tanh" else pre
        return ReservoirState((1 - self.leak) * state.x + self.leak * act)

    def observe(self, state: ReservoirState) -> dict:
        """The reservoir state ``x``."""
        return {"x": state.x}

    @property
    def effective_w(self) -> jax.Array:
        """The recurrent matrix the step uses, ``recurrent_gain * W``."""
        return self.recurrent_gain * self.w

    def jacobian_at_origin(self) -> jax.Array:
        """``J0 = (1 - a) I + a g W`` (the linearisation at x = 0 with zero input and bias)."""
        return (1 - self.leak) * jnp.eye(self.n, dtype=self.w.dtype) + self.leak * self.effective_w


def _esn_from_spec(*, n, n_inputs, spectral_radius, input_scaling, bias_scaling, leak, density, activation, seed,
                   spec_seed, dtype) -> ESN:
    return ESN.create(n, n_inputs, spectral_radius=spectral_radius, input_scaling=input_scaling,
                      bias_scaling=bias_scaling, leak=leak, density=density, activation=activation,
                      seed=seed if seed is not None else spec_seed or 0, dtype=dtype)


MODELS.register("esn", _esn_from_spec, (
    Field("n_inputs", "integer", default=1, minimum=1, doc="size of the input u (port \"u\")"),
    Field("spectral_radius", default=0.9, minimum=0.0, doc="spectral radius of the recurrent matrix W"),
    Field("input_scaling", default=1.0, minimum=0.0, doc="W_in drawn U(-input_scaling, input_scaling)"),
    Field("bias_scaling", default=0.0, minimum=0.0, doc="bias drawn U(-bias_scaling, bias_scaling)"),
    Field("leak", default=1.0, minimum=0.0, maximum=1.0, exclusive_minimum=True, doc="leak rate a"),
    Field("density", default=0.1, minimum=0.0, maximum=1.0, exclusive_minimum=True,
          doc="fraction of non-zero entries of W"),
    Field("activation", "choice", default="tanh", choices=("tanh", "identity"),
          doc="phi: tanh, or the identity (linear reservoir)"),
    Field("seed", "integer", default=None, minimum=0, doc="seed of W, W_in and the bias",
          default_text="the spec's seed"),
), summary="Leaky-integrator echo state network x(n) = (1 - a) x(n-1) + a phi(W_in u(n) + W x(n-1) + b).",
    citation="H. Jaeger, GMD Report 148 (2001); M. Lukoševičius, A Practical Guide to Applying Echo State "
             "Networks (2012)",
    example={"n": 20, "spectral_radius": 0.9, "leak": 0.5, "bias_scaling": 0.2, "seed": 1},
    context=("spec_seed", "dtype"), cls=ESN)
