"""Dotted paths into spec dicts: the one setter and getter, ``--set`` overrides, and the map from
a spec path to the model path of the same parameter."""

from __future__ import annotations


import numpy as np

from ..errors import SpecError
from ..schema import parse_value  # noqa: F401  (a --set value; kept here for its users)


def _parts(path: str) -> list[str]:
    parts = path.strip().split(".")
    if not all(parts):
        raise SpecError(f"empty name in the key path {path!r}")
    return parts


def set_path(data: dict, path: str, value) -> None:
    """Set the value at dotted ``path`` (``"couplings.star.strength"``) in the spec dict ``data``,
    in place, creating missing tables.

    A NumPy scalar is stored as the Python number; a whole float given where the spec holds an
    integer (a seed from a float grid) is stored as an integer. A path through a value that is
    not a table is a SpecError, and so is a path into a population or coupling the spec does
    not define (a misspelt name).
    """
    parts = _parts(path)
    _check_named_entry(data, parts)
    node = data
    for i, p in enumerate(parts[:-1]):
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise SpecError(f"{'.'.join(parts[:i + 1])} is a value, not a table")
        node = nxt
    if isinstance(value, np.generic):
        value = value.item()
    old = node.get(parts[-1])
    if (isinstance(old, int) and not isinstance(old, bool) and isinstance(value, float) and value.is_integer()):
        value = int(value)
    node[parts[-1]] = value


def get_path(data: dict, path: str, default=None):
    """The value at dotted ``path`` in ``data``, or ``default`` when a part is missing."""
    node = data
    for p in _parts(path):
        if not isinstance(node, dict) or p not in node:
            return default
        node = node[p]
    return node


def apply_override(data: dict, assignment: str) -> None:
    """Apply ``key.path=value`` (a ``--set`` argument) to the spec dict in place."""
    if "=" not in assignment:
        raise SpecError(f"--set {assignment!r}: expected key.path=value")
    key, _, value = assignment.partition("=")
    try:
        set_path(data, key, parse_value(value.strip()))
    except SpecError as e:
        raise SpecError(f"--set {assignment!r}: {e}") from None


_NAMED = {"populations": "population", "couplings": "coupling"}


def _check_named_entry(data: dict, parts: list[str]) -> None:
    """A path into ``populations.<name>`` or ``couplings.<name>`` must name an existing entry (a
    misspelt name would otherwise start a new, incomplete one); a whole table may add one."""
    if len(parts) < 3 or parts[0] not in _NAMED or not isinstance(data.get(parts[0], {}), dict):
        return
    existing = data.get(parts[0], {})
    if parts[1] not in existing:
        names = ", ".join(existing) or "none"
        from ..schema import did_you_mean

        raise SpecError(f"{parts[0]}.{parts[1]}: the spec has no {_NAMED[parts[0]]} {parts[1]!r} "
                        f"({parts[0]}: {names}){did_you_mean(parts[1], existing)}")


def model_path(spec_path: str) -> str:
    """The path of a spec parameter in the model that the spec builds (a Network).

    ``couplings.<name>.<field>`` is ``projections.<name>.<field>``; ``populations.<name>.<field>``
    is the same path. A field that the model stores under its own name (``strength``, ``k``,
    ``coupling``, ``gain``) is a leaf there; the others (``graph.seed``, ``frequencies``,
    ``spectral_radius``) are not, and changing them means building the spec again.
    """
    head, _, rest = spec_path.partition(".")
    return f"projections.{rest}" if head == "couplings" and rest else spec_path
