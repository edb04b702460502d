"""The time constants of a continuous-time population, and a time step too long to integrate them.

A population whose time runs in ms (``time_unit == "ms"``: the spiking cells, the equation
models) names its time constants ``tau...``: fields of the class (``tau_m``, ``tau_e``) or, for
an equation model, parameters whose unit is ms. A linear relaxation ``dx/dt = -x / tau`` decays
by ``exp(-dt / tau)`` per step, so a step of ``MAX_STEPS_PER_TAU`` time constants leaves
``exp(-100) ~ 4e-44`` of any change: the step jumps over the dynamics it should integrate (the
usual choice is ``dt <= tau / 10``). Maps and reservoirs count steps, not time, and have no
time constant to compare.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import SpecError

MAX_STEPS_PER_TAU = 100.0


def time_constants(model) -> dict[str, float]:
    """``{name: smallest value}`` of the time constants (ms) of a population in ms (see the
    module docstring); empty for models whose time is not in ms."""
    if getattr(model, "time_unit", None) != "ms":
        return {}
    values = {f.name: getattr(model, f.name) for f in dataclasses.fields(model)
              if f.name.startswith("tau")} if dataclasses.is_dataclass(model) else {}
    system, params = getattr(model, "system", None), getattr(model, "params", None)
    if system is not None and isinstance(params, dict):
        units = dict(zip(system.parameters, system.param_units))
        values.update({k: v for k, v in params.items() if k.startswith("tau") and units.get(k) == "ms"})
    out = {}
    for name, value in values.items():
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            continue
        positive = array[np.isfinite(array) & (array > 0)]
        if positive.size:
            out[name] = float(positive.min())
    return out


def check_time_step(dt: float, populations: dict, path: str = "populations") -> None:
    """Raise :class:`~neurodyn.errors.SpecError` (naming ``dt`` and the fastest time constant)
    if ``dt`` (ms) is more than :data:`MAX_STEPS_PER_TAU` times the smallest time constant of
    any of ``populations`` (``{name: model}``)."""
    fastest = min(((tau, f"{path}.{pname}.{name}") for pname, model in populations.items()
                   for name, tau in time_constants(model).items()), default=None)
    if fastest is not None and dt > MAX_STEPS_PER_TAU * fastest[0]:
        tau, where = fastest
        raise SpecError(f"dt: {dt:g} ms is {dt / tau:.3g} times {where} ({tau:g} ms), the spec's fastest time "
                        f"constant: a step longer than {MAX_STEPS_PER_TAU:g} time constants jumps over the dynamics "
                        f"it should integrate; give dt <= {tau / 10:g} ms (a tenth of it) or a slower time constant")
