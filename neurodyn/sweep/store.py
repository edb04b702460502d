"""The resumable HDF5 sweep store (DESIGN.md ``/sweep`` layout), which verifies itself.

::

    /sweep                      attrs: spec, grid (JSON), measures (JSON), steps, transient,
                                chunk_size, drive (fingerprint), n_points, shape (JSON), paths
    /sweep/params/<path>        (n_points,) parameter values
    /sweep/results/<measure>    (n_points, ...) results, NaN until computed
    /sweep/done                 (n_points,) bool
    /sweep/chunk_writes         (n_chunks,) how many times each chunk was written (1 = computed once)
    /sweep/checksums            (n_chunks, 16) uint8: per chunk, the BLAKE2b-128 digest
                                (:func:`neurodyn.checksum.digest`) of its index, its results and
                                its done flags, written with the flags

Crash safety: the file is created complete (every dataset allocated and filled) under a
temporary name and renamed; afterwards a chunk only overwrites raw data at fixed offsets of
contiguous datasets, then flushes, then writes its checksum and sets its ``done`` flags and
flushes again. A kill at any moment leaves a readable file in which a chunk is either marked
done with its results written, or not marked (and recomputed on resume). Chunks have fixed
boundaries, so a resumed sweep computes exactly the batches an uninterrupted one would, and its
results are identical.

Integrity: a file is resumed only after it verifies, in two steps. Its first 4096 bytes (an HDF5
user block, which HDF5 ignores) hold ``neurodyn-sweep-store-1``, the byte ranges of the raw data
of the results, flags, counts and checksums (the only bytes a chunk ever writes; and the
superblock's consistency flags, which HDF5 sets while the file is open for writing) and a BLAKE2b
digest of every other byte of the file: the HDF5 structure, the attributes and the parameter
values. That digest is checked with plain file reads before HDF5 parses anything, so a file whose
structure was damaged is refused with one line instead of crashing the HDF5 library. Then a chunk
counts as done only if all its
``done`` flags are set and its checksum matches its results and flags; the parameter values must
be those of the grid; every dataset must have its shape and type. A chunk that does not verify
is recomputed. If a chunk did not verify (flags set by hand, garbage bytes in results or flags),
the file is rebuilt, complete, under a temporary name with the chunks that did verify, and
renamed over the damaged one; nothing is written into a damaged file's structure. A file whose
structure does not verify, that HDF5 cannot open, or whose ``/sweep`` attributes cannot be read,
is refused with one line (:class:`~neurodyn.errors.OutputError`), as is a file another process
holds open for writing. Files of earlier versions (no user block) are verified chunk by chunk
(they hold no checksums, so every chunk is recomputed) and rebuilt in the current layout.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..checksum import DAMAGE, SIZE, digest, hexdigest
from ..errors import NeurodynError, OutputError
from ..files import atomic_write, ensure_space

MAGIC = b"neurodyn-sweep-store-1\n"
USERBLOCK = 4096
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

IDENTITY = ("spec", "grid", "measures", "steps", "transient", "chunk_size", "drive")


class SweepMismatchError(NeurodynError):
    """The output file holds a different sweep."""


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _damaged(path, e) -> OutputError:
    return OutputError(f"{path} is a damaged sweep file ({_one_line(e)}); delete it to start over, or give another --out")


def _in_use(e: OSError) -> bool:
    text = str(e).lower()
    return "unable to lock file" in text or "resource temporarily unavailable" in text


def _chunk_digest(index: int, results: dict[str, np.ndarray], done: np.ndarray) -> bytes:
    return digest(*(results[name] for name in sorted(results)), np.asarray(done).view(np.uint8),
                  label=f"sweep chunk {index}")


class SweepStore:
    """An open sweep file: write chunks, read results, list what is left to do.

    ``repaired``: how many points of the file did not verify when it was opened (they are
    recomputed); ``rebuilt``: whether the file was rebuilt because something in it was damaged."""

    def __init__(self, path: Path, file: h5py.File, n_points: int, chunk_size: int):
        self.path, self.file = path, file
        g = file["sweep"]
        self.done = g["done"]
        self.results = {name: ds for name, ds in g["results"].items()}
        self.chunk_writes = g["chunk_writes"]
        self.checksums = g["checksums"]
        self.chunk_size = int(chunk_size)
        self.n_points = int(n_points)
        self.repaired = 0
        self.rebuilt = False

    @property
    def n_chunks(self) -> int:
        """How many chunks the sweep has."""
        return -(-self.n_points // self.chunk_size)

    def _bounds(self, index: int) -> tuple[int, int]:
        start = index * self.chunk_size
        return start, min(start + self.chunk_size, self.n_points)

    @classmethod
    def open(cls, path, *, identity: dict, grid, result_specs: dict[str, tuple[tuple, str]], meta: dict) -> "SweepStore":
        """Open ``path`` to resume (refusing a different sweep, verifying every chunk and
        rebuilding a damaged file) or create it."""
        path = Path(path)
        chunk_size = int(identity["chunk_size"])
        if not path.exists():
            _create(path, identity, grid, result_specs, meta)
            return cls._reopen(path, grid.n_points, chunk_size)
        _check_structure(path)
        try:
            f = h5py.File(path, "r+")
        except OSError as e:
            if _in_use(e):
                raise OutputError(f"{path} is in use by another process (another sweep writing it?); wait for it "
                                  f"to end, or give another --out") from None
            if not os.access(path, os.W_OK) or isinstance(e, PermissionError):
                raise OutputError(f"cannot resume {path}: it is not writable ({_one_line(e)})") from None
            raise OutputError(f"{path} exists but is not a readable sweep file ({_one_line(e)})") from None
        except DAMAGE as e:
            raise _damaged(path, e) from None
        try:
            if "sweep" not in f:
                raise SweepMismatchError(f"{path} exists and is not a sweep file; choose another --out")
            attrs = f["sweep"].attrs
            for key in IDENTITY:
                stored = attrs.get(key)
                stored = stored.decode() if isinstance(stored, bytes) else stored
                if str(stored) != str(identity[key]):
                    verb = "differ" if key.endswith("s") else "differs"
                    raise SweepMismatchError(
                        f"{path} holds a different sweep (its {key} {verb} from this one); "
                        f"give another --out, or delete the file to start over")
            kept, damage = _verified(f, grid, result_specs, chunk_size)
        except NeurodynError:
            _close(f)
            raise
        except DAMAGE as e:
            _close(f)
            raise _damaged(path, e) from None
        _close(f)
        if damage is None:
            return cls._reopen(path, grid.n_points, chunk_size)
        n_chunks = -(-grid.n_points // chunk_size)
        _create(path, identity, grid, result_specs, meta, kept=kept)
        store = cls._reopen(path, grid.n_points, chunk_size)
        store.rebuilt = True
        store.repaired = sum(min((c + 1) * chunk_size, grid.n_points) - c * chunk_size
                             for c in range(n_chunks) if c not in kept)
        store.damage = damage
        return store

    @classmethod
    def _reopen(cls, path: Path, n_points: int, chunk_size: int) -> "SweepStore":
        try:
            return cls(path, h5py.File(path, "r+"), n_points, chunk_size)
        except OSError as e:
            if _in_use(e):
                raise OutputError(f"{path} is in use by another process (another sweep writing it?); wait for it "
                                  f"to end, or give another --out") from None
            raise OutputError(f"cannot open sweep file {path} ({_one_line(e)})") from None

    def pending_chunks(self) -> list[int]:
        """Indices of the chunks not yet done."""
        done = self.done[()]
        return [c for c in range(self.n_chunks) if not done[slice(*self._bounds(c))].all()]

    def write_chunk(self, index: int, results: dict[str, np.ndarray]) -> None:
        """Write a chunk's results, flush, then its checksum and done flags, and flush again."""
        start, stop = self._bounds(index)
        values = {name: np.asarray(results[name], ds.dtype)[: stop - start] for name, ds in self.results.items()}
        try:
            for name, ds in self.results.items():
                ds[start:stop] = values[name]
            self.file.flush()
            self.checksums[index] = np.frombuffer(_chunk_digest(index, values, np.ones(stop - start, bool)), np.uint8)
            self.done[start:stop] = True
            self.chunk_writes[index] = self.chunk_writes[index] + 1
            self.file.flush()
        except DAMAGE as e:
            raise OutputError(f"cannot write sweep file {self.path} ({_one_line(e)})") from None

    def read_results(self) -> dict[str, np.ndarray]:
        """All results as arrays (NaN where not done)."""
        return {name: ds[()] for name, ds in self.results.items()}

    def close(self) -> None:
        """Close the file."""
        self.file.close()


def _close(f: h5py.File) -> None:
    try:
        f.close()
    except DAMAGE:
        pass  # a damaged file may fail to release its objects; nothing was written to it


def _static_digest(raw: bytes | bytearray, mutable) -> str:
    """The digest of a store's bytes after the user block, with the ``mutable`` ranges zeroed."""
    data = bytearray(raw)
    for offset, size in mutable:
        data[offset:offset + size] = bytes(size)
    return hexdigest(np.frombuffer(bytes(data[USERBLOCK:]), np.uint8), label="sweep store")


def _check_structure(path: Path) -> None:
    """Refuse (one line) a store whose bytes outside the chunk data differ from those it was
    written with; checked with plain reads, before HDF5 parses the file. Files of earlier
    versions (an HDF5 signature at byte 0, no user block) pass: they are verified chunk by chunk."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise OutputError(f"cannot read sweep file {path} ({_one_line(e)})") from None
    if raw.startswith(HDF5_SIGNATURE):
        return
    if not raw.startswith(MAGIC):
        raise OutputError(f"{path} is not a sweep file of neurodyn, or its first bytes are damaged; delete it to "
                          f"start over, or give another --out")
    try:
        header = json.loads(raw[len(MAGIC):USERBLOCK].rstrip(b"\0").decode())
        mutable = [(int(o), int(n)) for o, n in header["mutable"]]
        good = all(USERBLOCK <= o and o + n <= len(raw) for o, n in mutable) and \
            _static_digest(raw, mutable) == header["digest"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        good = False
    if not good:
        raise OutputError(f"{path} is a damaged sweep file (its HDF5 structure, attributes or parameters differ "
                          f"from those it was written with); delete it to start over, or give another --out")


def _verified(f: h5py.File, grid, result_specs: dict, chunk_size: int) -> tuple[dict[int, dict], str | None]:
    """The chunks of an open store that verify (``{index: {measure: values}}``) and what did not
    verify (``None`` if the whole file did: it can be resumed in place)."""
    g = f["sweep"]
    n = grid.n_points
    n_chunks = -(-n // chunk_size)
    problems: list[str] = []

    def dataset(name, shape, dtype):
        node = g.get(name)
        if not isinstance(node, h5py.Dataset):
            problems.append(f"/sweep/{name} is missing")
            return None
        if node.shape != shape or node.dtype != np.dtype(dtype):
            problems.append(f"/sweep/{name} is {node.dtype}{list(node.shape)}, not {np.dtype(dtype)}{list(shape)}")
            return None
        return node

    try:
        if int(g.attrs["n_points"]) != n:
            problems.append("its n_points attribute is wrong")
    except DAMAGE:
        problems.append("its n_points attribute is unreadable")
    for j, p in enumerate(grid.paths):
        ds = dataset(f"params/{p}", (n,), grid.values[:, j].dtype)
        if ds is not None and not np.array_equal(ds[()], grid.values[:, j]):
            problems.append(f"/sweep/params/{p} differs from the grid")
    results = {name: dataset(f"results/{name}", (n,) + tuple(shape), dtype)
               for name, (shape, dtype) in result_specs.items()}
    done = dataset("done", (n,), bool)
    checksums = dataset("checksums", (n_chunks, SIZE), np.uint8)
    dataset("chunk_writes", (n_chunks,), np.int32)
    kept: dict[int, dict] = {}
    flags = None if done is None else done[()]
    sums = None if checksums is None else checksums[()]
    unverified = 0
    for c in range(n_chunks):
        start, stop = c * chunk_size, min((c + 1) * chunk_size, n)
        if flags is None or not flags[start:stop].view(np.uint8).any():
            continue  # not computed (or no flags to tell): computed now
        chunk_flags = flags[start:stop]
        if not chunk_flags.all():
            continue  # interrupted while marking it: computed now
        values = {}
        ok = sums is not None and all(ds is not None for ds in results.values())
        if ok:
            try:
                values = {name: ds[start:stop] for name, ds in results.items()}
                ok = bytes(sums[c]) == _chunk_digest(c, values, chunk_flags)
            except DAMAGE:
                ok = False
        if ok:
            kept[c] = values
        else:
            unverified += 1
    if unverified:
        problems.append(f"{unverified} chunk(s) marked done do not match their checksum")
    return kept, ("; ".join(problems) if problems else None)


def _create(path: Path, identity: dict, grid, result_specs: dict, meta: dict, kept: dict | None = None) -> None:
    """Write a complete store under a temporary name and rename it to ``path``; the chunks in
    ``kept`` (``{index: {measure: values}}``) are written as done, with their checksums."""
    kept = kept or {}
    chunk_size = int(identity["chunk_size"])
    n = grid.n_points
    n_chunks = -(-n // chunk_size)
    ensure_space(path, n * (sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype in result_specs.values())
                            + 2 + 2 * SIZE // max(chunk_size, 1)), "sweep file")
    with atomic_write(path, "sweep file") as tmp:
        # a user block for the structure's checksum; superblock version 0 (see _check_structure)
        with h5py.File(tmp, "w", userblock_size=USERBLOCK, libver="earliest") as f:
            root = f.create_group("neurodyn")
            for k, v in meta.items():
                root.attrs[k] = v
            g = f.create_group("sweep")
            for k, v in identity.items():
                g.attrs[k] = v
            g.attrs["n_points"] = n
            g.attrs["shape"] = json.dumps(list(grid.shape))
            g.attrs["paths"] = json.dumps(list(grid.paths))
            g.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            p = g.create_group("params")
            for j, name in enumerate(grid.paths):
                p.create_dataset(name, data=grid.values[:, j])
            done = np.zeros(n, bool)
            writes = np.zeros(n_chunks, np.int32)
            sums = np.zeros((n_chunks, SIZE), np.uint8)
            arrays = {name: np.full((n,) + tuple(shape), np.nan, dtype) for name, (shape, dtype) in result_specs.items()}
            for c, values in kept.items():
                start, stop = c * chunk_size, min((c + 1) * chunk_size, n)
                for name in arrays:
                    arrays[name][start:stop] = values[name]
                done[start:stop] = True
                writes[c] = 1
                sums[c] = np.frombuffer(_chunk_digest(c, {k: arrays[k][start:stop] for k in arrays}, done[start:stop]),
                                        np.uint8)
            r = g.create_group("results")
            for name, values in arrays.items():
                r.create_dataset(name, data=values)
            g.create_dataset("done", data=done)
            g.create_dataset("chunk_writes", data=writes)
            g.create_dataset("checksums", data=sums)
            # HDF5 sets the superblock's (version 0) file consistency flags while a process has the file open
            # for writing, and a killed process leaves them set
            mutable = [(USERBLOCK + 20, 4)] + [(int(ds.id.get_offset()), int(ds.id.get_storage_size()))
                                               for ds in (*g["results"].values(), g["done"], g["chunk_writes"],
                                                          g["checksums"])]
        raw = tmp.read_bytes()
        header = MAGIC + json.dumps({"mutable": mutable, "digest": _static_digest(raw, mutable)}).encode()
        if len(header) > USERBLOCK:
            raise OutputError(f"sweep file {path}: too many measures for its header ({len(mutable)} datasets)")
        with open(tmp, "rb+") as fd:
            fd.write(header.ljust(USERBLOCK, b"\0"))
