"""XLA's compiled programs kept on disk between processes (JAX's persistent compilation cache).

Every ``neurodyn`` command compiles its programs anew: the simulation loop (0.1-2 s for a
network) and a dozen small ones JAX compiles for single operations while a model is set up
(seeding and splitting PRNG keys, drawing initial values, converting dtypes: 20-80 ms each,
0.4-0.6 s in all for a small spec on this project's 2-core machine). The same spec run again
-- the usual case while a model is being written, and every worker of a sweep -- compiles the
same programs; with the cache it loads them (about 1 ms each) instead. A cached program is the
program XLA compiled, so results are identical with and without the cache.

The cache lives in ``$NEURODYN_CACHE_DIR`` (default ``$XDG_CACHE_HOME/neurodyn/xla``, i.e.
``~/.cache/neurodyn/xla``), is capped at 1 GiB (least recently used programs evicted first, with
``filelock`` guarding concurrent processes) and is switched off by
``NEURODYN_COMPILATION_CACHE=0``. A directory that cannot be created or written leaves the cache
off, silently: it only saves time.
"""

from __future__ import annotations

import os
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

    jax.config.update("jax_compilation_cache_dir", str(where))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    try:
        import filelock  # noqa: F401  (JAX needs it to evict safely across processes)
    except ImportError:
        pass
    else:
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return where
