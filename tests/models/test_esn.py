"""Constructing echo state networks: from matrices of every kind, and the errors of wrong input."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from neurodyn.errors import SpecError
from neurodyn.models import ESN


def test_from_matrices_accepts_numpy_jax_and_scipy_sparse_alike():
    rng = np.random.default_rng(0)
    dense = np.where(rng.random((6, 6)) < 0.4, rng.uniform(-0.5, 0.5, (6, 6)), 0.0)
    w_in = rng.uniform(-1, 1, (6, 2))
    reference = ESN.from_matrices(dense, w_in, leak=0.5)
    for w, win in [(sp.csr_matrix(dense), w_in), (sp.coo_matrix(dense), sp.csr_matrix(w_in)),
                   (jnp.asarray(dense), jnp.asarray(w_in)), (dense.tolist(), w_in.tolist())]:
        esn = ESN.from_matrices(w, win, leak=0.5)
        np.testing.assert_array_equal(esn.w, reference.w)
        np.testing.assert_array_equal(esn.w_in, reference.w_in)
        assert (esn.n, esn.n_inputs) == (6, 2)


def test_esn_constructor_takes_matrices_and_names_wrong_fields():
    esn = ESN(w=sp.identity(4, format="csr") * 0.5, w_in=np.ones((4, 1)), leak=0.3)
    assert (esn.n, esn.n_inputs, esn.activation) == (4, 1, "tanh")
    np.testing.assert_allclose(esn.jacobian_at_origin(), 0.7 * np.eye(4) + 0.3 * 0.5 * np.eye(4))
    ok = {"w": np.eye(2), "w_in": np.ones(2)}
    for kwargs, message in [({}, "ESN: give the recurrent matrix w"),
                            ({**ok, "w": np.ones((2, 3))}, "ESN.w: the recurrent matrix must be square"),
                            ({**ok, "w_in": np.ones((3, 1))}, "ESN.w_in: expected 2 rows"),
                            ({**ok, "leak": 1.5}, r"ESN.leak: the leak rate must be in \(0, 1\]"),
                            ({**ok, "bias": [1.0, 2.0, 3.0]}, "ESN.bias: expected a number or 2"),
                            ({**ok, "activation": "relu"}, "ESN.activation"),
                            ({**ok, "w": [["a", "b"], ["c", "d"]]}, "ESN.w: expected a matrix of numbers")]:
        with pytest.raises(SpecError, match=message):
            ESN(**kwargs)
