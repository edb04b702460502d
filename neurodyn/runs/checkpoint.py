"""Checkpoints of ``neurodyn run``: the :class:`~neurodyn.core.Checkpoint` of a built spec, beside
its output file, identified by the spec it runs (docs/guide.md, "Checkpoints")."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.checkpoint import Checkpoint, read_meta
from ..errors import OutputError
from ..spec.toml_io import dump_spec

IGNORED = ("output",)  # where the file goes does not change what the run computes


def checkpoint_path(output) -> Path:
    """The checkpoint file of a run whose output is ``output``: ``run.h5`` -> ``run.checkpoint.h5``."""
    output = Path(output)
    return output.with_name(f"{output.stem}.checkpoint{output.suffix}")


def spec_identity(spec) -> str:
    """What a spec's run is: its canonical form (the spec's fields with every override applied,
    as JSON with sorted keys; not its output path), seed, steps and precision.
    :func:`neurodyn.simulate` adds the run's settings, the model's and initial state's values and
    the neurodyn version."""
    data = {k: v for k, v in spec.data.items() if k not in IGNORED}
    return json.dumps({"spec": data, "seed": spec.seed, "steps": spec.steps, "precision": spec.precision},
                      sort_keys=True, default=str)


def spec_checkpoint(spec, out=None, every=None, path=None, log=None) -> Checkpoint:
    """The checkpoint of ``spec``'s run into ``out`` (default its output): the file ``path``
    (default :func:`checkpoint_path` of the output), written every ``every`` (``"60s"``,
    ``"5m"``, ``"5000steps"``; ``None``: only when the run is stopped), kept until the run file
    is complete; ``log`` receives a line when the run resumes from it."""
    out = spec.output if out is None else out
    meta = {"spec": dump_spec(spec.data), "text": spec.text, "overrides": list(spec.overrides),
            "output": str(Path(out).resolve())}
    return Checkpoint(checkpoint_path(out) if path is None else path, every, identity=spec_identity(spec),
                      remove_when_done=False, log=log, meta=meta)


def stored_spec(path) -> tuple[dict, str, tuple[str, ...]]:
    """The spec of the run a checkpoint of ``neurodyn run`` belongs to, after verifying the file:
    ``(effective spec dict, the text its run file stores, the --set assignments)``, what
    :func:`neurodyn.spec.build_spec` builds again (``neurodyn run --resume FILE`` without a spec)."""
    import tomllib

    meta = read_meta(path)
    if "spec" not in meta:
        raise OutputError(f"checkpoint {path} holds no spec (it was not written by neurodyn run); name the spec "
                          f"it belongs to: neurodyn run SPEC --resume {path}")
    data = tomllib.loads(meta["spec"])
    data["output"] = meta["output"]  # where the interrupted run was writing, from any folder
    return data, meta["text"], tuple(meta["overrides"])
