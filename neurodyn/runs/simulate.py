"""A spec simulated in memory as ``neurodyn run`` simulates it: the one place that wires a
spec's in-loop observers around :func:`neurodyn.simulate`."""

from __future__ import annotations

from ..core.simulate import simulate
from ..diagnostics.streaming import spiking_monitor


def simulate_spec(spec, *, observers=(), **options):
    """Simulate a :class:`~neurodyn.spec.RunSpec` as ``neurodyn run`` does:
    :func:`neurodyn.simulate` of its model with its records, spikes, recorded neurons, population
    rates and chunking. Its spiking
    populations are observed by their :func:`~neurodyn.diagnostics.streaming.spiking_monitor`
    (an observer: the network runs as it is, bit for bit) and ``observers`` (more
    :class:`neurodyn.core.Observer` objects) beside it; their results are the trajectory's
    ``diagnostics``, also on the trajectory of a DivergenceError or Interrupted. ``options`` go
    to :func:`neurodyn.simulate` (``progress``, ``writer``, ``keep``, ``should_stop``)."""
    monitor = spiking_monitor(spec)
    return simulate(spec.model, spec.steps, state=spec.state, record=spec.record, every=spec.every,
                    transient=spec.transient, spikes=spec.spikes, events=(), chunk=spec.chunk, dt=spec.dt,
                    neurons=spec.neurons, rates=spec.rates,
                    observers=(() if monitor is None else (monitor,)) + tuple(observers), **options)
