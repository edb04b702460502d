"""The resumable HDF5 sweep store (DESIGN.md ``/sweep`` layout).

::

    /sweep                      attrs: spec, grid (JSON), measures (JSON), steps, transient,
                                chunk_size, drive (fingerprint), n_points, shape (JSON), paths
    /sweep/params/<path>        (n_points,) parameter values
    /sweep/results/<measure>    (n_points, ...) results, NaN until computed
    /sweep/done                 (n_points,) bool
    /sweep/chunk_writes         (n_chunks,) how many times each chunk was written (1 = computed once)

Crash safety: the file is created complete (every dataset allocated and filled) under a
temporary name and renamed; afterwards a chunk only overwrites raw data at fixed offsets of
contiguous datasets, then flushes, then sets its ``done`` flags and flushes again. A kill at any
moment leaves a readable file in which a chunk is either marked done with its results written,
or not marked (and recomputed on resume). Chunks have fixed boundaries, so a resumed sweep
computes exactly the batches an uninterrupted one would, and its results are identical.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import h5py
import numpy as np

from ..errors import NeurodynError, OutputError
from ..files import atomic_write

IDENTITY = ("spec", "grid", "measures", "steps", "transient", "chunk_size", "drive")


class SweepMismatchError(NeurodynError):
    """The output file holds a different sweep."""


class SweepStore:
    """An open sweep file: write chunks, read results, list what is left to do."""
    def __init__(self, path: Path, file: h5py.File):
        self.path, self.file = path, file
        g = file["sweep"]
        self.done = g["done"]
        self.results = {name: ds for name, ds in g["results"].items()}
        self.chunk_writes = g["chunk_writes"]
        self.chunk_size = int(g.attrs["chunk_size"])
        self.n_points = int(g.attrs["n_points"])

    @classmethod
    def open(cls, path, *, identity: dict, grid, result_specs: dict[str, tuple[tuple, str]], meta: dict) -> "SweepStore":
        """Open ``path`` to resume (refusing a different sweep) or create it."""
        path = Path(path)
        if path.exists():
            try:
                f = h5py.File(path, "r+")
            except OSError as e:
                raise OutputError(f"{path} exists but is not a readable sweep file ({e})") from None
            if "sweep" not in f:
                f.close()
                raise SweepMismatchError(f"{path} exists and is not a sweep file; choose another --out")
            attrs = f["sweep"].attrs
            for key in IDENTITY:
                stored = attrs.get(key)
                stored = stored.decode() if isinstance(stored, bytes) else stored
                if str(stored) != str(identity[key]):
                    f.close()
                    verb = "differ" if key.endswith("s") else "differs"
                    raise SweepMismatchError(
                        f"{path} holds a different sweep (its {key} {verb} from this one); "
                        f"give another --out, or delete the file to start over")
            return cls(path, f)
        with atomic_write(path, "sweep file") as tmp, h5py.File(tmp, "w") as f:
            root = f.create_group("neurodyn")
            for k, v in meta.items():
                root.attrs[k] = v
            g = f.create_group("sweep")
            for k, v in identity.items():
                g.attrs[k] = v
            g.attrs["n_points"] = grid.n_points
            g.attrs["shape"] = json.dumps(list(grid.shape))
            g.attrs["paths"] = json.dumps(list(grid.paths))
            g.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            p = g.create_group("params")
            for j, name in enumerate(grid.paths):
                p.create_dataset(name, data=grid.values[:, j])
            r = g.create_group("results")
            for name, (shape, dtype) in result_specs.items():
                r.create_dataset(name, data=np.full((grid.n_points,) + tuple(shape), np.nan, dtype))
            g.create_dataset("done", data=np.zeros(grid.n_points, bool))
            n_chunks = -(-grid.n_points // int(identity["chunk_size"]))
            g.create_dataset("chunk_writes", data=np.zeros(n_chunks, np.int32))
        return cls(path, h5py.File(path, "r+"))

    def pending_chunks(self) -> list[int]:
        """Indices of the chunks not yet done."""
        done = self.done[()]
        n_chunks = self.chunk_writes.shape[0]
        return [c for c in range(n_chunks)
                if not done[c * self.chunk_size:min((c + 1) * self.chunk_size, self.n_points)].all()]

    def write_chunk(self, index: int, results: dict[str, np.ndarray]) -> None:
        """Write a chunk's results, flush, then mark its points done and flush again."""
        start = index * self.chunk_size
        stop = min(start + self.chunk_size, self.n_points)
        for name, ds in self.results.items():
            ds[start:stop] = np.asarray(results[name])[: stop - start]
        self.file.flush()
        self.done[start:stop] = True
        self.chunk_writes[index] = self.chunk_writes[index] + 1
        self.file.flush()

    def read_results(self) -> dict[str, np.ndarray]:
        """All results as arrays (NaN where not done)."""
        return {name: ds[()] for name, ds in self.results.items()}

    def close(self) -> None:
        """Close the file."""
        self.file.close()
