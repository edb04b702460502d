"""Model specs: TOML files validated into ready-to-run objects, with clear errors.

A spec names populations (a model from the registry, its size, parameters and initial
conditions), couplings (a kind from the registry, the populations and variable it acts on, a
graph from the builder registry), the run (steps, dt, seed, precision, chunk), what to record
and the output path. Nothing in a spec is evaluated as code: every name is looked up in a
registry, every value is checked for type and range. The dotted paths of the TOML tables
(``couplings.star.strength``) are the names used by ``--set`` and by sweeps.
"""

from __future__ import annotations

import inspect
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SpecError

TOP_LEVEL = ("name", "steps", "dt", "seed", "precision", "output", "chunk", "populations", "couplings", "record",
             "diagnostics")
DIAGNOSTIC_FIELDS = ("population", "variable")
PRECISIONS = ("float32", "float64")
COUPLING_FIELDS = {
    "diffusive": ("kind", "population", "populations", "variable", "graph", "strength", "normalize"),
    "simplicial": ("kind", "population", "populations", "variable", "graph", "triangles", "strength",
                   "normalize", "form"),
}
RECORD_FIELDS = ("variables", "every", "transient", "spikes")
SPIKE_FIELDS = ("population", "variable", "threshold")
DISTRIBUTIONS = {"uniform": ("low", "high"), "normal": ("mean", "std"), "constant": ("value",)}


@dataclass
class RunSpec:
    """A validated spec: the model, its initial state and how to run and record it."""

    name: str
    steps: int
    dt: float
    seed: int
    precision: str
    model: Any
    state: Any
    record: tuple[str, ...]
    every: int
    transient: int
    spikes: dict[str, float]
    output: Path
    chunk: int | None
    text: str
    data: dict = field(repr=False, default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    time_unit: str = "ms"
    diagnostics: dict[str, str] = field(default_factory=dict)  # name -> recorded observable


# ---------------------------------------------------------------- value checks

def _fail(path: str, msg: str):
    raise SpecError(f"{path}: {msg}")


def _table(path, value) -> dict:
    if not isinstance(value, dict):
        _fail(path, f"expected a table, got {type(value).__name__} {value!r}")
    return value


def _known(path, table: dict, allowed) -> None:
    for key in table:
        if key not in allowed:
            _fail(path, f"unknown field {key!r} (allowed: {', '.join(allowed)})")


def _number(path, value, *, positive=False, minimum=None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, f"expected a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        _fail(path, f"must be a finite number, got {value!r}")
    if positive and value <= 0:
        _fail(path, f"must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        _fail(path, f"must be >= {minimum}, got {value!r}")
    return float(value)


def _integer(path, value, minimum=1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, f"expected an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        _fail(path, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _string(path, value, choices=None) -> str:
    if not isinstance(value, str):
        _fail(path, f"expected a string, got {type(value).__name__} {value!r}")
    if choices is not None and value not in choices:
        _fail(path, f"unknown value {value!r} (allowed: {', '.join(choices)})")
    return value


def _per_node(path, value, n) -> float | list[float]:
    if isinstance(value, list):
        if len(value) != n:
            _fail(path, f"expected {n} values (one per neuron), got {len(value)}")
        return [_number(f"{path}[{i}]", v) for i, v in enumerate(value)]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, f"expected a number or a list of {n} numbers, got {type(value).__name__} {value!r}")
    return _number(path, value)


# ---------------------------------------------------------------- reading

def parse_value(text: str):
    """A ``--set`` value: any TOML value (``0.1``, ``[1, 2]``, ``"ring"``, ``true``); bare words
    that are not TOML are taken as strings. Never evaluated as code."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(data: dict, assignment: str) -> None:
    """Apply ``key.path=value`` to the spec dict in place."""
    if "=" not in assignment:
        raise SpecError(f"--set {assignment!r}: expected key.path=value")
    key, _, value = assignment.partition("=")
    parts = [p for p in key.strip().split(".")]
    if not all(parts):
        raise SpecError(f"--set {assignment!r}: empty name in the key path {key!r}")
    node = data
    for i, p in enumerate(parts[:-1]):
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if not isinstance(nxt, dict):
            raise SpecError(f"--set {assignment!r}: {'.'.join(parts[:i + 1])} is a value, not a table")
        node = nxt
    node[parts[-1]] = parse_value(value.strip())


def read_spec_file(path) -> tuple[dict, str]:
    """Read a TOML spec file: (parsed dict, original text)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file not found: {path}")
    text = path.read_text()
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: invalid TOML: {e}") from None


def load_spec(path, *, overrides=(), steps: int | None = None, seed: int | None = None,
              output=None) -> RunSpec:
    """Read, override and validate a spec file (see :func:`build_spec`)."""
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
    # the stored spec must reproduce the run: the original text, or the effective spec if changed
    return build_spec(data, _dump(data) if changed else text)


def _dump(data: dict) -> str:
    """The effective spec as TOML text (after overrides), so the file reproduces the run."""
    lines: list[str] = []

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    def table(prefix, d):
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {value(v)}")
        for k, v in d.items():
            if k not in scalars:
                table(f"{prefix}.{k}" if prefix else k, v)

    table("", data)
    return "\n".join(lines).lstrip() + "\n"


# ---------------------------------------------------------------- building

def build_spec(data: dict, text: str = "") -> RunSpec:
    """Validate a spec dict and build the model, initial state and run settings."""
    import jax

    _known("spec", data, TOP_LEVEL)
    name = _string("name", data.get("name", "run"))
    if not name or any(c in name for c in "/\\"):
        _fail("name", f"must be a plain file-name stem, got {name!r}")
    if "steps" not in data:
        _fail("spec", "missing required field 'steps'")
    steps = _integer("steps", data["steps"])
    dt = _number("dt", data.get("dt", 1.0), positive=True)
    seed = _integer("seed", data.get("seed", 0), minimum=0)
    precision = _string("precision", data.get("precision", "float32"), PRECISIONS)
    chunk = _integer("chunk", data["chunk"]) if "chunk" in data else None
    if precision == "float64":
        jax.config.update("jax_enable_x64", True)
    dtype = np.float64 if precision == "float64" else np.float32

    from .core.network import Network
    from .models import MODELS

    pops_data = _table("populations", data.get("populations", {}))
    if not pops_data:
        _fail("populations", "the spec defines no population (add a [populations.<name>] table)")
    populations, sizes, init_tables = {}, {}, {}
    for pname, p in pops_data.items():
        path = f"populations.{pname}"
        p = _table(path, p)
        if "model" not in p:
            _fail(path, f"missing field 'model' (one of: {', '.join(MODELS)})")
        cls = MODELS.get(p["model"]) if isinstance(p["model"], str) else None
        if cls is None:
            _fail(f"{path}.model", f"unknown model {p['model']!r} (allowed: {', '.join(MODELS)})")
        spec_fields = getattr(cls, "SPEC_FIELDS", ())
        _known(path, p, ("model", "n", "init", *cls.PARAMETERS, *spec_fields))
        n = _integer(f"{path}.n", p.get("n", 1))
        if hasattr(cls, "from_spec"):
            fields = {k: _model_field(f"{path}.{k}", k, p[k]) for k in spec_fields if k in p}
            try:
                populations[pname] = cls.from_spec(n, fields, dt=dt, seed=seed, dtype=dtype)
            except SpecError as e:
                _fail(path, str(e))
        else:
            params = {k: _per_node(f"{path}.{k}", p[k], n) for k in cls.PARAMETERS if k in p}
            populations[pname] = cls.create(n, dtype=dtype, **params)
        sizes[pname] = n
        init_tables[pname] = _table(f"{path}.init", p.get("init", {}))
        _known(f"{path}.init", init_tables[pname], cls.VARIABLES)

    couplings = tuple(_build_coupling(f"couplings.{cname}", c, populations, sizes, dtype)
                      for cname, c in _table("couplings", data.get("couplings", {})).items())
    model = Network(populations, couplings)

    key = jax.random.PRNGKey(seed)
    state = model.init(key)
    state = _initial_state(state, init_tables, sizes, jax.random.fold_in(key, 1), dtype)

    rec = _table("record", data.get("record", {}))
    _known("record", rec, RECORD_FIELDS)
    observables = model.observe(state)
    variables = rec.get("variables", list(observables))
    if not isinstance(variables, list) or not variables:
        _fail("record.variables", f"expected a non-empty list of names like {next(iter(observables))!r}")
    for v in variables:
        if v not in observables:
            _fail("record.variables", f"unknown variable {v!r} (allowed: {', '.join(observables)})")
    every = _integer("record.every", rec.get("every", 1))
    transient = _integer("record.transient", rec.get("transient", 0), minimum=0)
    if transient >= steps:
        _fail("record.transient", f"must be smaller than steps ({steps}), got {transient}")
    spikes = {}
    spike_specs = rec.get("spikes", [])
    for i, s in enumerate(spike_specs if isinstance(spike_specs, list) else [spike_specs]):
        spath = f"record.spikes[{i}]" if isinstance(spike_specs, list) else "record.spikes"
        s = _table(spath, s)
        _known(spath, s, SPIKE_FIELDS)
        pop = _string(f"{spath}.population", s.get("population"), tuple(populations))
        var = _string(f"{spath}.variable", s.get("variable", "x"), populations[pop].VARIABLES)
        spikes[f"{pop}.{var}"] = _number(f"{spath}.threshold", s.get("threshold", 1.0))

    diagnostics = {}
    from .diagnostics.streaming import STREAMS

    for dname, d in _table("diagnostics", data.get("diagnostics", {})).items():
        path = f"diagnostics.{dname}"
        if dname not in STREAMS:
            _fail("diagnostics", f"unknown diagnostic {dname!r} (allowed: {', '.join(STREAMS)})")
        d = _table(path, d)
        _known(path, d, DIAGNOSTIC_FIELDS)
        pop = _string(f"{path}.population", d.get("population"), tuple(populations))
        observable = f"{pop}.{_string(f'{path}.variable', d.get('variable', STREAMS[dname][1]))}"
        if observable not in variables:
            _fail(path, f"needs {observable!r} in record.variables")
        diagnostics[dname] = observable

    output = Path(_string("output", data.get("output", f"hdf5_outputs/{name}.h5")))
    units = {f"{p}.{v}": u for p, m in populations.items() for v, u in m.units.items()}
    time_units = {getattr(m, "time_unit", "ms") for m in populations.values()}
    return RunSpec(name, steps, dt, seed, precision, model, state, tuple(variables), every, transient,
                   spikes, output, chunk, text, data, units, time_units.pop() if len(time_units) == 1 else "ms",
                   diagnostics)


def _model_field(path, name, value):
    """Validate a model-specific spec field by its kind (frequencies tables are checked by the model)."""
    if name == "frequencies":
        if isinstance(value, bool) or not isinstance(value, (int, float, list, dict)):
            _fail(path, f"expected a number, a list or a table {{ dist = ..., width = ... }}, got {value!r}")
        if isinstance(value, (int, float)):
            _number(path, value)
        if isinstance(value, list):
            for i, v in enumerate(value):
                _number(f"{path}[{i}]", v)
        if isinstance(value, dict):
            for k in ("width", "center"):
                if k in value:
                    _number(f"{path}.{k}", value[k], minimum=0 if k == "width" else None)
            if "dist" in value:
                _string(f"{path}.dist", value["dist"])
            if "quantile" in value and not isinstance(value["quantile"], bool):
                _fail(f"{path}.quantile", f"expected true or false, got {value['quantile']!r}")
        return value
    if name == "method":
        return _string(path, value)
    if name == "periodic":
        if not isinstance(value, bool):
            _fail(path, f"expected true or false, got {value!r}")
        return value
    minimum = 0.0 if name == "noise" else None
    return _number(path, value, minimum=minimum)


def _build_coupling(path, c, populations, sizes, dtype):
    from .connectivity import from_edges
    from .models import DiffusiveCoupling, SimplicialCoupling

    c = _table(path, c)
    kind = _string(f"{path}.kind", c.get("kind"), tuple(COUPLING_FIELDS))
    _known(path, c, COUPLING_FIELDS[kind])
    if "population" in c and "populations" in c:
        _fail(path, "give either 'population' or 'populations', not both")
    pops = c.get("populations", [c["population"]] if "population" in c else None)
    if pops is None:
        _fail(path, "missing field 'population' (or 'populations')")
    if not isinstance(pops, list) or not pops:
        _fail(f"{path}.populations", f"expected a non-empty list of population names, got {pops!r}")
    for p in pops:
        _string(f"{path}.populations", p, tuple(populations))
    variable = _string(f"{path}.variable", c.get("variable", "x"))
    for p in pops:
        if variable not in populations[p].VARIABLES:
            _fail(f"{path}.variable", f"population {p!r} has no variable {variable!r} "
                                      f"(allowed: {', '.join(populations[p].VARIABLES)})")
    strength = _number(f"{path}.strength", c.get("strength", 0.0))
    psizes = [sizes[p] for p in pops]
    graph = _build_graph(f"{path}.graph", c["graph"], sum(psizes), from_edges) if "graph" in c else None
    if kind == "diffusive":
        if graph is None:
            _fail(path, "missing field 'graph'")
        normalize = _string(f"{path}.normalize", c.get("normalize", "none"),
                            ("none", "degree", "mean_degree", "size"))
        return DiffusiveCoupling.create(pops, psizes, variable, graph, strength, normalize, dtype)
    triangles = c.get("triangles")
    if triangles is not None:
        if not isinstance(triangles, list) or not all(isinstance(t, list) and len(t) == 3 and
                                                      all(isinstance(i, int) and not isinstance(i, bool) for i in t)
                                                      for t in triangles):
            _fail(f"{path}.triangles", "expected a list of [i, j, l] node-index triples")
    elif graph is None:
        _fail(path, "give a 'graph' (its triangles are used) or a list of 'triangles'")
    normalize = _string(f"{path}.normalize", c.get("normalize", "none"), ("none", "triangles"))
    form = _string(f"{path}.form", c.get("form", "linear"), ("linear", "quadratic"))
    return SimplicialCoupling.create(pops, psizes, variable, strength, graph=graph, triangles=triangles,
                                     normalize=normalize, form=form, dtype=dtype)


def _build_graph(path, g, n_nodes, from_edges):
    from .connectivity import BUILDERS

    g = _table(path, g)
    kind = _string(f"{path}.kind", g.get("kind"), (*BUILDERS, "edges"))
    args = {k: v for k, v in g.items() if k != "kind"}
    if kind == "edges":
        _known(path, g, ("kind", "n", "edges", "weights"))
        edges = args.get("edges")
        if not isinstance(edges, list) or not all(isinstance(e, list) and len(e) == 2 for e in edges):
            _fail(f"{path}.edges", "expected a list of [receiver, sender] pairs")
        weights = args.get("weights")
        if weights is not None:
            if not isinstance(weights, list) or len(weights) != len(edges):
                _fail(f"{path}.weights", f"expected {len(edges)} numbers, one per edge")
            weights = [_number(f"{path}.weights[{i}]", w) for i, w in enumerate(weights)]
        graph = from_edges(_integer(f"{path}.n", args.get("n", n_nodes)), edges, weights)
    else:
        builder = BUILDERS[kind]
        allowed = tuple(inspect.signature(builder).parameters)
        _known(path, g, ("kind", *allowed))
        try:
            graph = builder(**args)
        except TypeError as e:
            _fail(path, f"{e} (parameters of {kind}: {', '.join(allowed)})")
        except SpecError as e:
            _fail(path, str(e))
    if graph.n != n_nodes:
        _fail(path, f"the graph has {graph.n} nodes but the coupled populations have {n_nodes} neurons")
    return graph


def _initial_state(state: dict, init_tables: dict, sizes: dict, key, dtype) -> dict:
    import jax
    import jax.numpy as jnp

    out = dict(state)
    for pi, (pname, table) in enumerate(sorted(init_tables.items())):
        n = sizes[pname]
        values = {}
        for vi, (var, spec) in enumerate(sorted(table.items())):
            path = f"populations.{pname}.init.{var}"
            k = jax.random.fold_in(jax.random.fold_in(key, pi), vi)
            if isinstance(spec, dict):
                dist = _string(f"{path}.dist", spec.get("dist"), tuple(DISTRIBUTIONS))
                _known(path, spec, ("dist", *DISTRIBUTIONS[dist]))
                p = {a: _number(f"{path}.{a}", spec[a]) if a in spec else _fail(path, f"missing field {a!r}")
                     for a in DISTRIBUTIONS[dist]}
                if dist == "uniform":
                    if not p["low"] < p["high"]:
                        _fail(path, f"uniform needs low < high, got low={p['low']}, high={p['high']}")
                    v = jax.random.uniform(k, (n,), dtype, p["low"], p["high"])
                elif dist == "normal":
                    if p["std"] < 0:
                        _fail(f"{path}.std", f"must be >= 0, got {p['std']}")
                    v = p["mean"] + p["std"] * jax.random.normal(k, (n,), dtype)
                else:
                    v = jnp.full((n,), p["value"], dtype)
            else:
                v = jnp.asarray(np.broadcast_to(np.asarray(_per_node(path, spec, n), dtype), (n,)))
            values[var] = v
        if values:
            out[pname] = out[pname]._replace(**values)
    return out
