"""SONATA circuits in (neurodyn.io.sonata_circuit): a circuit built with bmtk's builder (an
independent writer) is read exactly -- node counts, edges per population pair, every weight and
delay -- converted to the neurodyn models' units, run by `neurodyn run config.json`, and its
spikes are read back by libsonata (the SONATA reference reader)."""

import json
import math

import h5py
import numpy as np
import pytest

from neurodyn.cli import main
from neurodyn.errors import SpecError

bmtk_builder = pytest.importorskip("bmtk.builder", reason="bmtk is not installed (pip install 'neurodyn[test]')")

DT = 0.1
EXC = {"C_m": 200.0, "tau_m": 15.0, "E_L": -65.0, "V_th": -50.0, "V_reset": -68.0, "I_e": 400.0, "tau_syn_ex": 3.0}
INH = {"C_m": 150.0, "g_L": 10.0, "E_L": -70.0, "V_th": -52.0, "V_reset": -60.0, "I_e": 250.0, "E_in": -80.0}
ALPHA = {"C_m": 100.0, "tau_m": 10.0, "E_L": -70.0, "V_th": -40.0, "V_reset": -70.0, "tau_syn_ex": 2.0}
N_EXC, N_INH, N_ALPHA, N_EXT = 8, 4, 3, 3
W_EXT_ALPHA = 30.0  # pA: the peak of an alpha current


def _build(root):
    """A bmtk circuit: 'cortex' (8 iaf_psc_exp, 4 iaf_cond_exp, 3 iaf_psc_alpha: three models in one
    SONATA population) and 'ext' (3 virtual nodes replaying a spike file), with per-type and
    per-edge weights, per-edge delays and nsyns; returns the builder's own list of edges."""
    rng = np.random.default_rng(7)
    net = bmtk_builder.NetworkBuilder("cortex")
    net.add_nodes(N=N_EXC, pop_name="Exc", model_type="point_neuron", model_template="nest:iaf_psc_exp",
                  dynamics_params="exc.json")
    net.add_nodes(N=N_INH, pop_name="Inh", model_type="point_neuron", model_template="nest:iaf_cond_exp",
                  dynamics_params="inh.json")
    net.add_nodes(N=N_ALPHA, pop_name="Alpha", model_type="point_neuron", model_template="nest:iaf_psc_alpha",
                  dynamics_params="alpha.json")
    net.add_edges(source={"pop_name": "Exc"}, target={"pop_name": "Inh"}, connection_rule=lambda s, t: int(rng.integers(0, 3)),
                  syn_weight=2.5, delay=1.55, dynamics_params="static.json", model_template="static_synapse")
    cm = net.add_edges(source={"pop_name": "Inh"}, target={"pop_name": "Exc"}, connection_rule=lambda s, t: int(rng.random() < 0.6),
                       syn_weight=-3.0, delay=0.8, dynamics_params="static.json", model_template="static_synapse")
    cm.add_properties("syn_weight", rule=lambda s, t: float(rng.uniform(-5, -1)), dtypes=float)
    cm = net.add_edges(source={"pop_name": "Exc"}, target={"pop_name": "Exc"}, connection_rule=lambda s, t: int(rng.random() < 0.3),
                       syn_weight=4.0, delay=1.0, dynamics_params="static.json", model_template="static_synapse")
    cm.add_properties("delay", rule=lambda s, t: float(rng.choice([0.5, 0.85, 1.25, 2.0])), dtypes=float)
    net.build()
    ext = bmtk_builder.NetworkBuilder("ext")
    ext.add_nodes(N=N_EXT, model_type="virtual", pop_name="in")
    ext.add_edges(target=net.nodes(pop_name="Exc"), connection_rule=1, syn_weight=10.0, delay=2.0,
                  dynamics_params="static.json", model_template="static_synapse")
    ext.add_edges(target=net.nodes(pop_name="Alpha"), connection_rule=lambda s, t: int(s.node_id == t.node_id - 12),
                  syn_weight=W_EXT_ALPHA, delay=1.0, dynamics_params="static.json", model_template="static_synapse")
    ext.build()
    edges = {}
    for builder in (net, ext):  # the builder's own edges (read before saving: bmtk 1.2 cannot list them after)
        for e in builder.edges():
            props = {**e.edge_type_properties, **(e.synaptic_properties or {})}
            edges.setdefault((builder.name, "cortex"), []).append(
                (e.source_node_id, e.target_node_id, props["syn_weight"] * props.get("nsyns", 1), props["delay"]))
        builder.save(output_dir=str(root / "network"))
    return edges


@pytest.fixture(scope="module")
def circuit_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sonata_circuit")
    edges = _build(root)
    for folder, files in (("point_neuron_models", {"exc.json": EXC, "inh.json": INH, "alpha.json": ALPHA}),
                          ("synaptic_models", {"static.json": {}})):
        (root / "components" / folder).mkdir(parents=True)
        for name, params in files.items():
            (root / "components" / folder / name).write_text(json.dumps(params))
    with h5py.File(root / "inputs.h5", "w") as f:  # every ext node fires once at 12 ms
        g = f.create_group("spikes/ext")
        g.create_dataset("timestamps", data=np.full(N_EXT, 12.0)).attrs["units"] = "ms"
        g.create_dataset("node_ids", data=np.arange(N_EXT, dtype=np.uint64))
    net = "$NETWORK_DIR"
    circuit = {"manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                            "$COMPONENTS_DIR": "$BASE_DIR/components"},
               "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/point_neuron_models",
                              "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
               "networks": {"nodes": [{"nodes_file": f"{net}/{p}_nodes.h5", "node_types_file": f"{net}/{p}_node_types.csv"}
                                      for p in ("cortex", "ext")],
                            "edges": [{"edges_file": f"{net}/{p}_cortex_edges.h5",
                                       "edge_types_file": f"{net}/{p}_cortex_edge_types.csv"} for p in ("cortex", "ext")]}}
    simulation = {"manifest": {"$BASE_DIR": "${configdir}"}, "run": {"tstart": 0.0, "tstop": 30.0, "dt": DT},
                  "output": {"output_dir": "$BASE_DIR/output", "spikes_file": "spikes.h5"},
                  "inputs": {"ext_spikes": {"input_type": "spikes", "module": "sonata",
                                            "input_file": "$BASE_DIR/inputs.h5", "node_set": "ext"}}}
    (root / "circuit_config.json").write_text(json.dumps(circuit))
    (root / "simulation_config.json").write_text(json.dumps(simulation))
    (root / "config.json").write_text(json.dumps({"network": "circuit_config.json", "simulation": "simulation_config.json"}))
    return root, edges


def test_bmtk_circuit_is_read_exactly(circuit_dir):
    from neurodyn.io.sonata_circuit import read_circuit

    root, built = circuit_dir
    c = read_circuit(root / "config.json")
    sizes = {name: model.n for name, model in c.network.populations.items()}
    assert sizes == {"cortex_iaf_psc_exp": N_EXC, "cortex_iaf_cond_exp": N_INH, "cortex_iaf_psc_alpha": N_ALPHA,
                     "ext": N_EXT}
    assert c.node_ids["cortex_iaf_cond_exp"][0] == "cortex"
    np.testing.assert_array_equal(c.node_ids["cortex_iaf_cond_exp"][1], np.arange(N_EXC, N_EXC + N_INH))
    assert sorted(c.edges) == sorted(built)
    for key, rows in built.items():
        read = c.edges[key]
        assert len(read["source"]) == len(rows)  # edge count per population pair
        got = sorted(zip(read["source"].tolist(), read["target"].tolist(), read["weight"].tolist(),
                         read["delay"].tolist()))
        assert got == sorted(rows)  # every weight and delay identical (syn_weight * nsyns, ms)
    assert sum(len(r) for r in built.values()) > 40 and c.dt == DT and c.steps == 300


def test_circuit_weights_and_delays_in_model_units(circuit_dir):
    """Each projection's synapses: the NEST weight times the target's scale (psc_exp: tau_m / C_m
    mV per pA; cond_exp: 1 / g_L, inhibition positive on g_i; psc_alpha: e / tau_syn per ms),
    delays rint(delay / dt) steps from spike to arrival: a buffer of one step less (the projection
    itself reads the spikes of the step before)."""
    from neurodyn.io.sonata_circuit import read_circuit

    root, built = circuit_dir
    c = read_circuit(root / "config.json")
    scale = {"cortex_iaf_psc_exp": {"g_e": EXC["tau_m"] / EXC["C_m"], "g_i": EXC["tau_m"] / EXC["C_m"]},
             "cortex_iaf_cond_exp": {"g_e": 1 / INH["g_L"], "g_i": -1 / INH["g_L"]},
             "cortex_iaf_psc_alpha": {"y_ex": math.e / ALPHA["tau_syn_ex"], "y_in": math.e / 2.0}}
    offset = {"cortex_iaf_psc_exp": 0, "cortex_iaf_cond_exp": N_EXC, "cortex_iaf_psc_alpha": N_EXC + N_INH, "ext": 0}
    expected, got = [], []
    for (src_pop, _), rows in built.items():
        for s, t, w, d in rows:
            tname = next(n for n, (p, ids) in c.node_ids.items() if p == "cortex" and t in ids)
            port = list(scale[tname])[0 if w >= 0 else 1]
            sname = "ext" if src_pop == "ext" else next(n for n, (p, ids) in c.node_ids.items() if p == "cortex" and s in ids)
            expected.append((sname, tname, port, s - offset[sname], t - offset[tname], w * scale[tname][port],
                             max(int(np.rint(d / DT)) - 1, 0)))
    for proj in c.network.projections.values():
        syn = proj.synapses
        (tname, port, _), = proj.outputs
        delays = syn.synapse_delays() if syn.has_delays else np.zeros(syn.nnz, int)
        got += [(proj.source, tname, port, int(a), int(b), float(w), int(d)) for a, b, w, d in
                zip(syn.presynaptic(), np.asarray(syn.indices), np.broadcast_to(np.asarray(syn.weights), (syn.nnz,)),
                    delays)]
    assert len(got) == len(expected)
    key = lambda r: r[:5] + (r[6],)  # noqa: E731
    for g, e in zip(sorted(got, key=key), sorted(expected, key=key)):
        assert g[:5] == e[:5] and g[6] == e[6] and g[5] == pytest.approx(e[5], rel=1e-12)
    # rint(delay / dt) in float64: 0.85 / 0.1 = 8.4999... -> 8, 1.25 / 0.1 = 12.5 -> 12 (halves to even),
    # 1.55 / 0.1 = 15.5000...02 -> 16
    assert {r[6] + 1 for r in got} == {5, 8, 10, 12, 16, 20}


def test_alpha_current_and_first_spike_match_theory(circuit_dir):
    """An ext spike at 12 ms reaches its alpha neuron after 1 ms: i_ex(t) = w e/tau t exp(-t/tau),
    peak w = 30 pA at t = tau (exponential-Euler steps of 0.1 ms: within 1 %); an Exc neuron
    driven by I_e alone from E_L first spikes at tau_m ln((V_inf - E_L)/(V_inf - V_th)), rounded
    up to the step (theory: Gerstner et al., Neuronal Dynamics, ch. 1)."""
    import neurodyn
    from neurodyn.io.sonata_circuit import read_circuit

    root, _ = circuit_dir
    c = read_circuit(root / "config.json")
    traj = neurodyn.simulate(c.network, 250, state=c.state, record=("cortex_iaf_psc_alpha.i_ex",),
                             spikes={f"{p}.spike": None for p in c.network.populations})
    i_ex = np.asarray(traj.data["cortex_iaf_psc_alpha.i_ex"])[:, 0]
    t = np.asarray(traj.times)
    arrival = 12.0 + 1.0
    tau = ALPHA["tau_syn_ex"]
    s = np.clip(t - arrival, 0, None)
    theory = W_EXT_ALPHA * math.e / tau * s * np.exp(-s / tau)
    assert np.max(i_ex) == pytest.approx(W_EXT_ALPHA, rel=0.01)
    assert np.max(np.abs(i_ex - theory)) < 0.01 * W_EXT_ALPHA
    v_inf = EXC["E_L"] + EXC["I_e"] * EXC["tau_m"] / EXC["C_m"]
    first = EXC["tau_m"] * math.log((v_inf - EXC["E_L"]) / (v_inf - EXC["V_th"]))  # 10.397 ms
    times = np.asarray(traj.spikes["cortex_iaf_psc_exp.spike"][0])
    assert times.min() == pytest.approx(math.ceil(first / DT) * DT)


def test_neurodyn_run_of_a_circuit_writes_spikes_libsonata_reads(circuit_dir, tmp_path):
    libsonata = pytest.importorskip("libsonata")
    root, _ = circuit_dir
    run = tmp_path / "run.h5"
    assert main(["run", str(root / "config.json"), "--out", str(run), "--quiet"]) == 0
    reader = libsonata.SpikeReader(str(root / "output" / "spikes.h5"))
    assert sorted(reader.get_population_names()) == ["cortex", "ext"]
    ext = reader["ext"].get_dict()
    np.testing.assert_allclose(ext["timestamps"], np.full(N_EXT, 12.0))
    np.testing.assert_array_equal(np.sort(ext["node_ids"]), np.arange(N_EXT))
    cortex = reader["cortex"].get_dict()
    assert reader["cortex"].sorting == "by_time" and len(cortex["timestamps"]) > 0
    with h5py.File(run) as f:  # the same spikes as the run file, with SONATA's node ids
        counts = {k: len(f["spikes"][k]["timestamps"]) for k in f["spikes"]}
        first_inh = f["spikes/cortex_iaf_cond_exp/node_ids"][()]
    assert len(cortex["timestamps"]) == sum(v for k, v in counts.items() if k.startswith("cortex"))
    assert set(np.asarray(first_inh) + N_EXC) <= set(cortex["node_ids"].tolist())


def test_a_spec_naming_the_circuit_runs_and_its_run_file_runs_again(circuit_dir, tmp_path, capsys):
    root, _ = circuit_dir
    spec = tmp_path / "circuit.toml"
    spec.write_text(f'circuit = "{root / "config.json"}"\nname = "from_toml"\nsteps = 150\n')
    run = tmp_path / "run.h5"
    assert main(["run", str(spec), "--out", str(run), "--quiet"]) == 0
    assert main(["run", str(run), "--quiet"]) == 0  # the stored spec names the config
    with h5py.File(run) as a, h5py.File(tmp_path / "run.rerun.h5") as b:
        assert a["neurodyn"].attrs["steps"] == b["neurodyn"].attrs["steps"] == 150
        for pop in a["spikes"]:
            np.testing.assert_array_equal(a["spikes"][pop]["timestamps"][()], b["spikes"][pop]["timestamps"][()])
            np.testing.assert_array_equal(a["spikes"][pop]["node_ids"][()], b["spikes"][pop]["node_ids"][()])
        assert sum(len(a["spikes"][p]["timestamps"]) for p in a["spikes"]) > 0
    spec.write_text(f'circuit = "{root / "config.json"}"\nstep = 150\n')
    capsys.readouterr()
    assert main(["run", str(spec), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "step: not a field of a spec naming a SONATA circuit" in err and "steps" in err and "\n" not in err


@pytest.mark.parametrize("damage, message", [
    (lambda r: (r / "network" / "cortex_node_types.csv").write_text(
        (r / "network" / "cortex_node_types.csv").read_text().replace("nest:iaf_cond_exp", "nest:aeif_cond_exp")),
     "model_template 'nest:aeif_cond_exp' is not read"),
    (lambda r: (r / "components" / "point_neuron_models" / "inh.json").write_text(json.dumps({"g_l": 10.0})),
     "parameter 'g_l' of nest:iaf_cond_exp is not read"),
    (lambda r: (r / "network" / "cortex_node_types.csv").write_text(
        (r / "network" / "cortex_node_types.csv").read_text().replace("node_type_id", "type_id", 1)),
     "no column 'node_type_id'"),
    (lambda r: (r / "network" / "ext_nodes.h5").unlink(), "nodes file not found"),
    (lambda r: (r / "network" / "cortex_cortex_edge_types.csv").write_text(
        (r / "network" / "cortex_cortex_edge_types.csv").read_text().replace("static_synapse", "stdp_synapse")),
     "synapse model_template 'stdp_synapse' is not read"),
])
def test_bad_circuit_is_refused_with_one_line(circuit_dir, tmp_path, capsys, damage, message):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(circuit_dir[0], root, ignore=shutil.ignore_patterns("output"))
    damage(root)
    assert main(["run", str(root / "config.json"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    with pytest.raises(SpecError, match="file not found"):
        from neurodyn.io.sonata_circuit import read_circuit

        read_circuit(root / "missing.json")
