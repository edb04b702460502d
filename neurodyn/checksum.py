"""Checksums of stored arrays, so that files neurodyn resumes from (sweep stores, training
checkpoints) can tell a damaged array from a good one before trusting it.

:func:`digest` is BLAKE2b (128-bit, :mod:`hashlib`) over each array's dtype, shape and raw bytes,
in order: any flipped bit of the data, and any change of type or shape, changes it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

SIZE = 16  # bytes of a digest
# what reading a damaged HDF5 file raises (from h5py, or from decoding what it returns)
DAMAGE = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError, UnicodeDecodeError)


def digest(*arrays, label: str = "") -> bytes:
    """The BLAKE2b-128 digest of ``label`` and of ``arrays`` (each: dtype, shape, raw bytes)."""
    h = hashlib.blake2b(label.encode(), digest_size=SIZE)
    for a in arrays:
        a = np.asarray(a)
        h.update(f"|{a.dtype.str}{a.shape}|".encode())
        h.update(a.tobytes())
    return h.digest()


def hexdigest(*arrays, label: str = "") -> str:
    """:func:`digest` as a hexadecimal string (for HDF5 attributes)."""
    return digest(*arrays, label=label).hex()


# Sealed HDF5 files (training and run checkpoints): the file's first USERBLOCK bytes, an HDF5
# user block that HDF5 ignores, hold ``<format>\n`` and the digest of every byte after them, so a
# damaged file is refused with plain file reads before HDF5 parses anything.

USERBLOCK = 512


def file_digest(raw: bytes, fmt: str) -> str:
    """The hexadecimal digest of the bytes of a sealed file after its user block."""
    return hexdigest(np.frombuffer(raw[USERBLOCK:], np.uint8), label=fmt)


def seal(path, fmt: str) -> None:
    """Write the header of a sealed file into the user block of the HDF5 file ``path`` (created
    with ``userblock_size=USERBLOCK``, closed): ``<fmt>\\n`` and :func:`file_digest`."""
    with open(path, "rb+") as fd:
        header = (fmt.encode() + b"\n" + file_digest(fd.read(), fmt).encode()).ljust(USERBLOCK, b"\0")
        fd.seek(0)
        fd.write(header)


def check_sealed(path, fmt: str, what: str = "checkpoint") -> None:
    """Refuse (one :class:`~neurodyn.errors.OutputError` line) a sealed file whose bytes differ
    from those written, before HDF5 reads it. Files without the user block (an earlier format,
    or not a checkpoint) pass, to get a precise message from their content."""
    from .errors import OutputError

    try:
        with open(path, "rb") as fd:
            raw = fd.read()
    except OSError as e:
        raise OutputError(f"cannot read {what} {path} ({' '.join(str(e).split())})") from None
    if raw.startswith(b"\x89HDF\r\n\x1a\n"):
        return
    magic, family = fmt.encode() + b"\n", fmt.rpartition("-")[0].encode()
    head = raw[:USERBLOCK].rstrip(b"\0")
    if not head.startswith(magic):
        if head.startswith(family) or raw[USERBLOCK:USERBLOCK + 8] == b"\x89HDF\r\n\x1a\n":
            raise OutputError(f"{what} {path} is damaged (its header is not one neurodyn writes); it is not "
                              f"resumed (delete it to start over, or restore a good copy)")
        raise OutputError(f"{path} is not a readable HDF5 file (it starts with neither an HDF5 signature nor a "
                          f"neurodyn {what} header)")
    if head[len(magic):].decode("ascii", "replace") != file_digest(raw, fmt):
        raise OutputError(f"{what} {path} is damaged: its bytes do not match the checksum written with it; it "
                          f"is not resumed (delete it to start over, or restore a good copy)")


def damaged(what: str, path, reason: str):
    """The one :class:`~neurodyn.errors.OutputError` line that refuses a damaged sealed file."""
    from .errors import OutputError

    return OutputError(f"{what} {path} is damaged: {reason}; it is not resumed (delete it to start over, or "
                       f"restore a good copy)")


def read_sealed(path, fmt: str, read: Callable[[Any], Any], *, what: str = "checkpoint", shown=None):
    """``read(f)`` of the sealed HDF5 file ``path`` (format ``fmt``) open for reading, once its
    bytes are checked (:func:`check_sealed`). A missing file is ``no such <what>``; an error of
    :data:`DAMAGE` while reading (damage the seal does not cover: a file written without one) is
    :func:`damaged`; an :class:`~neurodyn.errors.OutputError` of ``read`` passes as it is.
    ``shown``: the path the messages name (default ``path``)."""
    import h5py

    from .errors import OutputError

    shown = path if shown is None else shown
    if not Path(path).is_file():
        raise OutputError(f"no such {what}: {shown}")
    check_sealed(path, fmt, what)
    try:
        with h5py.File(path, "r") as f:
            return read(f)
    except OutputError:
        raise
    except DAMAGE as e:
        raise damaged(what, shown, " ".join(str(e).split()) or type(e).__name__) from None


def dataset_checksums(group) -> dict[str, str]:
    """``{path: hexdigest}`` of every dataset below the h5py ``group`` (its contents, dtype and
    shape, labelled by its path relative to ``group``), in path order."""
    import h5py

    found = {}
    group.visititems(lambda name, node: found.__setitem__(name, node) if isinstance(node, h5py.Dataset) else None)
    return {name: hexdigest(ds[()], label=name) for name, ds in sorted(found.items())}


def attrs_digest(attrs, names) -> str:
    """The digest of the HDF5 attributes ``names`` of ``attrs`` (the JSON of their values' reprs,
    bytes decoded and NumPy scalars made Python values, so a reread file digests the same)."""
    values = []
    for name in names:
        v = attrs[name]
        v = v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v
        values.append([name, repr(v)])
    return hexdigest(np.frombuffer(json.dumps(values).encode(), np.uint8), label="attrs")


def first_mismatch(stored: dict[str, str], actual: dict[str, str]) -> tuple[str, str] | None:
    """The first name (in order) whose checksum differs between ``stored`` and ``actual``, and
    why: ``"missing"`` (not in ``actual``), ``"unknown"`` (not in ``stored``) or ``"changed"``."""
    for name in sorted(set(stored) | set(actual)):
        if stored.get(name) != actual.get(name):
            return name, "missing" if name not in actual else "unknown" if name not in stored else "changed"
    return None
