"""The sparse recurrent product (neurodyn.ops.sparse_matvec) equals the dense product in float32 and
float64, alone, under jax.vmap (over x, over the weights, over both) and nested, and its gradients
equal the dense product's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from neurodyn.ops.sparse_matvec import KERNEL, SparseMatrix, sparse_matvec


def _matrix(m, n, density, seed):
    return sp.random(m, n, density=density, random_state=seed, format="csr")


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-13)])
@pytest.mark.parametrize("shape,density", [((23, 31), 0.3), ((500, 500), 0.3)])  # the second: two threads
def test_product_equals_the_dense_product(dtype, tol, shape, density):
    a = _matrix(*shape, density, 1)
    w = SparseMatrix.from_scipy(a, dtype)
    # the FFI kernel serves here and is in the compiled program (else this would test the formula only)
    program = jax.jit(sparse_matvec).lower(w, np.ones(shape[1], dtype)).as_text()
    assert KERNEL.serves() and "neurodyn_sparse_matvec" in program
    dense = a.toarray()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, shape[1])).astype(dtype)
    scale = np.abs(dense) @ np.abs(x[0]) + 1
    np.testing.assert_allclose(np.asarray(jax.jit(sparse_matvec)(w, x[0])) / scale, dense @ x[0] / scale, atol=tol)
    # vmap over the states alone (one W for a sweep's batch), over the weights too, and nested
    batched = jax.jit(jax.vmap(lambda v: w @ v))(x)
    np.testing.assert_allclose(np.asarray(batched), x @ dense.T, rtol=tol, atol=tol * scale.max())
    data = np.stack([np.asarray(w.data) * s for s in (1.0, -2.0, 0.5, 3.0)]).astype(dtype)
    each = jax.jit(jax.vmap(lambda d, v: SparseMatrix(w.shape, w.indptr, w.indices, w.rows, d) @ v))(data, x)
    expected = np.stack([s * dense @ v for s, v in zip((1.0, -2.0, 0.5, 3.0), x)])
    np.testing.assert_allclose(np.asarray(each), expected, rtol=tol, atol=tol * 3 * scale.max())
    nested = jax.jit(jax.vmap(jax.vmap(lambda v: w @ v)))(x.reshape(2, 2, -1))
    np.testing.assert_allclose(np.asarray(nested).reshape(4, -1), x @ dense.T, rtol=tol, atol=tol * scale.max())
    assert each.dtype == dtype and batched.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_equal_the_dense_products(dtype):
    a = _matrix(40, 40, 0.2, 2)
    w = SparseMatrix.from_scipy(a, dtype)
    x = np.random.default_rng(1).normal(size=40).astype(dtype)

    def loss_sparse(data, v):
        m = SparseMatrix(w.shape, w.indptr, w.indices, w.rows, data)
        return jnp.sum(jnp.tanh(m @ jnp.tanh(m @ v)))

    def loss_dense(dense, v):
        return jnp.sum(jnp.tanh(dense @ jnp.tanh(dense @ v)))

    g_data, g_x = jax.jit(jax.grad(loss_sparse, argnums=(0, 1)))(w.data, jnp.asarray(x))
    d_dense, d_x = jax.grad(loss_dense, argnums=(0, 1))(jnp.asarray(a.toarray(), dtype), jnp.asarray(x))
    rows, cols = np.asarray(w.rows), np.asarray(w.indices)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(np.asarray(g_data), np.asarray(d_dense)[rows, cols], rtol=tol, atol=tol)
    np.testing.assert_allclose(np.asarray(g_x), np.asarray(d_x), rtol=tol, atol=tol)
    # forward mode (the Lyapunov tangents) and per-example gradients under vmap
    tangent = jax.jvp(lambda v: w @ v, (jnp.asarray(x),), (jnp.ones(40, dtype),))[1]
    np.testing.assert_allclose(np.asarray(tangent), a.toarray().sum(axis=1), rtol=tol, atol=tol)
    xs = np.stack([x, 2 * x])
    per = jax.vmap(jax.grad(loss_sparse, argnums=1), in_axes=(None, 0))(w.data, jnp.asarray(xs))
    np.testing.assert_allclose(np.asarray(per[1]), np.asarray(jax.grad(loss_dense, argnums=1)(
        jnp.asarray(a.toarray(), dtype), jnp.asarray(2 * x))), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_threads_give_the_bits_of_one_under_vmap(dtype):
    # 500 x 500 at 30 %: 75,000 non-zeros, its pieces shared by two threads; its top
    # and bottom 250 rows (37,500 each) stay on one thread: a row's sum must not depend on that
    a = _matrix(500, 500, 0.3, 3)
    halves = [a[:250], a[250:]]
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 500)).astype(dtype)
    scales = rng.uniform(0.5, 2, 4).astype(dtype)

    def products(m):
        w = SparseMatrix.from_scipy(m, dtype)
        data = (np.asarray(w.data)[None] * scales[:, None]).astype(dtype)
        per_point = jax.jit(jax.vmap(lambda d, v: SparseMatrix(w.shape, w.indptr, w.indices, w.rows, d) @ v))
        return (np.asarray(jax.jit(sparse_matvec)(w, x[0])), np.asarray(per_point(data, x)),
                np.asarray(jax.jit(jax.vmap(lambda v: w @ v))(x)))

    whole, top, bottom = products(a), products(halves[0]), products(halves[1])
    for got, t, b in zip(whole, top, bottom):
        assert np.array_equal(got, np.concatenate([t, b], axis=-1))
    # and the products are the dense ones (float64)
    dense = a.toarray()
    want = np.stack([(float(s) * dense) @ v.astype(float) for s, v in zip(scales, x)])
    scale = (np.abs(dense) @ np.abs(x.T).astype(float)).T * 2 + 1
    tol = 2e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(whole[1] / scale, want / scale, atol=tol)
