"""Diagnostics computed chunk by chunk while a run streams to disk (the CLI's ``[diagnostics]``).

Each class takes the recorded samples of one observable, chunk after chunk (``update``), and
returns ``(values, attrs)`` at the end (``result``), so nothing needs the whole run in memory.
The spiking populations of a run are observed inside the compiled loop instead
(:class:`~neurodyn.diagnostics.spiking.SpikingMonitor`, an observer of the block-scan driver,
wired in by :func:`neurodyn.runs.simulate_spec`, which ``neurodyn run`` uses): their E/I
balance, ISI and count statistics need every step of variables that are not recorded. Any other
observer given to :func:`neurodyn.runs.run_spec` (``observers=``) is stored beside them.
"""

from __future__ import annotations

import numpy as np

from . import accumulators as acc_
from .spiking import SpikingMonitor, _monitorable

SPIKING_BIN_MS = 2.0  # E/I correlation bins (1-5 ms in the literature)
SPIKING_WINDOW_MS = 100.0  # Fano factor windows


class OrderParameterStream:
    """``r(t)`` of recorded phases (``/diagnostics/order_parameter``), and its time average."""

    method = "Kuramoto order parameter r(t) = |mean_j exp(i theta_j(t))| of the recorded phases"

    def __init__(self):
        self.parts: list[np.ndarray] = []

    def update(self, samples: np.ndarray) -> None:
        """Fold one chunk of recorded samples in."""
        self.parts.append(acc_.order_parameter_series(np.asarray(samples, float)))

    def state(self) -> dict[str, np.ndarray]:
        """Its running state, for a run checkpoint."""
        return {"r": np.concatenate(self.parts) if self.parts else np.zeros(0)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Take up the running state of :meth:`state`."""
        self.parts = [state["r"]]

    def result(self) -> tuple[np.ndarray, dict]:
        """``(values, attrs)`` for ``/diagnostics/<name>``."""
        r = np.concatenate(self.parts) if self.parts else np.zeros(0)
        return r, {"method": self.method, "time_average": float(r.mean()) if r.size else float("nan")}


class CrossCorrelationStream:
    """Zero-lag cross-correlation matrix ``Gamma_ij`` of a recorded variable (docs/diagnostics.md),
    from running sums; attrs hold its mean over all pairs and over hub pairs (node 0)."""

    method = "Gamma_ij = <x~_i x~_j> / sqrt(<x~_i^2> <x~_j^2>), x~ = x - <x>_t over the recorded samples"

    def __init__(self):
        self.acc = None

    def update(self, samples: np.ndarray) -> None:
        """Fold one chunk of recorded samples in."""
        x = np.asarray(samples, float).reshape(len(samples), -1)
        if not len(x):
            return
        if self.acc is None:
            self.acc = acc_.xcorr_init(x[0])
        self.acc = acc_.xcorr_update(self.acc, x)

    def state(self) -> dict[str, np.ndarray]:
        """Its running sums, for a run checkpoint."""
        return {} if self.acc is None else dict(zip(("count", "sum", "sum_products", "shift"), self.acc))

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Take up the running sums of :meth:`state`."""
        self.acc = tuple(state[k] for k in ("count", "sum", "sum_products", "shift")) if state else None

    def result(self) -> tuple[np.ndarray, dict]:
        """``(values, attrs)`` for ``/diagnostics/<name>``."""
        if self.acc is None:
            return np.zeros((0, 0)), {"method": self.method, "mean_all_pairs": float("nan"),
                                      "mean_hub_pairs": float("nan")}
        gamma = acc_.xcorr_finalize(self.acc)
        every, hub = acc_.pair_means(gamma)
        return gamma, {"method": self.method, "mean_all_pairs": float(every), "mean_hub_pairs": float(hub)}


STREAMS = {"order_parameter": (OrderParameterStream, "theta"), "cross_correlation": (CrossCorrelationStream, "x")}


class StreamingDiagnostics:
    """A run's ``[diagnostics]``, fed as it writes: wraps a writer (``append(times, data,
    spikes)``), hands it every chunk and folds the chunk into each diagnostic's stream.

    Args:
        writer: the run's writer (a :class:`neurodyn.io.RunWriter`).
        diagnostics: diagnostic name (a key of :data:`STREAMS`) -> the recorded observable it reads.
    """

    def __init__(self, writer, diagnostics: dict[str, str]):
        self.writer, self.observables = writer, dict(diagnostics)
        self.streams = {name: STREAMS[name][0]() for name in self.observables}
        self.spiking: dict[str, tuple[np.ndarray, dict]] = {}

    def take(self, trajectory) -> None:
        """Store, with the streamed results, the diagnostics a trajectory's observers computed in
        its loop (the spiking statistics, and any other observer of the run)."""
        self.spiking = dict(getattr(trajectory, "diagnostics", {}) or {})

    def append(self, times, data, spikes) -> None:
        """Write the chunk, then feed it to every streaming diagnostic."""
        self.writer.append(times, data, spikes)
        if data:
            for name, stream in self.streams.items():
                stream.update(data[self.observables[name]])

    def snapshot(self) -> dict[str, np.ndarray]:
        """The writer's arrays so far and every stream's running state (a run checkpoint)."""
        arrays = self.writer.snapshot()
        for name, stream in self.streams.items():
            arrays.update({f"stream/{name}/{k}": v for k, v in stream.state().items()})
        return arrays

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Take up a checkpointed run: the writer's arrays and the streams' running states."""
        self.writer.restore({k: v for k, v in arrays.items() if not k.startswith("stream/")})
        for name, stream in self.streams.items():
            prefix = f"stream/{name}/"
            stream.restore({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})

    def store(self) -> dict[str, tuple[np.ndarray, dict]]:
        """Write every result to ``/diagnostics/<name>`` (attrs: the observable and the
        method); returns ``{name: (values, attrs)}``."""
        results = {}
        for name, stream in self.streams.items():
            value, attrs = stream.result()
            self.writer.add_diagnostic(name, value, observable=self.observables[name], **attrs)
            results[name] = (value, attrs)
        for name, (value, attrs) in self.spiking.items():
            self.writer.add_diagnostic(name, value, **attrs)
            results[name] = (value, attrs)
        return results


def spiking_monitor(spec) -> SpikingMonitor | None:
    """The in-loop monitor of a spec's spiking populations (those with ``spike`` events and a
    ``v``), from its transient on, with 2 ms E/I bins and 100 ms Fano windows, on the neurons of
    ``record.neurons`` where it names the population; ``None`` when it
    has none or ``record.spiking_statistics`` is false."""
    model = spec.model
    if not getattr(spec, "spiking_statistics", True) or not hasattr(model, "populations") or not any(_monitorable(m) for m in model.populations.values()):
        return None
    return SpikingMonitor.create(model, bin_ms=max(SPIKING_BIN_MS, spec.dt), window_ms=max(SPIKING_WINDOW_MS, spec.dt),
                                 start=spec.transient, neurons=getattr(spec, "neurons", None))
