"""Checksums of stored arrays, so that files neurodyn resumes from (sweep stores, training
checkpoints) can tell a damaged array from a good one before trusting it.

:func:`digest` is BLAKE2b (128-bit, :mod:`hashlib`) over each array's dtype, shape and raw bytes,
in order: any flipped bit of the data, and any change of type or shape, changes it.
"""

from __future__ import annotations

import hashlib

import numpy as np

SIZE = 16  # bytes of a digest


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
