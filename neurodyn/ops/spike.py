"""Spike functions with surrogate gradients: usable wherever a hard threshold is.

A spiking neuron emits ``s = H(x)`` with ``x = v - theta`` (Heaviside step, ``H(0) = 1``).
``dH/dx`` is zero almost everywhere, so gradient training replaces it in the backward pass by
a smooth *surrogate derivative* ``g(x)`` while the forward pass keeps the exact binary spike
(Neftci, Mostafa, Zenke, *IEEE Signal Process. Mag.* 36:51, 2019). Both functions here are
``jax.custom_jvp`` rules, so forward- and reverse-mode differentiation, ``jit`` and ``vmap``
all see the surrogate. The formulas are in docs/models/ultralif.md ("Surrogate gradients").
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from ..errors import SpecError

Array = jax.Array

SURROGATES = ("sigmoid", "fast_sigmoid", "arctan")


def surrogate_derivative(x: Array, kind: str = "sigmoid", slope=10.0, scale_by_slope: bool = True) -> Array:
    """The surrogate derivative ``g(x)`` that :func:`heaviside_surrogate` uses in place of ``dH/dx``.

    With slope ``k`` and ``c = k`` when ``scale_by_slope`` else ``c = 1``:

    * ``"sigmoid"``: ``g(x) = c sigma(k x) (1 - sigma(k x))`` -- with ``c = k`` the exact
      derivative of ``sigma(k x)``, peak ``k / 4`` at ``x = 0``;
    * ``"fast_sigmoid"`` (SuperSpike, Zenke & Ganguli, *Neural Comput.* 30:1514, 2018):
      ``g(x) = c / (1 + k |x|)^2``, peak ``c``;
    * ``"arctan"`` (Fang et al., ICCV 2021): ``g(x) = (c / 2) / (1 + (pi k x / 2)^2)`` -- with
      ``c = k`` the exact derivative of ``1/2 + arctan(pi k x / 2) / pi``, peak ``k / 2``.

    ``scale_by_slope=True`` keeps the chain-rule factor ``k`` of ``d/dx f(k x)`` (the surrogate
    is the derivative of a smooth step); ``False`` drops it (the common practice of snnTorch's
    fast sigmoid, whose peak stays 1 whatever the slope). ``x`` dimensionless or in the units
    of the potential (then ``k`` in 1/those units).
    """
    if kind not in SURROGATES:
        raise SpecError(f"surrogate kind: unknown value {kind!r} (allowed: {', '.join(SURROGATES)})")
    c = slope if scale_by_slope else 1.0
    if kind == "sigmoid":
        s = jax.nn.sigmoid(slope * x)
        return c * s * (1.0 - s)
    if kind == "fast_sigmoid":
        return c / (1.0 + slope * jnp.abs(x)) ** 2
    return 0.5 * c / (1.0 + (0.5 * jnp.pi * slope * x) ** 2)


@partial(jax.custom_jvp, nondiff_argnums=(1, 3))
def _heaviside(x, kind, slope, scale_by_slope):
    return (x >= 0).astype(jnp.result_type(x))


@_heaviside.defjvp
def _heaviside_jvp(kind, scale_by_slope, primals, tangents):
    x, slope = primals
    dx, _ = tangents
    g = surrogate_derivative(x, kind, jax.lax.stop_gradient(slope), scale_by_slope)
    return _heaviside(x, kind, slope, scale_by_slope), g * dx


def heaviside_surrogate(x: Array, kind: str = "sigmoid", slope=10.0, scale_by_slope: bool = True) -> Array:
    """``H(x)`` (1 where ``x >= 0``, else 0; float) forward, ``g(x) dx`` backward.

    ``g`` is :func:`surrogate_derivative` with the same ``kind``, ``slope`` and
    ``scale_by_slope`` (see there for the formulas). The slope is not differentiated (the
    forward output does not depend on it). Reference for the spiking baseline this serves:
    Miñoza, "UltraLIF" (arXiv:2602.11206), Eqs. 29-30, sigmoid surrogate with slope 10.
    """
    if kind not in SURROGATES:
        raise SpecError(f"surrogate kind: unknown value {kind!r} (allowed: {', '.join(SURROGATES)})")
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(float)
    return _heaviside(x, kind, jnp.asarray(slope, x.dtype), bool(scale_by_slope))


def dspike_function(x: Array, sharpness, width=1.0) -> Array:
    """The DSpike smooth step (Li et al., NeurIPS 2021):
    ``f(x) = [tanh(b x / w) + tanh(b / 2)] / (2 tanh(b / 2))``, with sharpness ``b > 0``.

    With ``x = v - theta`` and ``w = 2 theta`` this is
    ``[tanh(b (v / (2 theta) - 1/2)) + tanh(b/2)] / (2 tanh(b/2))``: 0 at ``v = 0``, 1/2 at
    threshold, 1 at ``v = 2 theta``; ``b -> 0`` gives a straight line, ``b -> inf`` the step.
    """
    b = jnp.asarray(sharpness)
    half = jnp.tanh(0.5 * b)
    return (jnp.tanh(b * x / width) + half) / (2.0 * half)


@jax.custom_jvp
def _dspike(x, sharpness, width):
    return (x >= 0).astype(jnp.result_type(x))


@_dspike.defjvp
def _dspike_jvp(primals, tangents):
    x, b, w = primals
    dx = tangents[0]
    b, w = jax.lax.stop_gradient(b), jax.lax.stop_gradient(w)
    g = b / w * (1.0 - jnp.tanh(b * x / w) ** 2) / (2.0 * jnp.tanh(0.5 * b))
    return _dspike(x, b, w), g * dx


def dspike(x: Array, sharpness=4.0, width=1.0) -> Array:
    """DSpike spike function (Li, Guo, Zhang, Deng, Gu, "Differentiable Spike", NeurIPS 2021):
    ``H(x)`` forward, the derivative of :func:`dspike_function` backward:

    ``g(x) = (b / w) (1 - tanh^2(b x / w)) / (2 tanh(b / 2))``, peak ``b / (2 w tanh(b/2))``
    at ``x = 0``.

    ``x = v - theta``, ``width = 2 theta`` reproduces the form of docs/models/ultralif.md
    (sharpness 4.0 as the UltraLIF paper's baseline). The sharpness is not differentiated: the
    forward spike does not depend on it (DSpike's own finite-difference temperature update is
    not implemented).
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(float)
    return _dspike(x, jnp.asarray(sharpness, x.dtype), jnp.asarray(width, x.dtype))
