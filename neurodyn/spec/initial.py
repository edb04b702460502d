"""Initial values of a population's state variables: ``init.<variable>`` in a population table,
a number, one number per node, or a table ``{ dist = ... }`` drawing from a registered
distribution (:data:`neurodyn.schema.DISTRIBUTIONS`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..core import keys
from ..errors import SpecError
from ..schema import DISTRIBUTIONS, Field, check_known, check_table

_VALUES = Field("init", "per_node")


def _uniform(*, low, high, key, n, dtype):
    if not low < high:
        raise SpecError(f"uniform needs low < high, got low={low:g}, high={high:g}")
    return jax.random.uniform(key, (n,), dtype, low, high)


def _normal(*, mean, std, key, n, dtype):
    return mean + std * jax.random.normal(key, (n,), dtype)


def _lognormal(*, mu, sigma, key, n, dtype):
    return jnp.exp(mu + sigma * jax.random.normal(key, (n,), dtype))


def _constant(*, value, key, n, dtype):
    return jnp.full((n,), value, dtype)


_DIST_CONTEXT = ("key", "n", "dtype")
DISTRIBUTIONS.register("uniform", _uniform, (
    Field("low", default=0.0, doc="lower bound"),
    Field("high", default=1.0, doc="upper bound (> low)"),
), summary="Uniform on [low, high), independently per node.", example={"low": 0.0, "high": 1.0},
    context=_DIST_CONTEXT)
DISTRIBUTIONS.register("normal", _normal, (
    Field("mean", default=0.0, doc="mean"),
    Field("std", default=1.0, minimum=0.0, doc="standard deviation"),
), summary="Normal (Gaussian), independently per node.", example={"mean": 0.0, "std": 0.1}, context=_DIST_CONTEXT)
DISTRIBUTIONS.register("lognormal", _lognormal, (
    Field("mu", default=0.0, doc="mean of the underlying normal (log of the median)"),
    Field("sigma", default=1.0, minimum=0.0, doc="standard deviation of the underlying normal"),
), summary="Log-normal: exp(mu + sigma Z), Z standard normal, independently per node.",
    example={"mu": -1.0, "sigma": 0.5}, context=_DIST_CONTEXT)
DISTRIBUTIONS.register("constant", _constant, (Field("value", doc="the value of every node"),),
                       summary="The same value at every node.", example={"value": 0.5}, context=_DIST_CONTEXT)


def initial_values(path: str, table, variables, n: int, key, dtype) -> dict:
    """``{variable: array of shape (n,)}`` from a population's ``init`` table at ``path``.

    Variable ``i`` (in sorted order) draws with ``fold_in(key, i)``, so adding a variable
    leaves the draws of the others unchanged.
    """
    table = check_table(path, table)
    check_known(path, table, variables)
    values = {}
    for i, (var, spec) in enumerate(sorted(table.items())):
        vpath = f"{path}.{var}"
        if isinstance(spec, dict):
            k = keys.fold_in(key, i)
            values[var] = DISTRIBUTIONS.build(vpath, spec, context={"key": k, "n": n, "dtype": dtype})
        else:
            values[var] = jax.device_put(np.array(np.broadcast_to(np.asarray(_VALUES.validate(vpath, spec, n=n), dtype), (n,))))
    return values
