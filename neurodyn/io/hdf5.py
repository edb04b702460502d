"""HDF5 output in the SONATA layout, plus neurodyn's metadata.

Layout of a run file::

    /neurodyn                       attrs: version, created, seed, dt, time_unit, units (JSON),
                                    precision, steps, status, spec (the full spec text)
    /report/<pop>/<var>/data        (n_times, n_nodes), chunked + gzip-compressed
    /report/<pop>/<var>/mapping/node_ids, /mapping/time = [start, stop, step], attr units
    /spikes/<pop>/timestamps        float64, attr units; /spikes/<pop>/node_ids uint64;
                                    group attr sorting = "by_time"
    /diagnostics/<name>             results, attrs describe the method

Each ``/report/<pop>/<var>`` group is a complete SONATA report (``data`` + ``mapping``); a
population records several variables, hence one group per variable (SONATA itself keeps one
variable per report file). A run file is written under a temporary name in the same folder
and renamed to its final name only by :meth:`RunWriter.close`, so a crash never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import OutputError

COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def _split(name: str, default_population: str) -> tuple[str, str]:
    pop, _, var = name.rpartition(".")
    return (pop or default_population), var


class RunWriter:
    """Streams a run to ``path`` chunk by chunk (see the module docstring for the layout).

    Args:
        path: final file name.
        meta: attributes for ``/neurodyn`` (spec text, seed, dt, ...); dicts are stored as JSON.
        shapes: observable name -> shape of one sample (e.g. ``(n_nodes,)``).
        units: observable name -> unit string.
        spikes: observable names whose spikes are recorded.
        time: ``(start, step)`` of the samples, in ``time_unit``.
        default_population: population name for observables without a ``pop.`` prefix.
        dtype: floating type of the report datasets.
    """

    def __init__(self, path, *, meta: dict, shapes: dict[str, tuple], units: dict[str, str],
                 spikes: tuple[str, ...] = (), time: tuple[float, float] = (0.0, 1.0),
                 time_unit: str = "ms", default_population: str = "population", dtype="float32"):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        if self.path.is_dir():
            raise OutputError(f"cannot write output file {self.path}: it is a directory")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = h5py.File(self.tmp, "w")
        except OSError as e:
            raise OutputError(f"cannot write output file {self.path}: {e.strerror or e}") from None
        self.time_start, self.time_step = time
        self.n_times = 0
        self.default_population = default_population
        f = self.file
        root = f.create_group("neurodyn")
        for k, v in meta.items():
            root.attrs[k] = json.dumps(v) if isinstance(v, (dict, list, tuple)) else v
        root.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        root.attrs["time_unit"] = time_unit
        root.attrs["units"] = json.dumps(units)
        root.attrs["status"] = "running"
        self.datasets = {}
        for name, shape in shapes.items():
            pop, var = _split(name, default_population)
            g = f.require_group(f"report/{pop}/{var}")
            n_nodes = int(np.prod(shape)) if shape else 1
            rows = max(1, min(4096, (1 << 20) // max(8 * n_nodes, 1)))
            ds = g.create_dataset("data", shape=(0, n_nodes), maxshape=(None, n_nodes), dtype=dtype,
                                  chunks=(rows, n_nodes), **COMPRESSION)
            ds.attrs["units"] = units.get(name, "1")
            m = g.create_group("mapping")
            m.create_dataset("node_ids", data=np.arange(n_nodes, dtype=np.uint64))
            m.create_dataset("time", data=np.array([self.time_start, self.time_start, self.time_step]))
            m["time"].attrs["units"] = time_unit
            self.datasets[name] = ds
        self.spikes = {}
        for name in spikes:
            pop, _ = _split(name, default_population)
            g = f.require_group(f"spikes/{pop}")
            g.attrs["sorting"] = "by_time"
            g.attrs["variable"] = name
            ts = g.create_dataset("timestamps", shape=(0,), maxshape=(None,), dtype="f8", chunks=(65536,), **COMPRESSION)
            ts.attrs["units"] = time_unit
            ids = g.create_dataset("node_ids", shape=(0,), maxshape=(None,), dtype="u8", chunks=(65536,), **COMPRESSION)
            self.spikes[name] = (ts, ids)

    def append(self, times, data: dict[str, np.ndarray], spikes: dict[str, tuple]) -> None:
        """Append one chunk of samples and spikes, then flush the file."""
        for name, arr in data.items():
            ds = self.datasets[name]
            arr = np.asarray(arr).reshape(len(arr), -1)
            n0 = ds.shape[0]
            ds.resize(n0 + len(arr), axis=0)
            ds[n0:] = arr
        if data:
            self.n_times += len(next(iter(data.values())))
            stop = self.time_start + self.n_times * self.time_step
            for name in self.datasets:
                self.datasets[name].parent["mapping/time"][1] = stop
        for name, (t, ids) in spikes.items():
            ts, nid = self.spikes[name]
            n0 = ts.shape[0]
            ts.resize(n0 + len(t), axis=0)
            nid.resize(n0 + len(t), axis=0)
            ts[n0:] = t
            nid[n0:] = ids
        self.file.flush()

    def add_diagnostic(self, name: str, value, **attrs) -> None:
        """Store a result under ``/diagnostics/<name>`` with attributes describing it."""
        ds = self.file.require_group("diagnostics").create_dataset(name, data=np.asarray(value))
        for k, v in attrs.items():
            ds.attrs[k] = v

    def close(self, status: str = "complete", **attrs) -> Path:
        """Record the final status, close and move the file to its final name."""
        root = self.file["neurodyn"]
        root.attrs["status"] = status
        for k, v in attrs.items():
            root.attrs[k] = v
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file (nothing was worth keeping)."""
        try:
            self.file.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def _attr(v):
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def open_for_reading(path) -> h5py.File:
    """Open an existing HDF5 file read-only, or raise :class:`OutputError` naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise OutputError(f"no such file: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise OutputError(f"{path} is not a readable HDF5 file ({e})") from None


def load(path) -> dict[str, Any]:
    """Read a neurodyn HDF5 file back into NumPy arrays and metadata.

    Returns a dict with ``"meta"`` (the ``/neurodyn`` attributes; JSON decoded), ``"report"``
    (``{pop: {var: {"data", "node_ids", "time", "units", "times"}}}`` where ``times`` is the
    sample time axis built from ``mapping/time``), ``"spikes"`` (``{pop: {"timestamps",
    "node_ids", "units"}}``), ``"diagnostics"`` (``{name: array}``) and ``"sweep"`` when present.
    """
    with open_for_reading(path) as f:
        out: dict[str, Any] = {"meta": {k: _attr(v) for k, v in f["neurodyn"].attrs.items()} if "neurodyn" in f else {},
                               "report": {}, "spikes": {}, "diagnostics": {}}
        for pop, g in f.get("report", {}).items():
            for var, r in g.items():
                t = r["mapping/time"][()]
                n = r["data"].shape[0]
                out["report"].setdefault(pop, {})[var] = {
                    "data": r["data"][()], "node_ids": r["mapping/node_ids"][()], "time": t,
                    "times": t[0] + t[2] * np.arange(n), "units": _attr(r["data"].attrs.get("units", "1")),
                }
        for pop, g in f.get("spikes", {}).items():
            out["spikes"][pop] = {"timestamps": g["timestamps"][()], "node_ids": g["node_ids"][()],
                                  "units": _attr(g["timestamps"].attrs.get("units", "ms"))}
        for name, d in f.get("diagnostics", {}).items():
            out["diagnostics"][name] = d[()]
        if "sweep" in f:
            out["sweep"] = _read_group(f["sweep"])
    return out


def _read_group(g) -> dict:
    res = {k: _attr(v) for k, v in g.attrs.items()}
    for k, v in g.items():
        res[k] = _read_group(v) if isinstance(v, h5py.Group) else v[()]
    return res


def describe(path) -> str:
    """A human-readable listing of a neurodyn HDF5 file: groups, shapes, units and the spec."""
    lines = [f"{path}"]
    spec = None
    with open_for_reading(path) as f:
        def visit(name, obj):
            depth = name.count("/")
            label = name.rsplit("/", 1)[-1]
            if isinstance(obj, h5py.Dataset):
                unit = obj.attrs.get("units")
                unit = f" [{_attr(unit)}]" if unit is not None else ""
                lines.append(f"{'  ' * (depth + 1)}{label}: {obj.dtype} {obj.shape}{unit}")
            else:
                lines.append(f"{'  ' * (depth + 1)}{label}/")

        if "neurodyn" in f:
            lines.append("  neurodyn/ (metadata)")
            for k, v in f["neurodyn"].attrs.items():
                if k == "spec":
                    spec = _attr(v)
                    continue
                lines.append(f"    {k} = {_attr(v)}")
        for top in ("report", "spikes", "diagnostics", "sweep"):
            if top in f:
                lines.append(f"  {top}/")
                for k, v in f[top].attrs.items():
                    if k == "spec":
                        spec = spec or _attr(v)
                    else:
                        lines.append(f"    {k} = {_attr(v)}")
                f[top].visititems(lambda n, o: visit(f"{top}/{n}", o))
    if spec:
        lines.append("  spec:")
        lines.extend(f"    | {line}" for line in str(spec).splitlines())
    return "\n".join(lines)
