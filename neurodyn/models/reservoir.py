"""Echo state networks (docs/models/reservoirs.md): the leaky-integrator ESN and its linear variant.

``x(n) = (1 - a) x(n-1) + a phi(W_in [1; u(n)] + W x(n-1))`` with ``phi = tanh`` (or the
identity for the linear reservoir), leak rate ``a`` in (0, 1], input u(n) given as the drive
(shape ``(n_inputs,)`` per step). W is dense for small reservoirs; from a few hundred units at
reservoir densities it is held in CSR form (:func:`use_sparse` decides; ``sparse=`` overrides),
multiplied per step by :mod:`neurodyn.ops.sparse_matvec` and harvested by
:mod:`neurodyn.ops.leaky_recurrence` (the whole input sequence in one native call).
References: H. Jaeger, GMD Report 148 (2001); M. Lukoševičius, "A Practical Guide to Applying
Echo State Networks" (2012).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..connectivity.matrices import random_sparse, scale_to_spectral_radius
from ..core.model import Model, drive_term, float_dtype
from ..errors import SpecError, check_int
from ..ops.leaky_recurrence import leaky_recurrence
from ..ops.sparse_matvec import SparseMatrix
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field


def add_input(pre: jax.Array, w_in: jax.Array, drive, gain=1.0) -> jax.Array:
    """``pre + gain * W_in u`` for the input ``u`` on port ``"u"`` of ``drive`` (``pre`` unchanged,
    with no product, when there is none); ``u`` is reshaped to ``W_in``'s input size."""
    u = drive_term(drive, "u", "u")
    if isinstance(u, float) and u == 0.0:
        return pre
    return pre + gain * (w_in @ jnp.reshape(jnp.asarray(u, w_in.dtype), (w_in.shape[1],)))


ACTIVATIONS = ("tanh", "identity")


def activate(pre: jax.Array, activation: str) -> jax.Array:
    """The reservoir non-linearity ``phi(pre)``: ``tanh(pre)`` (``"tanh"``) or ``pre`` (``"identity"``,
    a linear reservoir); ``activation`` is static (a compile-time choice)."""
    return jnp.tanh(pre) if activation == "tanh" else pre


def check_activation(where: str, activation: str) -> str:
    """``activation`` if it is one of :data:`ACTIVATIONS`, else a :class:`SpecError` naming ``where``."""
    if activation not in ACTIVATIONS:
        raise SpecError(f"{where}: must be one of {', '.join(map(repr, ACTIVATIONS))}, got {activation!r}")
    return activation


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

    ``ESN(w=W, w_in=W_in, leak=0.5)`` takes the matrices directly (NumPy, JAX or scipy.sparse;
    sizes from ``W``), like :meth:`from_matrices`; :meth:`create` draws a random reservoir.

    Output feedback (H. Jaeger, GMD Report 148, 2001; docs/models/reservoirs.md): ``w_feedback``
    (N x n_outputs, :meth:`with_feedback`) adds ``W_fb y`` to the pre-activation, ``y`` the
    output given on port ``"y"``: the teacher's previous output while training
    (``harvest(..., teacher=targets)``), the readout's own previous output in closed loop
    (``generate(..., feedback_port="y")``).
    """

    n: int = None
    n_inputs: int = None
    activation: str = "tanh"
    w: jax.Array = None
    w_in: jax.Array = None
    bias: jax.Array = None
    leak: jax.Array = 1.0
    recurrent_gain: jax.Array = 1.0
    input_gain: jax.Array = 1.0
    w_feedback: jax.Array = None

    VARIABLES: ClassVar[tuple] = ("x",)
    PORTS: ClassVar[tuple] = ("u", "x", "y")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"x": "1"}
    time_unit: ClassVar[str] = "step"
    # spec fields that scale a drawn matrix linearly (W to its spectral radius, W_in by the input
    # scaling): a sweep of the field is a sweep of the gain relative to the spec's value
    SPEC_GAINS: ClassVar[dict] = {"spectral_radius": "recurrent_gain", "input_scaling": "input_gain"}

    def __post_init__(self):
        # n is None only when a user calls ESN(w=..., ...): JAX rebuilds a model with its stored
        # sizes and whatever leaves it holds (tracers, None, placeholders), which pass through
        if self.n is not None:
            return
        if self.w is None or self.w_in is None:
            raise SpecError("ESN: give the recurrent matrix w (N x N) and the input matrix w_in (N x n_inputs), "
                            "or draw a random reservoir with ESN.create(n, ...)")
        w, w_in, bias, leak = _matrices(self.w, self.w_in, self.bias, self.leak, self.activation, None)
        d = w.dtype
        gains = {name: jnp.asarray(_scalar(getattr(self, name), name), d) for name in ("recurrent_gain", "input_gain")}
        for name, value in dict(n=w.shape[0], n_inputs=w_in.shape[1], w=w, w_in=w_in, bias=bias, leak=leak,
                                **gains).items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_matrices(cls, w, w_in, bias=None, *, leak: float = 1.0, activation: str = "tanh",
                      dtype=None, sparse: bool | None = None) -> "ESN":
        """A reservoir with a given recurrent matrix (e.g. orthogonal or cyclic) and inputs:
        NumPy or JAX arrays, nested lists or scipy.sparse matrices. ``sparse``: hold W in CSR form
        (True), dense (False) or as :func:`use_sparse` decides (None)."""
        w, w_in, bias, leak = _matrices(w, w_in, bias, leak, activation, dtype, sparse)
        one = jnp.asarray(1.0, w.dtype)
        return cls(w.shape[0], w_in.shape[1], activation, w, w_in, bias, leak, one, one)

    @classmethod
    def create(cls, n: int, n_inputs: int = 1, *, spectral_radius: float = 0.9, input_scaling: float = 1.0,
               bias_scaling: float = 0.0, leak: float = 1.0, density: float = 0.1, activation: str = "tanh",
               seed: int = 0, dtype=None, sparse: bool | None = None) -> "ESN":
        """Random reservoir: sparse W (``density``, U(-0.5, 0.5)) scaled to ``spectral_radius``,
        dense ``W_in`` U(-input_scaling, input_scaling), bias U(-bias_scaling, bias_scaling);
        ``sparse`` as in :meth:`from_matrices`."""
        rng = np.random.default_rng(seed + 1)
        w = scale_to_spectral_radius(random_sparse(n, density=density, seed=seed), spectral_radius)
        w_in = rng.uniform(-input_scaling, input_scaling, (n, n_inputs))
        bias = rng.uniform(-bias_scaling, bias_scaling, n) if bias_scaling > 0 else np.zeros(n)
        return cls.from_matrices(w, w_in, bias, leak=leak, activation=activation, dtype=dtype, sparse=sparse)

    def with_feedback(self, n_outputs: int = 1, *, scaling: float = 1.0, seed: int = 0, matrix=None) -> "ESN":
        """The same reservoir with output feedback: ``W_fb`` given as ``matrix`` (N x n_outputs) or
        drawn U(-scaling, scaling) from ``seed``."""
        if matrix is None:
            n_outputs = check_int("ESN.with_feedback: n_outputs", n_outputs, 1)
            matrix = np.random.default_rng(seed).uniform(-scaling, scaling, (self.n, n_outputs))
        w_fb = _dense(matrix, "w_feedback")
        if w_fb.ndim == 1:
            w_fb = w_fb[:, None]
        if w_fb.ndim != 2 or w_fb.shape[0] != self.n:
            raise SpecError(f"ESN.w_feedback: expected {self.n} rows (one per unit), got shape {w_fb.shape}")
        return dataclasses.replace(self, w_feedback=jnp.asarray(w_fb, self.w.dtype))

    def init(self, key: jax.Array) -> ReservoirState:
        """Zero initial state (the usual reservoir convention)."""
        return ReservoirState(jnp.zeros(self.n, self.w.dtype))

    def step(self, state: ReservoirState, drive=None, t=None) -> ReservoirState:
        """``x <- (1 - a) x + a phi(g W x + g_in W_in u + b + I)``.

        Ports: ``"u"`` the input vector (``n_inputs`` values, through ``W_in``; the default port),
        ``"x"`` an additive input ``I`` to the pre-activation of every unit (a coupling or a
        projection from another population), ``"y"`` the fed-back output (through
        ``w_feedback``, when the reservoir has one)."""
        pre = self.recurrent_gain * (self.w @ state.x) + self.bias + drive_term(drive, "x", "u")
        pre = add_input(pre, self.w_in, drive, self.input_gain)
        y = drive_term(drive, "y", "u")
        if self.w_feedback is not None and not (isinstance(y, float) and y == 0.0):
            pre = pre + self.w_feedback @ jnp.reshape(jnp.asarray(y, self.w_feedback.dtype),
                                                      (self.w_feedback.shape[1],))
        return ReservoirState((1 - self.leak) * state.x + self.leak * activate(pre, self.activation))

    def observe(self, state: ReservoirState) -> dict:
        """The reservoir state ``x``."""
        return {"x": state.x}

    def input_states(self, state: ReservoirState, inputs: jax.Array) -> jax.Array:
        """The states ``(T, N)`` after each of T steps from ``state`` with the inputs ``(T,
        n_inputs)`` on port ``"u"`` and nothing else (no feedback): what :meth:`step`, iterated,
        gives, computed as ``v = g_in U W_in^T + b`` for all steps at once followed by the
        recurrence of :func:`neurodyn.ops.leaky_recurrence.leaky_recurrence` (one native call
        for the T steps where W is sparse; a ``jax.lax.scan`` where it is dense)."""
        if self.w_feedback is not None:
            raise SpecError("ESN.input_states: the reservoir has output feedback; iterate step with the outputs")
        u = jnp.reshape(jnp.asarray(inputs, self.w_in.dtype), (-1, self.n_inputs))
        drive = self.input_gain * (u @ self.w_in.T) + self.bias
        if isinstance(self.w, SparseMatrix):
            return leaky_recurrence(self.w, drive, state.x, self.leak, self.recurrent_gain, activation=self.activation)

        def step(x, v):
            new = (1 - self.leak) * x + self.leak * activate(self.recurrent_gain * (self.w @ x) + v, self.activation)
            return new, new

        return jax.lax.scan(step, state.x, drive)[1]

    @property
    def effective_w(self) -> jax.Array:
        """The recurrent matrix the step uses, ``recurrent_gain * W`` (dense)."""
        return self.recurrent_gain * (self.w.todense() if isinstance(self.w, SparseMatrix) else self.w)

    def jacobian_at_origin(self) -> jax.Array:
        """``J0 = (1 - a) I + a g W`` (the linearisation at x = 0 with zero input and bias)."""
        return (1 - self.leak) * jnp.eye(self.n, dtype=self.w.dtype) + self.leak * self.effective_w


def _dense(value, name: str) -> np.ndarray:
    """A float NumPy array from a dense array, a nested list or a (scipy or JAX) sparse matrix."""
    if hasattr(value, "toarray"):
        value = value.toarray()
    elif hasattr(value, "todense"):
        value = value.todense()
    try:
        return np.asarray(value, float)
    except (TypeError, ValueError):
        raise SpecError(f"ESN.{name}: expected a matrix of numbers, got {type(value).__name__}") from None


def _scalar(value, name: str) -> float:
    try:
        arr = np.asarray(value, float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim:
        raise SpecError(f"ESN.{name}: expected a number, got {value!r}")
    return float(arr)


SPARSE_MIN_UNITS = {np.dtype(np.float32): 500, np.dtype(np.float64): 256}
SPARSE_MAX_DENSITY = 0.25


def use_sparse(n: int, nnz: int, dtype) -> bool:
    """Whether an N-unit recurrent matrix with ``nnz`` non-zeros is held sparse: a density of at
    most :data:`SPARSE_MAX_DENSITY` (so the values and indices are at most half the dense bytes in
    float32) and at least :data:`SPARSE_MIN_UNITS` units, 500 in float32 and 256 in float64. A
    sparse ESN harvests through :func:`neurodyn.ops.leaky_recurrence.leaky_recurrence` (the T
    steps in one native call). Against XLA's dense scan at 10 % density (``python -m benchmarks
    reservoir_harvest``, microseconds per step): on the quiet machine float32 N = 500 sparse 9.6
    against dense 12.5 (a run for issue 25); at load 4.5-8 on the 2-core machine, where the
    kernel's two threads seldom run at once, N = 500 traded places (sparse 13-30 against
    dense 12-27 over six runs; a vmapped sweep of a dense W is also one matmul), N = 1,000 42-72
    against 63-89, N = 2,000 152-387 against 312-814; float64 N = 250 13 against 12 (a tie),
    N = 500 22-37 against 40-59, N = 2,000 183-490 against 1,036-3,727 (docs/models/reservoirs.md,
    "Large sparse reservoirs")."""
    return n >= SPARSE_MIN_UNITS.get(np.dtype(dtype), 1000) and nnz <= SPARSE_MAX_DENSITY * n * n


def _recurrent(w, d, sparse):
    """``W`` checked square, as a dense JAX array or a :class:`SparseMatrix` (``sparse``: True,
    False or None for :func:`use_sparse`)."""
    if isinstance(w, SparseMatrix):
        shape, nnz = w.shape, w.nnz
    elif hasattr(w, "tocsr"):  # scipy.sparse: never densified when held sparse
        w = w.tocsr()
        shape, nnz = w.shape, w.count_nonzero()
    else:
        w = _dense(w, "w")
        shape, nnz = w.shape, None
    if len(shape) != 2 or shape[0] != shape[1]:
        raise SpecError(f"ESN.w: the recurrent matrix must be square, got shape {tuple(shape)}")
    if sparse is None:
        nnz = nnz if nnz is not None else int(np.count_nonzero(w))
        sparse = use_sparse(shape[0], nnz, d)
    if sparse:
        if isinstance(w, SparseMatrix):
            return SparseMatrix(w.shape, w.indptr, w.indices, w.rows, w.data.astype(d))
        return SparseMatrix.from_scipy(w, d) if hasattr(w, "tocsr") else SparseMatrix.from_dense(w, d)
    if isinstance(w, SparseMatrix):
        return w.todense().astype(d)
    return jnp.asarray(w.toarray() if hasattr(w, "toarray") else w, d)


def _matrices(w, w_in, bias, leak, activation: str, dtype, sparse=None):
    """Checked ``(w, w_in, bias, leak)`` arrays of an ESN (see :meth:`ESN.from_matrices`)."""
    d = float_dtype(dtype)
    w = _recurrent(w, d, sparse)
    w_in = _dense(w_in, "w_in")
    if w_in.ndim > 2 or w_in.size % w.shape[0] or (w_in.ndim == 2 and w_in.shape[0] != w.shape[0]):
        raise SpecError(f"ESN.w_in: expected {w.shape[0]} rows (one per unit, like w), got shape {w_in.shape}")
    w_in = w_in.reshape(w.shape[0], -1)
    check_activation("ESN.activation", activation)
    leak_value = _scalar(leak, "leak")
    if not 0 < leak_value <= 1:
        raise SpecError(f"ESN.leak: the leak rate must be in (0, 1], got {leak!r}")
    if bias is None:
        bias = np.zeros(w.shape[0])
    else:
        bias = _dense(bias, "bias")
        if bias.size not in (1, w.shape[0]):
            raise SpecError(f"ESN.bias: expected a number or {w.shape[0]} values (one per unit), "
                            f"got shape {bias.shape}")
        bias = np.broadcast_to(bias.reshape(-1), (w.shape[0],))
    return w, jnp.asarray(w_in, d), jnp.asarray(bias, d), jnp.asarray(leak_value, d)


def _esn_from_spec(*, n, n_inputs, spectral_radius, input_scaling, bias_scaling, leak, density, activation, seed,
                   spec_seed, dtype) -> ESN:
    return ESN.create(n, n_inputs, spectral_radius=spectral_radius, input_scaling=input_scaling,
                      bias_scaling=bias_scaling, leak=leak, density=density, activation=activation,
                      seed=seed if seed is not None else spec_seed or 0, dtype=dtype)


RANDOM_RESERVOIR_FIELDS = (
    Field("n_inputs", "integer", default=1, minimum=1, doc="size of the input u (port \"u\")"),
    Field("spectral_radius", default=0.9, minimum=0.0, doc="spectral radius of the recurrent matrix W"),
    Field("input_scaling", default=1.0, minimum=0.0, doc="W_in drawn U(-input_scaling, input_scaling)"),
    Field("bias_scaling", default=0.0, minimum=0.0, doc="bias drawn U(-bias_scaling, bias_scaling)"),
    Field("leak", default=1.0, minimum=0.0, maximum=1.0, exclusive_minimum=True, doc="leak rate a"),
    Field("density", default=0.1, minimum=0.0, maximum=1.0, exclusive_minimum=True,
          doc="fraction of non-zero entries of W"),
)
"""Spec fields of a random reservoir drawn by :meth:`ESN.create` (shared by reservoirs built on it)."""

SEED_FIELD = Field("seed", "integer", default=None, minimum=0, doc="seed of W, W_in and the bias",
                   default_text="the spec's seed")

ACTIVATION_FIELD = Field("activation", "choice", default="tanh", choices=ACTIVATIONS,
                         doc="phi: tanh, or the identity (linear reservoir)")
"""The ``activation`` spec field of reservoirs (ESN, ResESN): the non-linearity phi."""

MODELS.register("esn", _esn_from_spec, RANDOM_RESERVOIR_FIELDS + (
    ACTIVATION_FIELD,
    SEED_FIELD,
), summary="Leaky-integrator echo state network x(n) = (1 - a) x(n-1) + a phi(W_in u(n) + W x(n-1) + b).",
    citation="H. Jaeger, GMD Report 148 (2001); M. Lukoševičius, A Practical Guide to Applying Echo State "
             "Networks (2012)",
    example={"n": 20, "spectral_radius": 0.9, "leak": 0.5, "bias_scaling": 0.2, "seed": 1},
    context=("spec_seed", "dtype"), cls=ESN)
