"""A spec file with command-line changes applied: the effective spec dict and the text stored
with the run, and :func:`load_spec`, which also builds it. A run file written by ``neurodyn
run`` stands for the spec stored in it, so a run is repeated from its own output."""

from __future__ import annotations

from pathlib import Path

import h5py

from ..errors import SpecError
from .build import RunSpec, build_spec
from .paths import apply_override
from .toml_io import dump_spec, read_spec_file, read_stored_spec


def rerun_path(path) -> Path:
    """Where the re-run of a run file goes by default: beside it, ``<name>.rerun.h5``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.rerun.h5")


def read_spec(path, *, overrides=(), steps: int | None = None, seed: int | None = None,
              output=None) -> tuple[dict, str]:
    """The effective spec dict of a file after ``--set`` overrides and the ``--steps``, ``--seed``
    and ``--out`` options, and the text that reproduces it: the file's own text when nothing
    changed (comments kept), else the effective spec written as TOML.

    ``path`` is a TOML spec, or an HDF5 run file of ``neurodyn run``, whose stored spec is read
    and sent to ``output`` (default :func:`rerun_path`; never the run file itself)."""
    path = Path(path)
    rerun = path.is_file() and h5py.is_hdf5(path)
    if rerun:
        data, text, name = read_stored_spec(path)
        if name:
            data.setdefault("name", name)
        data.pop("output", None)  # the stored output is the run file itself
    else:
        data, text = read_spec_file(path)
    for assignment in overrides:
        apply_override(data, assignment)
    if steps is not None:
        data["steps"] = steps
    if seed is not None:
        data["seed"] = seed
    if rerun and output is None and "output" not in data:
        output = rerun_path(path)
    if output is not None:
        data["output"] = str(output)
    data.setdefault("name", path.stem)
    if rerun and Path(str(data["output"])).resolve() == path.resolve():
        raise SpecError(f"output {data['output']}: that is the run file being re-run; write the new run elsewhere")
    changed = bool(overrides) or steps is not None or seed is not None or output is not None
    return data, dump_spec(data) if changed else text


def load_spec(path, *, overrides=(), steps: int | None = None, seed: int | None = None,
              output=None) -> RunSpec:
    """Read, override and validate a spec file or the spec stored in a run file (see
    :func:`read_spec` and :func:`build_spec`): a :class:`RunSpec` that
    :func:`neurodyn.runs.simulate_spec` and :func:`neurodyn.runs.run_spec` run as ``neurodyn
    run`` does for the same file and options."""
    return build_spec(*read_spec(path, overrides=overrides, steps=steps, seed=seed, output=output),
                      overrides=tuple(overrides))
