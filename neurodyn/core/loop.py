"""The one step loop, the one drive convention and the one observer protocol shared by
``simulate``, ``run``, the Lyapunov tangent loops, the streamed spiking statistics and sweeps.

A drive is ``None``, a JAX-traceable function of model time ``t`` returning the input, or a
pytree of arrays whose leading axis is the absolute step index (row ``i`` is the input of step
``i``, counted from the start of the run, transient included). :func:`drive_at` reads it,
:func:`transition` takes one model step at absolute step ``i`` (model time ``t = i dt``), and
:func:`iterate` scans a number of steps.

:func:`scan_blocks` is the one block-scan driver: blocks of consecutive steps, and
:class:`Observer` objects that watch the run -- a carry of their own (``init``), updated after
every step (``step``) and once per block (``block``: a recorded sample, the update of a running
statistic with the block's observations, a QR re-orthonormalisation), turned into results at the
end (``finalize``). Recorded samples and spikes (``simulate``), sweep measures, the streamed
spiking statistics and the Lyapunov tangent vectors are all observers, so one loop runs them
all. :func:`init_state` is the one run preamble and :func:`split_drive` the one split of a drive
into a compile-time function and traced arrays.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import lax

from ..errors import SpecError

tmap = jax.tree_util.tree_map


def init_state(model, state=None, key=None):
    """The run preamble: ``state`` (default ``model.init(key)``, ``key`` default
    ``PRNGKey(0)``) in the form ``model.step`` returns (:func:`initial_state`)."""
    if state is None:
        state = model.init(key if key is not None else jax.random.PRNGKey(0))
    return initial_state(model, state)


def split_drive(drive):
    """``(function, arrays)``: a drive function is a compile-time constant (a static argument
    of a compiled call), drive arrays are traced arguments; the other one is ``None``."""
    return (drive, None) if callable(drive) else (None, drive)


def join_drive(function, arrays):
    """The drive :func:`split_drive` split, inside the compiled call."""
    return function if function is not None else arrays


def initial_state(model, state):
    """``state`` in the form ``model.step`` returns (e.g. a Network's plain dict of population
    states becomes its NetworkState), so a scan's carry keeps one type."""
    return model.as_state(state) if hasattr(model, "as_state") else state


def check_drive_length(drive, steps: int, what: str = "drive") -> None:
    """A SpecError if an array drive has fewer than ``steps`` rows."""
    if drive is None or callable(drive):
        return
    short = [jnp.shape(a)[0] for a in jax.tree_util.tree_leaves(drive) if jnp.ndim(a) == 0 or jnp.shape(a)[0] < steps]
    if short:
        raise SpecError(f"{what} has {min(short)} time steps but the run needs {steps}")


def prepare_drive(model, drive, steps: int, dt, what: str = "drive"):
    """Validate a drive before any compute (enough rows for ``steps``, only ports the model
    declares) and put its arrays on the device."""
    from .model import check_drive

    check_drive_length(drive, steps, what)
    drive = as_device_drive(drive)
    if drive is not None and not callable(drive):
        check_drive(model, drive_at(drive, 0, dt), what)
    return drive


def as_device_drive(drive):
    """``drive`` with array leaves as JAX arrays (functions and ``None`` unchanged)."""
    if drive is None or callable(drive):
        return drive
    return tmap(jnp.asarray, drive)


def drive_at(drive, i, dt):
    """The input of absolute step ``i``: ``None``, ``drive(i * dt)`` or row ``i`` of the arrays."""
    if drive is None:
        return None
    if callable(drive):
        return drive(i * dt)
    return tmap(lambda a: lax.dynamic_index_in_dim(a, i, keepdims=False), drive)


def transition(model, state, drive, i, dt):
    """One model step at absolute step ``i`` (model time ``i * dt``)."""
    return model.step(state, drive_at(drive, i, dt), i * dt)


def iterate(model, state, drive, dt, start, length: int, output: Callable[[Any, Any], Any] | None = None):
    """Scan ``length`` steps from absolute step ``start``; returns ``(final_state, outputs)``
    where ``outputs`` stacks ``output(new_state, i)`` of every step (``None`` if no output)."""

    def body(st, i):
        new = transition(model, st, drive, i, dt)
        return new, (output(new, i) if output is not None else None)

    return lax.scan(body, state, start + jnp.arange(length, dtype=jnp.int32))


class Observer:
    """Something that watches a run inside its compiled loop: the protocol of every in-loop
    observation (records, spikes, sweep measures, spiking statistics, Lyapunov tangents).

    Every hook is optional (this base class gives the do-nothing default). An observer must be
    hashable (it is a static argument of the compiled loop: a frozen dataclass, with arrays it
    needs kept in its carry), and every hook must be JAX-traceable except ``finalize`` of an
    observer that is only used by ``simulate`` (which calls it on the host).

    * ``init(model, state) -> carry``: its running state (a pytree), from the state at which
      observation starts (after the transient).
    * ``step(carry, model, state, i) -> (carry, output)``: after every step, ``state`` the new
      state after absolute step ``i``; ``output`` (or ``None``) is stacked over the block's steps.
    * ``block(carry, model, state, i, outputs) -> (carry, output)``: once per block, after its
      steps: ``state`` the state *before* the block's first step ``i`` (a recorded sample),
      ``outputs`` this observer's step outputs of the block stacked ``(block, ...)`` (so a running
      statistic takes one matrix product per block); ``output`` is stacked over blocks.
    * ``finalize(carry, steps) -> {name: value}``: the results after ``steps`` observed steps (a
      value may be ``(array, attrs)`` for a file's ``/diagnostics``).
    * ``advance(carry, model, state, drive, i, dt) -> (state, carry)``: an observer that takes
      the step itself (the tangent observers: the step and its Jacobian-vector product in one
      pass); at most one per run. ``None``: the plain :func:`transition`.

    ``label`` names it in a sweep file (``kind``, ``observable``, ``observables``, ``block_size``
    and ``check`` let a sweep treat it as a measure; an observer is accepted wherever a sweep
    takes a measure).
    """

    advance = None
    kind = "observer"
    observable = ""
    observables: tuple = ()
    block_size = 0  # measured steps per block update it prefers (0: the sweep's default)

    @property
    def label(self) -> str:
        """Its name in a sweep file's identity."""
        return type(self).__name__

    def check(self, n_measured: int) -> None:
        """A SpecError if it cannot observe a run of ``n_measured`` steps."""

    def init(self, model, state):
        return ()

    def step(self, carry, model, state, i):
        return carry, None

    def block(self, carry, model, state, i, outputs):
        return carry, None

    def finalize(self, carry, steps) -> dict:
        return {}


def init_observers(observers, model, state) -> tuple:
    """The carries of ``observers`` for a run observed from ``state``."""
    return tuple(o.init(model, state) for o in observers)


def scan_blocks(model, state, drive, dt, start, blocks: int | None, block: int, observers=(), carries=None):
    """The block-scan driver: ``blocks`` blocks of ``block`` consecutive steps from absolute
    step ``start`` (``blocks=None``: one block without the outer scan), observed by
    ``observers`` (:class:`Observer`) whose carries start as ``carries`` (default their
    ``init``). Returns ``(state, carries, outputs)``, ``outputs[j]`` the block outputs of
    observer ``j`` stacked over blocks (without that axis for ``blocks=None``)."""
    observers = tuple(observers)
    carries = init_observers(observers, model, state) if carries is None else tuple(carries)
    stepper = [j for j, o in enumerate(observers) if o.advance is not None]
    if len(stepper) > 1:
        raise ValueError("at most one observer may take the steps itself (advance)")

    def one_step(carry, i):
        st, cs = carry
        cs = list(cs)
        if stepper:
            j = stepper[0]
            st, cs[j] = observers[j].advance(cs[j], model, st, drive, i, dt)
        else:
            st = transition(model, st, drive, i, dt)
        outs = []
        for j, o in enumerate(observers):
            cs[j], out = o.step(cs[j], model, st, i)
            outs.append(out)
        return (st, tuple(cs)), tuple(outs)

    def one_block(carry, i0):
        st0, cs = carry
        (st, cs), ys = lax.scan(one_step, (st0, cs), i0 + jnp.arange(block, dtype=jnp.int32))
        cs, outs = list(cs), []
        for j, o in enumerate(observers):
            cs[j], out = o.block(cs[j], model, st0, i0, ys[j])
            outs.append(out)
        return (st, tuple(cs)), tuple(outs)

    start = jnp.asarray(start, jnp.int32)
    if blocks is None:
        (state, carries), outputs = one_block((state, carries), start)
    else:
        (state, carries), outputs = lax.scan(one_block, (state, carries),
                                             start + block * jnp.arange(blocks, dtype=jnp.int32))
    return state, carries, outputs
