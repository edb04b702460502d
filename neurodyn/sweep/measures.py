"""Measures that reduce one run of a sweep point to numbers, computed inside the compiled,
vmapped run as running accumulators (no trajectory is stored).

Each measure has ``init(obs)``, ``update(acc, block)`` (once per block of K consecutive measured
observations, so that e.g. the covariance of the cross-correlation is one matrix product per
block rather than an outer product per step) and ``finalize(acc, n)`` -> dict of arrays; ``max_lyapunov`` is special: it propagates a tangent
vector alongside the run (Benettin, one vector, renormalised every step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp

from ..errors import SpecError

MEASURE_NAMES = ("max_lyapunov", "cross_correlation", "order_parameter", "mean", "var", "firing_rate", "orbit")


@dataclass(frozen=True)
class Measure:
    """One measure: ``kind`` from :data:`MEASURE_NAMES`, the observable it reads, options."""

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
        x = obs.get(self.observable)
        if self.kind == "cross_correlation":
            v = jnp.ravel(x)  # sums of x - x(0): shifted sums keep the variance free of cancellation
            return (jnp.zeros_like(v), jnp.zeros((v.size, v.size), v.dtype), v)
        if self.kind == "order_parameter":
            return jnp.zeros((), x.dtype)
        if self.kind in ("mean", "var"):
            return (jnp.zeros_like(x), jnp.zeros_like(x))
        if self.kind == "firing_rate":
            return (jnp.zeros(jnp.shape(x), jnp.int32), x)
        if self.kind == "orbit":
            return jnp.zeros((self.length,) + jnp.shape(x), x.dtype)
        return ()

    def update(self, acc, block):
        """Fold a block of consecutive observations ``block`` (shape ``(K,) + obs shape``) in."""
        if self.kind == "cross_correlation":
            y = block.reshape(block.shape[0], -1) - acc[2]
            return (acc[0] + y.sum(axis=0), acc[1] + y.T @ y, acc[2])  # one matmul per block
        if self.kind == "order_parameter":
            return acc + jnp.sum(jnp.abs(jnp.mean(jnp.exp(1j * block), axis=-1)))
        if self.kind in ("mean", "var"):
            return (acc[0] + block.sum(axis=0), acc[1] + (block * block).sum(axis=0))
        if self.kind == "firing_rate":
            count, prev = acc
            series = jnp.concatenate([prev[None], block])
            ups = (series[:-1] < self.threshold) & (series[1:] >= self.threshold)
            return (count + ups.sum(axis=0), block[-1])
        if self.kind == "orbit":
            return jnp.concatenate([acc, block])[-self.length:]
        return acc

    def finalize(self, acc, n) -> dict:
        """Results ``{label: array}`` after ``n`` measured steps."""
        if self.kind == "cross_correlation":
            s, ss, _ = acc
            mean = s / n
            cov = ss / n - jnp.outer(mean, mean)
            sd = jnp.sqrt(jnp.clip(jnp.diag(cov), 0, None))
            gamma = cov / jnp.outer(sd, sd)
            iu = jnp.triu_indices(mean.size, 1)
            return {self.label: jnp.mean(gamma[iu]), f"{self.label}.hub": jnp.mean(gamma[0, 1:])}
        if self.kind == "order_parameter":
            return {self.label: acc / n}
        if self.kind == "mean":
            return {self.label: jnp.mean(acc[0] / n)}
        if self.kind == "var":
            mean = acc[0] / n
            return {self.label: jnp.mean(acc[1] / n - mean * mean)}
        if self.kind == "firing_rate":
            return {self.label: jnp.mean(acc[0]) / n}
        if self.kind == "orbit":
            return {self.label: acc.reshape(self.length, -1)[:, 0]}
        return {}


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
        want = "theta" if kind == "order_parameter" else "x"
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
