"""Property: whatever is done to a bundled spec (a value of another type or magnitude, a field
removed or added, a value nested in a list or a table, the file truncated or re-encoded),
``neurodyn run`` either succeeds or prints exactly one line ``neurodyn: error: ...`` and exits
with status 2: never a traceback."""

import copy
import tempfile
from pathlib import Path

import pytest
import tomli_w
import tomllib
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import neurodyn.resources as resources
from neurodyn.cli import main
from neurodyn.io import load
from neurodyn.spec import set_path

SPECS = sorted((Path(__file__).resolve().parents[1] / "models").glob("*.toml"))
# no magnitude between "cheap" and "refused": the property must not depend on a slow run
NUMBERS = st.sampled_from([-1, 0, 1, 2, 3, 7, 2**31 - 1, 2**31, 10**12, 2**63 - 1, -(2**63),
                           0.0, -1.5, 0.5, 1e-300, 1e20, 1e300, float("nan"), float("inf"), float("-inf")])
SCALARS = st.one_of(NUMBERS, st.booleans(), st.sampled_from(["", "abc", "ring", "chialvo", "théta", "x.y", "a/b"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["kind", "dist", "n", "value", "x"]), inner,
                                                 max_size=2)), max_leaves=4)


# tables that reach builders the bundled specs do not use; "P" is replaced by a population's name
GRAFTS = [
    ("couplings", {"kind": "linear", "source": "P", "target": "P", "weights": {"kind": "ring", "n": 4}, "delay": 2,
                   "gain": 0.01, "decay": 0.5}),
    ("couplings", {"kind": "simplicial", "population": "P", "triangles": [[0, 1, 2]], "strength": 0.01}),
    ("couplings", {"kind": "diffusive", "population": "P", "graph": {"kind": "erdos_renyi", "n": 4, "p": 0.5}}),
    ("populations", {"model": "kuramoto_graph", "n": 6, "graph": {"kind": "watts_strogatz", "n": 6, "k": 2,
                                                                  "p": 0.3}}),
    ("populations", {"model": "esn", "n": 8, "density": 0.5}),
    ("diagnostics", {"population": "P", "variable": "x"}),
]


def _variant(bundled: str, /, **changes) -> bytes:
    """A bundled spec with dotted-path changes (``__`` stands for ``.``), as TOML bytes."""
    data = tomllib.loads((SPECS[0].parent / f"{bundled}.toml").read_text(encoding="utf-8"))
    for path, value in changes.items():
        set_path(data, path.replace("__", "."), value)
    return tomli_w.dumps(data).encode()


# crashes found by probing the builders (a traceback, or warnings printed around the error)
FOUND = [
    _variant("chialvo_ring_star", populations__neurons__n=2**31 - 1),  # allocated until out of memory
    _variant("chialvo_ring_star", couplings__extra={"kind": "linear", "source": "neurons", "target": "neurons",
                                                    "weights": {"kind": "ring", "n": 4}, "delay": 2**31 - 1}),
    _variant("chialvo_ring_star", populations__neurons__init__x={"dist": "normal", "std": 1e308}),  # first step
    _variant("chialvo_ring_star", name="\0"),  # not storable as an HDF5 string
    _variant("chialvo_ring_star", seed=2**64 - 1),  # not a JAX key
    _variant("chialvo_ring_star", dt=1e308),  # time axis beyond the float range
    _variant("kuramoto_all_to_all", diagnostics__order_parameter__variable="r"),  # r(t) of a scalar
    _variant("kuramoto_all_to_all", populations__oscillators__frequencies__width=1e308),
    _variant("lif_rate", record__spikes={"population": "neurons", "variable": "v", "threshold": 0.5}),
]


def _paths(node, prefix=()):
    """Every (path, value) of a nested spec dict, tables and list items included."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield prefix + (key,), value
        yield from _paths(value, prefix + (key,))


def _parent(data, path):
    for key in path[:-1]:
        data = data[key]
    return data


@st.composite
def mutated_spec(draw) -> bytes:
    """The bytes of a bundled spec after one to three mutations."""
    text = draw(st.sampled_from(SPECS)).read_text(encoding="utf-8")
    kind = draw(st.sampled_from(["replace", "replace", "delete", "add", "nest", "graft", "truncate", "encode"]))
    if kind == "truncate":
        raw = text.encode()
        return raw[:draw(st.integers(0, len(raw)))]
    if kind == "encode":
        how = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "png", "nul"]))
        if how == "latin-1":
            return ("# é\n" + text).encode("latin-1", "replace")
        if how == "png":
            return b"\x89PNG\r\n\x1a\n" + text.encode()
        if how == "nul":
            return text.encode().replace(b"\n", b"\n\x00", 1)
        return text.encode(how)
    data = tomllib.loads(text)
    root = data
    if kind == "graft":
        section, table = draw(st.sampled_from(GRAFTS))
        population = next(iter(data["populations"]))
        table = {k: population if v == "P" else copy.deepcopy(v) for k, v in table.items()}
        name = "cross_correlation" if section == "diagnostics" else "extra"
        data.setdefault(section, {})[name] = root = table
        kind = "replace"
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(root))
        if not paths:
            break
        path, value = draw(st.sampled_from(paths))
        parent = _parent(root, path)
        if kind == "replace":
            parent[path[-1]] = draw(VALUES)
        elif kind == "delete":
            del parent[path[-1]]
        elif kind == "nest":
            parent[path[-1]] = draw(st.sampled_from([[value], {"value": value}, {"kind": value}]))
        else:
            target = value if isinstance(value, dict) else parent if isinstance(parent, dict) else root
            target[draw(st.sampled_from(["n", "extra", "kind", "model", "graph", "init"]))] = draw(VALUES)
        kind = draw(st.sampled_from(["replace", "delete", "add", "nest"]))
    try:
        return tomli_w.dumps(data).encode()
    except (TypeError, ValueError):  # not expressible in TOML (e.g. an integer beyond 64 bits)
        assume(False)


def _runs_or_fails_in_one_line(spec: bytes, capsys, monkeypatch):
    # limits as on a small machine, so that what passes the checks stays cheap to run
    monkeypatch.setattr(resources, "available_memory", lambda: 2 * 10**9)
    monkeypatch.setattr(resources, "free_disk", lambda path: 10**9)
    capsys.readouterr()
    with tempfile.TemporaryDirectory() as folder:
        path, out = Path(folder) / "spec.toml", Path(folder) / "out.h5"
        path.write_bytes(spec)
        rc = main(["run", str(path), "--steps", "200", "--set", "record.transient=0", "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        if rc == 0:
            assert err == "" and load(out)["meta"]["status"] == "complete"
        else:
            assert rc == 2 and err.startswith("neurodyn: error: ") and err.count("\n") == 1, (rc, err)
            assert not out.exists()


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=mutated_spec())
def test_mutated_bundled_specs_run_or_fail_in_one_line(spec, capsys, monkeypatch):
    _runs_or_fails_in_one_line(spec, capsys, monkeypatch)


@pytest.mark.parametrize("spec", FOUND, ids=range(len(FOUND)))
def test_specs_that_crashed_the_builders_fail_in_one_line(spec, capsys, monkeypatch):
    _runs_or_fails_in_one_line(spec, capsys, monkeypatch)
