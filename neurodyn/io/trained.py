"""Save a trained reservoir and its readout to HDF5 and load them back to predict identically
(docs/models/reservoirs.md, "Readout").

Any neurodyn pytree dataclass (``ESN``, ``ResESN``, ``Ridge``, ``RidgeClassifier``, ...) is written
as a group: the class as the ``class`` attribute, array and number fields as datasets (full
precision), static fields and flags as attributes, nested dataclasses, dicts, lists and tuples as
subgroups, ``None`` as an absent entry. Loading rebuilds the same object field by field; only
classes from the ``neurodyn`` package are accepted.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import h5py
import jax.numpy as jnp
import numpy as np

from ..errors import OutputError, SpecError
from ..files import atomic_write, ensure_space

FORMAT = "neurodyn-trained-1"


def _write(group: h5py.Group, name: str, value) -> None:
    if value is None:
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        sub = group.create_group(name)
        cls = type(value)
        sub.attrs["class"] = f"{cls.__module__}:{cls.__qualname__}"
        for field in dataclasses.fields(value):
            _write(sub, field.name, getattr(value, field.name))
    elif isinstance(value, (dict, list, tuple)):
        sub = group.create_group(name)
        sub.attrs["container"] = type(value).__name__ if isinstance(value, (dict, list)) else "tuple"
        items = value.items() if isinstance(value, dict) else ((str(i), v) for i, v in enumerate(value))
        for key, item in items:
            _write(sub, key, item)
        sub.attrs["length"] = len(value)
    elif isinstance(value, str):
        group.attrs[f"str:{name}"] = value
    elif isinstance(value, bool):
        group.attrs[f"bool:{name}"] = value
    elif isinstance(value, int):
        group.attrs[f"int:{name}"] = value
    elif isinstance(value, float):
        group.attrs[f"float:{name}"] = value
    else:
        array = np.asarray(value)
        if array.dtype == object:
            raise SpecError(f"save_trained: field {name!r} holds {type(value).__name__}, which cannot be saved")
        group.create_dataset(name, data=array)
        group[name].attrs["jax"] = not isinstance(value, np.ndarray)


def _read(node):
    if isinstance(node, h5py.Dataset):
        data = node[()]
        return jnp.asarray(data) if node.attrs.get("jax", False) else np.asarray(data)
    entries = {key: _read(node[key]) for key in node}
    for key, value in node.attrs.items():
        if ":" in key:
            kind, field = key.split(":", 1)
            entries[field] = {"str": str, "bool": bool, "int": int, "float": float}[kind](value)
    if "class" in node.attrs:
        module, qualname = RENAMED.get(str(node.attrs["class"]), str(node.attrs["class"])).split(":")
        if module.split(".")[0] != "neurodyn":
            raise SpecError(f"load_trained: refusing to build class {module}:{qualname} (not a neurodyn class)")
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        obj = object.__new__(cls)
        for field in dataclasses.fields(cls):
            object.__setattr__(obj, field.name, entries.get(field.name))
        return obj
    kind = str(node.attrs.get("container", "dict"))
    if kind == "dict":
        return entries
    items = [entries.get(str(i)) for i in range(int(node.attrs["length"]))]
    return items if kind == "list" else tuple(items)


RENAMED = {"neurodyn.ops.csr:CSRMatrix": "neurodyn.ops.coo:COOMatrix"}
"""Classes renamed since a trained file was written: its stored name -> the class now."""


def save_trained(path, **objects) -> Path:
    """Write named objects (e.g. ``reservoir=esn, readout=fit``) to the HDF5 file ``path``,
    atomically (:func:`neurodyn.files.atomic_write`): a full disk or a kill while writing leaves
    an earlier file of that name as it was."""
    path = Path(path)
    import jax

    size = sum(np.asarray(leaf).nbytes for leaf in jax.tree_util.tree_leaves(objects) if hasattr(leaf, "shape"))
    ensure_space(path, size, "trained file")
    with atomic_write(path, "trained file") as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        for name, value in objects.items():
            _write(f, name, value)
    return path


def load_trained(path) -> dict:
    """The objects written by :func:`save_trained`, by name."""
    from .hdf5 import open_for_reading

    with open_for_reading(path) as f:
        if f.attrs.get("format") != FORMAT:
            raise SpecError(f"load_trained: {path} is not a file written by save_trained")
        try:
            return {name: _read(f[name]) for name in f}
        except (KeyError, ValueError, TypeError, RuntimeError, OSError) as e:
            raise OutputError(f"{path} is a damaged trained file ({' '.join(str(e).split())})") from None


def trained_path(path) -> Path:
    """Where a task run saves its trained reservoir and readout beside its run file ``path``:
    ``<stem>.trained.h5``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.trained.h5")
