"""Residual reservoirs: the residual echo state network (ResESN), its deep stack (DeepResESN)
and the residual reservoir memory network (ResRMN). Equations and conventions: docs/models/reservoirs.md.

ResESN (Ceni & Gallicchio 2024):
``x(n) = alpha O x(n-1) + beta tanh(W x(n-1) + W_in u(n) + b + I(n))`` with a fixed orthogonal
``O`` (random orthogonal, the cyclic permutation or the identity), ``alpha >= 0`` scaling the
linear residual branch and ``beta > 0`` the non-linear one. ``O = I``, ``alpha = 1 - a``,
``beta = a`` is exactly the leaky ESN with leak rate ``a``. Column-vector convention (``O @ x``):
the authors' code multiplies row vectors (``h @ O``), i.e. uses ``O^T``; for the cycle this flips
the direction of the shift.

Stability (checked when a ResESN is built): at the origin the Jacobian is ``alpha O + beta W``,
so ``rho(alpha O + beta W) < 1`` is necessary for fading memory; ``alpha + beta ||W||_2 < 1`` is
sufficient (a global contraction, ``||O||_2 = 1`` and tanh 1-Lipschitz).

DeepResESN (Pinna, Ceni, Gallicchio 2025) stacks ResESN layers, layer l fed by layer l-1's state
of the same step; ResRMN (Pinna, Ceni, Gallicchio 2025) feeds a linear cyclic memory reservoir
``m(n) = V m(n-1) + V_x u(n)`` into a ResESN (``+ W_m m(n)`` in its pre-activation). Both are
:func:`neurodyn.stack` networks of ordinary models.
"""

from __future__ import annotations

import warnings
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..connectivity.matrices import cyclic, largest_singular_value, random_orthogonal, random_sparse
from ..connectivity.matrices import scale_to_spectral_radius, spectral_radius
from ..core.model import Model, drive_term, float_dtype
from ..core.network import Network, stack
from ..errors import SpecError, check_int
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field
from .couplings import LinearProjection
from .reservoir import ACTIVATION_FIELD, ESN, activate, add_input, check_activation

ORTHOGONAL = ("random", "cycle", "identity")
STABILITY = ("warn", "strict", "off")


class StabilityWarning(UserWarning):
    """A reservoir violates the necessary condition for fading memory (echo states)."""


class ResidualState(NamedTuple):
    """Reservoir state ``x`` (shape ``(N,)``)."""

    x: jax.Array


def orthogonal_matrix(n: int, kind: str, seed: int = 0) -> np.ndarray:
    """The residual branch ``O``: ``"random"`` (Q of the QR of a U(-1, 1) matrix), ``"cycle"``
    (``O[0, n-1] = 1``, ``O[i, i-1] = 1``) or ``"identity"``."""
    if kind == "random":
        return random_orthogonal(n, seed)
    if kind == "cycle":
        return cyclic(n)
    if kind == "identity":
        return np.eye(n)
    raise SpecError(f"orthogonal: unknown value {kind!r} (allowed: {', '.join(ORTHOGONAL)})")


def stability_margins(w, o, alpha: float, beta: float) -> tuple[float, float]:
    """``(rho(alpha O + beta W), alpha + beta ||W||_2)``: the necessary (< 1) and sufficient
    (< 1) quantities of the ResESN stability conditions."""
    jac = alpha * np.asarray(o, float) + beta * np.asarray(w, float)
    return spectral_radius(jac), alpha + beta * largest_singular_value(w)


@pytree_dataclass(static=("n", "n_inputs", "orthogonal", "activation"))
class ResESN(Model):
    """Residual echo state network (equations in the module docstring).

    Fields: ``w`` (N x N), ``w_in`` (N x n_inputs), ``bias`` (N), ``o`` (N x N for a random
    orthogonal branch; unused, shape (0,), for ``"cycle"`` and ``"identity"``, which are applied
    as a shift and a copy), ``alpha``, ``beta``; ``activation`` (static) is ``"tanh"`` or
    ``"identity"`` (``x = alpha O x + beta (W x + W_in u + b + I)``: a linear reservoir, e.g. the
    memory module of a ResRMN). Ports: ``"u"`` (the input, through ``W_in``; the
    default) and ``"x"`` (an additive pre-activation input, e.g. from a projection).
    """

    n: int
    n_inputs: int
    orthogonal: str
    w: jax.Array
    w_in: jax.Array
    bias: jax.Array
    o: jax.Array
    alpha: jax.Array
    beta: jax.Array
    activation: str = "tanh"

    VARIABLES: ClassVar[tuple] = ("x",)
    PORTS: ClassVar[tuple] = ("u", "x")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"x": "1"}
    time_unit: ClassVar[str] = "iteration"

    @classmethod
    def from_matrices(cls, w, w_in, bias=None, *, o="identity", alpha: float = 0.9, beta: float = 0.1,
                      stability: str = "warn", activation: str = "tanh", dtype=None) -> "ResESN":
        """A ResESN from given matrices; ``o`` is ``"identity"``, ``"cycle"`` or an orthogonal matrix;
        ``activation`` the non-linearity of the second branch (``"tanh"`` or ``"identity"``)."""
        check_activation("res_esn: activation", activation)
        d = float_dtype(dtype)
        w = np.asarray(w.toarray() if hasattr(w, "toarray") else w, float)
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise SpecError(f"res_esn: the recurrent matrix must be square, got shape {w.shape}")
        n = w.shape[0]
        w_in = np.asarray(w_in.toarray() if hasattr(w_in, "toarray") else w_in, float).reshape(n, -1)
        bias = np.zeros(n) if bias is None else np.broadcast_to(np.asarray(bias, float), (n,))
        if not float(alpha) >= 0 or not float(beta) > 0:
            raise SpecError(f"res_esn: need alpha >= 0 and beta > 0, got alpha={alpha}, beta={beta}")
        if stability not in STABILITY:
            raise SpecError(f"res_esn: stability must be one of {STABILITY}, got {stability!r}")
        if isinstance(o, str):
            kind, o_matrix = o, orthogonal_matrix(n, o)
        else:
            kind, o_matrix = "matrix", np.asarray(o, float)
            if o_matrix.shape != (n, n) or not np.allclose(o_matrix @ o_matrix.T, np.eye(n), atol=1e-8):
                raise SpecError(f"res_esn: O must be an orthogonal {n} x {n} matrix")
        if stability != "off":
            necessary, sufficient = stability_margins(w, o_matrix, float(alpha), float(beta))
            if necessary >= 1:
                msg = (f"res_esn: rho(alpha O + beta W) = {necessary:.4f} >= 1: the reservoir has no fading memory "
                       f"at the origin (alpha + beta ||W||_2 = {sufficient:.4f}; both must be < 1 for a contraction)")
                if stability == "strict":
                    raise SpecError(msg)
                warnings.warn(msg, StabilityWarning, stacklevel=2)
        stored = o_matrix if kind in ("random", "matrix") else np.zeros((0,))
        return cls(n, w_in.shape[1], "matrix" if kind == "random" else kind, jnp.asarray(w, d), jnp.asarray(w_in, d),
                   jnp.asarray(bias, d), jnp.asarray(stored, d), jnp.asarray(alpha, d), jnp.asarray(beta, d),
                   activation)

    @classmethod
    def create(cls, n: int, n_inputs: int = 1, *, alpha: float = 0.9, beta: float = 0.1,
               spectral_radius: float = 0.9, input_scaling: float = 1.0, bias_scaling: float = 0.0,
               orthogonal: str = "random", density: float = 1.0, stability: str = "warn", seed: int = 0,
               activation: str = "tanh", dtype=None) -> "ResESN":
        """Random ResESN: W U(-0.5, 0.5) with the given density (dense by default, as in the
        authors' experiments) scaled to ``spectral_radius``; ``W_in`` U(-input_scaling,
        input_scaling); bias U(-bias_scaling, bias_scaling); O of kind ``orthogonal``; ``activation``
        ``"tanh"`` or ``"identity"``."""
        n, n_inputs = check_int("res_esn: n", n), check_int("res_esn: n_inputs", n_inputs)
        rng = np.random.default_rng(seed + 1)
        w = scale_to_spectral_radius(random_sparse(n, density=density, seed=seed), spectral_radius)
        w_in = rng.uniform(-input_scaling, input_scaling, (n, n_inputs))
        bias = rng.uniform(-bias_scaling, bias_scaling, n) if bias_scaling > 0 else np.zeros(n)
        o = orthogonal_matrix(n, orthogonal, seed + 2) if orthogonal == "random" else orthogonal
        return cls.from_matrices(w, w_in, bias, o=o, alpha=alpha, beta=beta, stability=stability,
                                 activation=activation, dtype=dtype)

    def init(self, key: jax.Array) -> ResidualState:
        """Zero initial state."""
        return ResidualState(jnp.zeros(self.n, self.w.dtype))

    def residual(self, x: jax.Array) -> jax.Array:
        """``O x``: a matrix product, a cyclic shift (``(O x)_i = x_{i-1}``) or ``x``."""
        if self.orthogonal == "cycle":
            return jnp.roll(x, 1)
        if self.orthogonal == "identity":
            return x
        return self.o @ x

    def step(self, state: ResidualState, drive=None, t=None) -> ResidualState:
        """``x <- alpha O x + beta phi(W x + W_in u + b + I)``, ``phi`` tanh or the identity."""
        pre = add_input(self.w @ state.x + self.bias + drive_term(drive, "x", "u"), self.w_in, drive)
        return ResidualState(self.alpha * self.residual(state.x) + self.beta * activate(pre, self.activation))

    def observe(self, state: ResidualState) -> dict:
        """The reservoir state ``x``."""
        return {"x": state.x}

    def jacobian_at_origin(self) -> jax.Array:
        """``alpha O + beta W`` (zero input and bias)."""
        o = self.residual(jnp.eye(self.n, dtype=self.w.dtype))
        return self.alpha * o + self.beta * self.w


def deep_res_esn(layers: int, units: int, n_inputs: int = 1, *, alpha: float = 0.9, beta: float = 0.1,
                 spectral_radius: float = 0.9, input_scaling: float = 1.0, inter_scaling: float = 1.0,
                 bias_scaling: float = 0.0, orthogonal: str = "random", stability: str = "warn", seed: int = 0,
                 dtype=None) -> Network:
    """DeepResESN: ``layers`` ResESN layers of ``units`` units updated in order within a step;
    layer 1 reads the input (port ``"u"`` of population ``"layer1"``), layer l > 1 reads layer
    l-1's state of the same step through ``W_x^(l)`` U(-inter_scaling, inter_scaling) (a
    projection into its port ``"x"``). Populations ``layer1 ... layerL``."""
    layers = check_int("deep_res_esn: layers", layers)
    pops, projections = {}, {}
    for l in range(1, layers + 1):
        pops[f"layer{l}"] = ResESN.create(units, n_inputs, alpha=alpha, beta=beta, spectral_radius=spectral_radius,
                                          input_scaling=input_scaling if l == 1 else 0.0, bias_scaling=bias_scaling,
                                          orthogonal=orthogonal, stability=stability, seed=seed + 10 * l, dtype=dtype)
        if l > 1:
            w_x = np.random.default_rng(seed + 10 * l + 5).uniform(-inter_scaling, inter_scaling, (units, units))
            projections[f"layer{l - 1}_to_layer{l}"] = LinearProjection.create(
                f"layer{l - 1}", f"layer{l}", w_x, observable="x", port="x", dtype=dtype)
    return stack(pops, projections)


def res_rmn(memory_units: int, units: int, n_inputs: int = 1, *, alpha: float = 0.9, beta: float = 0.1,
            spectral_radius: float = 0.9, memory_input_scaling: float = 1.0, input_scaling: float = 1.0,
            memory_scaling: float = 1.0, bias_scaling: float = 0.0, orthogonal: str = "identity",
            stability: str = "warn", seed: int = 0, dtype=None) -> Network:
    """ResRMN: population ``"memory"`` (a linear reservoir ``m(n) = V m(n-1) + V_x u(n)`` with the
    cyclic permutation V, unit spectral radius: a lossless delay line) updated before population
    ``"reservoir"`` (a ResESN receiving ``W_m m(n)`` of the same step in its pre-activation).
    Drive both with the input: ``{"memory": u, "reservoir": u}``."""
    rng = np.random.default_rng(seed + 3)
    v_x = rng.uniform(-memory_input_scaling, memory_input_scaling, (memory_units, n_inputs))
    memory = ESN.from_matrices(cyclic(memory_units), v_x, activation="identity", leak=1.0, dtype=dtype)
    reservoir = ResESN.create(units, n_inputs, alpha=alpha, beta=beta, spectral_radius=spectral_radius,
                              input_scaling=input_scaling, bias_scaling=bias_scaling, orthogonal=orthogonal,
                              stability=stability, seed=seed, dtype=dtype)
    w_m = rng.uniform(-memory_scaling, memory_scaling, (units, memory_units))
    return stack({"memory": memory, "reservoir": reservoir},
                 {"memory_to_reservoir": LinearProjection.create("memory", "reservoir", w_m, observable="x",
                                                                 port="x", dtype=dtype)})


def _res_esn_from_spec(*, n, seed, spec_seed, dtype, **fields) -> ResESN:
    return ResESN.create(n, seed=seed if seed is not None else spec_seed or 0, dtype=dtype, **fields)


MODELS.register("res_esn", _res_esn_from_spec, (
    Field("n_inputs", "integer", default=1, minimum=1, doc="size of the input u (port \"u\")"),
    Field("alpha", default=0.9, minimum=0.0, doc="scale of the linear residual branch alpha O x"),
    Field("beta", default=0.1, minimum=0.0, exclusive_minimum=True, doc="scale of the non-linear branch"),
    Field("spectral_radius", default=0.9, minimum=0.0, doc="spectral radius of W"),
    Field("input_scaling", default=1.0, minimum=0.0, doc="W_in drawn U(-input_scaling, input_scaling)"),
    Field("bias_scaling", default=0.0, minimum=0.0, doc="bias drawn U(-bias_scaling, bias_scaling)"),
    Field("orthogonal", "choice", default="random", choices=ORTHOGONAL, doc="the residual branch O"),
    Field("density", default=1.0, minimum=0.0, maximum=1.0, exclusive_minimum=True,
          doc="fraction of non-zero entries of W (the authors' experiments use dense W)"),
    Field("stability", "choice", default="warn", choices=STABILITY,
          doc="rho(alpha O + beta W) >= 1: warn, refuse (strict) or say nothing"),
    ACTIVATION_FIELD,
    Field("seed", "integer", default=None, minimum=0, doc="seed of W, W_in, the bias and O",
          default_text="the spec's seed"),
), summary="Residual echo state network x(n) = alpha O x(n-1) + beta phi(W x(n-1) + W_in u(n) + b), phi = tanh "
           "or the identity (a linear memory module, as in a ResRMN).",
    citation="A. Ceni, C. Gallicchio, Residual Echo State Networks: Residual recurrent neural networks with stable "
             "dynamics and fast learning, Neurocomputing (2024)",
    example={"n": 12, "alpha": 0.5, "beta": 0.5, "spectral_radius": 0.8, "bias_scaling": 0.2, "seed": 2},
    context=("spec_seed", "dtype"), cls=ResESN)
