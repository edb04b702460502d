"""``accumulate_gram`` (BLAS rank-k update called from XLA) against NumPy, alone, vmapped and
inside a scan, in float32 and float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.ops.gram import KERNEL, accumulate_gram, symmetric


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_gram_update_equals_numpy_vmapped_and_in_a_scan(dtype, tol):
    rng = np.random.default_rng(0)
    g0 = rng.standard_normal((3, 20, 20)).astype(dtype)
    blocks = rng.standard_normal((4, 3, 33, 20)).astype(dtype)
    expected = g0 + np.einsum("sbki,sbkj->bij", blocks.astype(float), blocks.astype(float))
    step = jax.vmap(accumulate_gram)
    got = jax.jit(lambda g, xs: jax.lax.scan(lambda a, x: (step(a, x), None), g, xs)[0])(jnp.asarray(g0),
                                                                                         jnp.asarray(blocks))
    for i in range(3):
        np.testing.assert_allclose(np.tril(np.asarray(got[i])), np.tril(expected[i]), rtol=tol, atol=tol * 100)
    alone = accumulate_gram(jnp.asarray(g0[0]), jnp.asarray(blocks[0, 0]))
    np.testing.assert_allclose(np.asarray(symmetric(alone)),
                               np.tril(g0[0]) + np.tril(g0[0], -1).T + blocks[0, 0].T.astype(float) @ blocks[0, 0],
                               rtol=tol, atol=tol * 100)


def test_the_blas_kernel_serves_on_cpu_and_is_in_the_compiled_program():
    assert KERNEL.serves()
    text = jax.jit(accumulate_gram).lower(jnp.zeros((4, 4)), jnp.ones((2, 4))).as_text()
    assert "neurodyn_gram_update" in text


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="expected G of shape"):
        accumulate_gram(jnp.zeros((3, 3)), jnp.ones((5, 4)))


def test_nested_vmap_folds_into_one_batch():
    """vmap of vmap (a sweep of sweeps): the kernel sees one flat batch and every sum is right."""
    rng = np.random.default_rng(1)
    g, x = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((3, 2, 9, 6))
    got = jax.jit(jax.vmap(jax.vmap(accumulate_gram)))(jnp.asarray(g), jnp.asarray(x))
    np.testing.assert_allclose(np.tril(np.asarray(got)), np.tril(g + np.einsum("abki,abkj->abij", x, x)), rtol=1e-12)
    shared = jax.vmap(jax.vmap(accumulate_gram, in_axes=(None, 0)), in_axes=(None, 0))(jnp.asarray(g[0, 0]),
                                                                                       jnp.asarray(x))
    np.testing.assert_allclose(np.tril(np.asarray(shared)), np.tril(g[0, 0] + np.einsum("abki,abkj->abij", x, x)),
                               rtol=1e-12)
