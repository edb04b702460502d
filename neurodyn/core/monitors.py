"""Monitors on subsets: which neurons of a population are recorded, and population rates.

A run may record the traces and spikes of chosen neurons only (``neurons={"exc": [0, 1, 2],
"inh": "0:100"}`` in :func:`neurodyn.simulate`, ``record.neurons`` in a spec), so a
million-neuron run does not write every trace; the file keeps the SONATA layout, with the
recorded neurons' ids in ``/report/<pop>/<var>/mapping/node_ids`` and their own ids in
``/spikes/<pop>/node_ids``. A population rate monitor (``rates=("exc",)``, ``record.rates``)
counts the spikes of *all* neurons of a population over each recording interval of ``every``
steps and records

    r_j = N_j / (n * every * dt)        [Hz for a model timed in ms: times 1000]

as the observable ``<pop>.population_rate`` (one value per sample, stamped like the other
samples with the start ``(transient + j every) dt`` of its interval, which covers the spikes
stamped ``(transient + j every + 1) dt`` to ``(transient + (j + 1) every) dt``). Both are done
by the recording observers of the one loop (:class:`neurodyn.core.simulate.Record` and
``Spikes``), not by a second pass. See docs/spec/index.md (``[record]``).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import SpecError

RATE = "population_rate"  # the recorded observable of a population rate monitor: <pop>.population_rate


def node_indices(path: str, value: Any, n: int) -> np.ndarray:
    """The node indices (sorted, int64) that ``value`` selects among ``n`` nodes: a list of
    integers (or an integer array) or a slice text ``"start:stop"`` / ``"start:stop:step"``
    (Python's slice, ``stop`` at most ``n``, negative values not allowed). Duplicates and indices
    outside ``[0, n)`` are one-line errors naming ``path``."""
    if isinstance(value, str):
        parts = value.split(":")
        try:
            numbers = [int(p) if p.strip() else None for p in parts]
        except ValueError:
            numbers = None
        if numbers is None or not 2 <= len(parts) <= 3 or any(x is not None and x < 0 for x in numbers):
            raise SpecError(f"{path}: expected a slice like \"0:100\" or \"0:1000:10\" (non-negative integers), "
                            f"or a list of node indices, got {value!r}")
        start, stop = numbers[0] or 0, numbers[1] if numbers[1] is not None else n
        step = numbers[2] if len(numbers) == 3 and numbers[2] is not None else 1
        if step < 1:
            raise SpecError(f"{path}: the slice step must be >= 1, got {value!r}")
        if stop > n:
            raise SpecError(f"{path}: the slice {value!r} ends after the population's {n:,} nodes")
        idx = np.arange(start, stop, step, dtype=np.int64)
    else:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (list, tuple, np.ndarray)):
            raise SpecError(f"{path}: expected a list of node indices or a slice like \"0:100\", got {value!r}")
        arr = np.asarray(value)
        if arr.ndim != 1 or (arr.size and (arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer))):
            raise SpecError(f"{path}: expected a list of integer node indices, got {value!r}")
        idx = arr.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx[(idx < 0) | (idx >= n)][0]
            raise SpecError(f"{path}: node index {int(bad)} is outside the population's nodes 0..{n - 1}")
        if np.unique(idx).size != idx.size:
            raise SpecError(f"{path}: node indices must be given once each")
        idx = np.sort(idx)
    if not idx.size:
        raise SpecError(f"{path}: selects no node")
    return idx


def population_of(name: str) -> str:
    """The population of an observable ``pop.var`` (``""`` for a model that is no Network)."""
    return name.rpartition(".")[0]


def rate_name(source: str) -> str:
    """The recorded observable of the population rate of spike source ``source``."""
    pop = population_of(source)
    return f"{pop}.{RATE}" if pop else RATE


def rate_unit(time_unit: str) -> tuple[str, float]:
    """``(unit, factor)`` of a population rate: spikes per neuron per time unit times ``factor``
    (Hz for a model timed in ms or s; per iteration for a map)."""
    if time_unit == "ms":
        return "Hz", 1000.0
    if time_unit == "s":
        return "Hz", 1.0
    return f"1/{time_unit if time_unit not in ('', '1') else 'time unit'}", 1.0


def neuron_subsets(neurons: Mapping[str, Any] | None, observables: Mapping, names) -> dict[str, np.ndarray]:
    """``{observable: node indices}`` for each of ``names`` (recorded observables and spike
    sources) selected by ``neurons``, whose keys are populations (every observable ``pop.var``
    of it) or observable names (that one); an observable not selected, or a scalar (one value
    for the population), is recorded whole. Any other selected observable must have one value
    per node (one dimension); a key that names no population or observable is an error."""
    if not neurons:
        return {}
    if not isinstance(neurons, Mapping):
        raise SpecError(f"neurons: expected a mapping {{population: node indices}}, got {type(neurons).__name__}")
    pops = {population_of(n) for n in observables}
    for key in neurons:
        if key not in pops and key not in observables:
            raise SpecError(f"neurons: {key!r} is no population or observable (populations: "
                            f"{', '.join(sorted(p for p in pops if p)) or 'none'})")
    out = {}
    for name in dict.fromkeys(names):
        key = name if name in neurons else population_of(name) if population_of(name) in neurons else None
        if key is None:
            continue
        shape = np.shape(observables[name])
        if not shape:  # one value for the whole population: recorded as it is
            continue
        if len(shape) != 1:
            raise SpecError(f"neurons.{key}: observable {name!r} has shape {shape}; a subset selects nodes of "
                            f"observables with one value per node")
        out[name] = node_indices(f"neurons.{key}", neurons[key], shape[0])
    return out


def rate_sources(rates, sources) -> tuple[str, ...]:
    """The spike sources (observables among ``sources``) of the population rate monitors
    ``rates`` (populations or spike observables)."""
    out = []
    for r in rates or ():
        found = [s for s in sources if s == r or population_of(s) == r]
        if not found:
            raise SpecError(f"rates: {r!r} has no recorded spikes (spike sources: {', '.join(sources) or 'none'}); "
                            f"a population rate counts the spikes of its spike event or threshold crossing")
        if found[0] not in out:
            out.append(found[0])
    return tuple(out)
