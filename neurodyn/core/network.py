"""Networks: named populations and named projections, itself a model of the protocol.

State (:class:`NetworkState`): every population's state, every projection's state and the
integer step counter. One step with ``order = None`` (all populations in parallel):

1. every projection reads the observables of the *current* state, updates its own state and
   returns additive inputs ``{(population, port): array}``;
2. these are added to the external drive of each population (ports of the target model);
3. every population takes its own step with that drive.

For map neurons an additive input to ``x`` enters the update as ``x_{n+1} = f(x_n) + I_n``
with ``I_n`` computed from the state at step ``n`` (the diffusive couplings of the map-network
papers). With ``order = ("layer1", "layer2", ...)`` the populations are updated one after the
other within the step and a projection is evaluated just before its target steps, reading the
*already updated* state of populations earlier in the order: a stack of reservoirs
``x1(n) = F1(x1(n-1), u(n))``, ``x2(n) = F2(x2(n-1), x1(n))`` then has no spurious lag
(Gallicchio et al., Neurocomputing 268:87, 2017). See :func:`stack`.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecError
from ..pytree import pytree_dataclass
from .keys import split as split_key
from .model import Surface, as_port_dict, check_drive, check_ports, surface


@pytree_dataclass
class NetworkState:
    """Population states, projection states and the step counter of a :class:`Network`.

    ``state["pop"]`` is the state of population ``pop``.
    """

    populations: dict
    projections: dict
    step: jax.Array

    def __getitem__(self, name: str):
        return self.populations[name]

    def replace_population(self, name: str, value) -> "NetworkState":
        """A copy with the state of population ``name`` replaced."""
        return NetworkState({**self.populations, name: value}, self.projections, self.step)


@pytree_dataclass(static=("order",))
class Network:
    """A model made of named populations (models) and named projections between them.

    ``projections`` is a dict ``{name: projection}`` (a sequence is accepted and named
    ``"0"``, ``"1"``, ...). ``order``: ``None`` (parallel update) or the population names in
    update order (sequential layers, see the module docstring).

    ``drive`` for :meth:`step` is ``None``, a dict ``{population: drive}``, or (one population
    only) that population's drive; observables are named ``"population.name"``.
    """

    populations: dict
    projections: dict = None
    order: tuple | None = None

    def __post_init__(self):
        projections = self.projections
        if projections is None:
            projections = {}
        elif not isinstance(projections, Mapping):
            projections = {str(i): p for i, p in enumerate(projections)}
        object.__setattr__(self, "projections", dict(projections))
        if not isinstance(self.populations, Mapping) or not self.populations:
            raise SpecError("a Network needs a non-empty dict {name: model} of populations")
        for name, proj in self.projections.items():
            if not hasattr(proj, "targets"):
                continue  # a partitioned / placeholder tree inside a JAX transformation
            for pop in proj.sources():
                if pop not in self.populations:
                    raise SpecError(f"projection {name!r} reads population {pop!r}, which does not exist "
                                    f"(populations: {', '.join(self.populations)})")
            for pop, port in proj.targets():
                if pop not in self.populations:
                    raise SpecError(f"projection {name!r} targets population {pop!r}, which does not exist "
                                    f"(populations: {', '.join(self.populations)})")
                check_ports(self.populations[pop], (port,), f"projection {name!r}")
        if self.order is not None:
            order = tuple(self.order)
            if sorted(order) != sorted(self.populations):
                raise SpecError(f"order {list(order)} must list every population once: {', '.join(self.populations)}")
            object.__setattr__(self, "order", order)
            for name, proj in self.projections.items():
                if hasattr(proj, "targets") and len({pop for pop, _ in proj.targets()}) > 1:
                    raise SpecError(f"projection {name!r} targets several populations; in a sequential network "
                                    f"each projection has one target population")
        self._check_dt()

    def _check_dt(self) -> None:
        values = {}
        for name, model in self.populations.items():
            dt = surface(model).dt
            try:
                values[name] = float(np.asarray(dt))
            except (TypeError, jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
                return  # traced inside a transformation: checked when the network was built
        if len(set(values.values())) > 1:
            raise SpecError(f"the populations of a Network must share one time step dt, got "
                            + ", ".join(f"{k}: {v:g}" for k, v in values.items()))

    # ------------------------------------------------------------ declared surface

    @property
    def dt(self):
        """The common time step of the populations."""
        return surface(next(iter(self.populations.values()))).dt

    def surface(self) -> Surface:
        """Variables, ports, units and events of all populations, named ``population.name``."""
        parts = {name: surface(m) for name, m in self.populations.items()}
        units = {f"{p}.{k}": u for p, s in parts.items() for k, u in s.units.items()}
        ports = None
        if all(s.ports is not None for s in parts.values()):
            ports = tuple(f"{p}.{port}" for p, s in parts.items() for port in s.ports)
        single = next(iter(parts.values())) if len(parts) == 1 else None
        units_t = {s.time_unit for s in parts.values()}
        return Surface(
            variables=tuple(f"{p}.{v}" for p, s in parts.items() for v in s.variables),
            ports=ports,
            input_port=None if single is None else single.input_port,
            dt=self.dt,
            time_unit=units_t.pop() if len(units_t) == 1 else "1",
            units=units,
            events=tuple(f"{p}.{e}" for p, s in parts.items() for e in s.events),
        )

    def check_drive(self, drive, where: str = "drive") -> None:
        """Check a drive's keys: populations of this network and ports of their models."""
        if drive is None or callable(drive):
            return
        for pop, d in self._per_population(drive).items():
            if pop not in self.populations:
                raise SpecError(f"{where}: the network has no population {pop!r} "
                                f"(populations: {', '.join(self.populations)})")
            check_drive(self.populations[pop], d, f"{where} of population {pop!r}")

    def _per_population(self, drive) -> dict:
        if drive is None:
            return {}
        if isinstance(drive, Mapping):
            if len(self.populations) == 1 and not set(drive) & set(self.populations):
                return {next(iter(self.populations)): drive}  # a port dict for the one population
            return dict(drive)
        if len(self.populations) != 1:
            raise SpecError("a Network with several populations takes its drive as a dict {population: drive}")
        return {next(iter(self.populations)): drive}

    # ------------------------------------------------------------ protocol

    def init(self, key: jax.Array) -> NetworkState:
        """Initial state of every population (independent keys split from ``key``), then of
        every projection (from the populations' initial observables)."""
        names = sorted(self.populations)
        keys = split_key(key, len(names) + 1)  # on the host where it can (core.keys: start-up)
        pops = {name: self.populations[name].init(k) for name, k in zip(names, keys)}
        obs = {name: self.populations[name].observe(s) for name, s in pops.items()}
        pkeys = split_key(keys[-1], max(len(self.projections), 1))
        projs = {name: p.init(k, obs) for (name, p), k in zip(sorted(self.projections.items()), pkeys)}
        return NetworkState({n: pops[n] for n in self.populations}, {n: projs[n] for n in self.projections},
                            jax.device_put(np.zeros((), np.int32)))

    def as_state(self, state) -> NetworkState:
        """``state`` as a :class:`NetworkState`; a plain dict ``{population: state}`` gets fresh
        projection states (from its observables) and step 0."""
        if isinstance(state, NetworkState):
            return state
        if not isinstance(state, Mapping) or set(state) != set(self.populations):
            raise SpecError(f"a Network state is a NetworkState or a dict with one state per population "
                            f"({', '.join(self.populations)})")
        pops = {n: state[n] for n in self.populations}
        obs = {name: self.populations[name].observe(s) for name, s in pops.items()}
        keys = jax.random.split(jax.random.PRNGKey(0), max(len(self.projections), 1))
        projs = {name: p.init(k, obs) for (name, p), k in zip(sorted(self.projections.items()), keys)}
        return NetworkState(pops, {n: projs[n] for n in self.projections}, jnp.zeros((), jnp.int32))

    def step(self, state: NetworkState, drive: Any, t) -> NetworkState:
        """One step of the whole network (parallel or in ``order``; see the module docstring)."""
        state = self.as_state(state)
        drives = self._per_population(drive)
        current = dict(state.populations)
        proj_states = dict(state.projections)
        extra: dict[str, dict] = {name: {} for name in self.populations}

        def run_projection(name):
            obs = {p: self.populations[p].observe(current[p]) for p in self.projections[name].sources()}
            proj_states[name], out = self.projections[name].step(state.projections[name], obs, state.step)
            for (pop, port), value in out.items():
                extra[pop][port] = extra[pop][port] + value if port in extra[pop] else value

        def step_population(name):
            model = self.populations[name]
            merged = as_port_dict(drives.get(name), surface(model).input_port) if name in drives else {}
            for port, value in extra[name].items():
                merged[port] = merged[port] + value if port in merged else value
            return model.step(state.populations[name], merged or None, t)

        if self.order is None:
            for name in self.projections:
                run_projection(name)
            current = {name: step_population(name) for name in self.populations}
        else:
            for pop in self.order:
                for name, proj in self.projections.items():
                    if proj.targets() and proj.targets()[0][0] == pop:
                        run_projection(name)
                current[pop] = step_population(pop)
            for name, proj in self.projections.items():
                if not proj.targets():
                    run_projection(name)
        return NetworkState(current, proj_states, state.step + 1)

    def observe(self, state: NetworkState) -> dict:
        """Every population's observables, named ``population.name``, and those of the
        projections that define ``observe(state)`` (plastic weights), named ``projection.name``."""
        state = self.as_state(state)
        out = {f"{name}.{var}": value
               for name, model in self.populations.items()
               for var, value in model.observe(state.populations[name]).items()}
        for name, proj in self.projections.items():
            if callable(getattr(proj, "observe", None)) and name not in self.populations:
                out.update({f"{name}.{var}": value for var, value in proj.observe(state.projections[name]).items()})
        return out


def stack(layers: Mapping[str, Any], projections: Mapping[str, Any] | None = None) -> Network:
    """A sequential network: ``layers`` (an ordered dict ``{name: model}``) update in that order
    within each step, so layer l sees layer l-1's state of the same step (deep reservoirs)."""
    return Network(dict(layers), dict(projections or {}), tuple(layers))
