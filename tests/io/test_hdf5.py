import h5py
import jax
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import OutputError
from neurodyn.io import RunWriter, describe, load
from neurodyn.models import chialvo_ring_star


def _write(path, steps=2000, **kw):
    net = chialvo_ring_star(3, b=0.18)
    state = net.init(jax.random.PRNGKey(0))
    obs = net.observe(state)
    writer = RunWriter(path, meta={"version": "t", "seed": 0, "dt": 1.0, "spec": "name = 'x'", "precision": "float64"},
                       shapes={n: obs[n].shape for n in obs}, units={"neurons.x": "1", "neurons.y": "1"},
                       spikes=("neurons.x",), time=(100.0, 2.0), time_unit="iteration",
                       dtype="float64")
    traj = nd.simulate(net, steps, state=state, transient=100, every=2, chunk=256, spikes={"neurons.x": 1.0},
                       writer=writer, **kw)
    return writer, traj


def test_run_file_layout_and_load_round_trip(tmp_path):
    path = tmp_path / "run.h5"
    writer, traj = _write(path)
    writer.close()
    data = load(path)
    rep = data["report"]["neurons"]["x"]
    np.testing.assert_array_equal(rep["data"], traj["neurons.x"])
    np.testing.assert_array_equal(rep["times"], traj.times)
    np.testing.assert_array_equal(rep["time"], [100.0, 100.0 + 2.0 * len(traj.times), 2.0])
    np.testing.assert_array_equal(rep["node_ids"], np.arange(4))
    t, ids = traj.spikes["neurons.x"]
    np.testing.assert_array_equal(data["spikes"]["neurons"]["timestamps"], t)
    np.testing.assert_array_equal(data["spikes"]["neurons"]["node_ids"], ids)
    assert data["spikes"]["neurons"]["units"] == "iteration"
    assert data["meta"]["status"] == "complete" and data["meta"]["spec"] == "name = 'x'"
    assert data["meta"]["time_unit"] == "iteration" and data["meta"]["units"]["neurons.x"] == "1"
    with h5py.File(path) as f:
        ds = f["report/neurons/x/data"]
        assert ds.compression == "gzip" and ds.chunks is not None
        # SONATA: sorting is an HDF5 enum; spikes uncompressed for readers without deflate (libsonata)
        sorting = f["spikes/neurons"].attrs.get_id("sorting").dtype
        assert h5py.check_enum_dtype(sorting) == {"none": 0, "by_id": 1, "by_time": 2}
        assert f["spikes/neurons"].attrs["sorting"] == 2 and data["spikes"]["neurons"]["sorting"] == "by_time"
        assert f["spikes/neurons/timestamps"].compression is None and f["spikes/neurons/node_ids"].compression is None
        assert f["spikes/neurons/node_ids"].dtype == np.uint64
    text = describe(path)
    assert "report/" in text and "data: float64 (950, 4)" in text and "name = 'x'" in text


def test_file_appears_under_final_name_only_when_closed(tmp_path):
    path = tmp_path / "run.h5"
    writer, _ = _write(path, steps=600)
    assert not path.exists() and writer.tmp.exists()  # a crash here leaves no file named run.h5
    writer.close()
    assert path.exists() and not writer.tmp.exists()
    writer2, _ = _write(tmp_path / "other.h5", steps=600)
    writer2.abort()
    assert not (tmp_path / "other.h5").exists() and not writer2.tmp.exists()


def test_load_errors(tmp_path):
    with pytest.raises(OutputError, match="no such file"):
        load(tmp_path / "missing.h5")
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(OutputError, match="not a readable HDF5"):
        load(bad)
    with pytest.raises(OutputError, match="cannot write"):
        RunWriter(bad / "sub" / "x.h5", meta={}, shapes={}, units={})
