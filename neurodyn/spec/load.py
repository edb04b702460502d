"""A spec file with command-line changes applied: the effective spec dict and the text stored
with the run, and :func:`load_spec`, which also builds it."""

from __future__ import annotations

from pathlib import Path

from .build import RunSpec, build_spec
from .paths import apply_override
from .toml_io import dump_spec, read_spec_file


def read_spec(path, *, overrides=(), steps: int | None = None, seed: int | None = None,
              output=None) -> tuple[dict, str]:
    """The effective spec dict of a file after ``--set`` overrides and the ``--steps``, ``--seed``
    and ``--out`` options, and the text that reproduces it: the file's own text when nothing
    changed (comments kept), else the effective spec written as TOML."""
    data, text = read_spec_file(path)
    for assignment in overrides:
        apply_override(data, assignment)
    if steps is not None:
        data["steps"] = steps
    if seed is not None:
        data["seed"] = seed
    if output is not None:
        data["output"] = str(output)
    data.setdefault("name", Path(path).stem)
    changed = bool(overrides) or steps is not None or seed is not None or output is not None
    return data, dump_spec(data) if changed else text


def load_spec(path, *, overrides=(), steps: int | None = None, seed: int | None = None,
              output=None) -> RunSpec:
    """Read, override and validate a spec file (see :func:`read_spec` and :func:`build_spec`)."""
    return build_spec(*read_spec(path, overrides=overrides, steps=steps, seed=seed, output=output))
