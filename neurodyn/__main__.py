"""``python -m neurodyn``: the ``neurodyn`` command line (:mod:`neurodyn.cli`)."""

from .cli import console

console()
