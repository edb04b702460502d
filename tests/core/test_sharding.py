"""A spiking network split over devices (neurodyn.core.sharding) equals the one-device run bit for
bit. Two CPU devices exist only when XLA is told so before JAX starts, so the two-device run is a
subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.core.sharding import run_sharded, shard_network
from neurodyn.errors import SpecError
from neurodyn.models import coba_ei, coba_initial_state

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import dataclasses, json
    import jax, jax.numpy as jnp, numpy as np
    import neurodyn as nd
    from neurodyn.core.sharding import run_sharded
    from neurodyn.models import coba_ei, coba_initial_state

    assert jax.device_count() == 2, jax.devices()
    results = []
    rec = ("exc.spike", "inh.spike", "exc.v", "inh.g_i")
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
        results.append(dict(
            case=[delay, fused, per_synapse],
            spikes=int(one["exc.spike"].sum() + one["inh.spike"].sum()),
            devices=len(two["exc.spike"].sharding.device_set),
            records_equal=all(np.array_equal(np.asarray(one[k]), np.asarray(two[k])) for k in rec),
            state_equal=all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
                            zip(jax.tree_util.tree_leaves(one_final), jax.tree_util.tree_leaves(two_final))),
            same_tree=jax.tree_util.tree_structure(one_final) == jax.tree_util.tree_structure(two_final)))
    print("RESULT " + json.dumps(results))
""")


def test_two_device_run_equals_one_device_run_exactly():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
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
