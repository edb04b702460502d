"""Side-by-side benchmarks against peers; run ``python -m benchmarks [name ...]``."""
