import numpy as np

from neurodyn.datasets import narma
from neurodyn.io.trained import load_trained, save_trained
from neurodyn.models.reservoir import ESN
from neurodyn.models.residual import ResESN
from neurodyn.readout import Ridge, RidgeClassifier, harvest


def test_saved_reservoir_and_readout_predict_identically(tmp_path):
    u, y = narma(600, seed=0)
    esn = ESN.create(30, 1, spectral_radius=0.9, bias_scaling=0.5, leak=0.7, seed=0)
    fit = Ridge(ridge=np.logspace(-8, -2, 4), washout=50, standardize=True, folds=3).fit(harvest(esn, u), y)
    save_trained(tmp_path / "model.h5", reservoir=esn, readout=fit)
    loaded = load_trained(tmp_path / "model.h5")
    again, readout = loaded["reservoir"], loaded["readout"]
    assert type(again) is ESN and type(readout) is Ridge and readout.washout == 50 and readout.standardize
    np.testing.assert_array_equal(readout.cv_errors, fit.cv_errors)
    np.testing.assert_array_equal(readout.predict(harvest(again, u)), fit.predict(harvest(esn, u)))


def test_saved_residual_reservoir_and_classifier_round_trip(tmp_path):
    res = ResESN.create(12, 1, alpha=0.5, beta=0.5, seed=1)
    seqs = [np.sin(0.3 * (1 + c) * np.arange(20))[:, None] for c in (0, 1, 0, 1)]
    clf = RidgeClassifier(pool="last").fit(harvest(res, seqs), [0, 1, 0, 1])
    save_trained(tmp_path / "clf.h5", reservoir=res, classifier=clf)
    loaded = load_trained(tmp_path / "clf.h5")
    np.testing.assert_array_equal(loaded["classifier"].decision(harvest(loaded["reservoir"], seqs)),
                                  clf.decision(harvest(res, seqs)))
    assert loaded["classifier"].pool == "last"


def test_a_trained_file_naming_the_old_csrmatrix_loads_as_coomatrix(tmp_path):
    """ops.CSRMatrix (which held coordinates) is ops.COOMatrix now; files that name it still load."""
    import h5py
    import jax.numpy as jnp

    from neurodyn.ops import COOMatrix

    m = COOMatrix(3, jnp.asarray([0, 0, 2]), jnp.asarray([1, 2, 0]), jnp.asarray([0.5, -1.0, 2.0]))
    path = save_trained(tmp_path / "m.h5", matrix=m)
    with h5py.File(path, "r+") as f:
        node = f["matrix"]
        assert node.attrs["class"] == "neurodyn.ops.coo:COOMatrix"
        node.attrs["class"] = "neurodyn.ops.csr:CSRMatrix"
    back = load_trained(path)["matrix"]
    assert isinstance(back, COOMatrix) and back.n == 3
    v = jnp.asarray([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(back @ v), [0.5 * 2.0 - 3.0, 0.0, 2.0])
