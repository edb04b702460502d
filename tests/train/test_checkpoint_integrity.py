"""Training checkpoints verify themselves (issue 19, defect 4): flipped bytes or one mantissa bit
of a parameter, two flipped bytes of the history, a changed epoch, and damaged header bytes are
refused with one line (neurodyn's error, never h5py's), never resumed and never copied into the
next checkpoint; random damage anywhere is refused or changes nothing that is read back."""

from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurodyn.errors import OutputError
from neurodyn.pytree import pytree_dataclass
from neurodyn.train import fit, read_checkpoint, read_histories


@pytree_dataclass
class Affine:
    w: jax.Array
    b: jax.Array


def _loss(model, batch, key):
    x, y = batch
    return jnp.mean((x @ model.w + model.b - y) ** 2), {}


def _data(n=48):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3))
    return x, x @ np.array([1.0, -2.0, 0.5]) + 0.25


def _fit(checkpoint, epochs):
    return fit(Affine(jnp.zeros(3), jnp.zeros(())), _loss, _data(), optimizer=optax.adam(1e-2), epochs=epochs,
               batch_size=16, key=jax.random.PRNGKey(0), checkpoint=checkpoint, progress=False)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "c.h5"
    _fit(path, 3)
    return path


def _offset(path, dataset) -> int:
    with h5py.File(path, "r") as f:
        return f[dataset].id.get_offset()


def _flip(path, offset, mask=0xFF, count=1):
    raw = bytearray(Path(path).read_bytes())
    for i in range(count):
        raw[offset + i] ^= mask
    Path(path).write_bytes(bytes(raw))


@pytest.mark.parametrize("where, mask, count", [
    ("training/params/0", 0xFF, 4),            # 4 bytes of a weight
    ("training/params/0", 0x01, 1),            # one mantissa bit
    ("training/history/loss", 0xFF, 2),        # 2 bytes of the loss history
    ("training/opt_state/1", 0x10, 1),         # the Adam moments
    ("training/key", 0x01, 1),                 # the PRNG key
])
def test_a_flipped_array_is_refused_never_resumed_never_copied_forward(tmp_path, good, where, mask, count):
    path = tmp_path / "c.h5"
    path.write_bytes(good.read_bytes())
    _flip(path, _offset(path, where), mask, count)
    with pytest.raises(OutputError, match=r"^checkpoint .*c\.h5 is damaged: its bytes do not match the checksum written "
                                          r"with it; it is not resumed") as err:
        _fit(path, 5)
    assert "\n" not in str(err.value)
    assert path.read_bytes() != good.read_bytes()  # left as it was: not overwritten by a resumed run
    _flip(path, _offset(path, where), mask, count)
    assert path.read_bytes() == good.read_bytes()
    if where.startswith("training/history"):
        with pytest.raises(OutputError, match="is damaged"):
            _flip(path, _offset(path, where), mask, count) or read_histories(path)


def test_a_changed_epoch_attribute_is_refused(tmp_path, good):
    path = tmp_path / "c.h5"
    path.write_bytes(good.read_bytes())
    with h5py.File(path, "r+") as f:
        f["training"].attrs["epoch"] = 2
    with pytest.raises(OutputError, match="its bytes do not match the checksum"):
        read_checkpoint(path)


@pytest.mark.parametrize("change, named", [
    (lambda f: f["training/params/0"].__setitem__(0, 9.0), "/training/params/0 does not match"),
    (lambda f: f["training/history/loss"].__setitem__(0, -1.858), "/training/history/loss does not match"),
    (lambda f: f["training"].attrs.__setitem__("epoch", 2), "its epoch, key and early-stopping attributes does not"),
    (lambda f: f.__delitem__("training/opt_state/1"), "/training/opt_state/1 is missing"),
])
def test_the_array_checksums_name_what_was_changed(tmp_path, good, change, named):
    """Behind the file's own checksum (here rewritten, as a tool that rewrites the file would),
    every array, the history and the attributes are checked one by one."""
    from neurodyn.train import checkpoint

    path = tmp_path / "c.h5"
    path.write_bytes(good.read_bytes())
    with h5py.File(path, "r+") as f:
        change(f)
    raw = path.read_bytes()
    path.write_bytes((checkpoint.MAGIC + checkpoint._file_digest(raw).encode()).ljust(512, b"\0") + raw[512:])
    with pytest.raises(OutputError, match=named):
        read_checkpoint(path)


def test_damaged_header_bytes_give_neurodyns_error(tmp_path, good):
    path = tmp_path / "c.h5"
    raw = bytearray(good.read_bytes())
    raw[512 + 15:512 + 17] = b"\xff\xff"  # the superblock: h5py raised 'addr overflow' (a RuntimeError)
    path.write_bytes(bytes(raw))
    with pytest.raises(OutputError) as err:
        read_checkpoint(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def _snapshot(read) -> list:
    leaves = jax.tree_util.tree_leaves({k: read[k] for k in ("params", "opt_state", "best", "key")})
    return [np.asarray(jax.random.key_data(a) if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) else a)
            for a in leaves] + [read["epoch"], read["stopped"], read["best_epoch"], read["wait"],
                                sorted((k, v.tobytes()) for k, v in read["history"].items())]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_damage_is_refused_or_reads_back_the_same_checkpoint(tmp_path, good, data):
    params = Affine(jnp.zeros(3), jnp.zeros(()))
    like = {"params_like": params, "opt_state_like": optax.adam(1e-2).init(params)}
    reference = _snapshot(read_checkpoint(good, **like))
    raw = bytearray(good.read_bytes())
    size = len(raw)
    for _ in range(data.draw(st.integers(1, 6), label="runs")):
        at = data.draw(st.integers(0, size - 1), label="offset")
        new = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        raw[at:at + len(new)] = new
    path = tmp_path / "damaged.h5"
    path.write_bytes(bytes(raw[:size]))
    try:
        back = read_checkpoint(path, **like)
    except OutputError as e:
        assert "\n" not in str(e)
        return
    got = _snapshot(back)
    assert len(got) == len(reference)
    for a, b in zip(got, reference):
        assert (np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype) if isinstance(a, np.ndarray) \
            else a == b
