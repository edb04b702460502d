"""Measures that reduce one run of a sweep point to numbers, computed inside the compiled,
vmapped run as running accumulators (no trajectory is stored).

Measure kinds register by name in :data:`MEASURES` (:func:`register_measure`). Each has
``init``, ``update`` (once per block of K consecutive measured observations, so that e.g. the
covariance of the cross-correlation is one matrix product per block rather than an outer product
per step) and ``finalize``, built on the accumulators of :mod:`neurodyn.diagnostics.accumulators`
that the streamed run diagnostics use too: the shape of the observer protocol
(:class:`neurodyn.core.Observer`), and the sweep runs them all as one observer of the block-scan
driver (:class:`neurodyn.sweep.point.Measures`). ``max_lyapunov`` is the tangent observer
:class:`neurodyn.core.tangent.MaxLyapunov` (one vector, renormalised every step). Any
:class:`~neurodyn.core.Observer` may also be given to a sweep as a measure, unregistered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..diagnostics import accumulators as acc_
from ..errors import SpecError
from ..ops.gram import accumulate_gram, symmetric
from ..readout import normal_equations as ne
from ..readout.metrics import METRICS
from ..schema import REQUIRED, Field, Registry, parse_value, unknown_name


@dataclass(frozen=True)
class MeasureKind:
    """The accumulator of a registered measure and its one option.

    ``init(measure, obs)``, ``update(measure, acc, block)``, ``finalize(measure, acc, n) -> dict``;
    ``option`` declares the value after the observable in ``name:observable:option`` (a
    :class:`~neurodyn.schema.Field` named like the :class:`Measure` attribute it sets; ``None``:
    no option) and ``default`` the observable variable used when none is named."""

    init: Callable[..., Any] | None = None
    update: Callable[..., Any] | None = None
    finalize: Callable[..., dict] | None = None
    option: Field | None = None
    default: str = "x"
    observable: bool = True
    task: bool = False  # a score of the spec's [task] readout (neurodyn.sweep.task)
    block: int = 0  # measured steps per update it prefers (0: the sweep's default, point.BLOCK)
    check: Callable[..., None] | None = None  # check(measure, n_measured): SpecError on a mismatch


MEASURES = Registry(
    "measures", "Sweep measures", key="measure", noun="measure",
    doc="`--measure name[:observable[:option]]` (or `Measure(...)` from Python) reduces each sweep point's run to "
        "numbers inside the compiled, vmapped call, from running accumulators (no trajectory is kept). Results "
        "are stored in `/sweep/results/<label>`. From Python, `Measure.function(f, observables)` adds a measure "
        "of your own.")


def register_measure(name: str, kind: MeasureKind, *, summary: str, citation: str = "", example=None):
    """Add a measure to :data:`MEASURES` (its name is what ``--measure`` accepts)."""
    return MEASURES.register(name, kind, (kind.option,) if kind.option is not None else (), summary=summary,
                             citation=citation, example=example)


def _xcorr_finalize(m, a, n):
    gamma = acc_.xcorr_finalize(a)
    every, hub = acc_.pair_means(gamma)
    return {m.label: every, f"{m.label}.hub": hub}


register_measure("max_lyapunov", MeasureKind(observable=False),
                 summary="largest Lyapunov exponent along the run (one tangent vector renormalised every step), "
                         "per time unit",
                 citation="G. Benettin et al., Meccanica 15:9 (1980)", example={})
register_measure("cross_correlation", MeasureKind(
    lambda m, obs: acc_.xcorr_init(obs), lambda m, a, b: acc_.xcorr_update(a, b), _xcorr_finalize),
    summary="mean zero-lag cross-correlation Gamma_ij = C_ij / sqrt(C_ii C_jj) over all pairs i < j, and over "
            "hub pairs (0, j) as `<label>.hub`", example={"observable": "neurons.x"})
register_measure("order_parameter", MeasureKind(
    lambda m, obs: acc_.order_parameter_init(obs), lambda m, a, b: acc_.order_parameter_update(a, b),
    lambda m, a, n: {m.label: acc_.order_parameter_finalize(a)}, default="theta"),
    summary="time-averaged Kuramoto order parameter <r>_t, r = |mean_j exp(i theta_j)|",
    citation="Y. Kuramoto (1975)", example={"observable": "oscillators.theta"})
register_measure("mean", MeasureKind(
    lambda m, obs: acc_.moments_init(obs), lambda m, a, b: acc_.moments_update(a, b),
    lambda m, a, n: {m.label: jnp.mean(acc_.moments_finalize(a)[0])}),
    summary="time average, averaged over the components", example={"observable": "neurons.x"})
register_measure("var", MeasureKind(
    lambda m, obs: acc_.moments_init(obs), lambda m, a, b: acc_.moments_update(a, b),
    lambda m, a, n: {m.label: jnp.mean(acc_.moments_finalize(a)[1])}),
    summary="variance over time, averaged over the components", example={"observable": "neurons.x"})
register_measure("firing_rate", MeasureKind(
    lambda m, obs: acc_.crossings_init(obs), lambda m, a, b: acc_.crossings_update(a, b, m.threshold),
    lambda m, a, n: {m.label: jnp.mean(a[0], dtype=jnp.result_type(float)) / n},
    option=Field("threshold", default=0.0, unit="observable's unit", doc="a spike is an upward crossing of it")),
    summary="upward threshold crossings per step, averaged over the components",
    example={"observable": "neurons.x", "threshold": 1.0})
register_measure("orbit", MeasureKind(
    lambda m, obs: acc_.last_values_init(obs, m.length), lambda m, a, b: acc_.last_values_update(a, b),
    lambda m, a, n: {m.label: a.reshape(m.length, -1)[:, 0]},
    option=Field("length", "integer", default=REQUIRED, minimum=1, unit="steps",
                 doc="how many of the last values to keep")),
    summary="the last N values of the first component (bifurcation diagrams)",
    example={"observable": "neurons.x", "length": 500})

def register_task_scores() -> None:
    """Register every metric of :data:`neurodyn.readout.metrics.METRICS` not yet a measure as a
    task score (``--measure nrmse``): its definition is the metric's own one-line doc. Called at
    import and again when a measure is parsed, so a metric registered later is a measure too."""
    for name, metric in METRICS.items():
        if name in MEASURES:
            continue
        register_measure(name, MeasureKind(observable=False, task=True),
                         summary=f"task score: {metric.doc}; the readout is fitted inside the vmapped chunk, its "
                                 f"ridge (chosen by the task's blocked cross-validation, or swept as "
                                 f"task.readout.ridge) stored as `ridge`",
                         citation=metric.citation, example={})


register_task_scores()

MEASURE_NAMES = tuple(MEASURES)
_FUNCTION = MeasureKind()  # Measure.function: a user function of the recorded observables


class Constant:
    """An array carried by a :class:`Measure` (a compile-time constant of the sweep's chunk):
    hashed and compared by identity, so a measure stays a valid static argument."""

    def __init__(self, value):
        self.value = np.asarray(value)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


#: measured steps per update of the streamed ridge readout: its normal equations gain one
#: ``(K x F)^T (K x F)`` product per block, so longer blocks run nearer the machine's matrix rate
#: (measured, 64 ESNs of 500 units in float32: the Gram work costs 2.2x less with K = 312 than 64)
RIDGE_BLOCK = 256


def _ridge_init(m, obs):
    """The moments of no rows (:mod:`neurodyn.readout.normal_equations`), the row position and
    the shift ``c`` (set from the first measured sample)."""
    f, k = jnp.size(obs), m.target.value.shape[1]
    return (ne.zeros(f, k, jnp.float64, jnp),  # _ridge_check has made sure float64 exists
            jnp.zeros((), jnp.int32), jnp.zeros(f, jnp.result_type(obs)))


def _ridge_update(m, acc, block):
    """Fold a block in: the float64 moments of ``x - c`` (``c`` the first measured sample, so a
    state with a large mean loses no digits to the centring) and of the centred target (centred
    on the host, :meth:`Measure.ridge`): the Gram matrix by BLAS's rank-k update
    (:func:`neurodyn.ops.gram.accumulate_gram`, lower triangle)."""
    moments, pos, shift = acc
    x = block.reshape(block.shape[0], -1)
    shift = jnp.where(pos == 0, x[0], shift)
    y = lax.dynamic_slice_in_dim(jnp.asarray(m.target.value, moments.gram.dtype), pos, block.shape[0])
    x = (x - shift).astype(moments.gram.dtype)
    return ne.accumulate(moments, x, y, jnp, gram=accumulate_gram), pos + block.shape[0], shift


def _ridge_finalize(m, acc, n_steps):
    """The readout of the shifted features ``x - c`` (the same fit: the intercept absorbs
    ``c``) and its error on the training rows from the moments (no prediction is kept)."""
    moments = acc[0]
    moments = moments._replace(gram=symmetric(moments.gram))
    b, w = ne.solve(moments, jnp.asarray([m.penalty], moments.gram.dtype), xp=jnp)
    n, sy, syy = moments.n, moments.sy, moments.syy
    mse = jnp.maximum(ne.squared_error(moments, b[0], w[0], jnp), 0.0) / n  # y centred: no term carries its mean
    mean = jnp.asarray(m.target_mean.value, syy.dtype)
    var = syy / n - (sy / n) ** 2
    square = var + (sy / n + mean) ** 2  # mean(y^2) of the uncentred target
    return {f"{m.label}.mse": jnp.mean(mse), f"{m.label}.nrmse": jnp.mean(jnp.sqrt(mse / var)),
            f"{m.label}.nrmse_rms": jnp.mean(jnp.sqrt(mse / square))}


def _ridge_check(m, n_measured):
    if not jax.config.jax_enable_x64:
        raise SpecError("Measure.ridge sums its normal equations in float64, which JAX has switched off: call "
                        "neurodyn.set_precision('float64') first (the model may still run in float32)")
    rows = m.target.value.shape[0]
    if rows != n_measured:
        raise SpecError(f"Measure.ridge: the target has {rows} rows but the sweep measures {n_measured} steps "
                        f"(steps - transient); give one target row per measured step")


_RIDGE = MeasureKind(_ridge_init, _ridge_update, _ridge_finalize, block=RIDGE_BLOCK, check=_ridge_check)


@dataclass(frozen=True)
class Measure:
    """One measure: ``kind`` from :data:`MEASURES`, the observable it reads, options."""

    kind: str
    observable: str = ""
    threshold: float = 0.0
    length: int = 0
    fn: Callable | None = None
    observables: tuple = ()
    target: Constant | None = None  # Measure.ridge: the centred target, and its column means
    target_mean: Constant | None = None
    penalty: float = 0.0  # Measure.ridge: the ridge value

    @classmethod
    def function(cls, fn: Callable, observables: tuple[str, ...]) -> "Measure":
        """A user measure: ``fn(records) -> dict of arrays``, ``records[name]`` the values of each
        of ``observables`` at every measured step (shape ``(steps - transient, ...)``); it runs
        inside the compiled, vmapped call, so it must be written with ``jax.numpy``. Results are
        stored as ``<fn name>.<key>``."""
        return cls("function", fn=fn, observables=tuple(observables))

    @classmethod
    def ridge(cls, target, observable: str, *, ridge: float = 1e-6) -> "Measure":
        """A ridge readout of ``observable`` trained on every measured step, streamed: its normal
        equations are accumulated block by block inside the compiled run, so no trajectory is
        kept (memory per point: ``F^2`` values for ``F`` features, not ``T x F``).

        ``y(t) = b + W_out x(t)``, ``(Xc^T Xc + ridge I) W_out = Xc^T Yc`` with the rows centred
        (the intercept ``b`` unregularised), solved in float64 by the normal equations of
        :mod:`neurodyn.readout.normal_equations`, as :class:`neurodyn.readout.Ridge` solves them. ``target``: one row per measured step (``steps -
        transient`` rows, row ``j`` the target of the state after step ``transient + j``; a 1-D
        array is one output). Results, on the training rows, averaged over outputs:
        ``ridge(<observable>).nrmse`` (``sqrt(MSE / var(y))``), ``.nrmse_rms``
        (``sqrt(MSE / mean(y^2))``) and ``.mse``. Every sum and product of the normal equations
        is float64 (a float32 run's states are widened after subtracting the first measured
        state), so JAX's float64 mode must be on (``neurodyn.set_precision("float64")``; the
        model may still run in float32); the target is centred on the host, so a target with a
        large mean loses no digits. Reference: M. Lukoševičius, "A Practical Guide to Applying
        Echo State Networks" (2012).
        """
        try:
            y = np.asarray(target, float)
        except (TypeError, ValueError):
            raise SpecError(f"Measure.ridge: the target must be a numeric array, got {type(target).__name__}") from None
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] == 0 or not np.all(np.isfinite(y)):
            raise SpecError(f"Measure.ridge: the target must be a finite (steps,) or (steps, outputs) array, "
                            f"got shape {np.shape(target)}")
        if isinstance(ridge, bool) or not isinstance(ridge, (int, float, np.number)) or not (
                np.isfinite(ridge) and ridge >= 0):
            raise SpecError(f"Measure.ridge: the ridge must be a number >= 0, got {ridge!r}")
        mean = y.mean(axis=0)
        return cls("ridge", observable, target=Constant(y - mean), target_mean=Constant(mean), penalty=float(ridge))

    @property
    def label(self) -> str:
        """Name of the result dataset(s) of this measure."""
        if self.kind == "function":
            return getattr(self.fn, "__name__", "function")
        if self.kind == "ridge":
            return f"ridge({self.observable})"
        if self.kind == "max_lyapunov" or self.kind in METRICS:
            return self.kind
        if self.kind == "firing_rate":
            return f"firing_rate({self.observable}>{self.threshold:g})"
        if self.kind == "orbit":
            return f"orbit({self.observable},{self.length})"
        return f"{self.kind}({self.observable})"

    @property
    def _kind(self) -> MeasureKind:
        if self.kind in ("function", "ridge"):
            return _FUNCTION if self.kind == "function" else _RIDGE
        return MEASURES[self.kind].builder

    @property
    def block(self) -> int:
        """Measured steps per update this measure prefers (0: the sweep's default)."""
        return self._kind.block

    def check(self, n_measured: int) -> None:
        """Raise a SpecError if this measure cannot read a run of ``n_measured`` measured steps."""
        if self._kind.check is not None:
            self._kind.check(self, n_measured)

    def init(self, obs):
        """Accumulator from the first observation."""
        kind = self._kind
        return kind.init(self, obs.get(self.observable)) if kind.init else ()

    def update(self, acc, block):
        """Fold a block of consecutive observations ``block`` (shape ``(K,) + obs shape``) in."""
        kind = self._kind
        return kind.update(self, acc, block) if kind.update else acc

    def finalize(self, acc, n) -> dict:
        """Results ``{label: array}`` after ``n`` measured steps."""
        kind = self._kind
        return kind.finalize(self, acc, n) if kind.finalize else {}


def parse_measure(text: str, observables: dict) -> Measure:
    """``name[:observable[:option]]`` with a name of :data:`MEASURES`: ``max_lyapunov``,
    ``cross_correlation[:pop.x]``, ``order_parameter[:pop.theta]``, ``mean:pop.x``, ``var:pop.x``,
    ``firing_rate:pop.x:threshold``, ``orbit:pop.x:N`` (the last N values of the first node). The
    default observable is the first one named like the measure's default variable (``x`` for
    maps, ``theta`` for phase oscillators). The option is checked against its declared field."""
    name, _, rest = text.partition(":")
    where = f"--measure {text!r}"
    register_task_scores()
    if name not in MEASURES:
        raise unknown_name(where, "measure", name, tuple(MEASURES))
    kind = MEASURES[name].builder
    if not kind.observable:
        if rest:
            raise SpecError(f"{where}: {name} takes no options")
        return Measure(name)
    observable, _, option = rest.partition(":")
    if not observable:
        candidates = [o for o in observables if o.rpartition(".")[2] == kind.default]
        if not candidates:
            raise SpecError(f"{where}: name the observable (available: {', '.join(observables)})")
        observable = candidates[0]
    if observable not in observables:
        raise SpecError(f"{where}: unknown observable {observable!r} (available: {', '.join(observables)})")
    if kind.option is None:
        if option:
            raise SpecError(f"{where}: {name} takes no option after the observable")
        return Measure(name, observable)
    field = kind.option
    if not option and field.required:
        raise SpecError(f"{where}: give the {field.name} ({field.doc}), e.g. {name}:{observable}:"
                        f"{MEASURES[name].example.get(field.name, 1)}")
    value = field.validate(f"{where}: {field.name}", parse_value(option)) if option else field.default
    return Measure(name, observable, **{field.name: value})
