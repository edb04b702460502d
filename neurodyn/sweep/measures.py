"""Measures that reduce one run of a sweep point to numbers, computed inside the compiled,
vmapped run as running accumulators (no trajectory is stored).

Measure kinds register by name in :data:`MEASURES` (:func:`register_measure`). Each has
``init``, ``update`` (once per block of K consecutive measured observations, so that e.g. the
covariance of the cross-correlation is one matrix product per block rather than an outer product
per step) and ``finalize``, built on the accumulators of :mod:`neurodyn.diagnostics.accumulators`
that the streamed run diagnostics use too. ``max_lyapunov`` is special: it propagates a tangent
vector alongside the run (Benettin, one vector, renormalised every step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax.numpy as jnp

from ..diagnostics import accumulators as acc_
from ..errors import SpecError


@dataclass(frozen=True)
class MeasureKind:
    """A registered measure: its name, what it computes, its option and its accumulator.

    ``init(measure, obs)``, ``update(measure, acc, block)``, ``finalize(measure, acc, n) -> dict``;
    ``option`` names the value after the observable in ``name:observable:option`` (``None``: none)
    and ``default`` the observable variable used when none is named."""

    name: str
    doc: str
    init: Callable[..., Any] = None
    update: Callable[..., Any] = None
    finalize: Callable[..., dict] = None
    option: str | None = None
    default: str = "x"


MEASURES: dict[str, MeasureKind] = {}


def register_measure(kind: MeasureKind) -> MeasureKind:
    """Add a measure kind to the registry (its name is what ``--measure`` accepts)."""
    MEASURES[kind.name] = kind
    return kind


def _xcorr_finalize(m, a, n):
    gamma = acc_.xcorr_finalize(a)
    every, hub = acc_.pair_means(gamma)
    return {m.label: every, f"{m.label}.hub": hub}


register_measure(MeasureKind(
    "max_lyapunov", "largest Lyapunov exponent along the run (one tangent vector, Benettin), per time unit"))
register_measure(MeasureKind(
    "cross_correlation", "mean zero-lag cross-correlation Gamma_ij over all pairs, and over hub pairs (.hub)",
    lambda m, obs: acc_.xcorr_init(obs),
    lambda m, a, b: acc_.xcorr_update(a, b),
    _xcorr_finalize))
register_measure(MeasureKind(
    "order_parameter", "time-averaged Kuramoto order parameter <r>_t of the phases",
    lambda m, obs: acc_.order_parameter_init(obs),
    lambda m, a, b: acc_.order_parameter_update(a, b),
    lambda m, a, n: {m.label: acc_.order_parameter_finalize(a)}, default="theta"))
register_measure(MeasureKind(
    "mean", "time average, averaged over the components",
    lambda m, obs: acc_.moments_init(obs),
    lambda m, a, b: acc_.moments_update(a, b),
    lambda m, a, n: {m.label: jnp.mean(acc_.moments_finalize(a)[0])}))
register_measure(MeasureKind(
    "var", "variance over time, averaged over the components",
    lambda m, obs: acc_.moments_init(obs),
    lambda m, a, b: acc_.moments_update(a, b),
    lambda m, a, n: {m.label: jnp.mean(acc_.moments_finalize(a)[1])}))
register_measure(MeasureKind(
    "firing_rate", "upward crossings of a threshold per step, averaged over the components",
    lambda m, obs: acc_.crossings_init(obs),
    lambda m, a, b: acc_.crossings_update(a, b, m.threshold),
    lambda m, a, n: {m.label: jnp.mean(a[0]) / n}, option="threshold"))
register_measure(MeasureKind(
    "orbit", "the last N values of the first component (bifurcation diagrams)",
    lambda m, obs: acc_.last_values_init(obs, m.length),
    lambda m, a, b: acc_.last_values_update(a, b),
    lambda m, a, n: {m.label: a.reshape(m.length, -1)[:, 0]}, option="length"))
register_measure(MeasureKind(
    "function", "a user function of the recorded observables (Measure.function)"))

MEASURE_NAMES = tuple(k for k in MEASURES if k != "function")


@dataclass(frozen=True)
class Measure:
    """One measure: ``kind`` from :data:`MEASURES`, the observable it reads, options."""

    kind: str
    observable: str = ""
    threshold: float = 0.0
    length: int = 0
    fn: Callable | None = None
    observables: tuple = ()

    @classmethod
    def function(cls, fn: Callable, observables: tuple[str, ...]) -> "Measure":
        """A user measure: ``fn(records) -> dict of arrays``, ``records[name]`` the values of each
        of ``observables`` at every measured step (shape ``(steps - transient, ...)``); it runs
        inside the compiled, vmapped call, so it must be written with ``jax.numpy``. Results are
        stored as ``<fn name>.<key>``."""
        return cls("function", fn=fn, observables=tuple(observables))

    @property
    def label(self) -> str:
        """Name of the result dataset(s) of this measure."""
        if self.kind == "function":
            return getattr(self.fn, "__name__", "function")
        if self.kind == "max_lyapunov":
            return "max_lyapunov"
        if self.kind == "firing_rate":
            return f"firing_rate({self.observable}>{self.threshold:g})"
        if self.kind == "orbit":
            return f"orbit({self.observable},{self.length})"
        return f"{self.kind}({self.observable})"

    def init(self, obs):
        """Accumulator from the first observation."""
        kind = MEASURES[self.kind]
        return kind.init(self, obs.get(self.observable)) if kind.init else ()

    def update(self, acc, block):
        """Fold a block of consecutive observations ``block`` (shape ``(K,) + obs shape``) in."""
        kind = MEASURES[self.kind]
        return kind.update(self, acc, block) if kind.update else acc

    def finalize(self, acc, n) -> dict:
        """Results ``{label: array}`` after ``n`` measured steps."""
        kind = MEASURES[self.kind]
        return kind.finalize(self, acc, n) if kind.finalize else {}


def parse_measure(text: str, observables: dict) -> Measure:
    """``name[:observable[:option]]``: ``max_lyapunov``, ``cross_correlation[:pop.x]``,
    ``order_parameter[:pop.theta]``, ``mean:pop.x``, ``var:pop.x``, ``firing_rate:pop.x:threshold``,
    ``orbit:pop.x:N`` (the last N values of the first node). The default observable is the first
    one named ``x`` (maps) or ``theta`` (phase oscillators)."""
    kind, _, rest = text.partition(":")
    if kind not in MEASURE_NAMES:
        raise SpecError(f"--measure {text!r}: unknown measure {kind!r} (allowed: {', '.join(MEASURE_NAMES)})")
    if kind == "max_lyapunov":
        if rest:
            raise SpecError(f"--measure {text!r}: max_lyapunov takes no options")
        return Measure(kind)
    observable, _, option = rest.partition(":")
    if not observable:
        want = MEASURES[kind].default
        candidates = [name for name in observables if name.rpartition(".")[2] == want]
        if not candidates:
            raise SpecError(f"--measure {text!r}: name the observable (available: {', '.join(observables)})")
        observable = candidates[0]
    if observable not in observables:
        raise SpecError(f"--measure {text!r}: unknown observable {observable!r} (available: {', '.join(observables)})")
    if kind == "firing_rate":
        try:
            return Measure(kind, observable, threshold=float(option or 0.0))
        except ValueError:
            raise SpecError(f"--measure {text!r}: the threshold {option!r} is not a number") from None
    if kind == "orbit":
        if not option.isdigit() or int(option) < 1:
            raise SpecError(f"--measure {text!r}: give the number of orbit points, e.g. orbit:{observable}:500")
        return Measure(kind, observable, length=int(option))
    if option:
        raise SpecError(f"--measure {text!r}: {kind} takes no option after the observable")
    return Measure(kind, observable)
