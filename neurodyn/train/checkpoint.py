"""Training checkpoints in HDF5 (no pickle): trainable parameters, optimizer state, history,
epoch and PRNG key, written atomically so that a killed run always leaves the last complete one
(docs/training.md).

Layout of a checkpoint file::

    /training                 attrs: format, epoch (completed epochs), stopped, best_epoch, wait,
                              best_value, key_typed, params_paths, opt_paths (JSON lists)
    /training/key             the base PRNG key's raw uint32 data
    /training/params/<i>      trainable leaf i (the flattening order of the trainable partition)
    /training/opt_state/<i>   optimizer-state leaf i (the flattening order of ``optimizer.init``)
    /training/best/<i>        trainable leaf i at the best epoch (when early stopping monitors one)
    /training/history/<name>  one float64 value per completed epoch

Integrity, in two steps. The file's first 512 bytes (an HDF5 user block, which HDF5 ignores)
hold ``neurodyn-checkpoint-2`` and the BLAKE2b-128 digest of every byte after them: it is
checked with plain file reads before HDF5 parses anything, so a damaged structure is refused
with one line instead of an h5py error or a crash of the HDF5 library. Then the ``/training``
attribute ``checksums`` (JSON) holds the digest (:func:`neurodyn.checksum.hexdigest`) of every
dataset above, by its path, and of the attributes that say where training stands (``"attrs"``);
:func:`read_checkpoint` recomputes them all. A checkpoint that does not match is refused with one
line (:class:`~neurodyn.errors.OutputError`), so damaged parameters, optimizer state or history
are never resumed and never copied into the next checkpoint. Checkpoints of the first format (no
checksums) cannot be verified and are refused too.

Pytrees are stored as their leaves only; reading them back needs the structure of a freshly
built tree (``jax.tree_util.tree_structure(optimizer.init(params))``), so nothing but numbers and
strings is ever deserialised. The file is written through :func:`neurodyn.files.atomic_write`
(a temporary name beside it, flushed, then renamed over ``path``): a ``kill -9`` during the write
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import jax
import numpy as np

from ..checksum import (DAMAGE, USERBLOCK, attrs_digest, check_sealed, dataset_checksums, file_digest, first_mismatch,
                        read_sealed, seal)
from ..errors import OutputError
from ..files import atomic_write, ensure_space

FORMAT = "neurodyn-checkpoint-2"
MAGIC = FORMAT.encode() + b"\n"
STATE_ATTRS = ("format", "epoch", "stopped", "best_epoch", "best_value", "wait", "key_typed", "params_paths",
               "opt_paths")


def _checksums(group: h5py.Group) -> dict[str, str]:
    return {**dataset_checksums(group), "attrs": attrs_digest(group.attrs, STATE_ATTRS)}


def _file_digest(raw: bytes) -> str:
    return file_digest(raw, FORMAT)


def _verify(group: h5py.Group, path: Path) -> None:
    """Raise :class:`OutputError` unless every dataset and the state attributes of ``group``
    match the checksums stored with them."""
    fmt = group.attrs.get("format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt == "neurodyn-checkpoint-1":
        raise OutputError(f"checkpoint {path} was written by an earlier neurodyn without checksums and cannot be "
                          f"verified; delete it to start training over")
    bad = first_mismatch(json.loads(group.attrs["checksums"]), _checksums(group))
    if bad is not None:
        name, why = bad
        what = ("its epoch, key and early-stopping attributes" if name == "attrs" else
                f"/training/{name} is missing" if why == "missing" else
                f"/training/{name} is not one it wrote" if why == "unknown" else f"/training/{name}")
        raise OutputError(f"checkpoint {path} is damaged: {what} does not match the checksum written with it; "
                          f"it is not resumed (delete it to start over, or restore a good copy)")


def _leaf_paths(tree) -> list[str]:
    return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _write_leaves(group: h5py.Group, tree) -> None:
    for i, leaf in enumerate(jax.tree_util.tree_leaves(tree)):
        group.create_dataset(str(i), data=np.asarray(leaf))


def key_data(key) -> tuple[np.ndarray, bool]:
    """The raw uint32 data of a PRNG key and whether it was a typed key (``jax.random.key``)."""
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    return np.asarray(jax.random.key_data(key) if typed else key), bool(typed)


def write_checkpoint(path, *, params, opt_state, history: dict, epoch: int, key, best=None,
                     best_epoch: int = -1, best_value: float = float("nan"), wait: int = 0,
                     stopped: bool = False) -> Path:
    """Write a training checkpoint atomically (:func:`neurodyn.files.atomic_write`).

    ``params``: the trainable partition (a pytree, ``None`` where a leaf is static);
    ``opt_state``: the optimizer state; ``history``: ``{name: sequence of per-epoch values}``;
    ``epoch``: the number of completed epochs; ``key``: the run's base PRNG key; ``best``,
    ``best_epoch``, ``best_value``, ``wait``, ``stopped``: the early-stopping state.
    """
    path = Path(path)
    raw, typed = key_data(key)
    ensure_space(path, sum(np.asarray(leaf).nbytes for leaf in jax.tree_util.tree_leaves((params, opt_state, best)))
                 + 8 * sum(len(v) for v in history.values()), "checkpoint")
    with atomic_write(path, "checkpoint") as tmp:
        with h5py.File(tmp, "w", userblock_size=USERBLOCK) as f:
            g = f.create_group("training")
            g.attrs.update(format=FORMAT, epoch=int(epoch), stopped=bool(stopped), best_epoch=int(best_epoch),
                           best_value=float(best_value), wait=int(wait), key_typed=typed,
                           params_paths=json.dumps(_leaf_paths(params)), opt_paths=json.dumps(_leaf_paths(opt_state)))
            g.create_dataset("key", data=raw)
            _write_leaves(g.create_group("params"), params)
            _write_leaves(g.create_group("opt_state"), opt_state)
            if best is not None:
                _write_leaves(g.create_group("best"), best)
            h = g.create_group("history")
            for name, values in history.items():
                h.create_dataset(name, data=np.asarray(values, np.float64))
            g.attrs["checksums"] = json.dumps(_checksums(g))
        seal(tmp, FORMAT)
    return path


def _read_leaves(group: h5py.Group, like, what: str, path: Path):
    """The stored leaves rebuilt with the structure of ``like``; a clear error if they differ."""
    leaves, treedef = jax.tree_util.tree_flatten(like)
    if len(group) != len(leaves):
        raise OutputError(f"checkpoint {path}: /training/{group.name.rsplit('/', 1)[-1]} holds {len(group)} arrays "
                          f"but the {what} has {len(leaves)}: it was written for another model or optimizer")
    names = _leaf_paths(like)
    out = []
    for i, (leaf, name) in enumerate(zip(leaves, names)):
        stored = group[str(i)][()]
        want = np.shape(leaf), np.asarray(leaf).dtype
        if stored.shape != want[0] or stored.dtype != want[1]:
            raise OutputError(f"checkpoint {path}: {what} leaf {name or i} is stored as "
                              f"{stored.dtype}{list(stored.shape)}"
                              f" but the model gives {want[1]}{list(want[0])}: it was written for another model")
        out.append(jax.numpy.asarray(stored))
    return jax.tree_util.tree_unflatten(treedef, out)


def read_checkpoint(path, *, params_like=None, opt_state_like=None) -> dict[str, Any]:
    """Read a checkpoint: ``{"epoch", "history", "key", "stopped", "best_epoch", "best_value",
    "wait", "params", "opt_state", "best"}``.

    ``params``, ``best`` and ``opt_state`` are rebuilt only when a tree of the same structure is
    given (``params_like``: the trainable partition, ``opt_state_like``: a freshly initialised
    optimizer state); otherwise they are ``None``. ``history`` values are float64 arrays.
    """
    path = Path(path)
    return read_sealed(path, FORMAT, lambda f: _read(f, path, params_like, opt_state_like))


def _read(f: h5py.File, path: Path, params_like, opt_state_like) -> dict[str, Any]:
    """The checkpoint in the open file ``f``, verified against its checksums (see :func:`read_checkpoint`)."""
    if "training" not in f or f["training"].attrs.get("format") not in (FORMAT, "neurodyn-checkpoint-1"):
        raise OutputError(f"{path} is not a neurodyn training checkpoint (no /training group of format {FORMAT})")
    g = f["training"]
    _verify(g, path)
    raw = g["key"][()]
    key = jax.random.wrap_key_data(raw) if g.attrs["key_typed"] else jax.numpy.asarray(raw)
    out = {"epoch": int(g.attrs["epoch"]), "stopped": bool(g.attrs["stopped"]),
           "best_epoch": int(g.attrs["best_epoch"]), "best_value": float(g.attrs["best_value"]),
           "wait": int(g.attrs["wait"]), "key": key,
           "history": {name: g["history"][name][()] for name in g["history"]},
           "params": None, "opt_state": None, "best": None}
    if params_like is not None:
        out["params"] = _read_leaves(g["params"], params_like, "trainable partition", path)
        if "best" in g:
            out["best"] = _read_leaves(g["best"], params_like, "trainable partition", path)
    if opt_state_like is not None:
        out["opt_state"] = _read_leaves(g["opt_state"], opt_state_like, "optimizer state", path)
    return out


def read_histories(path) -> dict[str, dict[str, np.ndarray]]:
    """Every per-epoch history in an HDF5 file: ``{label: {name: values}}``, one entry per group
    named ``history`` (a checkpoint's ``/training/history`` gets the label ``"training"``; the
    digits example stores one per cell, T and seed, labelled by their parent group's path).
    """
    path = Path(path)
    if not path.is_file():
        raise OutputError(f"no such file: {path}")
    check_sealed(path, FORMAT)
    found: dict[str, dict[str, np.ndarray]] = {}

    def visit(name, node):
        if isinstance(node, h5py.Group) and name.rsplit("/", 1)[-1] == "history":
            curves = {k: v[()] for k, v in node.items() if isinstance(v, h5py.Dataset) and v.ndim == 1}
            if curves:
                found[name.rpartition("/")[0] or "history"] = curves

    try:
        with h5py.File(path, "r") as f:
            if "training" in f and "checksums" in f["training"].attrs:
                _verify(f["training"], path)  # a checkpoint: its curves must be the ones it wrote
            f.visititems(visit)
    except OutputError:
        raise
    except DAMAGE as e:
        raise OutputError(f"{path} is not a readable HDF5 file ({' '.join(str(e).split()) or type(e).__name__})") from None
    if not found:
        raise OutputError(f"{path} holds no training history (no group named 'history' with per-epoch values)")
    return found
