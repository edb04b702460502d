"""Spike flags as bits: packed 32 to a word inside the compiled loop, unpacked to events on the host.

Recording the spikes of a network every step is most of the cost of recording a large network;
writing one bit per neuron and step instead of one byte, and turning the words into
``(step, node)`` events on the host, keeps both the device-to-host copy and the host's work small.

* :func:`pack_bits` (JAX, inside the scan): boolean flags -> ``uint32`` words, bit ``k`` of word
  ``w`` = flag ``32 w + k``.
* :func:`unpack_events` (host, numba): ``(steps, words)`` -> the ``(step, node)`` pairs of the set
  bits, sorted by step then node. It visits only the words holding a spike and the set bits in
  them (a count-trailing-zeros per event), so its cost is one pass over the words plus one
  operation per event: about 0.14 us per step for the 4,000-neuron COBA network with STDP (16-19
  Hz; 0.2-0.3 us while NumPy counted the bits first), where NumPy's ``nonzero`` + ``unpackbits``
  took 2.4 us. One source among several in a record is a range of columns (``columns=``).
"""

from __future__ import annotations

import weakref

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .backends import numba_problem


def pack_bits(flags: jax.Array) -> jax.Array:
    """Boolean array -> uint32 words, bit ``k`` of word ``w`` = flag ``32 w + k`` (flattened).

    Words a kernel already made for this very array (:func:`attach_words`) are returned as they
    are: no second pass over the flags. Otherwise the flags are read as bytes four at a time (one uint32 ``b0 + b1 2^8 + b2 2^16 + b3 2^24``,
    each ``b`` 0 or 1, little-endian as on every JAX platform); multiplying by
    ``2^24 + 2^17 + 2^10 + 2^3`` moves ``b_i`` to bit ``24 + i`` with no carries (every other
    product lands on a distinct bit below 24 or beyond 31), so ``>> 24`` leaves the four flags as
    a nibble, and eight nibbles make a word: elementwise work, about as cheap as storing the
    bytes (COBA-4000: 1.2 us less per step than shifting every flag into place and summing)."""
    attached = _ATTACHED.get(id(flags))
    if attached is not None and attached[0]() is flags:
        return attached[1]
    flat = flags.reshape(-1)
    flat = jnp.pad(flat, (0, -flat.size % 32)).astype(jnp.uint8).reshape(-1, 8, 4)
    nibbles = (lax.bitcast_convert_type(flat, jnp.uint32) * jnp.uint32(0x01020408)) >> 24
    return jnp.sum(nibbles << (4 * jnp.arange(8, dtype=jnp.uint32)), axis=1, dtype=jnp.uint32)


#: id(flags) -> (weak reference to flags, their words): words made by a kernel beside its flags
_ATTACHED: dict = {}


def attach_words(flags: jax.Array, words: jax.Array) -> None:
    """Declare ``words`` (uint32, exactly :func:`pack_bits` of ``flags``) the packed form of the
    boolean array ``flags``, so that :func:`pack_bits` of that same array object (a traced value
    passed on unchanged, e.g. a spike array from the state to the recorder) returns ``words``
    instead of packing the flags again. A kernel that writes its spikes packed as well (the LIF
    kernel of :mod:`neurodyn.ops.lif`) attaches them; anything computed from the flags (a subset,
    a batch, a copy) is another array and is packed by :func:`pack_bits` itself. The entry lives
    as long as ``flags`` does (a weak reference)."""
    key = id(flags)
    try:
        ref = weakref.ref(flags, lambda _, key=key: _ATTACHED.pop(key, None))
    except TypeError:  # a value that cannot be weakly referenced: nothing attached
        return
    _ATTACHED[key] = (ref, words)


#: below this many words (one chunk) NumPy unpacks them (~20 ns a word: at most 2 ms) instead of
#: importing numba and loading its cached loop (0.15-0.7 s, once); above it numba's 10x faster loop
#: pays on every chunk (COBA-4000: 125 words a step, so every chunk over 800 steps)
_NUMBA_FROM_WORDS = 100_000


def unpack_events(words: np.ndarray, size: int, columns: tuple[int, int] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Host side of :func:`pack_bits`: ``(steps, n_words)`` uint32 words -> ``(step, node)``
    int64 index pairs of the set bits with ``node < size``, sorted by step then node.
    ``columns=(start, stop)``: the words are those columns of ``words`` (one source's words among
    several sources' in one record; read in place)."""
    words = np.asarray(words, dtype=np.uint32)
    if words.ndim != 2:
        raise ValueError(f"unpack_events: words must be 2-D (steps, words), got shape {words.shape}")
    start, stop = (0, words.shape[1]) if columns is None else (int(columns[0]), int(columns[1]))
    if not 0 <= start <= stop <= words.shape[1]:
        raise ValueError(f"unpack_events: columns {columns} outside the {words.shape[1]} words of a row")
    if words.shape[0] * (stop - start) < _NUMBA_FROM_WORDS or numba_problem():
        # small (under 2 ms in NumPy, less than importing numba), or no numba / no writable
        # place for its disk cache: NumPy
        return _unpack_numpy(words[:, start:stop], int(size))
    from ._unpack import unpack  # numba, imported (and compiled or loaded from its cache) on first use

    # the numba loop reads rows in place: C-contiguous rows (a strided array is copied once)
    return unpack(np.ascontiguousarray(words), int(size), start, stop)


def _unpack_numpy(words: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`unpack_events` in NumPy: ``nonzero`` over the words, ``unpackbits`` of the words hit."""
    rows, cols = np.nonzero(words)
    hit = np.ascontiguousarray(words[rows, cols], dtype="<u4").view(np.uint8).reshape(-1, 4)
    pair, bit = np.nonzero(np.unpackbits(hit, axis=1, bitorder="little"))
    node = cols[pair].astype(np.int64) * 32 + bit
    keep = node < size
    return rows[pair][keep].astype(np.int64), node[keep]
