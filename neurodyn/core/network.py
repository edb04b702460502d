"""Networks: named populations plus couplings, itself a model of the protocol.

State: a dict ``{population name: population state}``. One step:

1. every coupling reads the current state and returns additive inputs
   ``{(population, variable): array}``;
2. these are added to the external drive of each population;
3. every population takes its own step with that drive.

For map neurons an additive input to ``x`` enters the update as ``x_{n+1} = f(x_n) + I_n``
with ``I_n`` computed from the state at step ``n``, which is the form of the diffusive couplings
in the map-network papers (MODELS.md 4.2, 5.3). A coupling is any pytree with
``inputs(states) -> dict[(str, str), Array]``.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax

from ..errors import SpecError
from ..pytree import pytree_dataclass


def _merge(drive: Any, extra: dict, input_variable: str):
    if not extra:
        return drive
    if drive is None:
        merged = {}
    elif isinstance(drive, Mapping):
        merged = dict(drive)
    else:
        merged = {input_variable: drive}
    for var, value in extra.items():
        merged[var] = merged[var] + value if var in merged else value
    return merged


@pytree_dataclass
class Network:
    """A model made of named populations (models) and couplings between them.

    ``drive`` for :meth:`step` is ``None``, a dict ``{population: drive}``, or (one population
    only) that population's drive; observables are named ``"population.variable"``.
    """

    populations: dict
    couplings: tuple = ()

    def init(self, key: jax.Array) -> dict:
        """Initial state of every population (independent keys split from ``key``)."""
        names = sorted(self.populations)
        keys = jax.random.split(key, len(names))
        return {name: self.populations[name].init(k) for name, k in zip(names, keys)}

    def step(self, state: dict, drive: Any, t) -> dict:
        """Gather coupling inputs from the current state, add the drive, step every population."""
        extra: dict[str, dict] = {name: {} for name in self.populations}
        for coupling in self.couplings:
            for (pop, var), value in coupling.inputs(state).items():
                extra[pop][var] = extra[pop][var] + value if var in extra[pop] else value
        if drive is None:
            drive = {}
        elif not isinstance(drive, Mapping):
            if len(self.populations) != 1:
                raise SpecError("a Network with several populations takes its drive as a dict {population: drive}")
            drive = {next(iter(self.populations)): drive}
        return {
            name: model.step(state[name],
                             _merge(drive.get(name), extra[name], getattr(model, "input_variable", "x")),
                             t)
            for name, model in self.populations.items()
        }

    def observe(self, state: dict) -> dict:
        """Every population's observables, named ``population.variable``."""
        return {f"{name}.{var}": value
                for name, model in self.populations.items()
                for var, value in model.observe(state[name]).items()}
