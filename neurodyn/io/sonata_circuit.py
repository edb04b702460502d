"""SONATA circuits in: point-neuron networks (bmtk's PointNet format) read into a :class:`~neurodyn.core.Network`.

A SONATA circuit (Dai et al., "The SONATA data format for efficient description of large-scale
network models", PLoS Comput. Biol. 16:e1007696, 2020; github.com/AllenInstitute/sonata) is named
by a circuit config (JSON): ``networks.nodes`` (``nodes_file`` HDF5 + ``node_types_file`` CSV) and
``networks.edges`` (``edges_file`` + ``edge_types_file``), ``components`` (the folders of the
``dynamics_params`` JSON files) and a ``manifest`` of ``$NAMES`` substituted in every path. A
simulation config (``run.dt``, ``run.tstop`` in ms, ``output``, ``inputs``) may sit beside it,
joined by a ``config.json`` that names both, or be one file with both parts.

What is read (docs/interchange.md, "SONATA circuits in"):

* nodes with ``model_type`` ``point_neuron`` / ``point_process`` and ``model_template``
  ``nest:iaf_psc_exp`` (-> ``lif_cuba``), ``nest:iaf_cond_exp`` (-> ``lif_coba``) or
  ``nest:iaf_psc_alpha`` (-> an equation model with alpha-shaped currents), parameters in NEST's
  names and units from the node type's ``dynamics_params`` JSON (NEST's defaults otherwise),
  and ``virtual`` nodes (spike sources replaying the simulation config's ``spikes`` inputs);
  anything else is refused with one line naming the ``model_template``;
* edges of ``model_template`` ``static_synapse`` (or none): weight ``syn_weight * nsyns``
  (``nsyns`` 1 when absent, as bmtk's PointNet), delay in ms, each per edge (the edges file)
  or per edge type (the CSV), rounded to whole steps ``rint(delay / dt)``
  (:func:`neurodyn.models.synapses.delay_steps`): a spike stamped ``t`` reaches its target's
  synaptic variable at ``t + rint(delay / dt) dt``, at least one step later (NEST's minimum).

A SONATA node population whose nodes have several models becomes one neurodyn population per
model, named ``<population>_<model>``; :attr:`Circuit.node_ids` maps each back to its SONATA
population and node ids, so the spikes are written with SONATA's ids
(:func:`write_circuit_spikes`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..errors import SpecError
from ..schema import did_you_mean

NEST_DEFAULTS = {
    # NEST 3 defaults (models/iaf_psc_exp.h, iaf_psc_alpha.h, iaf_cond_exp.h); units: pF, ms, mV, pA, nS
    "iaf_psc_exp": dict(C_m=250.0, tau_m=10.0, t_ref=2.0, E_L=-70.0, V_reset=-70.0, V_th=-55.0, I_e=0.0,
                        tau_syn_ex=2.0, tau_syn_in=2.0, V_m=None),
    "iaf_psc_alpha": dict(C_m=250.0, tau_m=10.0, t_ref=2.0, E_L=-70.0, V_reset=-70.0, V_th=-55.0, I_e=0.0,
                          tau_syn_ex=2.0, tau_syn_in=2.0, V_m=None),
    "iaf_cond_exp": dict(C_m=250.0, g_L=16.6667, t_ref=2.0, E_L=-70.0, V_reset=-60.0, V_th=-55.0, I_e=0.0,
                         E_ex=0.0, E_in=-85.0, tau_syn_ex=0.2, tau_syn_in=2.0, V_m=None),
}
"""The NEST point neurons read, with every parameter they accept and its default (``V_m``, the
initial potential, defaults to ``E_L``)."""

NEURODYN_MODEL = {"iaf_psc_exp": "lif_cuba", "iaf_cond_exp": "lif_coba", "iaf_psc_alpha": "equations",
                  "virtual": "spike_generator"}
POINT_TYPES = ("point_neuron", "point_process")
SYNAPSES = ("static_synapse",)

ALPHA_EQUATIONS = """
dv/dt = (e_l - v)/tau_m + (i_ex + i_in + i_e)/c_m : mV (unless refractory)
di_ex/dt = y_ex - i_ex/tau_syn_ex : pA
dy_ex/dt = -y_ex/tau_syn_ex : pA/ms
di_in/dt = y_in - i_in/tau_syn_in : pA
dy_in/dt = -y_in/tau_syn_in : pA/ms
"""
"""NEST's ``iaf_psc_alpha``: ``C_m dV/dt = -C_m (V - E_L) / tau_m + I_ex + I_in + I_e``, each
current an alpha function ``w e t / tau exp(-t / tau)`` (peak ``w`` pA at ``t = tau``) of every
spike, written as two linear equations whose ``y`` jumps by ``w e / tau`` per spike. Integrated
by RK4: exponential Euler, which holds ``y`` over a step, overshoots the peak by ``dt / (2 tau)``
(2.5 % at 0.1 ms and 2 ms); RK4's error is ``O((dt / tau)^5)`` per step."""


@dataclass
class Circuit:
    """A SONATA circuit read into neurodyn (:func:`read_circuit`).

    ``network``: the :class:`~neurodyn.core.Network`; ``state``: its initial state (``v = V_m``,
    default ``E_L``; synapses closed); ``node_ids``: neurodyn population -> (SONATA population,
    SONATA node ids, one per neuron); ``edges``: (source SONATA population, target SONATA
    population) -> ``{"source", "target", "weight", "delay"}`` arrays as read (SONATA node ids,
    ``syn_weight * nsyns`` in NEST units, delays in ms), in file order; ``dt``, ``steps``
    (``tstop / dt`` rounded) and ``spikes_file`` (the simulation config's output, or None) for a
    run; ``config``: the config file read."""

    network: object
    state: object
    node_ids: dict
    edges: dict
    dt: float
    steps: int | None
    spikes_file: Path | None
    config: Path
    models: dict = field(default_factory=dict)  # neurodyn population -> NEST model_template (or "virtual")


# ---------------------------------------------------------------- configs and files

def _load_json(path: Path, what: str) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(f"{what}: file not found: {path}") from None
    except OSError as e:
        raise SpecError(f"{what}: cannot read {path}: {e.strerror or e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"{what} {path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise SpecError(f"{what} {path}: expected a JSON object, got {type(data).__name__}")
    return data


def _substitute(value, names: dict):
    """``$NAME`` and ``${NAME}`` of the manifest (longest names first) in every string of ``value``."""
    if isinstance(value, str):
        for _ in range(10):  # manifest entries may refer to each other
            new = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: names.get("$" + (m.group(1) or m.group(2)), m.group(0)),
                         value)
            if new == value:
                break
            value = new
        return value
    if isinstance(value, dict):
        return {k: _substitute(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, names) for v in value]
    return value


def _resolve(path: Path, data: dict) -> dict:
    """A config with its manifest applied (``${configdir}`` is the config's folder)."""
    manifest = data.get("manifest", {})
    if not isinstance(manifest, dict):
        raise SpecError(f"{path}: manifest must be a JSON object")
    names = {"$configdir": str(path.parent.resolve()), "$workingdir": os.getcwd()}
    names.update({k if k.startswith("$") else "$" + k: str(v) for k, v in manifest.items()})
    return _substitute({k: v for k, v in data.items() if k != "manifest"}, names)


def read_config(path) -> tuple[dict, dict]:
    """``(circuit, simulation)`` parts of a SONATA config: a circuit config (``networks``), a
    simulation config (``run``; its ``network`` names the circuit config) or a ``config.json``
    naming both (``{"network": ..., "simulation": ...}``), paths resolved against the file that
    names them."""
    path = Path(path)
    data = _resolve(path, _load_json(path, "SONATA config"))
    circuit, simulation = (data, {}) if "networks" in data else ({}, {})
    if "run" in data:
        simulation = data
    for key, part in (("network", "circuit"), ("simulation", "simulation")):
        ref = data.get(key)
        if isinstance(ref, str):
            sub = (path.parent / ref) if not os.path.isabs(ref) else Path(ref)
            loaded = _resolve(sub, _load_json(sub, f"SONATA {part} config (field {key!r} of {path})"))
            if part == "circuit":
                circuit = loaded
            else:
                simulation = loaded
                if not circuit and isinstance(loaded.get("network"), str):
                    ref2 = loaded["network"]
                    sub2 = (sub.parent / ref2) if not os.path.isabs(ref2) else Path(ref2)
                    circuit = _resolve(sub2, _load_json(sub2, f"SONATA circuit config (field 'network' of {sub})"))
    if not circuit or not isinstance(circuit.get("networks"), dict):
        raise SpecError(f"{path}: not a SONATA config: no 'networks' (a circuit config) and no 'network' naming one")
    return circuit, simulation


def read_csv_table(path: Path, key: str) -> dict[int, dict]:
    """A SONATA node/edge types file (space-separated, a header row): ``{type id: {column: value}}``,
    ``NULL`` entries left out; one line naming the file if ``key`` is not a column."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=" ", quotechar='"', skipinitialspace=True))
    except FileNotFoundError:
        raise SpecError(f"types file not found: {path}") from None
    except OSError as e:
        raise SpecError(f"cannot read the types file {path}: {e.strerror or e}") from None
    rows = [r for r in rows if r]
    if not rows or key not in rows[0]:
        columns = ", ".join(rows[0]) if rows else "none"
        raise SpecError(f"{path}: no column {key!r} (columns: {columns}){did_you_mean(key, rows[0] if rows else ())}")
    header, out = rows[0], {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise SpecError(f"{path}, line {line}: {len(row)} values for {len(header)} columns")
        values = {h: v for h, v in zip(header, row) if v != "NULL"}
        try:
            out[int(values[key])] = values
        except (KeyError, ValueError):
            raise SpecError(f"{path}, line {line}: {key} must be an integer, got {values.get(key)!r}") from None
    return out


def _h5(path: Path, what: str) -> h5py.File:
    if not path.is_file():
        raise SpecError(f"{what} not found: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise SpecError(f"{what} {path}: cannot be read as HDF5 ({e})") from None


def _dataset(group: h5py.Group, name: str, path: Path) -> np.ndarray:
    if name not in group:
        raise SpecError(f"{path}: {group.name} has no dataset {name!r} (has: {', '.join(group)})")
    return group[name][()]


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _groups(group: h5py.Group, group_ids: np.ndarray, group_index: np.ndarray) -> dict[str, np.ndarray]:
    """The per-row attributes of a population's groups (``/<pop>/<group id>/<column>``), as
    object arrays with ``None`` where a row's group lacks the column; ``dynamics_params/x`` too."""
    n = group_ids.shape[0]
    columns: dict[str, np.ndarray] = {}
    for gid in np.unique(group_ids):
        g = group.get(str(int(gid)))
        if not isinstance(g, h5py.Group):
            continue
        rows = np.nonzero(group_ids == gid)[0]
        items = [(k, v) for k, v in g.items() if isinstance(v, h5py.Dataset)]
        if isinstance(g.get("dynamics_params"), h5py.Group):
            items += [(f"dynamics_params/{k}", v) for k, v in g["dynamics_params"].items() if isinstance(v, h5py.Dataset)]
        for name, ds in items:
            col = columns.setdefault(name, np.full(n, None, object))
            values = ds[()]
            col[rows] = [_text(x) for x in values[group_index[rows]]]
    return columns


def _component(directory, name: str, path_of_ref: Path, what: str) -> dict:
    """A ``dynamics_params`` JSON, relative to its components folder (or absolute)."""
    p = Path(name)
    if not p.is_absolute():
        if directory is None:
            raise SpecError(f"{path_of_ref}: dynamics_params {name!r} needs components.{what} in the circuit config")
        p = Path(directory) / p
    return _load_json(p, f"dynamics_params of {path_of_ref}")


# ---------------------------------------------------------------- nodes

def _model_of(template, model_type, where: str) -> str:
    """The NEST model name of a node, or one line refusing it."""
    if model_type == "virtual":
        return "virtual"
    if model_type not in POINT_TYPES:
        raise SpecError(f"{where}: model_type {model_type!r} (model_template {template!r}) is not read: neurodyn reads "
                        f"point neurons ({', '.join(POINT_TYPES)}) and virtual nodes")
    name = str(template or "")
    bare = name.split(":", 1)[1] if name.startswith("nest:") else None
    if bare not in NEST_DEFAULTS:
        raise SpecError(f"{where}: model_template {name!r} is not read (read: "
                        f"{', '.join('nest:' + k for k in NEST_DEFAULTS)})")
    return bare


def _parameters(model: str, values: dict, where: str) -> dict:
    known = NEST_DEFAULTS[model]
    out = dict(known)
    for k, v in values.items():
        if k not in known:
            raise SpecError(f"{where}: parameter {k!r} of nest:{model} is not read (read: {', '.join(known)})"
                            f"{did_you_mean(k, tuple(known))}")
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            raise SpecError(f"{where}: parameter {k!r} must be a number, got {v!r}") from None
        if not math.isfinite(out[k]):
            raise SpecError(f"{where}: parameter {k!r} must be finite, got {v!r}")
    return out


@dataclass
class _Nodes:
    population: str           # SONATA population
    model: str                # NEST model or "virtual"
    node_ids: np.ndarray      # SONATA ids of its neurons
    params: list              # one dict of NEST parameters per neuron (empty for virtual)


def _read_nodes(entry: dict, components: dict, config: Path) -> tuple[list[_Nodes], dict[str, int]]:
    nodes_file, types_file = (entry.get(k) for k in ("nodes_file", "node_types_file"))
    if not nodes_file or not types_file:
        raise SpecError(f"{config}: networks.nodes entries need nodes_file and node_types_file, got {sorted(entry)}")
    nodes_path, types_path = Path(nodes_file), Path(types_file)
    types = read_csv_table(types_path, "node_type_id")
    out, sizes = [], {}
    with _h5(nodes_path, "nodes file") as f:
        if "nodes" not in f:
            raise SpecError(f"{nodes_path}: no /nodes group (not a SONATA nodes file)")
        for pop, g in f["nodes"].items():
            type_ids = _dataset(g, "node_type_id", nodes_path).astype(np.int64)
            n = type_ids.shape[0]
            group_ids = g["node_group_id"][()] if "node_group_id" in g else np.zeros(n, np.int64)
            group_index = g["node_group_index"][()] if "node_group_index" in g else np.arange(n)
            if "node_id" in g and not np.array_equal(g["node_id"][()], np.arange(n)):
                raise SpecError(f"{nodes_path}: /nodes/{pop}/node_id is not 0, 1, ..., {n - 1} (SONATA's node ids are "
                                f"the row numbers)")
            columns = _groups(g, group_ids, group_index)
            missing = sorted(set(type_ids.tolist()) - set(types))
            if missing:
                raise SpecError(f"{nodes_path}: /nodes/{pop} uses node_type_id {missing[0]}, which {types_path} "
                                f"does not define")
            by_model: dict[str, tuple[list, list]] = {}
            cache: dict = {}
            for i in range(n):
                t = types[int(type_ids[i])]
                own = {k: col[i] for k, col in columns.items() if col[i] is not None}
                get = lambda k: own.get(k, t.get(k))  # noqa: E731 - a node's column wins over its type's
                where = f"{nodes_path} /nodes/{pop} node {i} (node_type_id {int(type_ids[i])})"
                model = _model_of(get("model_template"), get("model_type"), where)
                params: dict = {}
                if model != "virtual":
                    dyn = get("dynamics_params")
                    base = {}
                    if dyn:
                        if dyn not in cache:
                            cache[dyn] = _component(components.get("point_neuron_models_dir"), dyn, types_path,
                                                    "point_neuron_models_dir")
                        base = cache[dyn]
                    overrides = {k.split("/", 1)[1]: v for k, v in own.items() if k.startswith("dynamics_params/")}
                    params = _parameters(model, {**base, **overrides}, where)
                ids, plist = by_model.setdefault(model, ([], []))
                ids.append(i)
                plist.append(params)
            for model, (ids, plist) in by_model.items():
                out.append(_Nodes(pop, model, np.asarray(ids, np.int64), plist))
            sizes[pop] = n
    return out, sizes


# ---------------------------------------------------------------- models

def _array(params: list, key: str) -> np.ndarray:
    return np.array([p[key] for p in params], np.float64)


def _build_model(nodes: _Nodes, dt: float, dtype, inputs: dict):
    """The neurodyn model of a node group, the per-neuron scale of a weight on each port
    ``{port: (scale array)}`` (a positive NEST weight goes to the first port, a negative one to the
    second) and the initial potentials (None for virtual nodes)."""
    from ..models.equations import Equations
    from ..models.spiking import SynapticLIF
    from ..models.stimuli import SpikeGenerator

    p, n = nodes.params, len(nodes.node_ids)
    if nodes.model == "virtual":
        times, ids = inputs.get(nodes.population, (np.zeros(0), np.zeros(0, np.int64)))
        local = np.full(int(nodes.node_ids.max(initial=-1)) + 1, -1, np.int64)
        local[nodes.node_ids] = np.arange(n)
        keep = (ids >= 0) & (ids < local.size)
        keep[keep] = local[ids[keep]] >= 0
        return SpikeGenerator.create(n, times[keep], local[ids[keep]], dt=dt, dtype=dtype), None, None
    get = lambda k: _array(p, k)  # noqa: E731
    v_init = np.array([q["V_m"] if q["V_m"] is not None else q["E_L"] for q in p], np.float64)
    for q, i in zip(p, nodes.node_ids):
        if not q["V_reset"] < q["V_th"]:
            raise SpecError(f"/nodes/{nodes.population} node {int(i)}: V_reset {q['V_reset']} must be below "
                            f"V_th {q['V_th']}")
        for k in ("C_m", "tau_m", "g_L", "tau_syn_ex", "tau_syn_in"):
            if k in q and not q[k] > 0:
                raise SpecError(f"/nodes/{nodes.population} node {int(i)}: {k} must be > 0, got {q[k]}")
    if nodes.model == "iaf_psc_exp":
        r = get("tau_m") / get("C_m")  # GOhm: mV per pA
        model = SynapticLIF.create(n, synapse="current", tau_m=get("tau_m"), v_rest=get("E_L"), v_reset=get("V_reset"),
                                   v_th=get("V_th"), t_ref=get("t_ref"), i_ext=get("I_e") * r,
                                   tau_e=get("tau_syn_ex"), tau_i=get("tau_syn_in"), dt=dt, dtype=dtype)
        return model, {"g_e": r, "g_i": r}, v_init
    if nodes.model == "iaf_cond_exp":
        g_l = get("g_L")
        model = SynapticLIF.create(n, synapse="conductance", tau_m=get("C_m") / g_l, v_rest=get("E_L"),
                                   v_reset=get("V_reset"), v_th=get("V_th"), t_ref=get("t_ref"),
                                   i_ext=get("I_e") / g_l, tau_e=get("tau_syn_ex"), tau_i=get("tau_syn_in"),
                                   e_e=get("E_ex"), e_i=get("E_in"), dt=dt, dtype=dtype)
        return model, {"g_e": 1.0 / g_l, "g_i": -1.0 / g_l}, v_init  # NEST: g_in += -w for w < 0
    units = {"c_m": "pF", "tau_m": "ms", "e_l": "mV", "v_th": "mV", "v_reset": "mV", "t_ref": "ms", "i_e": "pA",
             "tau_syn_ex": "ms", "tau_syn_in": "ms"}
    nest = {"c_m": "C_m", "tau_m": "tau_m", "e_l": "E_L", "v_th": "V_th", "v_reset": "V_reset", "t_ref": "t_ref",
            "i_e": "I_e", "tau_syn_ex": "tau_syn_ex", "tau_syn_in": "tau_syn_in"}
    parameters = {k: [f"{float(x)!r} {units[k]}" for x in get(nest[k])] for k in units}
    model = Equations(ALPHA_EQUATIONS, threshold="v >= v_th", reset="v = v_reset", refractory="t_ref",
                      parameters=parameters, ports=["y_ex", "y_in"], method="rk4", n=n, dt=dt, dtype=dtype)
    return model, {"y_ex": math.e / get("tau_syn_ex"), "y_in": math.e / get("tau_syn_in")}, v_init


def _read_inputs(simulation: dict, config: Path) -> dict:
    """``{SONATA population: (times ms, node ids)}`` of the simulation config's spike inputs."""
    from ..models.stimuli import read_spike_file

    out: dict = {}
    for name, spec in (simulation.get("inputs") or {}).items():
        kind = spec.get("input_type")
        if kind != "spikes":
            raise SpecError(f"{config}: inputs.{name}: input_type {kind!r} is not read (read: 'spikes')")
        file = spec.get("input_file")
        if not file:
            raise SpecError(f"{config}: inputs.{name}: needs input_file")
        with _h5(Path(file), f"inputs.{name}.input_file") as f:
            pops = sorted(f["spikes"]) if "spikes" in f else []
        for pop in pops:
            times, ids = read_spike_file(file, pop)
            old = out.get(pop, (np.zeros(0), np.zeros(0, np.int64)))
            out[pop] = (np.concatenate([old[0], times]), np.concatenate([old[1], ids]))
    return out


# ---------------------------------------------------------------- edges

def _edge_table(entry: dict, components: dict, sizes: dict, config: Path) -> dict:
    """``{(source pop, target pop): {"source", "target", "weight", "delay", "template"}}`` of one
    edges file (weights ``syn_weight * nsyns``; delays in ms)."""
    edges_file, types_file = (entry.get(k) for k in ("edges_file", "edge_types_file"))
    if not edges_file or not types_file:
        raise SpecError(f"{config}: networks.edges entries need edges_file and edge_types_file, got {sorted(entry)}")
    edges_path, types_path = Path(edges_file), Path(types_file)
    types = read_csv_table(types_path, "edge_type_id")
    out = {}
    with _h5(edges_path, "edges file") as f:
        if "edges" not in f:
            raise SpecError(f"{edges_path}: no /edges group (not a SONATA edges file)")
        for name, g in f["edges"].items():
            where = f"{edges_path} /edges/{name}"
            src_ds, tgt_ds = (g.get(k) for k in ("source_node_id", "target_node_id"))
            if src_ds is None or tgt_ds is None:
                raise SpecError(f"{where}: needs source_node_id and target_node_id")
            src_pop, tgt_pop = (_text(ds.attrs.get("node_population")) for ds in (src_ds, tgt_ds))
            for pop, side in ((src_pop, "source"), (tgt_pop, "target")):
                if pop not in sizes:
                    raise SpecError(f"{where}: {side} node_population {pop!r} is not among the circuit's nodes "
                                    f"({', '.join(sizes)}){did_you_mean(str(pop), tuple(sizes))}")
            src, tgt = src_ds[()].astype(np.int64), tgt_ds[()].astype(np.int64)
            for ids, pop, side in ((src, src_pop, "source"), (tgt, tgt_pop, "target")):
                if ids.size and (ids.min() < 0 or ids.max() >= sizes[pop]):
                    raise SpecError(f"{where}: {side}_node_id {int(ids.max())} is outside {pop!r} "
                                    f"(0..{sizes[pop] - 1})")
            type_ids = _dataset(g, "edge_type_id", edges_path).astype(np.int64)
            m = type_ids.shape[0]
            group_ids = g["edge_group_id"][()] if "edge_group_id" in g else np.zeros(m, np.int64)
            group_index = g["edge_group_index"][()] if "edge_group_index" in g else np.arange(m)
            columns = _groups(g, group_ids, group_index)
            missing = sorted(set(type_ids.tolist()) - set(types))
            if missing:
                raise SpecError(f"{where} uses edge_type_id {missing[0]}, which {types_path} does not define")

            def column(key: str, default=None) -> np.ndarray:
                per_type = np.array([types[int(t)].get(key, default) for t in type_ids], object)
                own = columns.get(key)
                return per_type if own is None else np.where(own != None, own, per_type)  # noqa: E711

            if "weight_function" in columns or any("weight_function" in types[int(t)] for t in np.unique(type_ids)):
                raise SpecError(f"{where}: weight_function is not read (a Python function of bmtk); give syn_weight")
            templates = column("model_template", "static_synapse")
            bad = sorted({str(t) for t in templates} - set(SYNAPSES))
            if bad:
                raise SpecError(f"{where}: synapse model_template {bad[0]!r} is not read (read: {', '.join(SYNAPSES)})")
            for dyn in {d for d in column("dynamics_params") if d}:
                params = _component(components.get("synaptic_models_dir"), dyn, types_path, "synaptic_models_dir")
                if params:
                    raise SpecError(f"{types_path}: synapse dynamics_params {dyn!r}: parameters "
                                    f"{', '.join(sorted(params))} are not read (static synapses take syn_weight "
                                    f"and delay from the edges)")
            values = {}
            for key, default in (("syn_weight", None), ("delay", None), ("nsyns", 1)):
                col = column(key, default)
                if any(v is None for v in col):
                    raise SpecError(f"{where}: {key} is given neither per edge nor in {types_path} for every edge")
                try:
                    values[key] = col.astype(np.float64)
                except (TypeError, ValueError):
                    raise SpecError(f"{where}: {key} must be numbers") from None
            key = (src_pop, tgt_pop)
            new = {"source": src, "target": tgt, "weight": values["syn_weight"] * values["nsyns"],
                   "delay": values["delay"]}
            old = out.get(key)
            out[key] = new if old is None else {k: np.concatenate([old[k], new[k]]) for k in new}
    return out


# ---------------------------------------------------------------- the circuit

def read_circuit(path, *, dt: float | None = None, dtype=None) -> Circuit:
    """Read the SONATA circuit named by the config ``path`` (module docstring) into a
    :class:`Circuit`: a :class:`~neurodyn.core.Network` of one population per (SONATA population,
    model) and one :class:`~neurodyn.models.synapses.SpikingProjection` per (source, target,
    port), with every edge's weight converted to the target model's units and its delay rounded
    to ``rint(delay / dt)`` steps (at least one) from a spike to its arrival. ``dt`` (ms) defaults to the simulation config's ``run.dt``,
    else 0.1 ms. Bad input (a missing file, an unknown ``model_template`` or parameter, a missing
    column) raises :class:`~neurodyn.errors.SpecError` with one line naming it."""
    import jax

    from ..core.network import Network
    from ..models.synapses import SpikingProjection, delay_steps
    from ..ops.synapses import SynapseCSR

    config = Path(path)
    circuit, simulation = read_config(config)
    run = simulation.get("run") or {}
    if dt is None:
        dt = float(run.get("dt", 0.1))
    if not (isinstance(dt, (int, float)) and dt > 0 and math.isfinite(dt)):
        raise SpecError(f"{config}: run.dt must be a time step > 0 ms, got {dt!r}")
    components = circuit.get("components") or {}
    networks = circuit["networks"]
    groups, sizes = [], {}
    for entry in networks.get("nodes") or []:
        g, s = _read_nodes(entry, components, config)
        groups += g
        sizes.update(s)
    if not groups:
        raise SpecError(f"{config}: networks.nodes lists no nodes")
    inputs = _read_inputs(simulation, config)
    per_pop: dict[str, int] = {}
    for g in groups:
        per_pop[g.population] = per_pop.get(g.population, 0) + 1
    populations, scales, v_init, node_ids, models = {}, {}, {}, {}, {}
    where = {}  # SONATA (population, node id) -> (neurodyn population, local index)
    for g in groups:
        name = g.population if per_pop[g.population] == 1 else f"{g.population}_{g.model}"
        name = name.replace(".", "_")
        model, scale, v0 = _build_model(g, dt, dtype, inputs)
        populations[name], scales[name], v_init[name] = model, scale, v0
        node_ids[name] = (g.population, g.node_ids)
        models[name] = g.model
        where[g.population] = where.get(g.population, np.zeros((sizes[g.population], 2), np.int64))
        where[g.population][g.node_ids] = np.stack([np.full(g.node_ids.size, len(populations) - 1),
                                                    np.arange(g.node_ids.size)], axis=1)
    names = list(populations)
    edges: dict = {}
    for entry in networks.get("edges") or []:
        for key, table in _edge_table(entry, components, sizes, config).items():
            old = edges.get(key)
            edges[key] = table if old is None else {k: np.concatenate([old[k], table[k]]) for k in table}
    projections = {}
    for (src_pop, tgt_pop), table in edges.items():
        src = where[src_pop][table["source"]]
        tgt = where[tgt_pop][table["target"]]
        # a SpikingProjection reads the spikes of the state before the step, one step of latency by
        # itself: a buffer of rint(delay / dt) - 1 steps puts a spike stamped t on the target at
        # t + rint(delay / dt) dt, as NEST (whose delays are at least one step) does
        steps = np.maximum(delay_steps(table["delay"], dt) - 1, 0)
        for s in np.unique(src[:, 0]):
            for t in np.unique(tgt[:, 0]):
                sname, tname = names[s], names[t]
                if models[tname] == "virtual":
                    raise SpecError(f"edges {src_pop} -> {tgt_pop}: target nodes of {tgt_pop!r} are virtual "
                                    f"(spike sources take no input)")
                ports = list(scales[tname])
                for j, port in enumerate(ports):
                    w = table["weight"]
                    sel = (src[:, 0] == s) & (tgt[:, 0] == t) & ((w >= 0) if j == 0 else (w < 0))
                    if not sel.any():
                        continue
                    post = tgt[sel, 1]
                    scale = np.broadcast_to(np.asarray(scales[tname][port], np.float64), (populations[tname].n,))
                    d = steps[sel]
                    conn = SynapseCSR.from_coo(src[sel, 1], post, w[sel] * scale[post], n_pre=populations[sname].n,
                                               n_post=populations[tname].n, delays=d if d.max() > 0 else None,
                                               dtype=dtype)
                    projections[f"{sname}_to_{tname}_{port}"] = SpikingProjection.create(sname, tname, conn, port=port)
    network = Network(populations, projections)
    state = network.init(jax.random.PRNGKey(0))
    for name, v0 in v_init.items():
        if v0 is not None:
            pop_state = state[name]
            state = state.replace_population(name, pop_state._replace(v=jax.numpy.asarray(v0, pop_state.v.dtype)))
    tstop = run.get("tstop")
    steps = None
    if tstop is not None:
        try:
            steps = int(round((float(tstop) - float(run.get("tstart", 0.0))) / dt))
        except (TypeError, ValueError):
            raise SpecError(f"{config}: run.tstop must be a number of ms, got {tstop!r}") from None
    output = simulation.get("output") or {}
    spikes_file = None
    if output.get("spikes_file"):
        spikes_file = Path(output.get("output_dir", ".")) / output["spikes_file"]
    return Circuit(network, state, node_ids, edges, float(dt), steps, spikes_file, config, models)


def write_circuit_spikes(run_file, circuit: Circuit, path) -> Path:
    """Write the spikes of a neurodyn run file of ``circuit`` as a SONATA spikes file at ``path``:
    ``/spikes/<SONATA population>`` with ``timestamps`` (ms) and ``node_ids`` (SONATA's), sorted by
    time (``sorting = by_time``), uncompressed so that libsonata reads it."""
    from ..files import atomic_write
    from .hdf5 import SORTING

    path = Path(path)
    by_pop: dict[str, list] = {}
    with h5py.File(run_file, "r") as f:
        spikes = f.get("spikes", {})
        for name, (pop, ids) in circuit.node_ids.items():
            times, local = (spikes[name]["timestamps"][()], spikes[name]["node_ids"][()]) if name in spikes else \
                (np.zeros(0), np.zeros(0, np.int64))
            by_pop.setdefault(pop, []).append((times.astype(np.float64), ids[local.astype(np.int64)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "SONATA spikes file") as tmp:
        with h5py.File(tmp, "w") as out:
            for pop, parts in by_pop.items():
                times = np.concatenate([p[0] for p in parts])
                ids = np.concatenate([p[1] for p in parts])
                order = np.lexsort((ids, times))
                g = out.create_group(f"spikes/{pop}")
                g.attrs.create("sorting", SORTING.type(h5py.check_enum_dtype(SORTING)["by_time"]), dtype=SORTING)
                ts = g.create_dataset("timestamps", data=times[order])
                ts.attrs["units"] = "ms"
                g.create_dataset("node_ids", data=ids[order].astype(np.uint64))
    return path
