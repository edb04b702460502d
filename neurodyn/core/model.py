"""The model protocol shared by every neurodyn model, network and projection.

A model is an immutable dataclass registered as a JAX pytree (:func:`neurodyn.pytree.pytree_dataclass`):
array fields are parameters (traced leaves, so they can be vmapped and differentiated), fields
named in ``static`` are shape-like metadata (a change recompiles). A model provides

* ``init(key) -> state``: a pytree of arrays (usually a NamedTuple),
* ``step(state, drive, t) -> state``: one map iteration or one integrator step,
* ``observe(state) -> dict[str, Array]``: the named quantities that can be recorded,

and declares its surface as class attributes (see :class:`Model`): its state ``VARIABLES``,
its input ``PORTS`` (what a drive or a projection may add to), the default port, its time step
``dt`` and ``time_unit``, the ``units`` of its observables and its boolean ``EVENTS``
(spike observables). :func:`surface` reads that declaration from any model, and derives a
permissive one for a model written without it (a plain dataclass with init/step/observe).

``drive`` is an external input: ``None``, one array (added to the model's default port) or a
dict mapping port names to additive inputs. Aiming at a port the model does not declare is a
:class:`~neurodyn.errors.SpecError` naming the port and listing the real ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecError, check_int

Array = jax.Array
State = Any


@runtime_checkable
class ModelProtocol(Protocol):
    """What :func:`neurodyn.simulate` and the diagnostics need of any model."""

    def init(self, key: Array) -> State: ...

    def step(self, state: State, drive: Any, t: Array) -> State: ...

    def observe(self, state: State) -> dict[str, Array]: ...


class Model:
    """Base class of neurodyn's models: the declared surface beside ``init / step / observe``
    (see :class:`ModelProtocol`), both checked when a subclass is created.

    Class attributes every subclass declares (checked when the class is created):

    * ``VARIABLES``: names of the state variables (fields of the state NamedTuple);
    * ``PORTS``: names of the input ports a drive or projection may add to;
    * ``INPUT_PORT``: the port a bare (non-dict) drive goes to;
    * ``time_unit``: ``"iteration"`` for maps, ``"ms"`` or ``"1"`` (dimensionless) for flows;
    * ``units``: unit of every observable (``"1"`` for dimensionless);
    * ``EVENTS``: names of boolean observables that are spike events (default none);
    * ``SMOOTH``: whether ``step`` is differentiable in its state and parameters (default
      True; False for thresholds and piecewise maps, whose gradients exist almost everywhere
      but do not match finite differences across a switch).

    ``dt`` is the time per step in ``time_unit``: a field of continuous models; a model without
    one (a map) steps by 1.
    """

    VARIABLES: ClassVar[tuple[str, ...]]
    PORTS: ClassVar[tuple[str, ...]]
    INPUT_PORT: ClassVar[str]
    time_unit: ClassVar[str]
    units: ClassVar[dict[str, str]]
    EVENTS: ClassVar[tuple[str, ...]] = ()
    SMOOTH: ClassVar[bool] = True

    _DECLARED = ("VARIABLES", "PORTS", "INPUT_PORT", "time_unit", "units")

    def __init_subclass__(cls, abstract: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        missing = [name for name in cls._DECLARED if not hasattr(cls, name)]
        if missing:
            raise TypeError(f"model {cls.__name__} does not declare {', '.join(missing)} (see neurodyn.core.Model)")
        if cls.INPUT_PORT not in cls.PORTS:
            raise TypeError(f"model {cls.__name__}: INPUT_PORT {cls.INPUT_PORT!r} is not one of PORTS {cls.PORTS}")
        absent = [name for name in ("init", "step", "observe") if not callable(getattr(cls, name, None))]
        if absent:
            raise TypeError(f"model {cls.__name__} does not define {', '.join(absent)} (see neurodyn.core.Model)")


@dataclass(frozen=True)
class Surface:
    """The declared surface of one model (see :class:`Model`); ``ports`` is ``None`` for a
    model that declares none (then drives are not checked)."""

    variables: tuple[str, ...]
    ports: tuple[str, ...] | None
    input_port: str | None
    dt: Any
    time_unit: str
    units: dict[str, str]
    events: tuple[str, ...]


def surface(model) -> Surface:
    """The declared surface of ``model`` (a :class:`Model`, a Network, or any object with
    init/step/observe, for which undeclared parts get permissive defaults: dt = 1 unless it
    has a ``dt`` attribute, ports unchecked)."""
    if hasattr(model, "surface") and callable(model.surface):
        return model.surface()
    ports = getattr(model, "PORTS", None)
    return Surface(
        variables=tuple(getattr(model, "VARIABLES", ())),
        ports=tuple(ports) if ports is not None else None,
        input_port=getattr(model, "INPUT_PORT", None),
        dt=getattr(model, "dt", 1.0),
        time_unit=getattr(model, "time_unit", "1"),
        units=dict(getattr(model, "units", {})),
        events=tuple(getattr(model, "EVENTS", ())),
    )


def model_dt(model) -> float:
    """The time per step of ``model`` as a Python float (1 for maps). A step stored in float32
    (a model built in float32) is read as the shortest decimal that float32 value stands for
    (0.1, not 0.10000000149011612), so time axes and spike times written in float64 carry no
    float32 rounding."""
    import numpy as np

    dt = np.asarray(surface(model).dt)
    if dt.dtype.kind == "f" and dt.dtype.itemsize < 8:
        return float(np.format_float_positional(dt[()], unique=True))
    return float(dt)


def step_times(steps, dt: float):
    """Model times ``t = k dt`` of step counts ``k`` (an integer array or a number), as float64.

    When ``dt`` is a decimal with at most 9 digits after the point (``0.1``, ``0.025``), ``dt =
    m / 10^d`` with ``m`` an integer and the time is computed as ``(k m) / 10^d``: an exact integer
    divided once, so the result is the double nearest to the decimal time (1282 steps of 0.1 ms
    are 128.2, where ``1282 * 0.1`` gives 128.20000000000002). Other steps (``1/3``), and counts
    so large that ``k m`` is not exact in float64, fall back to ``k * dt``."""
    import numpy as np

    k = np.asarray(steps)
    dt = float(dt)
    text = repr(dt)
    digits = len(text.split(".")[1]) if "." in text and "e" not in text.lower() else None
    if digits is not None and text.endswith(".0"):
        digits = 0
    if digits is not None and digits <= 9:
        scale = 10 ** digits
        m = round(dt * scale)
        if m / scale == dt and (k.size == 0 or float(np.max(np.abs(k))) * abs(m) < 2.0 ** 53):
            return (k.astype(np.float64) * m) / scale
    return k.astype(np.float64) * dt


def drive_port(model, target: str, port: str | None, what: str) -> str:
    """The input port a drive of population ``target`` (whose model is ``model``) feeds: ``port``,
    or the model's input port when ``None``; a SpecError names an unknown port (with the closest
    one) or a model not timed in ms (``what`` says which drive needs ms, e.g. "a Poisson drive")."""
    from ..schema import did_you_mean

    desc = surface(model)
    port = desc.input_port if port is None else port
    if desc.ports is not None and port not in desc.ports:
        raise SpecError(f"port: population {target!r} has no input port {port!r} "
                        f"(ports: {', '.join(desc.ports)}){did_you_mean(port, desc.ports)}")
    if desc.time_unit != "ms":
        raise SpecError(f"target: {what} needs a model timed in ms; {target!r} counts time in {desc.time_unit!r}")
    return port


def check_ports(model, ports, where: str = "drive") -> None:
    """Raise a SpecError if any of ``ports`` is not an input port of ``model``."""
    declared = surface(model).ports
    if declared is None:
        return
    for port in ports:
        if port not in declared:
            from ..schema import did_you_mean

            raise SpecError(f"{where}: {type(model).__name__} has no input port {port!r} "
                            f"(ports: {', '.join(declared) or 'none'}){did_you_mean(port, declared)}")


def check_drive(model, drive, where: str = "drive") -> None:
    """Check that a drive (``None``, an array, or a dict keyed by port) fits ``model``'s ports
    (a model with its own ``check_drive``, e.g. a Network keyed by population, checks itself)."""
    if drive is None or callable(drive):
        return
    if hasattr(model, "check_drive"):
        model.check_drive(drive, where)
        return
    if isinstance(drive, Mapping):
        check_ports(model, drive.keys(), where)
    else:
        s = surface(model)
        if s.ports is not None and s.input_port is None:
            raise SpecError(f"{where}: {type(model).__name__} takes no input")


def float_dtype(dtype=None):
    """The floating dtype to build parameters with: ``dtype`` or JAX's default float."""
    return jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)


def per_node(value, n: int, name: str, dtype=None) -> Array:
    """Broadcast a scalar or a length-``n`` sequence to a float array of shape ``(n,)``.

    A plain value (:func:`is_plain`) is converted by NumPy on the host (the same numbers as
    ``jnp.asarray``: both round once to the dtype), so building a model runs no JAX program: each
    conversion would otherwise trace, lower and compile a tiny one, a measurable part of a short
    CLI run's start-up."""
    if is_plain(value):
        arr = np.array(value, dtype=np.dtype(float_dtype(dtype)))
        if arr.ndim == 0:
            return jax.device_put(np.full((n,), arr))
        if arr.shape != (n,):
            raise SpecError(f"{name}: expected a number or {n} values (one per neuron), got shape {arr.shape}")
        return jax.device_put(arr)
    arr = jnp.asarray(value, dtype=float_dtype(dtype))
    if arr.ndim == 0:
        return jnp.full((n,), arr)
    if arr.shape != (n,):
        raise SpecError(f"{name}: expected a number or {n} values (one per neuron), got shape {arr.shape}")
    return arr


def plain(value):
    """``value`` (a number, list, NumPy or JAX array) as a Python number or nested list: what
    :func:`convert_parameters` converts, broadcasts and checks. A ``create`` constructor passes
    its arguments through it, so a model's ``__post_init__`` is the one place they are converted."""
    return np.asarray(value, float).tolist()


def with_dtype(model, fields: tuple[str, ...], dtype=None):
    """``model`` with its floating ``fields`` cast to ``dtype`` (the ``dtype=`` of a ``create``);
    ``None`` leaves them as ``__post_init__`` made them (JAX's default float). Cast on the host,
    as :func:`per_node` converts: building a model runs no JAX program."""
    if dtype is None:
        return model
    d = np.dtype(float_dtype(dtype))
    return dataclasses.replace(model, **{f: jax.device_put(np.asarray(getattr(model, f), d)) for f in fields})


def is_plain(value) -> bool:
    """Whether ``value`` is a number written by a user: a Python int or float (not a bool), a
    list, or a NumPy array or scalar.

    A constructor converts plain values only; a JAX array (a parameter of a float32 model given
    to ``dataclasses.replace``, a traced value) is kept as it is. JAX's own rebuilds of a model
    (:func:`neurodyn.pytree.pytree_dataclass`) do not call the constructor at all."""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, float, list, np.ndarray, np.generic))


def convert_parameters(model, per_node_fields: tuple[str, ...] = (), scalar_fields: tuple[str, ...] = (),
                       shared_fields: tuple[str, ...] = ()) -> None:
    """Turn the plain values (:func:`is_plain`) of a model's fields into arrays, in its ``__post_init__``.

    ``n`` must be an integer >= 1. A per-neuron field takes a number (broadcast to ``(n,)``) or
    ``n`` values; a scalar field a number; a shared field a number (kept a scalar, shared by every
    neuron) or ``n`` values. Wrong input is a :class:`SpecError` naming the class
    and the field. NumPy arrays of one or more dimensions are checked (a per-neuron one must
    have ``n`` values) but kept as they are: ``tree_map(np.asarray, model)`` must give back NumPy
    leaves, and batched copies (a leading axis) pass through.
    """
    cls = type(model).__name__
    n = model.n
    if is_plain(n):
        n = check_int(f"{cls}: n", n)
        object.__setattr__(model, "n", n)
    fields = per_node_fields + scalar_fields + shared_fields
    # a number replacing one parameter of a float32 model (dataclasses.replace) stays float32
    reference = next((v.dtype for v in (getattr(model, f) for f in fields)
                      if not is_plain(v) and hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.floating)), None)
    for name in fields:
        value = getattr(model, name)
        if not is_plain(value):
            continue
        per = name in per_node_fields
        shared = name in shared_fields
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            if (per or shared) and value.ndim == 1 and value.shape != (n,):
                raise SpecError(f"{cls}.{name}: expected a number or {n} values (one per neuron), "
                                f"got {value.shape[0]} values")
            continue
        dtype = reference
        if dtype is None and isinstance(value, (np.ndarray, np.generic)) and np.issubdtype(value.dtype, np.floating):
            dtype = jax.dtypes.canonicalize_dtype(value.dtype)
        try:  # on the host, as in per_node
            arr = np.array(value, dtype=np.dtype(float_dtype(dtype)))
        except (TypeError, ValueError):
            want = f"a number, or one number per neuron (n = {n})" if per or shared else "a number"
            raise SpecError(f"{cls}.{name}: expected {want}, got {value!r}") from None
        if per or (shared and arr.ndim):
            arr = per_node(arr, n, f"{cls}.{name}", arr.dtype)
        elif arr.ndim:
            raise SpecError(f"{cls}.{name}: expected a number, got {value!r}")
        else:
            arr = jax.device_put(arr)
        if not np.isfinite(np.asarray(arr)).all():
            raise SpecError(f"{cls}.{name}: must be a finite number, got {value!r}")
        object.__setattr__(model, name, arr)


def drive_term(drive: Any, port: str, input_port: str):
    """The additive input to ``port`` carried by ``drive`` (0 when there is none).

    ``drive`` is ``None``, a dict ``{port: array}`` or one array meaning ``{input_port: array}``.
    """
    if drive is None:
        return 0.0
    if isinstance(drive, Mapping):
        return drive.get(port, 0.0)
    return drive if port == input_port else 0.0


def as_port_dict(drive: Any, input_port: str | None) -> dict:
    """``drive`` as a dict ``{port: array}`` (a bare array goes to ``input_port``)."""
    if drive is None:
        return {}
    if isinstance(drive, Mapping):
        return dict(drive)
    if input_port is None:
        raise SpecError("this model takes no bare drive; give a dict {port: input}")
    return {input_port: drive}
