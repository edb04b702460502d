"""Run checkpoints: where a :func:`neurodyn.simulate` run stands at a chunk boundary, in one
sealed HDF5 file, so that a run killed at any moment resumes from its last checkpoint and ends
exactly as an uninterrupted run would (docs/guide.md, "Checkpoints").

A checkpoint holds the full state (every population, every projection with its plastic weights
and traces, the PRNG keys), the carries of the loop's observers (spike detection, in-loop
statistics), the steps done, the samples recorded, the recording so far (the records kept in
memory and the arrays of the run's writer) and the identity of the run (:func:`run_identity`).

Layout::

    /checkpoint             attrs: format, identity, step, samples, version, typed (JSON list of the
                            state leaves that are typed PRNG keys), meta (JSON: what the caller
                            stores to describe the run, e.g. its spec), checksums (JSON)
    /checkpoint/state/<i>   state leaf i (the flattening order of the model's state)
    /checkpoint/carries/<i> observer carry leaf i
    /checkpoint/records/... the recording so far (``kept/...``: the trajectory kept in memory,
                            ``writer/...``: what the writer wrote)

Integrity as for training checkpoints (:mod:`neurodyn.checksum`): the user block holds the digest
of every byte after it, and ``checksums`` the digest of every dataset and of the attributes. A
new checkpoint is written under a temporary name (:func:`neurodyn.files.atomic_write`), read back
and verified, and only then renamed over the previous one, so a kill, a full disk or a damaged
write always leaves the last good checkpoint in place.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import h5py
import jax
import numpy as np

from .._version import __version__
from ..checksum import USERBLOCK, attrs_digest, damaged, dataset_checksums, first_mismatch, hexdigest, read_sealed, seal
from ..errors import OutputError, SpecError
from ..files import atomic_write, ensure_space, remove_stale_temporaries

FORMAT = "neurodyn-run-checkpoint-1"
ATTRS = ("format", "identity", "step", "samples", "version", "typed", "meta")
_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_interval(text) -> tuple[float | None, int | None]:
    """``(seconds, steps)`` of a checkpoint interval: ``"60s"``, ``"5m"``, ``"2h"`` (wall time),
    ``"5000steps"`` (simulated steps) or a number (seconds); one of the two is ``None``."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
        if not seconds > 0 or not math.isfinite(seconds):
            raise SpecError(f"checkpoint every: expected a positive time, got {text!r}")
        return seconds, None
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|min|h|steps?)\s*", str(text))
    if m is None or not float(m.group(1)) > 0:
        raise SpecError(f"checkpoint every: expected a wall time like 60s, 5m or 2h, or a step count like "
                        f"5000steps, got {text!r}")
    value, unit = m.groups()
    if unit.startswith("step"):
        if not value.isdigit():
            raise SpecError(f"checkpoint every: a step count is a whole number, got {text!r}")
        return None, int(value)
    return float(value) * _UNITS[unit], None


def _leaves(tree) -> list:
    return jax.tree_util.tree_leaves(tree)


def _typed(leaf) -> bool:
    return jax.dtypes.issubdtype(getattr(leaf, "dtype", np.float64), jax.dtypes.prng_key)


def _raw(leaf) -> np.ndarray:
    return np.asarray(jax.random.key_data(leaf) if _typed(leaf) else leaf)


def run_identity(label: str, *trees) -> str:
    """The identity of a run: the digest of ``label`` (what the caller says the run is, e.g. its
    canonical spec, seed, steps, precision and neurodyn version) and of the structure and values
    of ``trees`` (the model and its initial state, the run's settings)."""
    leaves = [_raw(x) for x in _leaves(trees)]
    structure = str(jax.tree_util.tree_structure(trees))
    return hexdigest(np.frombuffer(structure.encode(), np.uint8), *leaves, label=f"{__version__}|{label}")


@dataclass
class Snapshot:
    """Where a run stands at a chunk boundary: ``step`` steps done (transient included),
    ``samples`` samples recorded, the ``state`` after them, the observers' ``carries`` and the
    recording so far (``records``: flat names such as ``writer/report/exc.v`` to arrays)."""

    step: int
    samples: int
    state: Any
    carries: tuple = ()
    records: dict[str, np.ndarray] = field(default_factory=dict)


class Checkpoint:
    """A run's checkpoint file, for :func:`neurodyn.simulate` (``checkpoint=``).

    Args:
        path: the checkpoint file (HDF5). When it exists, the run resumes from it (after
            checking that it is intact and belongs to this run); otherwise the run starts over.
        every: how often to write it: a wall time (``"60s"``, ``"5m"``, ``"2h"``, or a number of
            seconds) or a number of simulated steps (``"5000steps"``); ``None`` writes one only
            when the run is stopped (``should_stop``). Checkpoints are written at chunk
            boundaries (``chunk=`` of simulate), at the first one after the interval.
        identity: what the caller says the run is (``neurodyn run``: its canonical spec, seed,
            steps, precision and version); :func:`neurodyn.simulate` adds the run's settings
            (steps, recording, chunk-independent options) and the model's and initial state's
            values (:func:`run_identity`).
        remove_when_done: delete the file when the run completes (the run layer deletes it itself
            once the output file is written).
        log: receives one line when the run resumes from the file.
        meta: stored with the checkpoint (JSON-serialisable), read back by :func:`read_meta`
            (``neurodyn run``: the spec, to resume without naming it).
    """

    def __init__(self, path, every=None, *, identity: str = "", remove_when_done: bool = True,
                 log: Callable[[str], None] | None = None, meta: dict | None = None):
        self.path = Path(path)
        self.seconds, self.steps = (None, None) if every is None else parse_interval(every)
        self.identity, self.remove_when_done, self.log = str(identity), remove_when_done, log
        self.meta = json.dumps(meta or {})
        self.written = 0  # checkpoints written by this process
        self.removed = remove_stale_temporaries(self.path)  # [(file, pid)] left by a run killed while writing
        self._last_time, self._last_step = time.monotonic(), 0

    def start(self, step: int) -> None:
        """Start the interval's clock at ``step`` (the run's first step, or the resumed one)."""
        self._last_time, self._last_step = time.monotonic(), step

    def due(self, step: int) -> bool:
        """Whether a checkpoint is due after ``step`` steps."""
        if self.steps is not None:
            return step - self._last_step >= self.steps
        return self.seconds is not None and time.monotonic() - self._last_time >= self.seconds

    def save(self, snapshot: Snapshot, identity: str) -> Path:
        """Write ``snapshot`` of the run ``identity`` atomically: under a temporary name, read back
        and verified, then renamed over the previous checkpoint."""
        leaves = _leaves(snapshot.state)
        carries = [np.asarray(x) for x in _leaves(snapshot.carries)]
        nbytes = sum(_raw(x).nbytes for x in leaves) + sum(x.nbytes for x in carries) + \
            sum(np.asarray(a).nbytes for a in snapshot.records.values())
        ensure_space(self.path, nbytes, "checkpoint")
        with atomic_write(self.path, "checkpoint") as tmp:
            with h5py.File(tmp, "w", userblock_size=USERBLOCK) as f:
                g = f.create_group("checkpoint")
                g.attrs.update(format=FORMAT, identity=identity, step=int(snapshot.step),
                               samples=int(snapshot.samples), version=__version__,
                               typed=json.dumps([i for i, x in enumerate(leaves) if _typed(x)]), meta=self.meta)
                for i, x in enumerate(leaves):
                    g.create_dataset(f"state/{i}", data=_raw(x))
                g.create_group("carries")
                for i, x in enumerate(carries):
                    g.create_dataset(f"carries/{i}", data=x)
                g.create_group("records")
                for name, a in snapshot.records.items():
                    g.create_dataset(f"records/{name}", data=np.asarray(a))
                g.attrs["checksums"] = json.dumps(_checksums(g))
            seal(tmp, FORMAT)
            _read(Path(tmp), identity, None, shown=self.path)  # verified before it replaces the last one
        self._last_time, self._last_step = time.monotonic(), snapshot.step
        self.written += 1
        return self.path

    def load(self, identity: str, state_like, carries_like=None) -> Snapshot:
        """The snapshot in the file, verified (its bytes, every array, the identity); the state
        and carries rebuilt with the structure of ``state_like`` and ``carries_like`` (a
        function of the restored state and step giving a tree of the carries' structure, or
        ``None`` where the run has no carries yet)."""
        snapshot = _read(self.path, identity, state_like, carries_like)
        if self.log is not None:
            self.log(f"resuming from checkpoint {self.path} at step {snapshot.step:,}")
        return snapshot

    def remove(self) -> None:
        """Delete the checkpoint file (missing is fine)."""
        self.path.unlink(missing_ok=True)


def read_meta(path) -> dict:
    """The ``meta`` stored with a checkpoint, after verifying the file (its bytes and every
    array; not which run it belongs to)."""
    path = Path(path)

    def meta(f):
        _snapshot(f, path, None, None, None)
        return json.loads(f["checkpoint"].attrs["meta"])

    return read_sealed(path, FORMAT, meta)


def _checksums(group) -> dict[str, str]:
    return {**dataset_checksums(group), "attrs": attrs_digest(group.attrs, ATTRS)}


def _read(path: Path, identity: str, state_like, carries_like=None, shown: Path | None = None) -> Snapshot | None:
    """The verified snapshot in ``path`` (only verified, returning None, without ``state_like``)."""
    shown = path if shown is None else shown
    return read_sealed(path, FORMAT, lambda f: _snapshot(f, shown, identity, state_like, carries_like), shown=shown)


def _snapshot(f, path: Path, identity: str, state_like, carries_like) -> Snapshot | None:
    if "checkpoint" not in f or f["checkpoint"].attrs.get("format") != FORMAT:
        raise OutputError(f"{path} is not a neurodyn run checkpoint (no /checkpoint group of format {FORMAT})")
    g = f["checkpoint"]
    bad = first_mismatch(json.loads(g.attrs["checksums"]), _checksums(g))
    if bad is not None:
        name, why = bad
        raise damaged("checkpoint", path, "its step and identity attributes do not match the checksum written with them"
                       if name == "attrs" else f"/checkpoint/{name} is {why}" if why != "changed" else
                       f"/checkpoint/{name} does not match the checksum written with it")
    if identity is not None and g.attrs["identity"] != identity:
        raise OutputError(f"checkpoint {path} belongs to another run (its spec, seed, steps, precision, recording "
                          f"or neurodyn version differ); it is not resumed (run the command that wrote it, or "
                          f"delete it to start over)")
    if state_like is None:
        return None
    typed = set(json.loads(g.attrs["typed"]))
    state = _rebuild(g["state"], state_like, typed, path, "state")
    step = int(g.attrs["step"])
    like = carries_like(state, step) if carries_like is not None else None
    carries = () if like is None else _rebuild(g["carries"], like, set(), path, "observer carries")
    records = {}
    g["records"].visititems(lambda name, node: records.__setitem__(name, node[()])
                            if isinstance(node, h5py.Dataset) else None)
    return Snapshot(step, int(g.attrs["samples"]), state, carries, records)


def _rebuild(group, like, typed: set, path: Path, what: str):
    leaves, treedef = jax.tree_util.tree_flatten(like)
    if len(group) != len(leaves):
        raise OutputError(f"checkpoint {path}: its {what} has {len(group)} arrays but the run's has {len(leaves)}: "
                          f"it was written for another model")
    out = []
    for i, leaf in enumerate(leaves):
        stored = group[str(i)][()]
        want = _raw(leaf)
        if stored.shape != want.shape or stored.dtype != want.dtype:
            raise OutputError(f"checkpoint {path}: {what} leaf {i} is stored as {stored.dtype}{list(stored.shape)} "
                              f"but the run has {want.dtype}{list(want.shape)}: it was written for another model")
        out.append(jax.random.wrap_key_data(stored) if i in typed else jax.numpy.asarray(stored))
    return jax.tree_util.tree_unflatten(treedef, out)
