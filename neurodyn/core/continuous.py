"""Continuous-time models: a vector field and an integrator object (Diffrax style).

A subclass gives ``vector_field(state, drive, t)`` (a state-shaped pytree of derivatives per
time unit), has a ``dt`` field and a static ``integrator`` field (an
:class:`~neurodyn.core.integrators.Integrator`), and optionally the hooks
``linear_part(state)`` (diagonal linear part, for exponential Euler) and
``noise_amplitude(state, t)`` (diffusion coefficient g of ``dx = f dt + g dW``, for
Euler–Maruyama). A stochastic integrator draws its noise from the state's ``key`` field, which
is split once per step, so a run is reproducible from its seed.
"""

from __future__ import annotations

import jax

from .model import Model


class ContinuousModel(Model, abstract=True):
    """``step = integrator(model, state, drive, t, dt, key)`` (see the module docstring)."""

    def step(self, state, drive=None, t=0.0):
        """One integrator step of length ``dt``."""
        if self.integrator.stochastic:
            key, sub = jax.random.split(state.key)
            return self.integrator(self, state, drive, t, self.dt, sub)._replace(key=key)
        return self.integrator(self, state, drive, t, self.dt)
