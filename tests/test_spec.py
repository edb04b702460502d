import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import neurodyn
from neurodyn.cli import main
from neurodyn.errors import SpecError
from neurodyn.io import load
from neurodyn.schema import DISTRIBUTIONS, GRAPHS, MODELS, PROJECTIONS, Field, Registry
from neurodyn.spec import apply_override, build_spec, dump_spec, load_spec, model_path, read_spec_file, set_path

ROOT = Path(__file__).resolve().parents[1]

ESN_SPEC = """
name = "esn_free"
steps = 200
seed = 3
precision = "float64"

[populations.reservoir]
model = "esn"
n = 50
spectral_radius = 0.95
input_scaling = 0.5
bias_scaling = 0.3
leak = 0.4
density = 0.2
init.x = { dist = "uniform", low = -0.5, high = 0.5 }

[record]
variables = ["reservoir.x"]
every = 2
"""

GRAPH_KURAMOTO_SPEC = """
name = "kuramoto_ring"
steps = 400
dt = 0.05
seed = 2
precision = "float64"

[populations.osc]
model = "kuramoto_graph"
n = 32
graph = { kind = "ring", n = 32, k = 3 }
normalize = "degree"
frequencies = { dist = "gaussian", width = 0.1, quantile = true }
coupling = 2.0

[record]
variables = ["osc.theta", "osc.r"]
every = 10

[diagnostics.order_parameter]
population = "osc"
"""


def _spec(populations, couplings=None, steps=5, **top):
    return {"steps": steps, "precision": "float64", **top, "populations": populations, "couplings": couplings or {}}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_builds_from_its_example_and_runs(name):
    example = MODELS[name].example
    spec = build_spec(_spec({"p": {"model": name, **example}}))
    assert isinstance(spec.model.populations["p"], MODELS[name].cls)
    traj = neurodyn.simulate(spec.model, 5, state=spec.state, record=spec.record, dt=spec.dt)
    assert traj.steps == 5
    for value in traj.data.values():
        assert np.all(np.isfinite(value))


@pytest.mark.parametrize("name", list(PROJECTIONS))
def test_every_registered_projection_builds_from_its_example_and_runs(name):
    # the projection examples couple a population named "neurons" of 4 Chialvo neurons (spiking
    # projections: 4 LIF neurons)
    coupling = {"kind": name, **PROJECTIONS[name].example}
    spiking = name in ("spiking", "poisson", "current")  # the Poisson drive and currents too: a model in ms
    population = {"model": "lif", "n": 4, "i_ext": 30.0} if spiking else {"model": "chialvo", "n": 4}
    spec = build_spec(_spec({"neurons": population}, {"c": coupling}))
    assert isinstance(spec.model.projections["c"], PROJECTIONS[name].cls)
    variable = "neurons.v" if spiking else "neurons.x"
    traj = neurodyn.simulate(spec.model, 5, state=spec.state, record=(variable,))
    assert np.all(np.isfinite(traj[variable]))


@pytest.mark.parametrize("name", list(GRAPHS))
def test_every_registered_graph_builds_from_its_example(name):
    graph = GRAPHS.build("graph", {"kind": name, **GRAPHS[name].example})
    assert graph.n >= 3 and graph.nnz > 0


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_every_registered_distribution_draws_from_its_example(name):
    values = DISTRIBUTIONS.build("init.x", {"dist": name, **DISTRIBUTIONS[name].example},
                                 context={"key": jax.random.PRNGKey(0), "n": 100, "dtype": np.float64})
    assert values.shape == (100,) and np.all(np.isfinite(values))


def test_esn_spec_runs_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "esn.toml"
    path.write_text(ESN_SPEC)
    assert main(["run", str(path), "--out", str(tmp_path / "esn.h5"), "--quiet"]) == 0
    data = load(tmp_path / "esn.h5")
    x = data["report"]["reservoir"]["x"]["data"]
    assert x.shape == (100, 50) and np.all(np.abs(x) < 1)  # tanh units
    # the file's states are the model's: same spec, same seed, same numbers
    spec = load_spec(path)
    traj = neurodyn.simulate(spec.model, 200, state=spec.state, record=("reservoir.x",), every=2)
    np.testing.assert_allclose(x, traj["reservoir.x"], rtol=0, atol=1e-12)
    esn = spec.model.populations["reservoir"]
    # W is scaled to the spectral radius asked for (docs/models/reservoirs.md)
    assert abs(np.max(np.abs(np.linalg.eigvals(np.asarray(esn.effective_w)))) - 0.95) < 1e-9
    assert float(esn.leak) == 0.4


def test_kuramoto_graph_spec_runs_from_the_command_line(tmp_path):
    path = tmp_path / "ring.toml"
    path.write_text(GRAPH_KURAMOTO_SPEC)
    assert main(["run", str(path), "--out", str(tmp_path / "ring.h5"), "--quiet"]) == 0
    data = load(tmp_path / "ring.h5")
    assert data["report"]["osc"]["theta"]["data"].shape == (40, 32)
    r = data["report"]["osc"]["r"]["data"][:, 0]
    assert np.all((0 <= r) & (r <= 1)) and "order_parameter" in data["diagnostics"]
    model = load_spec(path).model.populations["osc"]
    np.testing.assert_allclose(np.asarray(model.norm), 1 / 6)  # degree normalisation: 2k = 6 neighbours


def test_kuramoto_graph_size_must_match_its_graph(tmp_path, capsys):
    path = tmp_path / "ring.toml"
    path.write_text(GRAPH_KURAMOTO_SPEC)
    assert main(["run", str(path), "--set", "populations.osc.n=30"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("neurodyn: error: populations.osc.graph: the graph has 32 nodes but the population has "
                   "n = 30 oscillators")


@pytest.mark.parametrize("content,what", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a UTF-8 text file (byte 0x89 at offset 0)"),
    ("steps = 10\n".encode("utf-16"), "the file is UTF-16"),
])
def test_non_utf8_spec_file_gives_one_line_naming_the_file(tmp_path, capsys, content, what):
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"neurodyn: error: {path}: ") and what in err and "\n" not in err


def test_unknown_field_in_a_model_table_lists_the_allowed_ones():
    data = _spec({"r": {"model": "esn", "n": 10, "spectral_radus": 0.9}})
    with pytest.raises(SpecError) as e:
        build_spec(data)
    assert str(e.value) == ("populations.r: unknown field 'spectral_radus' (allowed: model, n, init, n_inputs, "
                            "spectral_radius, input_scaling, bias_scaling, leak, density, activation, seed); "
                            "did you mean 'spectral_radius'?")


@pytest.mark.parametrize("table,message", [
    ({"model": "esn", "n": 10, "leak": 1.5}, "populations.r.leak: must be in (0, 1], got 1.5"),
    ({"model": "esn", "n": 10, "density": 0}, "populations.r.density: must be in (0, 1], got 0"),
    ({"model": "esn", "n": 10, "activation": "relu"},
     "populations.r.activation: unknown value 'relu' (allowed: tanh, identity)"),
    ({"model": "kuramoto", "n": 10, "noise": -1.0}, "populations.r.noise: must be >= 0, got -1.0"),
    ({"model": "kuramoto", "n": 10, "frequencies": {"width": -1}},
     "populations.r.frequencies.width: must be >= 0, got -1"),
    ({"model": "kuramoto_lattice", "n": 2}, "populations.r: n must be at least 3 for a lattice, got 2"),
    ({"model": "kuramoto_graph", "n": 5}, "populations.r: missing required field 'graph'"),
])
def test_value_out_of_range_names_the_range(table, message):
    with pytest.raises(SpecError) as e:
        build_spec(_spec({"r": table}))
    assert str(e.value) == message


def test_projection_fields_are_checked_against_the_populations():
    pops = {"a": {"model": "chialvo", "n": 3}, "b": {"model": "rulkov", "n": 2}}
    cases = [
        ({"kind": "linear", "source": "a", "target": "c", "weights": [[1, 0, 0]] * 2},
         "couplings.p.target: unknown value 'c' (allowed: a, b)"),
        ({"kind": "linear", "source": "a", "target": "b", "weights": [[1, 0, 0]]},
         "couplings.p.weights: expected a graph table or 2 rows (one per neuron of 'b') of 3 numbers"),
        ({"kind": "linear", "source": "a", "target": "b", "weights": {"kind": "ring", "n": 3}},
         "couplings.p.weights: a graph connects populations of one size"),
        ({"kind": "linear", "source": "a", "target": "b", "port": "z", "weights": [[1, 0, 0]] * 2},
         "couplings.p: port: population 'b' has no input port 'z' (ports: x, y)"),
        ({"kind": "linear", "source": "a", "target": "b", "delay": -1, "weights": [[1, 0, 0]] * 2},
         "couplings.p.delay: must be an integer >= 0, got -1"),
        ({"kind": "diffusive", "graph": {"kind": "ring", "n": 5}}, "couplings.p: missing field 'population'"),
        ({"kind": "diffusive", "population": "a", "populations": ["a"], "graph": {"kind": "ring", "n": 3}},
         "couplings.p: give either 'population' or 'populations', not both"),
        ({"kind": "simplicial", "population": "a"}, "give a graph (its triangles are used) or a list of triangles"),
    ]
    for table, message in cases:
        with pytest.raises(SpecError) as e:
            build_spec(_spec(pops, {"p": table}))
        assert message in str(e.value), (table, str(e.value))


def test_linear_projection_from_a_spec_delays_the_source_by_its_delay():
    # one neuron driving another through W = [[2]] with a delay of 3 steps and no trace:
    # the input to the target at step n is 2 * x_source(n - 3), 0 before the buffer fills
    pops = {"src": {"model": "chialvo", "n": 1}, "dst": {"model": "chialvo", "n": 1}}
    spec = build_spec(_spec(pops, {"p": {"kind": "linear", "source": "src", "target": "dst", "port": "y",
                                         "weights": [[2.0]], "delay": 3}}, steps=10))
    alone = build_spec(_spec(pops, steps=10))
    a = neurodyn.simulate(spec.model, 10, state=spec.state, record=("src.x", "dst.y"))
    b = neurodyn.simulate(alone.model, 10, state=alone.state, record=("src.x", "dst.y"))
    np.testing.assert_array_equal(a["src.x"], b["src.x"])
    np.testing.assert_allclose(a["dst.y"][:4], b["dst.y"][:4], rtol=0, atol=0)
    assert not np.allclose(a["dst.y"][4:], b["dst.y"][4:])


def test_float64_spec_without_float64_mode_is_a_clear_error():
    code = ("from neurodyn.spec import build_spec\n"
            "from neurodyn.errors import SpecError\n"
            "data = {'steps': 5, 'precision': 'float64', 'populations': {'p': {'model': 'chialvo'}}}\n"
            "try:\n    build_spec(data)\nexcept SpecError as e:\n    print(e)\n"
            "import neurodyn\nneurodyn.set_precision('float64')\n"
            "print(build_spec(data).model.populations['p'].a.dtype)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "precision: the spec asks for float64 but JAX computes in float32; call " \
           "neurodyn.set_precision('float64') first" in out
    assert out.strip().endswith("float64")


@pytest.mark.parametrize("value,shown", [("1e40", "1e+40"), ("-3.5e38", "-3.5e+38")])
def test_number_beyond_float32_in_a_float32_spec_is_one_line_and_no_warning(tmp_path, capsys, value, shown):
    # issue 19 (12): weight = 1e40 printed NumPy's "overflow encountered in cast" warning before the
    # error; float32's largest number is (2 - 2^-23) 2^127 = 3.40e38 (IEEE 754 binary32)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning fails the test instead of reaching stderr
        assert main(["run", str(ROOT / "models" / "coba_ei.toml"), "--steps", "10", "--set",
                     f"couplings.ee.weight={value}", "--out", str(tmp_path / "c.h5")]) == 2
    err = capsys.readouterr().err
    assert err == (f"neurodyn: error: couplings.ee.weight: {shown} is beyond the largest float32 number (3.4e+38) "
                   f"of this float32 spec; give a smaller value, or precision = \"float64\" (from --set "
                   f"couplings.ee.weight={value})\n")
    assert not list(tmp_path.iterdir())
    # float32's largest number itself is accepted
    build_spec({"steps": 5, "populations": {"p": {"model": "chialvo", "a": 3.4e38}}})


@pytest.mark.parametrize("spec", sorted((ROOT / "models").glob("*.toml")) + ["esn", "kuramoto_graph"],
                         ids=lambda p: Path(str(p)).stem)
def test_stored_spec_round_trips_to_an_identical_model(tmp_path, spec):
    if spec in ("esn", "kuramoto_graph"):
        path = tmp_path / "spec.toml"
        path.write_text(ESN_SPEC if spec == "esn" else GRAPH_KURAMOTO_SPEC)
    else:
        path = spec
    first = load_spec(path, overrides=["seed=7"])
    stored = tmp_path / "stored.toml"
    stored.write_text(first.text)
    assert read_spec_file(stored)[0] == first.data
    again = load_spec(stored)
    a, b = jax.tree_util.tree_leaves((first.model, first.state)), jax.tree_util.tree_leaves((again.model, again.state))
    assert jax.tree_util.tree_structure((first.model, first.state)) == \
        jax.tree_util.tree_structure((again.model, again.state))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(
            x.dtype, jax.dtypes.prng_key) else x), np.asarray(jax.random.key_data(y) if jax.dtypes.issubdtype(
                y.dtype, jax.dtypes.prng_key) else y))


def test_set_path_is_the_one_setter_of_spec_dicts():
    data = {"seed": 1, "couplings": {"star": {"strength": 0.01, "graph": {"kind": "ring", "seed": 3}}}}
    set_path(data, "couplings.star.strength", np.float64(0.02))
    set_path(data, "couplings.star.graph.seed", 4.0)  # a float grid value for an integer field
    set_path(data, "record.spikes.threshold", 0.5)  # missing tables are created
    assert data["couplings"]["star"]["strength"] == 0.02 and type(data["couplings"]["star"]["strength"]) is float
    assert data["couplings"]["star"]["graph"]["seed"] == 4 and type(data["couplings"]["star"]["graph"]["seed"]) is int
    assert data["record"] == {"spikes": {"threshold": 0.5}}
    # ... but not a population or coupling: a misspelt name must not start a new, incomplete one
    with pytest.raises(SpecError, match=r"populations.p: the spec has no population 'p' \(populations: none\)"):
        set_path(data, "populations.p.k", 0.5)
    with pytest.raises(SpecError, match=r"couplings.str: the spec has no coupling 'str' \(couplings: star\)"):
        set_path(data, "couplings.str.strength", 0.5)
    with pytest.raises(SpecError, match="seed is a value, not a table"):
        set_path(data, "seed.x", 1)
    with pytest.raises(SpecError, match=r"--set 'couplings\.star\.strength\.x=1': couplings.star.strength is a value"):
        apply_override(data, "couplings.star.strength.x=1")
    with pytest.raises(SpecError, match="empty name"):
        apply_override(data, "couplings..x=1")
    dump_spec(data)  # numpy scalars were stored as Python numbers: valid TOML


def test_model_path_maps_spec_couplings_to_network_projections():
    from neurodyn.core.parameters import get_parameter

    spec = load_spec(ROOT / "models" / "chialvo_ring_star.toml", steps=2000)
    assert model_path("couplings.star.strength") == "projections.star.strength"
    assert model_path("populations.neurons.k") == "populations.neurons.k"
    assert float(get_parameter(spec.model, model_path("couplings.star.strength"))) == 0.01
    np.testing.assert_array_equal(get_parameter(spec.model, model_path("populations.neurons.k")), 0.03)


def test_registry_lists_its_names_and_rejects_bad_registrations():
    reg = Registry("things", "Things", noun="thing")
    reg.register("a", lambda x: x, (Field("x", "integer", default=1, minimum=0),), summary="A.")
    assert list(reg) == ["a"] and reg.build("t", {"kind": "a", "x": 2}) == 2
    with pytest.raises(SpecError, match=r"^t.kind: unknown thing 'b' \(allowed: a\)$"):
        reg.build("t", {"kind": "b"})
    with pytest.raises(SpecError, match=r"^t: missing field 'kind' \(one of: a\)$"):
        reg.build("t", {})
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", lambda: None, summary="again")
    with pytest.raises(ValueError, match="context"):
        reg.register("c", lambda: None, summary="C.", context=("dtype",))
