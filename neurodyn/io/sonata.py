"""Export a run file as standard SONATA files: one report file per variable, and the spikes.

A SONATA report (SONATA data format, github.com/AllenInstitute/sonata, "Output: reports")
holds one variable: ``/report/<pop>/data`` of shape ``(n_times, n_elements)`` in float32 with
attribute ``units``, and ``/report/<pop>/mapping/`` with ``node_ids``, ``index_pointers``
(element range of each node), ``element_ids`` and ``time = [start, stop, step]`` (attribute
``units``). A neurodyn run records several variables per population in its own precision
(``/report/<pop>/<var>/``, see :mod:`neurodyn.io.hdf5`), so the export writes

* ``<directory>/report_<var>.h5``: every population that records ``<var>``, as
  ``/report/<pop>/``, one element per node, the data converted to float32 (SONATA's type; the
  run file keeps the full precision);
* ``<directory>/spikes.h5``: ``/spikes/<pop>`` as in the run file (which SONATA readers can
  also open directly).

Every dataset is written uncompressed, so readers without HDF5's deflate filter (libsonata's
wheels) open them.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..errors import OutputError
from ..files import atomic_write
from .hdf5 import SORTING, open_for_reading, sorting

ROWS = 1 << 16  # rows converted at once, so a long report is never read whole


def export_sonata(path, directory) -> list[Path]:
    """Write the reports and spikes of the run file ``path`` as SONATA files in ``directory``
    (created if needed; files of an earlier export are replaced). Returns the paths written."""
    directory = Path(directory)
    written = []
    with open_for_reading(path) as src:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot write to {directory}: {e.strerror or e}") from None
        by_variable: dict[str, list[tuple[str, h5py.Group]]] = {}
        for pop, group in src.get("report", {}).items():
            for var, report in group.items():
                by_variable.setdefault(var, []).append((pop, report))
        for var, reports in by_variable.items():
            written.append(_write(directory / f"report_{var}.h5", lambda f: _reports(f, reports)))
        if "spikes" in src:
            written.append(_write(directory / "spikes.h5", lambda f: _spikes(f, src["spikes"])))
    return written


def _write(path: Path, fill) -> Path:
    with atomic_write(path, "SONATA file") as tmp, h5py.File(tmp, "w") as f:
        fill(f)
    return path


def _reports(f: h5py.File, reports) -> None:
    for pop, report in reports:
        src = report["data"]
        n_times, n_nodes = src.shape
        g = f.create_group(f"report/{pop}")
        data = g.create_dataset("data", shape=(n_times, n_nodes), dtype="f4")
        for i in range(0, n_times, ROWS):
            data[i:i + ROWS] = src[i:i + ROWS].astype(np.float32)
        data.attrs["units"] = report["data"].attrs.get("units", "1")
        m = g.create_group("mapping")
        ids = m.create_dataset("node_ids", data=report["mapping/node_ids"][()].astype(np.uint64))
        ids.attrs["sorted"] = np.uint8(1)
        m.create_dataset("index_pointers", data=np.arange(n_nodes + 1, dtype=np.uint64))
        m.create_dataset("element_ids", data=np.zeros(n_nodes, dtype=np.uint32))
        time = m.create_dataset("time", data=report["mapping/time"][()].astype(np.float64))
        time.attrs["units"] = report["mapping/time"].attrs.get("units", "ms")


def _spikes(f: h5py.File, spikes: h5py.Group) -> None:
    for pop, src in spikes.items():
        g = f.create_group(f"spikes/{pop}")
        g.attrs.create("sorting", SORTING.type(h5py.check_enum_dtype(SORTING)[sorting(src)]), dtype=SORTING)
        ts = g.create_dataset("timestamps", data=src["timestamps"][()].astype(np.float64))
        ts.attrs["units"] = src["timestamps"].attrs.get("units", "ms")
        g.create_dataset("node_ids", data=src["node_ids"][()].astype(np.uint64))
