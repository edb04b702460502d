"""The result of :func:`neurodyn.simulate`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Trajectory:
    """Recorded observables of one run.

    Attributes:
        times: sample times (``step * dt``, model time units), shape ``(n_samples,)``; sample
            ``j`` is the state *before* step ``transient + j * every`` is taken.
        data: observable name -> array ``(n_samples, ...)``.
        spikes: observable name -> ``(times, node_ids)`` of upward threshold crossings, time of
            the step whose new state crossed (sorted by time).
        final_state: the model state after the last completed step (a pytree of JAX arrays).
        steps: number of steps completed (less than requested when the run diverged).
        dt, every, transient: the time step, the recording interval and the unrecorded steps.
        time_unit: unit of ``times``, spike times and ``dt`` (the model's; ``"iteration"`` for maps).
        units: observable name -> unit.
        diagnostics: ``/diagnostics`` datasets computed inside the loop, ``name -> (values,
            attrs)``: the results (``finalize``) of the run's observers (``simulate(...,
            observers=...)``, e.g. the spiking statistics of a spec's run,
            :class:`neurodyn.diagnostics.SpikingMonitor`); empty otherwise.
        node_ids: observable name -> the node indices its samples' columns and its spikes'
            ``node_ids`` refer to, for the observables recorded on a subset of their nodes
            (``simulate(..., neurons=...)``); every node of the others.

    :func:`neurodyn.runs.save` writes it in the layout of ``neurodyn run``.
    """

    times: np.ndarray
    data: dict[str, np.ndarray]
    spikes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    final_state: Any = None
    steps: int = 0
    dt: float = 1.0
    every: int = 1
    transient: int = 0
    time_unit: str = "1"
    units: dict[str, str] = field(default_factory=dict)
    diagnostics: dict[str, tuple] = field(default_factory=dict)
    node_ids: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    def __contains__(self, name: str) -> bool:
        return name in self.data

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the recorded observables."""
        return tuple(self.data)
