"""Kuramoto phase oscillators: all-to-all (mean field), on a graph, and the 1-D lattice.

Phases are kept unwrapped (never reduced mod 2 pi), as the surface-width analysis of the
lattice needs. Time is in the model's time unit (``dt`` per step). Deterministic runs use RK4;
with noise (``noise = D > 0``, ``<eta_i(t) eta_j(t')> = 2 D delta_ij delta(t - t')``) the step is
Euler–Maruyama with increment ``sqrt(2 D dt) N(0, 1)`` (docs/models/kuramoto.md).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..connectivity import CSRGraph, graph_from_spec
from ..core.continuous import ContinuousModel
from ..core.integrators import INTEGRATORS
from ..core.model import drive_term, float_dtype, per_node
from ..errors import SpecError
from ..ops import COOMatrix
from ..ops.trig import sincos
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field, read_fields

METHODS = ("rk4", "euler", "euler_maruyama")
FREQUENCY_DISTRIBUTIONS = ("lorentzian", "gaussian", "uniform", "constant")


class PhaseState(NamedTuple):
    """Unwrapped phases ``theta`` (rad) and the PRNG key of the noise."""

    theta: jax.Array
    key: jax.Array


def natural_frequencies(n: int, dist: str = "lorentzian", width: float = 1.0, center: float = 0.0, *,
                        seed: int = 0, quantile: bool = False) -> np.ndarray:
    """Natural frequencies (rad per time unit) for ``n`` oscillators.

    ``dist``: ``"lorentzian"`` (half-width ``width``: g(w) = (gamma/pi)/(w^2 + gamma^2)),
    ``"gaussian"`` (standard deviation ``width``), ``"uniform"`` (on [-width, width]) or
    ``"constant"``. ``quantile=True`` gives the deterministic quantiles
    ``w_i = G^{-1}((i - 1/2)/n)`` (for the Lorentzian ``gamma tan(pi (i - 1/2)/n - pi/2)``,
    docs/models/kuramoto.md), which removes sampling scatter of the finite population; otherwise
    i.i.d. draws from ``numpy.random.default_rng(seed)``.
    """
    if dist not in FREQUENCY_DISTRIBUTIONS:
        raise SpecError(f"frequencies.dist: unknown value {dist!r} (allowed: {', '.join(FREQUENCY_DISTRIBUTIONS)})")
    if not width >= 0:
        raise SpecError(f"frequencies.width must be >= 0, got {width!r}")
    u = (np.arange(n) + 0.5) / n if quantile else np.random.default_rng(seed).random(n)
    with np.errstate(over="ignore", invalid="ignore"):
        if dist == "lorentzian":
            w = width * np.tan(np.pi * u - np.pi / 2)
        elif dist == "gaussian":
            from scipy.special import ndtri  # imported on use (0.07 s of start-up)

            w = width * ndtri(u)
        elif dist == "uniform":
            w = width * (2 * u - 1)
        else:
            w = np.zeros(n)
        w = center + w
    if not np.all(np.isfinite(w)):
        raise SpecError(f"width {width:g} and center {center:g} give frequencies beyond the floating-point range; "
                        f"give smaller values")
    return w


FREQUENCY_FIELDS = (
    Field("dist", "choice", default="lorentzian", choices=FREQUENCY_DISTRIBUTIONS, doc="distribution"),
    Field("width", default=1.0, minimum=0.0, unit="rad per time unit",
          doc="Lorentzian half-width, Gaussian standard deviation or uniform half-range"),
    Field("center", default=0.0, unit="rad per time unit", doc="centre of the distribution"),
    Field("quantile", "bool", default=False, doc="deterministic quantiles instead of random draws"),
    Field("seed", "integer", default=None, minimum=0, doc="seed of the draws", default_text="the spec's seed"),
)


def _frequencies(path, value, *, n=None, spec_seed=None, **context) -> np.ndarray:
    """Spec ``frequencies``: a number, one per oscillator, or a table of :data:`FREQUENCY_FIELDS`."""
    if isinstance(value, dict):
        f = read_fields(path, value, FREQUENCY_FIELDS)
        seed = f["seed"] if f["seed"] is not None else (spec_seed or 0)
        try:
            return natural_frequencies(n, f["dist"], f["width"], f["center"], seed=seed, quantile=f["quantile"])
        except SpecError as e:
            raise SpecError(f"{path}: {e}") from None
    values = Field("frequencies", "per_node").validate(path, value, n=n)
    return np.broadcast_to(np.asarray(values, float), (n,))


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise SpecError(f"method: unknown value {method!r} (allowed: {', '.join(METHODS)})")
    return method


class _PhaseModel(ContinuousModel, abstract=True):
    """Shared init/observe and noise of the phase-oscillator models (vector field in subclasses).

    The step is the model's integrator (``method``: RK4 or Euler without noise, Euler–Maruyama
    with ``noise = D > 0``, amplitude ``sqrt(2 D)``)."""

    VARIABLES: ClassVar[tuple] = ("theta",)
    PORTS: ClassVar[tuple] = ("theta",)
    INPUT_PORT: ClassVar[str] = "theta"
    units: ClassVar[dict] = {"theta": "rad", "r": "1", "psi": "rad"}
    time_unit: ClassVar[str] = "1"

    @classmethod
    def from_spec(cls, *, n, frequencies, dt, dtype, **fields):
        """Build from validated spec fields (``frequencies`` already drawn, see the registry below)."""
        return cls.create(n, omega=frequencies, dt=dt, dtype=dtype, **fields)

    def init(self, key: jax.Array) -> PhaseState:
        """Phases uniform on [0, 2 pi); the noise key is derived from ``key``."""
        k_theta, k_noise = jax.random.split(key)
        theta = jax.random.uniform(k_theta, (self.n,), self.omega.dtype, 0.0, 2 * np.pi)
        return PhaseState(theta, k_noise)

    @property
    def method(self) -> str:
        """Name of the integrator (``"rk4"``, ``"euler"`` or ``"euler_maruyama"``)."""
        return self.integrator.name

    def noise_amplitude(self, state: PhaseState, t) -> PhaseState:
        """``g = sqrt(2 D)`` for every phase (Euler–Maruyama hook)."""
        return PhaseState(jnp.sqrt(2 * self.noise) * jnp.ones_like(state.theta), state.key)

    def observe(self, state: PhaseState) -> dict:
        """Phases, order parameter r and mean phase psi (plus the width on lattices)."""
        s, c = sincos(state.theta)
        zs, zc = jnp.mean(s), jnp.mean(c)
        return {"theta": state.theta, "r": jnp.hypot(zc, zs), "psi": jnp.arctan2(zs, zc)}


def _common(n, omega, dt, noise, method, dtype):
    dt_ = float_dtype(dtype)
    if not float(dt) > 0:
        raise SpecError(f"dt must be > 0, got {dt!r}")
    if not float(noise) >= 0:
        raise SpecError(f"noise must be >= 0, got {noise!r}")
    method = _check_method(method or ("euler_maruyama" if float(noise) > 0 else "rk4"))
    if float(noise) > 0 and method != "euler_maruyama":
        raise SpecError(f"noise = {noise} needs method 'euler_maruyama', got {method!r}")
    return per_node(omega, n, "omega", dtype), jnp.asarray(dt, dt_), jnp.asarray(noise, dt_), INTEGRATORS[method]


@pytree_dataclass(static=("n", "integrator"))
class KuramotoMeanField(_PhaseModel):
    """All-to-all Kuramoto–Sakaguchi model in mean-field form, O(N) per step.

    ``dtheta_i/dt = omega_i + (K/N) sum_j sin(theta_j - theta_i - alpha) + eta_i
    = omega_i + K r sin(psi - theta_i - alpha) + eta_i`` with ``r e^{i psi} = (1/N) sum_j e^{i theta_j}``
    (Kuramoto 1975; Sakaguchi & Kuramoto 1986). K: coupling (rad per time unit), alpha: phase
    lag (rad), omega: natural frequencies. Lorentzian frequencies of half-width gamma give
    K_c = 2 gamma / cos(alpha) and r = sqrt(1 - K_c/K) above it (Ott & Antonsen 2008).
    """

    n: int
    integrator: object
    omega: jax.Array
    coupling: jax.Array
    lag: jax.Array
    noise: jax.Array
    dt: jax.Array

    @classmethod
    def create(cls, n: int, *, omega=0.0, coupling=1.0, lag=0.0, noise=0.0, dt=0.05, method=None,
               dtype=None) -> "KuramotoMeanField":
        """Build from natural frequencies ``omega`` (rad per time unit) and the coupling parameters."""
        omega, dt, noise, method = _common(n, omega, dt, noise, method, dtype)
        d = float_dtype(dtype)
        return cls(n, method, omega, jnp.asarray(coupling, d), jnp.asarray(lag, d), noise, dt)

    def vector_field(self, state: PhaseState, drive, t) -> PhaseState:
        """``dtheta/dt`` as in the class docstring."""
        theta = state.theta
        s, c = sincos(theta)
        zc, zs = jnp.mean(c), jnp.mean(s)
        ca, sa = jnp.cos(self.lag), jnp.sin(self.lag)
        # mean_j sin(theta_j - theta_i - alpha) = zs cos(theta_i + alpha) - zc sin(theta_i + alpha)
        coupling = zs * (c * ca - s * sa) - zc * (s * ca + c * sa)
        return PhaseState(self.omega + self.coupling * coupling + drive_term(drive, "theta", "theta"), state.key)


@pytree_dataclass(static=("n", "integrator"))
class KuramotoGraph(_PhaseModel):
    """Kuramoto–Sakaguchi oscillators on a weighted graph, O(edges) per step.

    ``dtheta_i/dt = omega_i + K norm_i sum_j A_ij sin(theta_j - theta_i - alpha) + eta_i``,
    evaluated as ``cos(theta_i + alpha) (A sin theta)_i - sin(theta_i + alpha) (A cos theta)_i``
    (two sparse products, one sine and cosine per node, docs/models/kuramoto.md). ``normalize``: ``"none"``,
    ``"degree"`` (1/k_i), ``"mean_degree"`` (1/<k>) or ``"size"`` (1/N; on the complete graph this
    is the all-to-all model without the j = i term).
    """

    n: int
    integrator: object
    omega: jax.Array
    coupling: jax.Array
    lag: jax.Array
    noise: jax.Array
    dt: jax.Array
    norm: jax.Array
    adjacency: COOMatrix

    @classmethod
    def create(cls, graph: CSRGraph, *, omega=0.0, coupling=1.0, lag=0.0, noise=0.0, dt=0.05, method=None,
               normalize: str = "none", dtype=None) -> "KuramotoGraph":
        """Build from natural frequencies ``omega`` (rad per time unit) and the coupling parameters."""
        n = graph.n
        omega, dt, noise, method = _common(n, omega, dt, noise, method, dtype)
        d = float_dtype(dtype)
        norm = graph.normalization(normalize)
        adj = COOMatrix(n, jnp.asarray(graph.rows()), jnp.asarray(np.asarray(graph.indices, np.int32)),
                        jnp.asarray(graph.weights, d))
        return cls(n, method, omega, jnp.asarray(coupling, d), jnp.asarray(lag, d), noise, dt,
                   jnp.asarray(norm, d), adj)

    def vector_field(self, state: PhaseState, drive, t) -> PhaseState:
        """``dtheta/dt`` as in the class docstring."""
        theta = state.theta
        s, c = sincos(theta)
        a_sin, a_cos = self.adjacency @ s, self.adjacency @ c
        ca, sa = jnp.cos(self.lag), jnp.sin(self.lag)
        coupling = (c * ca - s * sa) * a_sin - (s * ca + c * sa) * a_cos
        return PhaseState(self.omega + self.coupling * self.norm * coupling + drive_term(drive, "theta", "theta"),
                          state.key)


@pytree_dataclass(static=("n", "integrator", "periodic"))
class PhaseLattice1D(_PhaseModel):
    """1-D lattice of phase oscillators with nearest-neighbour coupling (docs/models/kuramoto.md).

    ``dphi_j/dt = omega_j + K [G(phi_{j+1} - phi_j) + G(phi_{j-1} - phi_j)] + eta_j`` with
    ``G(x) = sin(x + alpha) - sin(alpha) + a (1 - cos x)``: odd for alpha = a = 0 (Edwards–
    Wilkinson class when synchronised), non-odd otherwise (the KPZ term, lambda = 2 a K - 2 K sin
    alpha in the continuum limit). Randomness: columnar (quenched) ``omega_j`` and/or white noise
    of strength ``noise = D``. ``periodic=False`` leaves the end oscillators with one neighbour.
    Seed paper: R. Gutiérrez, R. Cuerno, arXiv:2604.06040.
    """

    n: int
    integrator: object
    periodic: bool
    omega: jax.Array
    coupling: jax.Array
    lag: jax.Array
    nonodd: jax.Array
    noise: jax.Array
    dt: jax.Array

    units: ClassVar[dict] = {"theta": "rad", "r": "1", "psi": "rad", "width": "rad"}

    @classmethod
    def create(cls, n: int, *, omega=0.0, coupling=1.0, lag=0.0, nonodd=0.0, noise=0.0, dt=0.05, method=None,
               periodic: bool = True, dtype=None) -> "PhaseLattice1D":
        """Build from natural frequencies ``omega`` (rad per time unit) and the coupling parameters."""
        if n < 3:
            raise SpecError(f"n must be at least 3 for a lattice, got {n}")
        omega, dt, noise, method = _common(n, omega, dt, noise, method, dtype)
        d = float_dtype(dtype)
        return cls(n, method, bool(periodic), omega, jnp.asarray(coupling, d), jnp.asarray(lag, d),
                   jnp.asarray(nonodd, d), noise, dt)

    def init(self, key: jax.Array) -> PhaseState:
        """Flat initial condition phi_j(0) = 0 (the growth experiments start from it)."""
        return PhaseState(jnp.zeros(self.n, self.omega.dtype), jax.random.split(key)[1])

    def gamma(self, x):
        """The coupling function G(x) = sin(x + alpha) - sin(alpha) + a (1 - cos x)."""
        s, c = sincos(x)
        ca, sa = jnp.cos(self.lag), jnp.sin(self.lag)
        return s * ca + c * sa - sa + self.nonodd * (1.0 - c)

    def vector_field(self, state: PhaseState, drive, t) -> PhaseState:
        """``dtheta/dt`` as in the class docstring."""
        phi = state.theta
        right = jnp.roll(phi, -1) - phi
        left = jnp.roll(phi, 1) - phi
        g_right, g_left = self.gamma(right), self.gamma(left)
        if not self.periodic:
            g_right = g_right.at[-1].set(0.0)
            g_left = g_left.at[0].set(0.0)
        return PhaseState(self.omega + self.coupling * (g_right + g_left) + drive_term(drive, "theta", "theta"),
                          state.key)

    def observe(self, state: PhaseState) -> dict:
        """Phases, order parameter r and mean phase psi (plus the width on lattices)."""
        obs = super().observe(state)
        var = jnp.var(state.theta)
        positive = var > 0  # sqrt'(0) is infinite: a flat interface gets width 0 and gradient 0
        obs["width"] = jnp.where(positive, jnp.sqrt(jnp.where(positive, var, 1.0)), 0.0)
        return obs


def _graph(path, value, *, n=None, **context) -> CSRGraph:
    return graph_from_spec(path, value, n, f"the population has n = {n} oscillators")


def _graph_from_spec(*, n, graph, frequencies, dt, dtype, **fields) -> KuramotoGraph:
    return KuramotoGraph.create(graph, omega=frequencies, dt=dt, dtype=dtype, **fields)


_FREQUENCIES = Field("frequencies", "custom", default=0.0, validator=_frequencies, unit="rad per time unit",
                     type_text="number, list of n numbers or table", fields=FREQUENCY_FIELDS,
                     doc="natural frequencies omega: one value, one per oscillator, or a table drawing them")
_COUPLING = Field("coupling", default=1.0, unit="1 / time unit", doc="coupling strength K")
_LAG = Field("lag", default=0.0, unit="rad", doc="Sakaguchi phase lag alpha")
_NOISE = Field("noise", default=0.0, minimum=0.0, unit="rad^2 / time unit",
               doc="noise strength D, <eta_i(t) eta_j(t')> = 2 D delta_ij delta(t - t')")
_METHOD = Field("method", "choice", default=None, choices=METHODS, doc="integrator",
                default_text='"rk4", or "euler_maruyama" when noise > 0')
_PHASE_CONTEXT = ("dt", "dtype")

MODELS.register("kuramoto", KuramotoMeanField.from_spec, (_FREQUENCIES, _COUPLING, _LAG, _NOISE, _METHOD),
                summary="All-to-all Kuramoto–Sakaguchi oscillators in mean-field form, O(N) per step.",
                citation="Y. Kuramoto, Lect. Notes Phys. 39:420 (1975); H. Sakaguchi, Y. Kuramoto, "
                         "Prog. Theor. Phys. 76:576 (1986)",
                example={"n": 16, "frequencies": {"dist": "lorentzian", "width": 0.5, "quantile": True},
                         "coupling": 2.0},
                context=_PHASE_CONTEXT, cls=KuramotoMeanField)
MODELS.register("kuramoto_graph", _graph_from_spec, (
    Field("graph", "custom", validator=_graph, type_text="table { kind = ... }",
          doc="the coupling graph A (see graphs); its node count must equal n"),
    Field("normalize", "choice", default="none", choices=("none", "degree", "mean_degree", "size"),
          doc="per-node factor of the coupling sum: 1, 1/k_i, 1/<k> or 1/N"),
    _FREQUENCIES, _COUPLING, _LAG, _NOISE, _METHOD,
), summary="Kuramoto–Sakaguchi oscillators on a weighted graph, O(edges) per step.",
    citation="F. A. Rodrigues, T. K. D. M. Peron, P. Ji, J. Kurths, Phys. Rep. 610:1 (2016)",
    example={"n": 8, "graph": {"kind": "ring", "n": 8, "k": 2}, "normalize": "degree",
             "frequencies": {"dist": "gaussian", "width": 0.1}, "coupling": 1.5},
    context=_PHASE_CONTEXT, cls=KuramotoGraph)
MODELS.register("kuramoto_lattice", PhaseLattice1D.from_spec, (
    _FREQUENCIES, _COUPLING, _LAG,
    Field("nonodd", default=0.0, doc="a, the non-odd term a (1 - cos x) of the coupling function (KPZ)"),
    _NOISE, _METHOD,
    Field("periodic", "bool", default=True, doc="periodic boundaries (false: the end oscillators have one neighbour)"),
), summary="1-D lattice of phase oscillators with nearest-neighbour coupling G(x) = sin(x + alpha) - sin(alpha) "
           "+ a (1 - cos x); n >= 3.",
    citation="R. Gutiérrez, R. Cuerno, arXiv:2604.06040",
    example={"n": 16, "coupling": 0.2, "nonodd": 1.0, "noise": 0.05},
    context=_PHASE_CONTEXT, cls=PhaseLattice1D)
