"""Spike flags packed to words (neurodyn.ops.bits): words a kernel attaches to its flags."""

import gc

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.ops import bits
from neurodyn.ops.bits import attach_words, pack_bits


def test_pack_bits_returns_words_attached_to_that_very_array_and_packs_any_other():
    """``attach_words(flags, words)`` makes ``pack_bits(flags)`` return ``words`` (here marked
    words that differ from the packing, to see which one is returned) for that array only; the
    entry goes with the array."""
    flags = jnp.asarray(np.arange(40) % 3 == 0)
    packed = np.packbits(np.pad(np.asarray(flags), (0, 24)), bitorder="little").view("<u4")
    marked = jnp.asarray([7, 7], jnp.uint32)

    def f(x):
        y = x & True  # another traced value
        attach_words(y, marked)
        return pack_bits(y), pack_bits(y | False), pack_bits(x)

    same, other, source = jax.jit(f)(flags)
    np.testing.assert_array_equal(same, [7, 7])
    np.testing.assert_array_equal(other, packed)
    np.testing.assert_array_equal(source, packed)
    gc.collect()
    assert not bits._ATTACHED  # the traced values are gone, and so are their entries
