"""HDF5 output in the SONATA layout, plus neurodyn's metadata.

Layout of a run file::

    /neurodyn                       attrs: version, created, seed, dt, time_unit, units (JSON),
                                    precision, steps, status, spec (the full spec text)
    /report/<pop>/<var>/data        (n_times, n_nodes), chunked + gzip-compressed, in the run's precision
    /report/<pop>/<var>/mapping/node_ids, /mapping/time = [start, stop, step], attr units
    /spikes/<pop>/timestamps        float64, attr units; /spikes/<pop>/node_ids uint64;
                                    group attr sorting = by_time (an HDF5 enum none/by_id/by_time)
    /diagnostics/<name>             results, attrs describe the method

``/spikes`` is SONATA's spike layout as it stands: the datasets are chunked but not compressed
(libsonata's wheels carry no deflate filter), so any SONATA reader opens the run file itself.
A SONATA report holds one variable per population at ``/report/<pop>/data``, as float32; a
population here records several variables, in the run's precision, hence one group per
variable. :func:`neurodyn.io.export_sonata` (``neurodyn export``) writes them as one standard
SONATA report file per variable.

The report time axis is the one of the samples handed to :meth:`RunWriter.append`: the first
sample's time and the spacing of the samples (``time=`` declares it beforehand, and samples
that disagree with it are an error). A run file is written under a temporary name in the same
folder and renamed to its final name only by :meth:`RunWriter.close` (:mod:`neurodyn.files`,
the one atomic-write helper), so a crash never leaves a half-written file under the final name.
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
from ..files import disk_full, discard, ensure_space, publish, remove_stale_temporaries, temporary_path, write_error

COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
# SONATA's spike sorting attribute: an HDF5 enum with libsonata's base type (a C char)
SORTING = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="i1")


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
        time: ``(start, step)`` of the samples, in ``time_unit`` (a run of ``simulate``:
            ``(transient * dt, every * dt)``); by default taken from the sample times given to
            :meth:`append`. Sample times that disagree with it raise :class:`OutputError`.
        default_population: population name for observables without a ``pop.`` prefix.
        dtype: floating type of the report datasets.
        expected_spikes: observable name -> a rough count of its spikes, which sets the chunk
            size of its spike datasets (:func:`spike_chunk`); by default the largest chunk.
        node_ids: observable name -> the node ids of its recorded columns (``mapping/node_ids``)
            for an observable recorded on a subset of its nodes; ``0..n-1`` by default.
    """

    def __init__(self, path, *, meta: dict, shapes: dict[str, tuple], units: dict[str, str],
                 spikes: tuple[str, ...] = (), time: tuple[float, float] | None = None,
                 time_unit: str = "ms", default_population: str = "population", dtype="float32",
                 expected_spikes: dict[str, int] | None = None, node_ids: dict | None = None):
        self.path = Path(path)
        self.tmp = temporary_path(self.path)
        if self.path.is_dir():
            raise OutputError(f"cannot write output file {self.path}: it is a directory")
        self.removed = remove_stale_temporaries(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = h5py.File(self.tmp, "w")
        except OSError as e:
            raise OutputError(f"cannot write output file {self.path}: {e.strerror or e}") from None
        self.time_start, self.time_step = (None, None) if time is None else (float(time[0]), float(time[1]))
        if self.time_step is not None and not self.time_step > 0:
            raise OutputError(f"time: the step between samples must be > 0, got {self.time_step!r}")
        self.n_times = 0
        self._itemsize = np.dtype(dtype).itemsize
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
            ids = (node_ids or {}).get(name)
            if ids is not None and len(ids) != n_nodes:
                raise OutputError(f"node_ids: {len(ids)} node ids for the {n_nodes} recorded values of {name!r}")
            m.create_dataset("node_ids", data=np.arange(n_nodes, dtype=np.uint64) if ids is None
                             else np.asarray(ids, np.uint64))
            m.create_dataset("time", data=np.full(3, np.nan))
            m["time"].attrs["units"] = time_unit
            self.datasets[name] = ds
        self._write_time_axis()
        self.spikes = {}
        for name in spikes:
            pop, _ = _split(name, default_population)
            g = f.require_group(f"spikes/{pop}")
            g.attrs.create("sorting", SORTING.type(2), dtype=SORTING)
            g.attrs["variable"] = name
            chunk = spike_chunk((expected_spikes or {}).get(name))
            ts = g.create_dataset("timestamps", shape=(0,), maxshape=(None,), dtype="f8", chunks=(chunk,))
            ts.attrs["units"] = time_unit
            ids = g.create_dataset("node_ids", shape=(0,), maxshape=(None,), dtype="u8", chunks=(chunk,))
            self.spikes[name] = (ts, ids)

    def append(self, times, data: dict[str, np.ndarray], spikes: dict[str, tuple]) -> None:
        """Append one chunk of samples (at ``times``) and spikes, then flush the file.

        ``times`` may be ``None`` only when the writer was given ``time=``."""
        if data:
            self._check_times(times, len(next(iter(data.values()))))
        # refuse a write that would fill the disk: HDF5 cannot recover a file after a failed write
        nbytes = sum(np.asarray(a).size * self._itemsize for a in data.values())
        for name, (t, _) in spikes.items():  # spike datasets grow by whole chunks (8-byte times and ids)
            n0, chunk = self.spikes[name][0].shape[0], self.spikes[name][0].chunks[0]
            nbytes += 16 * chunk * (-(-(n0 + len(t)) // chunk) - (-(-n0 // chunk)))
        self._guard(ensure_space, self.path, nbytes)
        self._guard(self._append, data, spikes)

    def _append(self, data, spikes) -> None:
        for name, arr in data.items():
            ds = self.datasets[name]
            arr = np.asarray(arr).reshape(len(arr), -1)
            n0 = ds.shape[0]
            ds.resize(n0 + len(arr), axis=0)
            ds[n0:] = arr
        if data:
            self.n_times += len(next(iter(data.values())))
            self._write_time_axis()
        for name, (t, ids) in spikes.items():
            ts, nid = self.spikes[name]
            n0 = ts.shape[0]
            ts.resize(n0 + len(t), axis=0)
            nid.resize(n0 + len(t), axis=0)
            ts[n0:] = t
            nid[n0:] = ids
        self.file.flush()

    def snapshot(self) -> dict[str, np.ndarray]:
        """The arrays written so far, for a run checkpoint (:class:`neurodyn.core.Checkpoint`):
        ``report/<observable>`` and ``spikes/<observable>/timestamps`` and ``.../node_ids``."""
        arrays = {f"report/{name}": ds[()] for name, ds in self.datasets.items()}
        for name, (ts, ids) in self.spikes.items():
            arrays[f"spikes/{name}/timestamps"], arrays[f"spikes/{name}/node_ids"] = ts[()], ids[()]
        return arrays

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Write the arrays of :meth:`snapshot` into this new writer (a resumed run)."""
        data = {name: arrays[f"report/{name}"] for name in self.datasets}
        spikes = {name: (arrays[f"spikes/{name}/timestamps"], arrays[f"spikes/{name}/node_ids"]) for name in self.spikes}
        self._guard(self._append, data, spikes)

    def _guard(self, fn, *args):
        """Call ``fn``; if a write fails (a full disk), free the temporary file's space, close it
        (HDF5 then closes cleanly) and delete it, and raise one line naming the output and the free
        space. An earlier file of the output's name is untouched."""
        try:
            return fn(*args)
        except (OSError, RuntimeError) as e:
            if isinstance(e, OutputError) and not disk_full(e):
                raise
            self._drop()
            raise write_error("output file", self.path, e) from None

    def _drop(self) -> None:
        """Empty, close and delete the temporary file (emptied first, so that HDF5's final writes
        find room on a full disk)."""
        if self.file is None:
            return
        try:
            os.truncate(self.tmp, 0)
        except OSError:
            pass
        try:
            self.file.close()
        except (OSError, RuntimeError):
            pass
        self.file = None
        discard(self.tmp)

    def _check_times(self, times, n: int) -> None:
        """Take the time axis from the first samples, or check the samples against it."""
        if times is None:
            if self.time_start is None:
                raise OutputError("RunWriter.append: no sample times given and no time= declared; "
                                  "give the times of the samples")
            return
        times = np.asarray(times, dtype=float).reshape(-1)
        if len(times) != n:
            raise OutputError(f"RunWriter.append: {len(times)} sample times for {n} samples")
        if not n:
            return
        if self.time_start is None:
            self.time_start = float(times[0])
        if self.time_step is None and self.n_times + n > 1:
            if self.n_times == 0:
                step = float(times[1] - times[0])
            else:  # the first chunk held one sample
                step = (float(times[0]) - self.time_start) / self.n_times
            if not step > 0:
                raise OutputError(f"RunWriter.append: sample times must increase, got {times[:3].tolist()}")
            self.time_step = step
        step = self.time_step if self.time_step is not None else 0.0
        expected = self.time_start + (self.n_times + np.arange(n)) * step
        # simulate computes (transient + j * every) * dt, the axis start + j * step: equal up to rounding
        tolerance = 1e-6 * step + 1e-12 * np.abs(expected)
        bad = np.nonzero(np.abs(times - expected) > tolerance)[0]
        if len(bad):
            i = int(bad[0])
            raise OutputError(
                f"RunWriter.append: sample {self.n_times + i} is at time {times[i]:g} but the report's time axis "
                f"(start {self.time_start:g}, step {step:g}) puts it at {expected[i]:g}; give time= as "
                f"(transient * dt, every * dt) of the run, or leave it out to take it from the samples")

    def _write_time_axis(self) -> None:
        """``mapping/time = [start, stop, step]`` once the start is known (NaN before); a single
        sample without a declared step gets step 1 (any step describes it)."""
        if self.time_start is None:
            return
        step = self.time_step if self.time_step is not None else 1.0
        axis = [self.time_start, self.time_start + self.n_times * step, step]
        for ds in self.datasets.values():
            ds.parent["mapping/time"][:] = axis

    def add_diagnostic(self, name: str, value, **attrs) -> None:
        """Store a result under ``/diagnostics/<name>`` with attributes describing it."""
        ds = self.file.require_group("diagnostics").create_dataset(name, data=np.asarray(value))
        for k, v in attrs.items():
            ds.attrs[k] = v

    def close(self, status: str = "complete", **attrs) -> Path:
        """Record the final status, close and move the file to its final name, which is
        :func:`final_path` (``path`` itself only for a complete run); returns that name."""
        def finish():
            ensure_space(self.path, 0)  # room for the last metadata
            root = self.file["neurodyn"]
            root.attrs["status"] = status
            for k, v in attrs.items():
                root.attrs[k] = v
            self.file.close()

        self._guard(finish)
        path = final_path(self.path, status)
        try:
            return publish(self.tmp, path)
        except OSError as e:
            discard(self.tmp)
            raise OutputError(f"cannot write output file {path}: {e.strerror or e}") from None

    def abort(self) -> None:
        """Close and delete the temporary file (nothing was worth keeping)."""
        self._drop()


def spike_chunk(expected: int | None) -> int:
    """Elements per chunk of a spike dataset expected to hold about ``expected`` spikes: the
    next power of two, between 1,024 (8 kB) and 65,536 (512 kB), so a file with few spikes stays
    small and one with many is not split into tiny chunks."""
    if expected is None:
        return 65536
    return int(min(65536, max(1024, 1 << max(0, int(expected) - 1).bit_length())))


INCOMPLETE_SUFFIX = {"interrupted": "partial", "diverged": "diverged"}


def final_path(path, status: str) -> Path:
    """Where a run file ending with ``status`` is kept: ``path`` for a complete run; otherwise a
    name beside it that says so (``run.h5`` -> ``run.partial.h5`` when interrupted,
    ``run.diverged.h5`` when diverged), so an unfinished run never replaces a complete one."""
    path = Path(path)
    if status == "complete":
        return path
    return path.with_name(f"{path.stem}.{INCOMPLETE_SUFFIX.get(status, status)}{path.suffix}")


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
    "node_ids", "units", "sorting"}}``), ``"diagnostics"`` (``{name: array}``), and ``"sweep"`` and
    ``"readout"`` (a task run's arrays and attributes) when present.
    """
    with open_for_reading(path) as f:
        out: dict[str, Any] = {"meta": {k: _attr(v) for k, v in f["neurodyn"].attrs.items()} if "neurodyn" in f else {},
                               "report": {}, "spikes": {}, "diagnostics": {}}
        for pop, g in f.get("report", {}).items():
            # a SONATA report file (neurodyn export, or another tool) holds one variable per file at
            # /report/<pop>/data; neurodyn's run files hold /report/<pop>/<var>/data
            variables = {_sonata_variable(path): g} if isinstance(g.get("data"), h5py.Dataset) else dict(g.items())
            for var, r in variables.items():
                t = r["mapping/time"][()]
                if "time_unit" not in out["meta"] and "units" in r["mapping/time"].attrs:
                    out["meta"]["time_unit"] = _attr(r["mapping/time"].attrs["units"])
                n = r["data"].shape[0]
                out["report"].setdefault(pop, {})[var] = {
                    "data": r["data"][()], "node_ids": r["mapping/node_ids"][()], "time": t,
                    "times": t[0] + t[2] * np.arange(n), "units": _attr(r["data"].attrs.get("units", "1")),
                }
        for pop, g in f.get("spikes", {}).items():
            out["spikes"][pop] = {"timestamps": g["timestamps"][()], "node_ids": g["node_ids"][()],
                                  "units": _attr(g["timestamps"].attrs.get("units", "ms")), "sorting": sorting(g)}
            out["meta"].setdefault("time_unit", out["spikes"][pop]["units"])  # a SONATA spike file has no /neurodyn
        for name, d in f.get("diagnostics", {}).items():
            out["diagnostics"][name] = d[()]
        if "sweep" in f:
            out["sweep"] = _read_group(f["sweep"])
        if "readout" in f:  # a run of a spec with a [task] (neurodyn.spec.task)
            out["readout"] = _read_group(f["readout"])
    return out


def _sonata_variable(path) -> str:
    """The variable of a SONATA report file: ``x`` for ``report_x.h5`` (neurodyn export's names),
    else ``data``."""
    stem = Path(path).name.removesuffix(".h5")
    return stem.removeprefix("report_") if stem.startswith("report_") and len(stem) > 7 else "data"


def sorting(group) -> str:
    """The SONATA ``sorting`` of a ``/spikes/<pop>`` group as a name (``"none"`` when absent);
    files of neurodyn 0.1 stored the name as a string, later ones an HDF5 enum."""
    if "sorting" not in group.attrs:
        return "none"
    names = h5py.check_enum_dtype(group.attrs.get_id("sorting").dtype)
    value = _attr(group.attrs["sorting"])
    return {v: k for k, v in names.items()}[value] if names else str(value)


def _read_group(g) -> dict:
    res = {k: _attr(v) for k, v in g.attrs.items()}
    for k, v in g.items():
        res[k] = _read_group(v) if isinstance(v, h5py.Group) else v[()]
    return res

