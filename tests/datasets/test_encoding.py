"""Spike encoders (docs/models/ultralif.md, "Encoding"): the rate code's spike probability is
gain * x within binomial error, the latency code fires once and earlier for larger values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.datasets import latency_code, rate_code, standardize_then_clip
from neurodyn.errors import SpecError


def test_rate_code_spike_probability_is_half_the_value_within_binomial_error():
    x = jnp.asarray(np.linspace(0.0, 1.0, 11))[None, :].repeat(200, axis=0)  # (B = 200, n = 11)
    spikes = rate_code(jax.random.PRNGKey(0), x, 100)
    assert spikes.shape == (100, 200, 11)
    assert set(np.unique(np.asarray(spikes))) <= {0.0, 1.0}
    p = 0.5 * np.linspace(0.0, 1.0, 11)
    trials = 100 * 200
    empirical = np.asarray(spikes).mean(axis=(0, 1))
    # binomial standard error sqrt(p (1 - p) / trials); 5 sigma
    assert np.all(np.abs(empirical - p) <= 5 * np.sqrt(p * (1 - p) / trials) + 1e-12)
    assert empirical[0] == 0.0


def test_rate_code_clips_values_and_is_reproducible_from_its_key():
    x = jnp.asarray([[-1.0, 2.0, 0.4]])
    a = rate_code(jax.random.PRNGKey(3), x, 4000, gain=0.8)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(rate_code(jax.random.PRNGKey(3), x, 4000, gain=0.8)))
    rates = np.asarray(a).mean(axis=(0, 1))
    assert rates[0] == 0.0
    assert abs(rates[1] - 0.8) < 5 * np.sqrt(0.8 * 0.2 / 4000)  # x = 2 clipped to 1
    assert abs(rates[2] - 0.32) < 5 * np.sqrt(0.32 * 0.68 / 4000)
    with pytest.raises(SpecError, match="gain"):
        rate_code(jax.random.PRNGKey(0), x, 3, gain=2.0)
    with pytest.raises(SpecError, match="steps"):
        rate_code(jax.random.PRNGKey(0), x, 0)


def test_latency_code_fires_once_and_earlier_for_larger_values():
    x = np.array([[1.0, 0.8, 0.5, 0.2, 0.05, 0.0, -0.3]])
    spikes = np.asarray(latency_code(jnp.asarray(x), 11))
    assert spikes.shape == (11, 1, 7)
    counts = spikes.sum(axis=0)[0]
    np.testing.assert_array_equal(counts, [1, 1, 1, 1, 1, 0, 0])  # values <= 0 never fire
    times = spikes[:, 0, :5].argmax(axis=0)
    # t = round((1 - x) (T - 1)): 0, 2, 5, 8, 10 (numpy rounds 9.5 to even as JAX does)
    np.testing.assert_array_equal(times, np.round((1 - x[0, :5]) * 10))
    assert np.all(np.diff(times) > 0)


def test_standardize_then_clip_is_the_authors_normalisation():
    x = np.array([0.0, 0.1307, 0.3, 1.0])
    got = standardize_then_clip(x, 0.1307, 0.3081)
    np.testing.assert_allclose(got, np.clip((x - 0.1307) / 0.3081, 0, 1), rtol=1e-15)
    np.testing.assert_allclose(got, [0.0, 0.0, 0.549497, 1.0], rtol=1e-6)  # 0.1693 / 0.3081
    with pytest.raises(SpecError, match="std"):
        standardize_then_clip(x, 0.0, 0.0)
