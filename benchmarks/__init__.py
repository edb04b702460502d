"""Side-by-side benchmarks against peers; run ``python -m benchmarks [name ...]``."""

import time

# the pip extra that installs each peer library a benchmark compares with
PEERS = {"reservoirpy": "test", "nolds": "test", "hyperopt": "bench", "optuna": "search", "dysts": "test"}


def skip_missing_peer(lines):
    """The lines of a benchmark, or, when a peer library it compares with is not installed, one
    line saying which and how to install it (the benchmarks after it still run)."""
    try:
        yield from lines
    except ModuleNotFoundError as e:
        peer = (e.name or "").partition(".")[0]
        if peer not in PEERS:
            raise
        yield f"  skipped: the peer library {peer!r} is not installed (pip install -e '.[{PEERS[peer]}]')"


def best_time(fn, repeat: int = 3) -> float:
    """Best wall time in seconds of ``repeat`` calls of ``fn()``, waiting for JAX results."""
    import jax

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best
