"""Map-based neurons: Chialvo (1995) and Rulkov (2001 chaotic, 2002 piecewise), and the
published small networks built from them.

All maps count time in iterations (dt = 1) and their variables are dimensionless. Parameters
are per neuron (shape ``(n,)``), so heterogeneous populations and per-neuron sweeps work. An
external or coupling input for variable ``v`` is added to ``v``'s update (``k + I_n`` for
Chialvo, ``+ I_n`` for the Rulkov fast variable); the piecewise Rulkov map additionally takes
its input current ``I`` through ``beta_n = beta_e I`` and ``sigma_n = sigma + sigma_e I``.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from ..connectivity import from_edges, ring_star as ring_star_graph
from ..core.model import Model, convert_parameters, drive_term, plain, with_dtype
from ..core.keys import split as split_key
from ..core.network import Network
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field
from .couplings import DiffusiveCoupling, SimplicialCoupling


class MapState(NamedTuple):
    """State of a two-variable map neuron: fast ``x`` and slow ``y``, shape ``(n,)`` each."""

    x: jax.Array
    y: jax.Array


class PiecewiseRulkovState(NamedTuple):
    """State of the 2002 Rulkov map: ``x``, the previous ``x`` and the slow ``y``."""

    x: jax.Array
    x_prev: jax.Array
    y: jax.Array


def _uniform(key, n, low, high, dtype):
    return jax.random.uniform(key, (n,), dtype, low, high)


@pytree_dataclass(static=("n",))
class Chialvo(Model):
    """Chialvo map neuron (D. R. Chialvo, Chaos Solitons Fractals 5:461, 1995).

    ``x_{n+1} = x_n^2 exp(y_n - x_n) + k + I_n``, ``y_{n+1} = a y_n - b x_n + c``.

    x: activation ("membrane potential"), y: recovery variable (both dimensionless).
    a: recovery time constant (< 1); b: activation dependence of recovery (< 1); c: offset of
    the recovery; k: constant bias (time-dependent input adds to it). Canonical a = 0.89,
    c = 0.28, k = 0.03 with b = 0.6 (regular oscillation) or b = 0.18 (chaotic bursting);
    see docs/models/maps.md.

    ``Chialvo(b=0.18)`` or ``Chialvo(n=2, b=[0.6, 0.18])``: numbers or one value per neuron, the
    canonical values by default, one neuron unless ``n`` is given (``create`` also takes a dtype).
    """

    n: int = 1
    a: jax.Array = 0.89
    b: jax.Array = 0.6
    c: jax.Array = 0.28
    k: jax.Array = 0.03

    VARIABLES: ClassVar[tuple] = ("x", "y")
    PORTS: ClassVar[tuple] = ("x", "y")
    INPUT_PORT: ClassVar[str] = "x"
    units: ClassVar[dict] = {"x": "1", "y": "1"}
    time_unit: ClassVar[str] = "iteration"

    def __post_init__(self):
        convert_parameters(self, ("a", "b", "c", "k"))

    @classmethod
    def create(cls, n: int = 1, *, a=0.89, b=0.6, c=0.28, k=0.03, dtype=None) -> "Chialvo":
        """``n`` neurons; each parameter a number or one value per neuron."""
        return with_dtype(cls(n, plain(a), plain(b), plain(c), plain(k)), ("a", "b", "c", "k"), dtype)

    @classmethod
    def canonical(cls, n: int = 1, regime: str = "oscillation", dtype=None) -> "Chialvo":
        """Chialvo's regimes: ``"oscillation"`` (b = 0.6) or ``"bursting"`` (b = 0.18, chaotic)."""
        b = {"oscillation": 0.6, "bursting": 0.18}[regime]
        return cls.create(n, b=b, dtype=dtype)

    def init(self, key: jax.Array) -> MapState:
        """x, y uniform on [0, 1)."""
        kx, ky = split_key(key)
        dt = self.a.dtype
        return MapState(_uniform(kx, self.n, 0.0, 1.0, dt), _uniform(ky, self.n, 0.0, 1.0, dt))

    def step(self, state: MapState, drive=None, t=None) -> MapState:
        """One map iteration (equations in the class docstring); drive adds to the named variables."""
        x, y = state
        x_new = x * x * jnp.exp(y - x) + self.k + drive_term(drive, "x", "x")
        y_new = self.a * y - self.b * x + self.c + drive_term(drive, "y", "x")
        return MapState(x_new, y_new)

    def observe(self, state: MapState) -> dict:
        """The state variables by name."""
        return {"x": state.x, "y": state.y}


@pytree_dataclass(static=("n",))
class Rulkov(Model):
    """Chaotic two-dimensional Rulkov map (N. F. Rulkov, Phys. Rev. Lett. 86:183, 2001).

    ``x_{n+1} = alpha / (1 + x_n^2) + y_n + I_n``, ``y_{n+1} = y_n - mu (x_n - sigma)``.

    alpha: nonlinearity (chaotic bursting for alpha > 4, canonical 4.1); mu: slow time scale
    (0.001); sigma: DC input setting the rest state x* = sigma (the PRL values
    sigma_p = beta_p = 0.001 are mu = 0.001, sigma = -1). Rest is stable for sigma below
    sigma_c ~ -1.6304 at alpha = 4.1, mu = 0.001 (docs/models/maps.md).

    ``Rulkov(sigma=0.0)``: numbers or one value per neuron, the canonical values by default,
    one neuron unless ``n`` is given.
    """

    n: int = 1
    alpha: jax.Array = 4.1
    mu: jax.Array = 0.001
    sigma: jax.Array = -1.0

    VARIABLES: ClassVar[tuple] = ("x", "y")
    PORTS: ClassVar[tuple] = ("x", "y")
    INPUT_PORT: ClassVar[str] = "x"
    units: ClassVar[dict] = {"x": "1", "y": "1"}
    time_unit: ClassVar[str] = "iteration"

    def __post_init__(self):
        convert_parameters(self, ("alpha", "mu", "sigma"))

    @classmethod
    def create(cls, n: int = 1, *, alpha=4.1, mu=0.001, sigma=-1.0, dtype=None) -> "Rulkov":
        """``n`` neurons; each parameter a number or one value per neuron."""
        return with_dtype(cls(n, plain(alpha), plain(mu), plain(sigma)), ("alpha", "mu", "sigma"), dtype)

    def init(self, key: jax.Array) -> MapState:
        """x uniform on [-1.5, -0.5), y uniform on [-3.5, -2.5)."""
        kx, ky = split_key(key)
        dt = self.alpha.dtype
        return MapState(_uniform(kx, self.n, -1.5, -0.5, dt), _uniform(ky, self.n, -3.5, -2.5, dt))

    def step(self, state: MapState, drive=None, t=None) -> MapState:
        """One map iteration (equations in the class docstring); drive adds to the named variables."""
        x, y = state
        x_new = self.alpha / (1.0 + x * x) + y + drive_term(drive, "x", "x")
        y_new = y - self.mu * (x - self.sigma) + drive_term(drive, "y", "x")
        return MapState(x_new, y_new)

    def observe(self, state: MapState) -> dict:
        """The state variables by name."""
        return {"x": state.x, "y": state.y}


@pytree_dataclass(static=("n",))
class RulkovPiecewise(Model):
    """Non-chaotic piecewise Rulkov map (N. F. Rulkov, Phys. Rev. E 65:041922, 2002).

    ``x_{n+1} = f_alpha(x_n, y_n + beta_n)``, ``y_{n+1} = y_n - mu (x_n + 1) + mu sigma_n`` with
    ``f(x, u) = alpha / (1 - x) + u`` for x <= 0; ``alpha + u`` for 0 < x < alpha + u and
    x_{n-1} <= 0; ``-1`` otherwise. Input current ``I``: ``beta_n = beta_e I_n``,
    ``sigma_n = sigma + sigma_e I_n``. The previous x is part of the state.

    ``RulkovPiecewise(alpha=4.5)``: numbers or one value per neuron, defaults alpha = 3,
    mu = 0.001, sigma = 0.1, beta_e = sigma_e = 1, one neuron unless ``n`` is given.
    """

    n: int = 1
    alpha: jax.Array = 3.0
    mu: jax.Array = 0.001
    sigma: jax.Array = 0.1
    beta_e: jax.Array = 1.0
    sigma_e: jax.Array = 1.0

    VARIABLES: ClassVar[tuple] = ("x", "x_prev", "y")
    PORTS: ClassVar[tuple] = ("I", "x", "y")
    INPUT_PORT: ClassVar[str] = "I"
    SMOOTH: ClassVar[bool] = False
    units: ClassVar[dict] = {"x": "1", "x_prev": "1", "y": "1"}
    time_unit: ClassVar[str] = "iteration"

    def __post_init__(self):
        convert_parameters(self, ("alpha", "mu", "sigma", "beta_e", "sigma_e"))

    @classmethod
    def create(cls, n: int = 1, *, alpha=3.0, mu=0.001, sigma=0.1, beta_e=1.0, sigma_e=1.0,
               dtype=None) -> "RulkovPiecewise":
        """``n`` neurons; each parameter a number or one value per neuron."""
        fields = ("alpha", "mu", "sigma", "beta_e", "sigma_e")
        return with_dtype(cls(n, *map(plain, (alpha, mu, sigma, beta_e, sigma_e))), fields, dtype)

    def init(self, key: jax.Array) -> PiecewiseRulkovState:
        """x = x_prev uniform on [-1.5, -0.5), y uniform on [-3.5, -2.5)."""
        kx, ky = split_key(key)
        dt = self.alpha.dtype
        x = _uniform(kx, self.n, -1.5, -0.5, dt)
        return PiecewiseRulkovState(x, x, _uniform(ky, self.n, -3.5, -2.5, dt))

    def step(self, state: PiecewiseRulkovState, drive=None, t=None) -> PiecewiseRulkovState:
        """One map iteration (equations in the class docstring); drive adds to the named variables."""
        x, x_prev, y = state
        current = drive_term(drive, "I", "I")
        u = y + self.beta_e * current
        spike_top = self.alpha + u
        x_new = jnp.where(x <= 0, self.alpha / (1.0 - jnp.minimum(x, 0.0)) + u,
                          jnp.where((x < spike_top) & (x_prev <= 0), spike_top, -1.0))
        x_new = x_new + drive_term(drive, "x", "I")
        y_new = y - self.mu * (x + 1.0) + self.mu * (self.sigma + self.sigma_e * current)
        return PiecewiseRulkovState(x_new, x, y_new + drive_term(drive, "y", "I"))

    def observe(self, state: PiecewiseRulkovState) -> dict:
        """The state variables by name."""
        return {"x": state.x, "x_prev": state.x_prev, "y": state.y}


def chialvo_ring_star(ring: int = 3, *, star: float = 0.01, ring_strength: float = 0.01,
                      triadic: float = 0.005, neighbours: int = 1, star_normalize: str = "none",
                      ring_normalize: str = "degree", triadic_normalize: str = "none", dtype=None,
                      **chialvo) -> Network:
    """Higher-order ring-star network of Chialvo neurons (Nair, Ghosh, Fatoyinbo, Muni,
    arXiv:2405.06000): hub 0 and a ring of ``ring`` neurons.

    ``x_i' = f(x_i, y_i) + mu * star term + (sigma/2R) sum_ring (x_j - x_i)
    + sigma_2 sum_triangles (x_j + x_l - 2 x_i)`` with ``mu = star``, ``sigma = ring_strength``,
    ``sigma_2 = triadic`` (docs/models/maps.md; normalisations are options since papers differ).
    ``ring=3`` gives the paper's "smallest" network, the complete graph K4. For large rings use
    ``star_normalize="degree"`` (the hub then sees the mean of its leaves; without it the hub term
    grows with the ring size and destabilises the hub).
    """
    n = ring + 1
    neurons = Chialvo.create(n, dtype=dtype, **chialvo)
    full = ring_star_graph(ring, neighbours, "all")
    projections = {
        "star": DiffusiveCoupling.create(["neurons"], [n], "x", ring_star_graph(ring, neighbours, "star"), star,
                                         star_normalize, dtype),
        "ring": DiffusiveCoupling.create(["neurons"], [n], "x", ring_star_graph(ring, neighbours, "ring"),
                                         ring_strength, ring_normalize, dtype),
        "triadic": SimplicialCoupling.create(["neurons"], [n], "x", triadic, graph=full, normalize=triadic_normalize,
                                             dtype=dtype),
    }
    return Network({"neurons": neurons}, projections)


def chialvo_rulkov_chain(*, sigma12: float = 0.01, sigma21: float = 0.01, sigma23: float = 0.01,
                         sigma32: float = 0.01, chialvo: dict | None = None, rulkov: dict | None = None,
                         dtype=None) -> Network:
    """Heterogeneous chain Chialvo(1) - Rulkov(2) - Chialvo(3) with bidirectional linear
    coupling on the fast variables (Ghosh, Nair, Fatoyinbo, Muni, arXiv:2405.05675):
    ``x_1' = f_C(x_1, y_1) + sigma12 (x_2 - x_1)``, ``x_2' = f_R(x_2, y_2) + sigma21 (x_1 - x_2)
    + sigma23 (x_3 - x_2)``, ``x_3' = f_C(x_3, y_3) + sigma32 (x_2 - x_3)``.

    Populations: ``"chialvo"`` (neurons 1 and 3) and ``"rulkov"`` (neuron 2); the coupling's
    node order is [chialvo 1, chialvo 3, rulkov 2].
    """
    graph = from_edges(3, [(0, 2), (2, 0), (2, 1), (1, 2)], [sigma12, sigma21, sigma23, sigma32])
    return Network(
        {"chialvo": Chialvo.create(2, dtype=dtype, **(chialvo or {})),
         "rulkov": Rulkov.create(1, dtype=dtype, **(rulkov or {}))},
        {"chain": DiffusiveCoupling.create(["chialvo", "rulkov"], [2, 1], "x", graph, 1.0, "none", dtype)},
    )


def _parameter(name: str, default: float, doc: str) -> Field:
    return Field(name, "per_node", default=default, doc=doc)


MODELS.register("chialvo", Chialvo.create, (
    _parameter("a", 0.89, "recovery time constant (< 1)"),
    _parameter("b", 0.6, "activation dependence of the recovery (< 1); 0.6 oscillation, 0.18 chaotic bursting"),
    _parameter("c", 0.28, "offset of the recovery"),
    _parameter("k", 0.03, "constant bias; time-dependent input adds to it"),
), summary="Chialvo map neuron: x' = x^2 exp(y - x) + k + I, y' = a y - b x + c.",
    citation="D. R. Chialvo, Chaos Solitons Fractals 5:461 (1995)", example={"n": 2, "b": [0.6, 0.18]},
    context=("dtype",), cls=Chialvo)
MODELS.register("rulkov", Rulkov.create, (
    _parameter("alpha", 4.1, "nonlinearity (chaotic bursting for alpha > 4)"),
    _parameter("mu", 0.001, "slow time scale"),
    _parameter("sigma", -1.0, "DC input setting the rest state x* = sigma"),
), summary="Chaotic Rulkov map: x' = alpha / (1 + x^2) + y + I, y' = y - mu (x - sigma).",
    citation="N. F. Rulkov, Phys. Rev. Lett. 86:183 (2001)", example={"n": 2}, context=("dtype",), cls=Rulkov)
MODELS.register("rulkov_piecewise", RulkovPiecewise.create, (
    _parameter("alpha", 3.0, "height of the spike"),
    _parameter("mu", 0.001, "slow time scale"),
    _parameter("sigma", 0.1, "DC input"),
    _parameter("beta_e", 1.0, "gain of the input current I on the fast variable"),
    _parameter("sigma_e", 1.0, "gain of the input current I on the slow variable"),
), summary="Non-chaotic piecewise Rulkov map with input current I (port \"I\").",
    citation="N. F. Rulkov, Phys. Rev. E 65:041922 (2002)", example={"n": 2}, context=("dtype",),
    cls=RulkovPiecewise)
