"""Side-by-side benchmarks against peers; run ``python -m benchmarks [name ...]``."""

# the pip extra that installs each peer library a benchmark compares with
PEERS = {"reservoirpy": "bench", "nolds": "test"}


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
