"""Tests run in float64: reference comparisons need it. Float32 paths are exercised explicitly."""

import jax

jax.config.update("jax_enable_x64", True)
