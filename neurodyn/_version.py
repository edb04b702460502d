"""The package version, in the lowest layer so that every package can record it in its files
(kept equal to ``pyproject.toml``'s ``version``; ``tests/test_layers.py`` checks it)."""

__version__ = "0.1.0"
