"""XLA's compiled programs kept on disk between processes (JAX's persistent compilation cache).

Every ``neurodyn`` command compiles its programs anew: the simulation loop (0.1-2 s for a
network) and a dozen small ones JAX compiles for single operations while a model is set up
(seeding and splitting PRNG keys, drawing initial values, converting dtypes: 20-80 ms each,
0.4-0.6 s in all for a small spec on this project's 2-core machine). The same spec run again
-- the usual case while a model is being written, and every worker of a sweep -- compiles the
same programs; with the cache it loads them (about 1 ms each) instead. A cached program is the
program XLA compiled, so results are identical with and without the cache.

The cache lives in ``$NEURODYN_CACHE_DIR`` (default ``$XDG_CACHE_HOME/neurodyn/xla``, i.e.
``~/.cache/neurodyn/xla``), is kept under 1 GiB and is switched off by
``NEURODYN_COMPILATION_CACHE=0``. A directory that cannot be created or written leaves the cache
off, silently: it only saves time.

The size is kept by :func:`prune` (the oldest programs deleted first, down to three quarters of
the limit), at most once an hour, when the cache is enabled -- not by JAX's own eviction, which
locks the directory and reads the size and access time of every entry on every program it
writes: with a few thousand entries that is tens of milliseconds per program, and a network
spec writes a few hundred small programs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: largest size of the cache directory, bytes
MAX_BYTES = 1 << 30


def cache_dir() -> Path:
    """The cache directory: ``$NEURODYN_CACHE_DIR``, else ``$XDG_CACHE_HOME/neurodyn/xla``, else
    ``~/.cache/neurodyn/xla``."""
    if os.environ.get("NEURODYN_CACHE_DIR"):
        return Path(os.environ["NEURODYN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "neurodyn" / "xla"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Keep compiled programs in ``path`` (default :func:`cache_dir`) and load them in later
    processes instead of compiling again; every program is kept, however fast it compiled.

    Returns the directory in use, or ``None`` when the cache stays off
    (``NEURODYN_COMPILATION_CACHE=0``, or a directory that cannot be created or written).
    Call it before the first compilation; the ``neurodyn`` command line calls it for ``run`` and
    ``sweep``."""
    if os.environ.get("NEURODYN_COMPILATION_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    where = Path(path) if path is not None else cache_dir()
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(where, os.W_OK | os.X_OK):
        return None
    import jax

    prune(where)
    jax.config.update("jax_compilation_cache_dir", str(where))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return where


def prune(path: str | os.PathLike, max_bytes: int = MAX_BYTES, every_s: float = 3600.0) -> int:
    """Delete the oldest files of the cache directory ``path`` until it holds at most three
    quarters of ``max_bytes``, if it holds more than ``max_bytes``; checked at most once every
    ``every_s`` seconds (a stamp file's time). Files another process deletes meanwhile are
    skipped. Returns the number of files deleted."""
    where = Path(path)
    stamp = where / ".pruned"
    try:
        if stamp.exists() and time.time() - stamp.stat().st_mtime < every_s:
            return 0
        stamp.touch()
        entries = []
        for entry in os.scandir(where):
            if entry.is_file() and entry.name != stamp.name:
                st = entry.stat()
                entries.append((st.st_mtime, st.st_size, entry.path))
    except OSError:
        return 0
    total = sum(size for _, size, _ in entries)
    if total <= max_bytes:
        return 0
    deleted = 0
    for _, size, name in sorted(entries):
        if total <= 0.75 * max_bytes:
            break
        try:
            os.unlink(name)
        except OSError:
            continue
        total -= size
        deleted += 1
    return deleted
