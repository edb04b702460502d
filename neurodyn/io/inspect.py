"""What is in a file neurodyn writes (``neurodyn info``), with h5py and NumPy only.

Every group and dataset of the file is listed, whatever wrote it: a run (complete, partial or
diverged), a sweep, a run of a spec with a ``[task]``, a trained reservoir and readout
(``.trained.h5``, its ``reservoir/`` and ``readout/`` groups), a training checkpoint or history, a
run checkpoint (``neurodyn run --checkpoint-every``), a
SONATA export, or any other HDF5 file. For each dataset: dtype, shape and ``units``; its values when
it holds at most :data:`SMALL` of them (a scalar diagnostic such as ``/diagnostics/nrmse`` shows its
number), otherwise min, mean and max over its finite values and the count of non-finite ones
(``nan``, ``inf``). Attributes (the ones that describe a method: ``definition``, ``window_ms``,
``dataset``, ...) are shown under their group or dataset, JSON texts decoded; a multi-line text
attribute (the stored spec) is printed last, as a block.

:func:`inspect_file` returns the same as a JSON-ready dict (``neurodyn info --json``), in which
a non-finite number is the string ``"nan"``, ``"inf"`` or ``"-inf"``.

Importing this module imports no JAX: ``neurodyn info`` starts as fast as h5py does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .hdf5 import open_for_reading

SMALL = 10  # a dataset or attribute with at most this many values is printed in full
BLOCK = 1 << 22  # values read at a time for min/mean/max
MAX_STATS = 1 << 28  # above this many values, min/mean/max are not computed (the listing stays quick)


def _number(x):
    """A NumPy or Python scalar as a JSON-ready Python value."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bytes):
        return x.decode(errors="replace")
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, complex):
        return str(x)
    return x


def _value(v):
    """An attribute value, or a small array, as JSON-ready Python (JSON texts decoded)."""
    if isinstance(v, (bytes, np.bytes_)):
        v = v.decode(errors="replace")
    if isinstance(v, str):
        if v[:1] in "{[":
            try:
                return json.loads(v)
            except ValueError:
                return v
        return v
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "OSU" or v.size <= SMALL:
            return [_value(x) for x in v.tolist()] if v.ndim else _value(v.item())
        return _summary(v)
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    return _number(v)


def _summary(a: np.ndarray) -> dict:
    """min, mean and max of the finite values of a numeric array, and its count of non-finite ones."""
    a = np.asarray(a)
    if a.dtype == bool:
        return {"true": int(a.sum()), "of": int(a.size)}
    finite = a[np.isfinite(a)] if a.dtype.kind in "fc" else a.ravel()
    out: dict[str, Any] = {}
    if finite.size:
        out.update(min=_number(finite.min()), mean=_number(finite.mean(dtype=np.float64)), max=_number(finite.max()))
    if finite.size < a.size:
        out["non_finite"] = int(a.size - finite.size)
    return out


def _dataset_stats(d: h5py.Dataset) -> dict:
    """:func:`_summary` of a dataset, read in blocks along its first axis."""
    if d.size > MAX_STATS:
        return {"not_computed": f"{d.size:,} values"}
    if d.ndim == 0 or d.size <= BLOCK:
        return _summary(d[()])
    rows = max(1, BLOCK // max(1, d.size // d.shape[0]))
    lo, hi, total, count, bad, trues = math.inf, -math.inf, 0.0, 0, 0, 0
    for start in range(0, d.shape[0], rows):
        part = d[start:start + rows]
        if part.dtype == bool:
            trues += int(part.sum())
            continue
        finite = part[np.isfinite(part)] if part.dtype.kind in "fc" else part.ravel()
        bad += part.size - finite.size
        if finite.size:
            lo, hi = min(lo, finite.min().item()), max(hi, finite.max().item())
            total += float(finite.sum(dtype=np.float64))
            count += finite.size
    if d.dtype == bool:
        return {"true": trues, "of": int(d.size)}
    out: dict[str, Any] = {}
    if count:
        out.update(min=_number(lo), mean=_number(total / count), max=_number(hi))
    if bad:
        out["non_finite"] = bad
    return out


def _attrs(obj) -> dict:
    out = {}
    for k in obj.attrs:
        try:
            v = obj.attrs[k]
        except (OSError, TypeError):  # a type h5py cannot read
            out[k] = f"<{obj.attrs.get_id(k).dtype}>"
            continue
        names = h5py.check_enum_dtype(obj.attrs.get_id(k).dtype)
        if names:  # an HDF5 enum (SONATA's spike sorting): its name
            v = {int(i): n for n, i in names.items()}.get(int(v), v)
        out[k] = _value(v)
    return out


def _member(group, name: str) -> dict:
    """A group member; a link whose target is missing is listed as such instead of failing."""
    link = group.get(name, getlink=True)
    try:
        return _node(group[name])
    except (KeyError, OSError):
        target = getattr(link, "path", "?")
        where = f"{link.filename}:" if isinstance(link, h5py.ExternalLink) else ""
        return {"type": "link", "target": f"{where}{target}", "resolved": False}


def _node(obj) -> dict:
    if isinstance(obj, h5py.Datatype):
        return {"type": "datatype", "dtype": str(obj.dtype), "attrs": _attrs(obj)}
    if isinstance(obj, h5py.Dataset):
        node: dict[str, Any] = {"type": "dataset", "dtype": str(obj.dtype), "shape": list(obj.shape)}
        attrs = _attrs(obj)
        if "units" in attrs:
            node["units"] = attrs.pop("units")
        if attrs:
            node["attrs"] = attrs
        if obj.dtype.kind in "biufcSUO" and obj.shape is not None:
            if obj.size <= SMALL or obj.dtype.kind in "SUO":
                if obj.size <= SMALL:
                    node["value"] = _value(obj[()])
            else:
                node["summary"] = _dataset_stats(obj)
        return node
    names = sorted(obj, key=lambda n: (n != "neurodyn", ""))  # the metadata first, then the file's order
    return {"type": "group", "attrs": _attrs(obj), "members": {name: _member(obj, name) for name in names}}


def file_kind(f: h5py.File) -> str:
    """What wrote the file, in words: ``run (complete)``, ``partial run (interrupted)``, ``sweep``, ..."""
    meta = dict(f["neurodyn"].attrs) if "neurodyn" in f else {}
    meta = {k: _value(v) for k, v in meta.items()}
    if _value(f.attrs.get("format", "")) == "neurodyn-trained-1":
        return "trained reservoir and readout (neurodyn.io.load_trained)"
    if "training" in f:
        return "training checkpoint"
    if "checkpoint" in f and _value(f["checkpoint"].attrs.get("format", "")) == "neurodyn-run-checkpoint-1":
        return f"run checkpoint (at step {_value(f['checkpoint'].attrs.get('step', '?')):,})"
    if meta.get("kind") == "search" and "search" in f:
        n = int(_value(f["search"].attrs.get("n_trials", 0)))
        if "search/best" not in f:
            return f"hyper-parameter search ({n:,} trials)"
        best = {k: _value(v) for k, v in f["search/best"].attrs.items()}
        return (f"hyper-parameter search ({n:,} trials, best {best.get('measure')} {float(best.get('value')):.6g} "
                f"at trial {best.get('trial')})")
    if meta.get("kind") == "sweep" or "sweep" in f:
        if "sweep/done" in f:
            done = f["sweep/done"][()]
            return f"sweep ({int(done.sum()):,} of {done.size:,} points done)"
        return "sweep"
    if "status" in meta:
        status = meta["status"]
        what = "run of a spec with a [task]" if "readout" in f else "run"
        if status == "interrupted":
            return f"partial {what} (interrupted at step {meta.get('stopped_step', '?')})"
        if status == "diverged":
            return (f"diverged {what} (step {meta.get('diverged_step', '?')}, "
                    f"{meta.get('diverged_variable', '?')})")
        return f"{what} ({status})"
    if "report" in f or "spikes" in f:
        return "SONATA " + " and ".join(k for k in ("report", "spikes") if k in f)
    found: list[str] = []
    f.visititems(lambda name, node: found.append(name) if name.rsplit("/", 1)[-1] == "history" else None)
    if found:
        return "training history"
    return "HDF5 file (not written by neurodyn)"


def inspect_file(path) -> dict:
    """The whole content of an HDF5 file as a JSON-ready dict: ``{"path", "kind", "root"}``, where
    ``root`` is a group ``{"type": "group", "attrs", "members"}`` and a dataset is ``{"type":
    "dataset", "dtype", "shape", "units"?, "attrs"?, "value" (at most SMALL values) or "summary"
    ({"min", "mean", "max", "non_finite"?}, or {"true", "of"} for booleans)}``."""
    path = Path(path)
    with open_for_reading(path) as f:
        return {"path": str(path), "kind": file_kind(f), "root": _node(f)}


def _text(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return "[" + ", ".join(_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return json.dumps(v)
    return str(v)


def _stats_text(s: dict) -> str:
    if "not_computed" in s:
        return f"  ({s['not_computed']}: min/mean/max not computed)"
    if "true" in s:
        return f"  {s['true']:,} of {s['of']:,} true"
    parts = [f"{k} {_text(s[k])}" for k in ("min", "mean", "max") if k in s]
    if "non_finite" in s:
        parts.append(f"{s['non_finite']:,} non-finite")
    return "  " + ", ".join(parts)


def describe(path) -> str:
    """A human-readable listing of an HDF5 file neurodyn writes (see the module docstring)."""
    info = inspect_file(path)
    lines = [f"{info['path']}: {info['kind']}"]
    blocks: list[tuple[str, str]] = []

    def attributes(attrs: dict, where: str, indent: str) -> None:
        for k, v in attrs.items():
            if isinstance(v, str) and "\n" in v:
                blocks.append((f"{k} ({where} attribute)", v))
            else:
                lines.append(f"{indent}{k} = {_text(v)}")

    def walk(node: dict, name: str, where: str, depth: int) -> None:
        indent = "  " * depth
        if node["type"] == "group":
            if name:
                lines.append(f"{indent}{name}/")
            attributes(node["attrs"], where or "/", indent + "  ")
            for child, sub in node["members"].items():
                walk(sub, child, f"{where}/{child}", depth + 1)
            return
        if node["type"] in ("link", "datatype"):
            what = f"link to {node['target']} (missing)" if node["type"] == "link" else f"datatype {node['dtype']}"
            lines.append(f"{indent}{name}: {what}")
            return
        unit = f" [{node['units']}]" if "units" in node else ""
        shape = "(" + ", ".join(str(n) for n in node["shape"]) + ("," if len(node["shape"]) == 1 else "") + ")"
        text = f"{indent}{name}: {node['dtype']} {shape}{unit}"
        if "value" in node:
            text += f" = {_text(node['value'])}"
        elif "summary" in node:
            text += _stats_text(node["summary"])
        lines.append(text)
        attributes(node.get("attrs", {}), where, indent + "  ")

    walk(info["root"], "", "", 0)
    for title, text in blocks:
        lines.append(f"  {title}:")
        lines.extend(f"    | {line}" for line in text.splitlines())
    return "\n".join(lines)
