"""A run's spikes as a Neurodata Without Borders file (NWB 2; Rübel et al., "The Neurodata Without
Borders ecosystem for neurophysiological data science", eLife 11:e78362, 2022; the ``pynwb``
package, an optional dependency: ``pip install 'neurodyn[nwb]'``).

:func:`export_nwb` writes the spikes of a neurodyn run file (docs/interchange.md, "NWB"):

* the ``Units`` table: one row per neuron of every population with spikes, ``spike_times`` in
  seconds (NWB's unit; the run file's ms divided by 1000, so a spike of the state after step
  ``s`` is at ``s dt / 1000``), and the columns ``population`` and ``node_id`` (the neuron's index in it);
* ``processing/neurodyn/populations``: one row per population, ``population``, ``n_neurons``,
  ``model`` (the spec's ``model``, or ``""``) and ``n_spikes``;
* ``session_start_time`` the run file's creation time, ``identifier`` ``neurodyn-<name>-<seed>``,
  ``notes`` the run's spec text.

A population's size is the spec's ``n`` when the run file's spec names it, else one more than
its largest spiking node id. Spikes counted in another time unit than ms or s (maps count
iterations) are refused in one line: NWB's times are seconds.
"""

from __future__ import annotations

import datetime as _dt
import tomllib
import warnings
from pathlib import Path

import numpy as np

from ..errors import SpecError
from ..files import atomic_write
from .hdf5 import load

PER_SECOND = {"ms": 1000.0, "s": 1.0}


def _pynwb():
    try:
        import pynwb
    except ImportError:  # pragma: no cover - depends on the environment
        raise SpecError("NWB export needs the 'pynwb' package: pip install 'neurodyn[nwb]'") from None
    return pynwb


def export_nwb(run_file, path) -> Path:
    """Write the spikes and population metadata of the neurodyn run file ``run_file`` as the NWB
    file ``path`` (module docstring; replaced atomically). Returns ``path``."""
    pynwb = _pynwb()
    from hdmf.common import DynamicTable

    data = load(run_file)
    meta = data["meta"]
    spec = {}
    if isinstance(meta.get("spec"), str):
        try:
            spec = tomllib.loads(meta["spec"])
        except tomllib.TOMLDecodeError:
            spec = {}
    tables = spec.get("populations", {}) if isinstance(spec.get("populations"), dict) else {}
    created = meta.get("created")
    start = _dt.datetime.fromisoformat(created) if isinstance(created, str) else _dt.datetime.now(_dt.timezone.utc)
    name = str(meta.get("name", Path(run_file).stem))
    nwb = pynwb.NWBFile(session_description=f"neurodyn {meta.get('version', '')} run {name!r}: simulated spikes",
                        identifier=f"neurodyn-{name}-{meta.get('seed', 0)}", session_start_time=start,
                        notes=meta.get("spec") if isinstance(meta.get("spec"), str) else "")
    nwb.add_unit_column(name="population", description="neurodyn population of the neuron")
    nwb.add_unit_column(name="node_id", description="index of the neuron in its population")
    pops = DynamicTable(name="populations", description="the populations of the run")
    for column, text in (("population", "population name"), ("n_neurons", "number of neurons"), ("model", "neurodyn model of the population"),
                         ("n_spikes", "spikes of the run")):
        pops.add_column(name=column, description=text)
    for pop, spikes in data["spikes"].items():
        unit = spikes["units"]
        if unit not in PER_SECOND:
            raise SpecError(f"export_nwb: population {pop!r}: spikes counted in {unit!r}; NWB's spike times are "
                            f"seconds (a run in ms or s)")
        times = np.asarray(spikes["timestamps"], np.float64) / PER_SECOND[unit]
        ids = np.asarray(spikes["node_ids"], np.int64)
        table = tables.get(pop, {}) if isinstance(tables.get(pop), dict) else {}
        n = int(table.get("n", 1)) if "model" in table else int(ids.max(initial=-1)) + 1
        order = np.argsort(ids, kind="stable")
        bounds = np.searchsorted(ids[order], np.arange(n + 1))
        for i in range(n):
            nwb.add_unit(spike_times=times[order[bounds[i]:bounds[i + 1]]], population=pop, node_id=i)
        pops.add_row(population=pop, n_neurons=n, model=str(table.get("model", "")), n_spikes=int(ids.size))
    nwb.create_processing_module(name="neurodyn", description="neurodyn run metadata").add(pops)
    path = Path(path)
    with atomic_write(path, "NWB file") as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The file path provided", UserWarning)  # the temporary name's suffix
        with pynwb.NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
    return path
