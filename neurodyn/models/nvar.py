"""Non-linear vector autoregression (NVAR), the "next generation reservoir computer"
(D. J. Gauthier, E. Bollt, A. Griffith, W. A. S. Barbosa, "Next generation reservoir computing",
Nature Communications 12:5564, 2021; docs/models/reservoirs.md, "NVAR").

The feature vector of step n is built from the input alone, with no random matrix:

``O_lin(n) = u(n) ⊕ u(n - s) ⊕ ... ⊕ u(n - (k-1) s)`` (``k`` delayed copies, skip ``s``, so
``k d`` values for ``d`` inputs), ``O_nonlin(n)`` = every unique monomial of order ``p`` of the
entries of ``O_lin`` (``C(k d + p - 1, p)`` products, in the order of
``itertools.combinations_with_replacement``), and ``O_total = [c] ⊕ O_lin ⊕ O_nonlin`` with the
constant ``c = 1`` when ``constant`` is set. Inputs before the first step are zero. A ridge
readout maps ``O_total`` to the output; for forecasting the paper trains it on the increment
``u(n+1) - u(n)`` and runs closed loop (:func:`neurodyn.readout.generate` with ``increment=True``).

The order of the linear and non-linear features is ReservoirPy's ``NVAR`` node's (features equal
to 1e-12, tests/models/test_nvar.py); the constant, the paper's, comes first.
"""

from __future__ import annotations

import itertools
from math import comb
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.model import Model, drive_term, float_dtype
from ..errors import SpecError, check_int
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field


class NVARState(NamedTuple):
    """``x``: the feature vector ``O_total`` of the last input; ``window``: the last
    ``(k-1) s + 1`` inputs, newest first (shape ``(window, d)``)."""

    x: jax.Array
    window: jax.Array


def monomial_indices(linear: int, order: int) -> np.ndarray:
    """``(C(linear + order - 1, order), order)`` indices into the linear features: one row per
    unique monomial of ``order`` factors, in ``itertools.combinations_with_replacement`` order."""
    rows = list(itertools.combinations_with_replacement(range(linear), order))
    return np.asarray(rows, np.int32).reshape(len(rows), order)


@pytree_dataclass(static=("n", "delay", "order", "strides", "constant"))
class NVAR(Model):
    """NVAR features of ``n`` input channels (module docstring).

    Static fields: ``n`` (the input dimension d), ``delay`` (k >= 1 delayed copies), ``order``
    (p >= 1, the order of the monomials; 1 repeats the linear part), ``strides`` (s >= 1, the
    skip between copies), ``constant`` (prepend 1). Parameter: ``input_scaling`` (g, the input is
    ``g u``; 1 in the paper).

    Ports: ``"u"`` (the input, ``n`` values per step; the default) and ``"x"`` (added to the
    feature vector, e.g. by a projection). Observable ``x``: ``O_total`` (``n_features`` values).
    """

    n: int = 1
    delay: int = 2
    order: int = 2
    strides: int = 1
    constant: bool = False
    input_scaling: jax.Array = 1.0

    VARIABLES: ClassVar[tuple] = ("x", "window")
    PORTS: ClassVar[tuple] = ("u", "x")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"x": "1"}
    time_unit: ClassVar[str] = "step"

    @classmethod
    def create(cls, n_inputs: int = 1, *, delay: int = 2, order: int = 2, strides: int = 1, constant: bool = False,
               input_scaling: float = 1.0, dtype=None) -> "NVAR":
        """Checked NVAR of ``n_inputs`` channels (see the class docstring)."""
        n_inputs = check_int("nvar: n_inputs", n_inputs, 1)
        delay, order = check_int("nvar: delay", delay, 1), check_int("nvar: order", order, 1)
        strides = check_int("nvar: strides", strides, 1)
        if not isinstance(constant, (bool, np.bool_)):
            raise SpecError(f"nvar: constant must be true or false, got {constant!r}")
        features = (1 if constant else 0) + delay * n_inputs + comb(delay * n_inputs + order - 1, order)
        if features > 1_000_000:
            raise SpecError(f"nvar: {features:,} features (k d = {delay * n_inputs} linear, order {order}) is too "
                            f"many; lower delay or order")
        return cls(n_inputs, delay, order, strides, bool(constant), jnp.asarray(float(input_scaling),
                                                                               float_dtype(dtype)))

    @property
    def n_inputs(self) -> int:
        """The input dimension d (= ``n``)."""
        return self.n

    @property
    def n_linear(self) -> int:
        """``k d``: the size of ``O_lin``."""
        return self.delay * self.n

    @property
    def n_features(self) -> int:
        """Size of ``O_total``: ``[1] + k d + C(k d + p - 1, p)``."""
        return int(self.constant) + self.n_linear + comb(self.n_linear + self.order - 1, self.order)

    def init(self, key: jax.Array) -> NVARState:
        """No input seen yet: a zero window and zero features (the constant set)."""
        dtype = jnp.result_type(self.input_scaling)
        window = jnp.zeros(((self.delay - 1) * self.strides + 1, self.n), dtype)
        x = np.zeros(self.n_features)
        x[:int(self.constant)] = 1.0  # the features of a zero window, without dispatching each operation
        return NVARState(jnp.asarray(x, dtype), window)

    def features(self, window: jax.Array) -> jax.Array:
        """``O_total`` of a window of inputs (newest first)."""
        linear = jnp.ravel(window[::self.strides])
        nonlinear = jnp.prod(linear[monomial_indices(self.n_linear, self.order)], axis=1)
        parts = [linear, nonlinear]
        if self.constant:
            parts.insert(0, jnp.ones(1, linear.dtype))
        return jnp.concatenate(parts)

    def step(self, state: NVARState, drive=None, t=None) -> NVARState:
        """Shift the window, put ``g u(n)`` first, and compute ``O_total`` (plus port ``"x"``)."""
        u = drive_term(drive, "u", "u")
        u = jnp.broadcast_to(jnp.asarray(u, state.window.dtype), (self.n,)) if jnp.ndim(u) == 0 else \
            jnp.reshape(jnp.asarray(u, state.window.dtype), (self.n,))
        window = jnp.concatenate([(self.input_scaling * u)[None, :], state.window[:-1]])
        return NVARState(self.features(window) + drive_term(drive, "x", "u"), window)

    def observe(self, state: NVARState) -> dict:
        """The feature vector ``x`` = ``O_total``."""
        return {"x": state.x}


def _nvar_from_spec(*, n, delay, order, strides, constant, input_scaling, dtype) -> NVAR:
    return NVAR.create(n, delay=delay, order=order, strides=strides, constant=constant, input_scaling=input_scaling,
                       dtype=dtype)


MODELS.register("nvar", _nvar_from_spec, (
    Field("delay", "integer", default=2, minimum=1, doc="k: number of delayed copies of the input"),
    Field("order", "integer", default=2, minimum=1, doc="p: order of the unique monomials"),
    Field("strides", "integer", default=1, minimum=1, doc="s: steps between delayed copies"),
    Field("constant", "bool", default=False, doc="prepend the constant feature 1"),
    Field("input_scaling", default=1.0, doc="g: the features are built from g u"),
), summary="Non-linear vector autoregression (next generation reservoir computing): features [1] + k delayed inputs "
           "(skip s) + their unique monomials of order p; n is the number of inputs.",
    citation="D. J. Gauthier, E. Bollt, A. Griffith, W. A. S. Barbosa, Next generation reservoir computing, "
             "Nature Communications 12:5564 (2021)",
    example={"n": 3, "delay": 2, "order": 2, "strides": 2, "constant": True, "input_scaling": 0.5},
    context=("dtype",), cls=NVAR)
