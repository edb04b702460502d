"""A spiking network split over devices (neurodyn.models.sharding) equals the one-device run bit for
bit. Two CPU devices exist only when XLA is told so before JAX starts, so the two-device run is a
subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.models.sharding import run_sharded, shard_network
from neurodyn.errors import SpecError
from neurodyn.models import coba_ei, coba_initial_state

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import dataclasses, json
    import jax, jax.numpy as jnp, numpy as np
    import neurodyn as nd
    from neurodyn.models.sharding import run_sharded
    from neurodyn.models import coba_ei, coba_initial_state

    assert jax.device_count() == 2, jax.devices()
    results = []
    rec = ("exc.spike", "inh.spike", "exc.v", "inh.g_i")

    def compare(case, one_final, one, two_final, two):
        leaves = jax.tree_util.tree_leaves
        return dict(
            case=case,
            spikes=int(one["exc.spike"].sum() + one["inh.spike"].sum()),
            devices=len(two["exc.spike"].sharding.device_set),
            records_equal=all(np.array_equal(np.asarray(one[k]), np.asarray(two[k])) for k in rec),
            state_equal=all(np.array_equal(np.asarray(a), np.asarray(b))
                            for a, b in zip(leaves(one_final), leaves(two_final))),
            same_tree=jax.tree_util.tree_structure(one_final) == jax.tree_util.tree_structure(two_final))

    for delay, fused, per_synapse in ((0, True, False), (0, False, True), (3, True, True)):
        net = coba_ei(400, p=None, fanout=40, i_ext=20.0, seed=1, fused=fused, delay=delay, dtype=jnp.float32)
        if per_synapse:  # heterogeneous float32 weights: the sums are order-sensitive
            rng = np.random.default_rng(2)
            net = dataclasses.replace(net, projections={
                k: dataclasses.replace(p, synapses=p.synapses.with_weights(
                    np.asarray(p.synapses.weights) * rng.uniform(0.5, 1.5, p.synapses.nnz).astype(np.float32)))
                for k, p in net.projections.items()})
        state = coba_initial_state(net, jax.random.PRNGKey(0))
        one_final, one = jax.jit(lambda m, s: nd.run(m, s, 1500, record=rec))(net, state)
        two_final, two = run_sharded(net, state, 1500, record=rec)
        results.append(compare([delay, fused, per_synapse], one_final, one, two_final, two))
    print("RESULT " + json.dumps(results))

    # an external drive (neurodyn.run's meaning): a random per-neuron current indexed by step,
    # split over the devices, and a function of t (per-neuron array times a scalar of t)
    net = coba_ei(400, p=None, fanout=40, i_ext=0.0, seed=4, fused=True, dtype=jnp.float32)
    state = coba_initial_state(net, jax.random.PRNGKey(5))
    rng = np.random.default_rng(6)
    current = rng.uniform(0.0, 40.0, 400).astype(np.float32)
    drives = {
        "array": {"exc": rng.uniform(0.0, 40.0, (1000, 320)).astype(np.float32),
                  "inh": {"I": rng.uniform(0.0, 40.0, (1000, 80)).astype(np.float32)}},
        "function": lambda t: {"exc": jnp.asarray(current[:320]) * (1.0 + 0.5 * jnp.sin(t / 7.0)),
                               "inh": {"I": jnp.asarray(current[320:]), "g_e": 0.0}},
    }
    driven = []
    for name, drive in drives.items():
        one_final, one = jax.jit(lambda m, s: nd.run(m, s, 1000, record=rec, drive=drive))(net, state)
        two_final, two = run_sharded(net, state, 1000, record=rec, drive=drive)
        driven.append(compare(name, one_final, one, two_final, two))
    print("DRIVEN " + json.dumps(driven))
""")


def test_two_device_run_equals_one_device_run_exactly():
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip())
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    results = json.loads(line.removeprefix("RESULT "))
    assert len(results) == 3
    for r in results:
        assert r["devices"] == 2, r  # the records really were computed on two devices
        # 400 neurons at ~10-20 Hz over 150 ms: hundreds of spikes, so the exchange matters
        assert r["spikes"] > 300, r
        assert r["records_equal"] and r["state_equal"] and r["same_tree"], r
    # with i_ext = 0 only the drive makes neurons fire (1,237 and 1,131 spikes when written: 400
    # neurons for 100 ms at about 30 Hz)
    line = next(x for x in out.stdout.splitlines() if x.startswith("DRIVEN "))
    driven = json.loads(line.removeprefix("DRIVEN "))
    assert [r["case"] for r in driven] == ["array", "function"]
    for r in driven:
        assert r["devices"] == 2 and r["spikes"] > 500, r
        assert r["records_equal"] and r["state_equal"] and r["same_tree"], r


def test_one_device_sharded_run_equals_run_and_errors_name_the_field():
    net = coba_ei(200, p=None, fanout=20, i_ext=20.0, seed=3, fused=True, delay=2)
    state = coba_initial_state(net, jax.random.PRNGKey(1))
    one_final, one = nd.run(net, state, 300, record=("exc.spike", "exc.v"))
    final, rec = run_sharded(net, state, 300, devices=jax.devices()[:1], record=("exc.spike", "exc.v"))
    assert int(one["exc.spike"].sum()) > 20
    np.testing.assert_array_equal(np.asarray(rec["exc.spike"]), np.asarray(one["exc.spike"]))
    np.testing.assert_array_equal(np.asarray(final["exc"].v), np.asarray(one_final["exc"].v))
    # per device: the synapses onto its block of neurons, all presynaptic rows, local targets
    local = shard_network(net, 4)
    assert local.populations["exc"].n == 40 and local.populations["inh"].n == 10
    conn, inner = net.projections["exc"].synapses, local.projections["exc"].inner.synapses
    assert inner.n_post == 50 and inner.indptr.shape == (4 * (conn.n_pre + 1),)
    assert int(sum(np.asarray(inner.indptr).reshape(4, -1)[:, -1])) == conn.nnz
    with pytest.raises(SpecError, match="population 'exc' has 160 neurons"):
        shard_network(net, 3)
    with pytest.raises(SpecError, match="record"):
        run_sharded(net, state, 5, devices=jax.devices()[:1], record=("nope.v",))


def test_sharded_drive_shapes_are_checked_and_named():
    net = coba_ei(200, p=None, fanout=20, i_ext=0.0, seed=3, fused=True)
    state = coba_initial_state(net, jax.random.PRNGKey(1))
    one = jax.devices()[:1]
    with pytest.raises(SpecError, match=r"drive of population 'exc': shape \(50, 150\).*n = 160"):
        run_sharded(net, state, 50, devices=one, drive={"exc": np.zeros((50, 150))})
    with pytest.raises(SpecError, match=r"drive of population 'inh', entry \['I'\]: shape \(7,\)"):
        run_sharded(net, state, 50, devices=one, drive=lambda t: {"inh": {"I": jnp.zeros(7)}})
    with pytest.raises(SpecError, match="drive has 20 time steps but the run needs 50"):
        run_sharded(net, state, 50, devices=one, drive={"exc": np.zeros((20, 160))})
    with pytest.raises(SpecError, match="nope"):
        run_sharded(net, state, 50, devices=one, drive={"nope": np.zeros((50, 160))})
    # one device, a step-indexed current that alone makes neurons fire: equal to neurodyn.run
    drive = {"exc": np.random.default_rng(0).uniform(0, 40, (200, 160)), "inh": 30.0 * np.ones((200,))}
    final, rec = run_sharded(net, state, 200, devices=one, record=("exc.spike",), drive=drive)
    ref_final, ref = nd.run(net, state, 200, record=("exc.spike",), drive=drive)
    assert int(ref["exc.spike"].sum()) > 20
    np.testing.assert_array_equal(np.asarray(rec["exc.spike"]), np.asarray(ref["exc.spike"]))
    np.testing.assert_array_equal(np.asarray(final["inh"].v), np.asarray(ref_final["inh"].v))
