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

An export replaces the files of an earlier one all together or not at all: every file is
written under a temporary name (:func:`neurodyn.files.atomic_write`) and all are renamed over
the earlier ones only when the last is complete. A stop request (``should_stop``, checked
between blocks of at most :data:`BLOCK_BYTES`) or an error before then deletes the temporary
files and leaves the folder as it was.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from ..errors import Interrupted, OutputError
from ..files import atomic_write
from .hdf5 import SORTING, open_for_reading, sorting

BLOCK_BYTES = 1 << 22  # read, converted and written at once (4 MiB): a long report is never read whole


def export_sonata(path, directory, *, should_stop: Callable[[], bool] | None = None) -> list[Path]:
    """Write the reports and spikes of the run file ``path`` as SONATA files in ``directory``
    (created if needed; the files of an earlier export are replaced, all at once when the
    export is complete). Returns the paths written.

    ``should_stop`` (e.g. a :class:`neurodyn.signals.StopFlag`) is asked between blocks; when
    it says so, :class:`~neurodyn.errors.Interrupted` is raised, no temporary file is left and
    no file in ``directory`` is written or replaced."""
    directory = Path(directory)
    stop = should_stop if should_stop is not None else (lambda: False)

    def check() -> None:
        if stop():
            raise Interrupted(f"export stopped; no file in {directory} was written or replaced")

    with open_for_reading(path) as src:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot write to {directory}: {e.strerror or e}") from None
        by_variable: dict[str, list[tuple[str, h5py.Group]]] = {}
        for pop, group in src.get("report", {}).items():
            for var, report in group.items():
                by_variable.setdefault(var, []).append((pop, report))
        files = [(directory / f"report_{var}.h5", lambda f, r=reports: _reports(f, r, check))
                 for var, reports in by_variable.items()]
        if "spikes" in src:
            files.append((directory / "spikes.h5", lambda f: _spikes(f, src["spikes"], check)))
        with contextlib.ExitStack() as staged:  # on leaving it normally, every file is renamed into place
            for out, fill in files:
                tmp = staged.enter_context(atomic_write(out, "SONATA file"))
                with h5py.File(tmp, "w") as f:
                    fill(f)
                check()
    return [out for out, _ in files]


def _copy(src: h5py.Dataset, dst: h5py.Group, name: str, dtype, check) -> h5py.Dataset:
    """Copy ``src`` into a new uncompressed dataset ``dst[name]`` of ``dtype``, in blocks of
    whole rows of at most :data:`BLOCK_BYTES`, calling ``check`` before each block."""
    out = dst.create_dataset(name, shape=src.shape, dtype=dtype)
    row_bytes = max(1, int(np.prod(src.shape[1:], dtype=np.int64)) * max(src.dtype.itemsize, np.dtype(dtype).itemsize))
    rows = max(1, BLOCK_BYTES // row_bytes)
    for i in range(0, src.shape[0], rows):
        check()
        out[i:i + rows] = src[i:i + rows].astype(dtype)
    return out


def _reports(f: h5py.File, reports, check) -> None:
    for pop, report in reports:
        src = report["data"]
        n_nodes = src.shape[1]
        g = f.create_group(f"report/{pop}")
        data = _copy(src, g, "data", np.float32, check)
        data.attrs["units"] = report["data"].attrs.get("units", "1")
        m = g.create_group("mapping")
        ids = m.create_dataset("node_ids", data=report["mapping/node_ids"][()].astype(np.uint64))
        ids.attrs["sorted"] = np.uint8(1)
        m.create_dataset("index_pointers", data=np.arange(n_nodes + 1, dtype=np.uint64))
        m.create_dataset("element_ids", data=np.zeros(n_nodes, dtype=np.uint32))
        time = m.create_dataset("time", data=report["mapping/time"][()].astype(np.float64))
        time.attrs["units"] = report["mapping/time"].attrs.get("units", "ms")


def _spikes(f: h5py.File, spikes: h5py.Group, check) -> None:
    for pop, src in spikes.items():
        g = f.create_group(f"spikes/{pop}")
        g.attrs.create("sorting", SORTING.type(h5py.check_enum_dtype(SORTING)[sorting(src)]), dtype=SORTING)
        ts = _copy(src["timestamps"], g, "timestamps", np.float64, check)
        ts.attrs["units"] = src["timestamps"].attrs.get("units", "ms")
        _copy(src["node_ids"], g, "node_ids", np.uint64, check)
