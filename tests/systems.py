"""Textbook systems written the way a user writes a model in their own script (the protocol:
a pytree dataclass with init / step / observe), used to validate the diagnostics."""

import jax
import jax.numpy as jnp

from neurodyn.core import rk4
from neurodyn.pytree import pytree_dataclass


@pytree_dataclass
class Logistic:
    r: jax.Array

    def init(self, key):
        return jnp.asarray(0.3, jnp.result_type(float))

    def step(self, x, drive, t):
        return self.r * x * (1 - x)

    def observe(self, x):
        return {"x": x}


@pytree_dataclass
class Henon:
    a: jax.Array
    b: jax.Array

    def init(self, key):
        return (jnp.asarray(0.1), jnp.asarray(0.1))

    def step(self, s, drive, t):
        x, y = s
        return (1 - self.a * x * x + y, self.b * x)

    def observe(self, s):
        return {"x": s[0], "y": s[1]}


@pytree_dataclass
class Lorenz:
    sigma: jax.Array
    rho: jax.Array
    beta: jax.Array
    dt: float

    def init(self, key):
        return jnp.array([1.0, 1.0, 1.0])

    def vector_field(self, s, drive, t):
        x, y, z = s
        return jnp.stack([self.sigma * (y - x), x * (self.rho - z) - y, x * y - self.beta * z])

    def step(self, s, drive, t):
        return rk4(self.vector_field, s, drive, t, self.dt)

    def observe(self, s):
        return {"xyz": s}
