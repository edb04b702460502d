"""neurodyn.core.keys: PRNGKey / split / fold_in on the host equal JAX's, bit for bit, in both
settings of jax_threefry_partitionable; keys under a trace go to jax.random."""

import jax
import numpy as np
import pytest

from neurodyn.core import keys


@pytest.mark.parametrize("partitionable", [True, False])
def test_host_keys_equal_jax_random(partitionable):
    old = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", partitionable)
    try:
        for seed in (0, 1, 7, 12345, 2**31 - 1):
            key = jax.random.PRNGKey(seed)
            np.testing.assert_array_equal(keys.seed_key(seed), key)
            for num in (1, 2, 3, 5, 8):
                got, want = keys.split(key, num), jax.random.split(key, num)
                assert len(got) == num
                for g, w in zip(got, want):
                    np.testing.assert_array_equal(g, w)
            for data in (0, 1, 2, 1000, 2**32 - 1):
                np.testing.assert_array_equal(keys.fold_in(key, data), jax.random.fold_in(key, data))
    finally:
        jax.config.update("jax_threefry_partitionable", old)


def test_the_hash_is_threefry_2x32_known_answer():
    # Random123's known-answer test for threefry2x32_20 (key 0, counter 0)
    a, b = keys.threefry2x32(0, 0, np.zeros(1, np.uint32), np.zeros(1, np.uint32))
    assert (int(a[0]), int(b[0])) == (0x6B200159, 0x99BA4EFE)


def test_traced_and_typed_keys_go_to_jax_random():
    split = jax.jit(lambda k: keys.split(k, 3)[2])
    np.testing.assert_array_equal(split(jax.random.PRNGKey(3)), jax.random.split(jax.random.PRNGKey(3), 3)[2])
    typed = jax.random.key(4)
    assert jax.numpy.issubdtype(keys.split(typed, 2)[0].dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(jax.vmap(lambda k: keys.fold_in(k, 5))(jax.random.split(jax.random.PRNGKey(1), 2)),
                                  jax.vmap(lambda k: jax.random.fold_in(k, 5))(jax.random.split(jax.random.PRNGKey(1), 2)))
