"""Equation-defined models: a model of the protocol (neurodyn.core.Model) built from text.

``Equations(text, threshold=..., reset=..., refractory=..., parameters={...}, ports=[...])``
parses and checks the text (:mod:`.parse`, :mod:`.system`), and returns an
:class:`EquationModel`: its compile-time description (:class:`~.system.System`) is a static
field, its parameters are array leaves in the base units (ms, mV, pA, nS, pF; :mod:`.units`), so
a sweep over any parameter, ``jax.vmap``, ``jax.grad`` and every diagnostic work without
recompiling, and its ``step`` is the JAX function generated from the parsed trees.

One step (``dt`` ms): the differential variables are integrated from the state at the start of
the step (:func:`~.system.step_variables`: exponential Euler where an equation is linear in its
variable, Euler, RK4 or Euler–Maruyama; docs/spec/equations.md), increments arriving at ports
that are state variables are added (``g_e += w`` for a spike of a
:class:`~neurodyn.models.synapses.SpikingProjection`), variables marked ``(unless refractory)``
are held while the neuron is refractory, then the threshold is evaluated on the new state
(only in neurons that are not refractory), the reset statements are applied in order to the
neurons that spiked, and the refractory clock is set to the refractory period (or, for a
refractory condition, the neuron stays refractory while the condition holds). Spikes are the
boolean event observable ``spike`` (SONATA recording, rasters and spiking statistics work as
for the hand-written LIF).
"""

from __future__ import annotations

import collections
import functools
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ...core.model import Model, drive_term, float_dtype, is_plain
from ...errors import SpecError, check_int
from ...pytree import pytree_dataclass
from ...schema import MODELS, Field
from . import native
from .system import METHODS, System, build_system, evaluate, jax_step
from .units import DIMENSIONLESS, format_dim, parse_quantity


class _FromSystem:
    """A class attribute read from the instance's :class:`System` (a fixed default on the class)."""

    sealed = False  # once the classes are defined, the generic class has no surface of its own

    def __init__(self, read, default):
        self.read, self.default = read, default

    def __get__(self, obj, owner=None):
        if obj is None:
            if _FromSystem.sealed:  # the surface of a model built from text is the instance's
                raise AttributeError("the surface of an equation model is read from an instance")
            return self.default
        return self.read(obj.system)


class _Aliases:
    """``PARAMETER_ALIASES``: a parameter named in a spec path (``populations.adex.b``) is the leaf
    ``params.b`` of the model."""

    FIELDS = ("system", "n", "params", "dt", "backend")

    def get(self, head, default=None):
        return default if head in self.FIELDS else f"params.{head}"


@functools.lru_cache(maxsize=None)
def state_class(fields: tuple):
    """The NamedTuple class of a state with these fields (one class per field list)."""
    return collections.namedtuple("EquationState", fields)


def _units(system: System) -> dict:
    units = dict(zip(system.variables, system.var_units))
    if system.refractory is not None:
        units["refractory"] = "ms" if system.refractory[0] == "duration" else "1"
    if system.threshold is not None:
        units["spike"] = "1"
    units.update(dict(zip((n for n, _ in system.expressions), system.expr_units)))
    return units


@pytree_dataclass(static=("system", "n", "backend"))
class EquationModel(Model):
    """A population of ``n`` units following the equations of ``system``; build it with
    :func:`Equations` (or ``model = "equations"`` in a spec). ``params`` maps parameter names
    to arrays in base units (scalars shared by every unit, or ``n`` values); ``dt`` the step in ms;
    ``backend`` of the step: ``"numba"`` (the kernel generated from the equations, CPU; :mod:`.native`),
    ``"jax"`` (the generated JAX function) or None (the platform's default). See the module
    docstring and docs/spec/equations.md."""

    system: System
    n: int
    params: dict
    dt: jax.Array
    backend: str | None = None

    VARIABLES = _FromSystem(lambda s: s.state_fields, ())
    PORTS = _FromSystem(lambda s: s.ports, ("I",))
    INPUT_PORT = _FromSystem(lambda s: s.input_port, "I")
    EVENTS = _FromSystem(lambda s: ("spike",) if s.threshold is not None else (), ())
    units = _FromSystem(_units, {})
    time_unit: ClassVar[str] = "ms"
    PARAMETER_ALIASES: ClassVar = _Aliases()

    def __post_init__(self):
        if is_plain(self.n):
            object.__setattr__(self, "n", check_int("equations: n", self.n))
        params = dict(self.params)
        reference = next((v.dtype for v in params.values() if hasattr(v, "dtype") and not is_plain(v)
                          and jnp.issubdtype(v.dtype, jnp.floating)), None)
        for name, value in params.items():
            if is_plain(value):
                arr = jnp.asarray(value, float_dtype(reference))
                if arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (self.n,)):
                    raise SpecError(f"equations: parameter {name!r} must be a number or {self.n} values "
                                    f"(one per unit), got shape {arr.shape}")
                params[name] = arr
        object.__setattr__(self, "params", params)
        if is_plain(self.dt):
            object.__setattr__(self, "dt", jnp.asarray(self.dt, float_dtype(reference)))

    # ---- the protocol
    def _env(self):
        env = {("param", p): self.params[p] for p in self.system.parameters}
        return env

    def init(self, key: jax.Array):
        """The initial values of the model (``initial``; 0 for a variable without one), not
        refractory, no spike; a stochastic model keeps a PRNG key."""
        s = self.system
        dtype = self.dt.dtype
        env = self._env()
        values = {}
        for v in s.variables:
            values[v] = jnp.zeros((self.n,), dtype)
        for v, tree in s.initial:
            e = dict(env)
            e.update({("var", k): x for k, x in values.items()})
            values[v] = jnp.broadcast_to(jnp.asarray(evaluate(tree, e), dtype), (self.n,))
        fields = dict(values)
        if s.refractory is not None:
            fields["refractory"] = (jnp.zeros((self.n,), dtype) if s.refractory[0] == "duration"
                                    else jnp.zeros((self.n,), bool))
        if s.threshold is not None:
            fields["spike"] = jnp.zeros((self.n,), bool)
        if s.stochastic:
            fields["key"] = jax.random.fold_in(key, 0x5EED)
        return state_class(s.state_fields)(**fields)

    def step(self, state, drive=None, t=0.0):
        """One step of ``dt`` (module docstring): the kernel generated from the equations where it
        serves (:mod:`.native`; ``backend``), else the JAX function generated from them."""
        s = self.system
        ports = {p: drive_term(drive, p, s.input_port) for p in s.ports}
        old = {v: getattr(state, v) for v in s.variables}
        refractory = state.refractory if s.refractory is not None else None
        fields = native.step(s, self.n, self.params, self.dt, old, refractory, ports, t, self.backend)
        if fields is None:
            fields = jax_step(s, self.n, self.params, self.dt, old, refractory, ports, t,
                              state.key if s.stochastic else None)
        return state_class(s.state_fields)(**{f: fields[f] for f in s.state_fields})

    def observe(self, state) -> dict:
        """The state variables, the refractory clock and ``spike`` (if any), and the named
        expressions (evaluated with the ports at 0)."""
        s = self.system
        out = {f: getattr(state, f) for f in s.state_fields if f != "key"}
        if s.expressions:
            env = self._env()
            env.update({("var", v): getattr(state, v) for v in s.variables})
            env.update({("port", p): 0.0 for p in s.ports if p not in s.variables})
            env[("t",)] = 0.0
            for name, tree in s.expressions:
                out[name] = jnp.broadcast_to(jnp.asarray(evaluate(tree, env), self.dt.dtype), (self.n,))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, variables={self.system.variables}, method={self.system.method!r})"


@pytree_dataclass(static=("system", "n", "backend"))
class SpikingEquationModel(EquationModel):
    """An :class:`EquationModel` with a threshold: not differentiable across a spike."""

    SMOOTH: ClassVar[bool] = False


def read_parameters(parameters: dict, n: int, where: str = "parameters") -> tuple[dict, dict]:
    """``({name: value in base units}, {name: dimension})`` from user values: ``"281 pF"``, a
    number (dimensionless), a list of either (one per unit), or a pair ``(values, "unit")``."""
    if not isinstance(parameters, dict):
        raise SpecError(f"{where}: expected a table of name = value, got {type(parameters).__name__}")
    values, dims = {}, {}
    for name, value in parameters.items():
        at = f"{where}.{name}"
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
            raise SpecError(f"{where}: {name!r} is not a valid parameter name")
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
            from .units import parse_unit

            factor, d = parse_unit(value[1], at)
            arr = np.asarray(value[0], float) * factor
        elif isinstance(value, str):
            v, d = parse_quantity(value, at)
            arr = np.asarray(v)
        elif isinstance(value, (list, np.ndarray)) and not isinstance(value, str):
            items = [parse_quantity(x, f"{at}[{i}]") if isinstance(x, str) else (_number(x, f"{at}[{i}]"),
                                                                                  DIMENSIONLESS)
                     for i, x in enumerate(value)]
            ds = {x[1] for x in items}
            if len(ds) > 1:
                raise SpecError(f"{at}: the values have different dimensions "
                                f"({', '.join(sorted(format_dim(x) for x in ds))})")
            d = ds.pop() if ds else DIMENSIONLESS
            arr = np.asarray([x[0] for x in items])
            if arr.shape != (n,):
                raise SpecError(f"{at}: expected a number or {n} values (one per unit), got {arr.size}")
        else:
            arr, d = np.asarray(_number(value, at)), DIMENSIONLESS
        if not np.all(np.isfinite(arr)):
            raise SpecError(f"{at}: must be finite, got {value!r}")
        values[name], dims[name] = arr, d
    return values, dims


def _number(x, where):
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise SpecError(f"{where}: expected a number or a quantity such as \"10 mV\", got {x!r}")
    return float(x)


def Equations(equations: str, *, threshold: str | None = None, reset: str | None = None,
              refractory: str | float | None = None, parameters: dict | None = None, ports=(),
              method: str | None = None, initial: dict | None = None, n: int = 1, dt: float = 0.1,
              dtype=None, cls: type | None = None, backend: str | None = None) -> EquationModel:
    """A model defined by equations (docs/spec/equations.md)::

        nd.models.Equations('''
            dv/dt = (g_l*(e_l - v) + g_l*delta_t*exp((v - v_t)/delta_t) - w + I)/c_m : mV
            dw/dt = (a*(v - e_l) - w)/tau_w : pA
        ''', threshold="v > 0*mV", reset="v = v_r; w += b", refractory="2 ms",
            parameters=dict(c_m="281 pF", g_l="30 nS", e_l="-70.6 mV", v_t="-50.4 mV", delta_t="2 mV",
                            tau_w="144 ms", a="4 nS", b="80.5 pA", v_r="-70.6 mV"),
            ports=["I"], initial={"v": "e_l"}, n=10)

    ``equations``: lines ``dx/dt = expr : unit``, named expressions ``y = expr : unit`` and port
    units ``I : pA``; ``threshold``: a condition; ``reset``: statements; ``refractory``: a
    duration (``"2 ms"``, a parameter name) or a condition (``"v > -40*mV"``); ``parameters``:
    quantities (``"281 pF"``) or numbers (dimensionless), one value or ``n``; ``ports``: the
    names a drive or a projection adds to (an input of the equations, or a state variable that
    receives increments); ``method``: one of ``auto`` (the default rule), ``exponential_euler``,
    ``euler``, ``rk4``, ``euler_maruyama``; ``initial``: initial values (quantities, or
    expressions of the parameters); ``dt`` in ms; ``cls``: the class to build (a
    :func:`model_class`); ``backend`` of the step: "numba" (the kernel generated from the
    equations, :mod:`.native`), "jax" or None (the platform's default: the kernel on the CPU
    where it covers the model). Units: the model computes in ms, mV, pA, nS, pF.
    """
    n = check_int("equations: n", n)
    values, dims = read_parameters(parameters or {}, n)
    system = build_system(equations, threshold=threshold, reset=reset, refractory=refractory, parameters=dims,
                          ports=tuple(ports or ()), method=method, initial=initial)
    if not float(dt) > 0:
        raise SpecError(f"equations: dt must be > 0 ms, got {dt!r}")
    dtype = float_dtype(dtype)
    params = {k: jnp.asarray(v, dtype) for k, v in values.items()}
    if cls is None:
        cls = SpikingEquationModel if system.threshold is not None else EquationModel
    if backend is not None:
        native.KERNEL.backend(backend, what="equations: backend")  # a misspelt name fails here
    return cls(system, n, params, jnp.asarray(dt, dtype), backend)


# ------------------------------------------------------------------------------ spec registration

def _table(path, value, **context):
    if not isinstance(value, dict):
        raise SpecError(f"{path}: expected a table of name = value, got {value!r}")
    return value


def _names(path, value, **context):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{path}: expected a list of names, got {value!r}")
    return value


def _refractory(path, value, **context):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SpecError(f"{path}: expected a duration such as \"2 ms\" or a condition, got {value!r}")
    return value


def _from_spec(*, n, dt, dtype, equations, threshold, reset, refractory, parameters, ports, method, initial):
    return Equations(equations, threshold=threshold, reset=reset, refractory=refractory, parameters=parameters,
                     ports=ports, method=method, initial=initial, n=n, dt=dt, dtype=dtype)


EQUATION_FIELDS = (
    Field("equations", "string", doc="the equations, one per line: 'dx/dt = expr : unit', 'y = expr : unit', "
                                     "'I : unit' (docs/spec/equations.md)"),
    Field("threshold", "string", default=None, doc="spike condition, e.g. \"v > v_th\""),
    Field("reset", "string", default=None, doc="statements applied at a spike, e.g. \"v = v_r; w += b\""),
    Field("refractory", "custom", default=None, validator=_refractory, type_text="string",
          doc="refractory period: a duration (\"2 ms\", a parameter) or a condition (\"v > -40*mV\")"),
    Field("parameters", "custom", default={}, validator=_table, type_text="table",
          doc="parameter values with units (\"281 pF\"), numbers (dimensionless) or lists of n of them",
          default_text="none"),
    Field("ports", "custom", default=[], validator=_names, type_text="list of strings",
          doc="names drives and projections add to: inputs of the equations or state variables",
          default_text="none"),
    Field("method", "choice", default="auto", choices=METHODS,
          doc="integration: auto = exponential Euler where linear, else RK4 (Euler for spiking models), "
              "Euler-Maruyama with xi"),
    Field("initial", "custom", default={}, validator=_table, type_text="table",
          doc="initial values: quantities or expressions of the parameters (0 otherwise); init.<var> overrides",
          default_text="0"),
)

EXAMPLE = {
    "n": 3,
    "equations": "dv/dt = (e_l - v + i_ext + I)/tau : mV (unless refractory)",
    "threshold": "v > v_th", "reset": "v = v_r", "refractory": "2 ms",
    "parameters": {"tau": "10 ms", "e_l": "-70 mV", "v_th": "-50 mV", "v_r": "-70 mV",
                   "i_ext": ["15 mV", "25 mV", "30 mV"]},
    "ports": ["I", "v"], "initial": {"v": "-60 mV"},
}

MODELS.register("equations", _from_spec, EQUATION_FIELDS,
                summary="A model defined by equations with units: 'dv/dt = ... : mV', threshold, reset, refractory "
                        "period; parsed and checked, never evaluated (docs/spec/equations.md).",
                citation="equation syntax after Brian 2: M. Stimberg, R. Brette, D. F. M. Goodman, eLife 8:e47314 (2019)",
                example=EXAMPLE, context=("dt", "dtype"), cls=EquationModel)

SpikingEquationModel.__repr__ = EquationModel.__repr__
_FromSystem.sealed = True


def model_class(name: str, system: System, doc: str = "") -> type:
    """A subclass of :class:`EquationModel` (or :class:`SpikingEquationModel`) whose class-level
    surface (variables, ports, units, events) is that of ``system``: the class of a zoo model, so
    its reference page and ``isinstance`` checks know it."""
    base = SpikingEquationModel if system.threshold is not None else EquationModel
    attrs = {"VARIABLES": system.state_fields, "PORTS": system.ports, "INPUT_PORT": system.input_port,
             "EVENTS": ("spike",) if system.threshold is not None else (), "units": _units(system),
             "__module__": __name__, "__doc__": doc or base.__doc__, "__repr__": EquationModel.__repr__}
    return pytree_dataclass(static=("system", "n", "backend"))(type(name, (base,), attrs))
