"""``simulate``: run any model of the protocol as one compiled ``lax.scan`` per chunk.

A run is split into chunks of whole recording intervals; each chunk is a single compiled call
(the model is a traced argument, so new parameter values never recompile), after which its
records are copied to the host, handed to an optional writer and checked for NaN/Inf. The
compiled body is the same for every chunk length, so a chunked run equals an unchunked one bit
for bit. ``run`` is the pure, differentiable, vmappable counterpart without host work.
"""

from __future__ import annotations

import math
import sys
from functools import partial
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..errors import DivergenceError, Interrupted, SpecError, check_int
from ..ops.bits import pack_bits, unpack_events
from ..pytree import is_inexact
from .loop import initial_state, iterate, prepare_drive, transition
from .model import model_dt, surface
from .trajectory import Trajectory

tmap = jax.tree_util.tree_map
CHUNK_BYTES = 32 * 2**20  # host memory for one chunk of records
NO_RECORD_CHUNK = 100_000  # steps per chunk when nothing is recorded
MAX_STEPS = 2**31 - 1  # the step counter is a 32-bit integer


def _scan_records(model, state, step0, dt, thresholds, prev, drive, n_records, every, names, spike_names,
                  event_names):
    """``n_records`` times: record ``names``, then take ``every`` steps (spikes every step).

    ``spike_names`` are observables whose upward crossing of ``thresholds`` is a spike;
    ``event_names`` are boolean observables recorded as they are (spikes of spiking models)."""

    def one_step(carry, _):
        st, step, prv = carry
        new = transition(model, st, drive, step, dt)
        if spike_names or event_names:
            obs = model.observe(new)
            cur = tuple(obs[n] for n in spike_names)
            spk = tuple((p < th) & (c >= th) for p, c, th in zip(prv, cur, thresholds))
            spk = spk + tuple(obs[n].astype(bool) for n in event_names)
            spk = tuple(pack_bits(x) for x in spk)
        else:
            cur, spk = prv, ()
        return (new, step + 1, cur), spk

    def one_record(carry, _):
        obs = model.observe(carry[0]) if names else {}
        rec = {n: obs[n] for n in names}
        carry, spk = lax.scan(one_step, carry, None, length=every)
        return carry, (rec, spk)

    carry, (recs, spks) = lax.scan(one_record, (state, step0, prev), None, length=n_records)
    return carry, recs, spks


@partial(jax.jit, static_argnames=("n_records", "every", "names", "spike_names", "event_names", "drive_fn"))
def _chunk(model, state, step0, dt, thresholds, prev, drive_arrays, n_records, every, names, spike_names,
           event_names, drive_fn):
    drive = drive_fn if drive_fn is not None else drive_arrays
    return _scan_records(model, state, step0, dt, thresholds, prev, drive, n_records, every, names, spike_names,
                         event_names)


@partial(jax.jit, static_argnames=("n_steps", "names", "drive_fn"))
def _finite_per_step(model, state, step0, dt, drive_arrays, n_steps, names, drive_fn):
    """For each of ``n_steps`` steps: whether each observable of the new state is finite."""
    drive = drive_fn if drive_fn is not None else drive_arrays

    def finite(new, i):
        obs = model.observe(new)
        return jnp.stack([jnp.all(jnp.isfinite(obs[n])) for n in names])

    return iterate(model, state, drive, dt, step0, n_steps, finite)[1]


@jax.jit
def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree) if is_inexact(x)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def run(model, state, steps: int, *, every: int = 1, drive=None, record=None, dt: float | None = None,
        t0: int = 0):
    """Pure compiled run (no host work): usable under ``jit``, ``vmap`` and ``grad``.

    Returns ``(final_state, records)`` where ``records[name]`` has shape
    ``(steps // every, ...)`` (the state before every ``every``-th step). ``drive``: ``None``,
    a pytree of arrays whose row ``i`` is the input of absolute step ``i`` (see
    :mod:`neurodyn.core.loop`), or a function of model time ``t``. ``dt``: time per step
    (default the model's). ``t0``: absolute index of the first step.
    """
    dt = surface(model).dt if dt is None else dt
    state = initial_state(model, state)
    names = tuple(record) if record is not None else tuple(model.observe(state))
    n_records = steps // every
    drive = prepare_drive(model, drive, t0 + steps, dt)
    step0 = jnp.asarray(t0, jnp.int32)
    drive_fn, drive_arrays = (drive, None) if callable(drive) else (None, drive)
    # the same compiled function as simulate (model as an argument), so both agree bit for bit
    (final, _, _), recs, _ = _chunk(model, state, step0, dt, (), (), drive_arrays, n_records=n_records, every=every,
                                    names=names, spike_names=(), event_names=(), drive_fn=drive_fn)
    tail = steps - n_records * every
    if tail:
        (final, _, _), _, _ = _chunk(model, final, step0 + n_records * every, dt, (), (), drive_arrays,
                                     n_records=tail, every=1, names=(), spike_names=(), event_names=(),
                                     drive_fn=drive_fn)
    return final, recs


def simulate(model, steps: int, *, key: jax.Array | None = None, state: Any = None, drive: Any = None,
             record: tuple[str, ...] | None = None, every: int = 1, transient: int = 0,
             spikes: Mapping[str, float | None] | None = None, events: tuple[str, ...] | None = None,
             chunk: int | None = None, writer=None, progress: bool | None = None, dt: float | None = None,
             keep: bool = True, should_stop: Callable[[], bool] | None = None) -> Trajectory:
    """Simulate ``model`` for ``steps`` steps and return the recorded :class:`Trajectory`.

    Args:
        model: any model of the protocol (``init``, ``step``, ``observe``), e.g. a Network.
        steps: total number of steps (map iterations or integrator steps), transient included.
        key: PRNG key for ``model.init`` (default ``PRNGKey(0)``); ignored when ``state`` given.
        state: initial state (default ``model.init(key)``).
        drive: external input: a pytree of arrays whose row ``i`` is the input of step ``i``
            (at least ``steps`` rows), or a JAX-traceable function of model time ``t``; a dict
            is keyed by input port (or, for a Network, by population).
        record: observable names to record (default: all of ``model.observe``).
        every: record one sample every ``every`` steps.
        transient: steps run before recording starts.
        spikes: ``{observable: threshold}``; a spike is an upward crossing
            ``v_{n-1} < threshold <= v_n``, detected at every step after the transient (map
            neurons). A boolean observable given with threshold ``None`` is an event observable.
        events: boolean spike observables recorded as events at every step after the transient
            (default: the events the model declares, e.g. ``"exc.spike"``; ``()`` for none).
        chunk: steps per compiled call (rounded to whole recording intervals); default from a
            32 MiB memory budget for the records.
        writer: object with ``append(times, data, spikes)``, called after every chunk.
        progress: show a progress bar (default: when stderr is a terminal and the run is long).
        dt: time step for the time axis (default the model's ``dt``, 1 for maps).
        keep: keep the records in memory (set False when streaming to a writer).
        should_stop: called before every chunk; when it returns True the run stops there
            (e.g. :class:`neurodyn.signals.StopFlag`, set by Ctrl-C).

    Raises:
        DivergenceError: a state became NaN/Inf; names the step and the observable and carries
            the trajectory recorded before it (already handed to the writer).
        Interrupted: ``should_stop()`` returned True; carries the steps done and the trajectory
            recorded until then (already handed to the writer).
    """
    steps = check_int("steps", steps, 1)
    if steps > MAX_STEPS:
        raise SpecError(f"steps must be at most {MAX_STEPS:,} (the step counter is a 32-bit integer), got {steps:,}")
    every = check_int("record every", every, 1)
    transient = check_int("transient", transient, 0)
    if transient >= steps:
        raise SpecError(f"transient ({transient}) must be smaller than steps ({steps})")
    dt = float(dt) if dt is not None else model_dt(model)
    if not dt > 0 or not math.isfinite(dt):
        raise SpecError(f"dt must be a positive finite number, got {dt!r}")
    if not math.isfinite(steps * dt):
        raise SpecError(f"steps * dt must be a finite time, got {steps:,} steps of dt = {dt:g}")
    if state is None:
        state = model.init(key if key is not None else jax.random.PRNGKey(0))
    state = initial_state(model, state)
    available = model.observe(state)
    names = tuple(record) if record is not None else tuple(available)
    spike_map = {n: th for n, th in dict(spikes or {}).items() if th is not None}
    event_names = tuple(surface(model).events) if events is None else tuple(events)
    event_names += tuple(n for n, th in dict(spikes or {}).items() if th is None and n not in event_names)
    for n in (*names, *spike_map, *event_names):
        if n not in available:
            raise SpecError(f"unknown observable {n!r} (available: {', '.join(available)})")
    for n in event_names:
        if jnp.result_type(available[n]) != jnp.bool_:
            raise SpecError(f"events: observable {n!r} is not boolean; give a threshold in spikes= instead")
    drive = prepare_drive(model, drive, steps, dt)
    drive_fn, drive_arrays = (drive, None) if callable(drive) else (None, drive)
    spike_names = tuple(spike_map)
    thresholds = tuple(jnp.asarray(spike_map[n], jnp.result_type(available[n])) for n in spike_names)
    if not bool(_all_finite(state)):
        raise DivergenceError("the initial state contains NaN or Inf", step=0, variable="initial state",
                              trajectory=Trajectory(np.zeros(0), {}, {}, state, 0, dt, every, transient))

    n_records, tail = divmod(steps - transient, every)
    per_record = record_bytes(available, names, (*spike_names, *event_names), every)
    chunk_records = records_per_chunk(per_record, n_records, every, chunk)
    no_record_chunk = NO_RECORD_CHUNK if chunk is None else chunk

    show = progress if progress is not None else (sys.stderr.isatty() and steps >= 100_000)
    bar = _progress_bar(steps) if show else None
    spiking = (*spike_names, *event_names)
    times, data = [], {n: [] for n in names}
    spk_t, spk_i = {n: [] for n in spiking}, {n: [] for n in spiking}
    done = written = 0
    all_names = tuple(available)

    def advance(state, prev, n_rec, ev, rec_names, spk_names, evt_names):
        nonlocal done, written
        if should_stop is not None and should_stop():
            traj = _assemble(model, times, data, spk_t, spk_i, state, done, dt, every, transient)
            raise Interrupted(f"stopped at step {done:,} of {steps:,} ({written:,} samples recorded)",
                              steps=done, trajectory=traj)
        step0 = jnp.asarray(done, jnp.int32)
        (new, _, new_prev), recs, spks = _chunk(model, state, step0, dt, thresholds if spk_names else (), prev,
                                                drive_arrays, n_records=n_rec, every=ev, names=rec_names,
                                                spike_names=spk_names, event_names=evt_names, drive_fn=drive_fn)
        rec_times = (done + ev * np.arange(n_rec)) * dt if rec_names else None
        bad_step = None
        if not bool(_all_finite(new)):
            flags = np.asarray(_finite_per_step(model, state, step0, dt, drive_arrays, n_steps=n_rec * ev,
                                                names=all_names, drive_fn=drive_fn))
            bad_rows = np.nonzero(~flags.all(axis=1))[0]
            i = int(bad_rows[0]) if len(bad_rows) else n_rec * ev - 1
            bad_step = done + i + 1
            bad_var = all_names[int(np.nonzero(~flags[i])[0][0])] if len(bad_rows) else all_names[0]
        keep_steps = n_rec * ev if bad_step is None else bad_step - 1 - done
        if rec_names:
            n_keep = n_rec if bad_step is None else min(n_rec, keep_steps // ev + 1)
            host = {n: np.asarray(recs[n][:n_keep]) for n in rec_names}
            chunk_times = rec_times[:n_keep]
        else:
            host, chunk_times = {}, None
        chunk_spikes = {}
        for n, s in zip((*spk_names, *evt_names), spks):
            words = np.asarray(s).reshape(n_rec * ev, -1)[:keep_steps]
            step_idx, node = unpack_events(words, int(np.prod(np.shape(available[n]))))
            chunk_spikes[n] = ((done + step_idx + 1) * dt, node.astype(np.uint64))
        written += len(chunk_times) if chunk_times is not None else 0
        if rec_names or spk_names or evt_names:
            if writer is not None:
                writer.append(chunk_times, host, chunk_spikes)
            if keep:
                times.append(chunk_times if chunk_times is not None else np.zeros(0))
                for n in rec_names:
                    data[n].append(host[n])
                for n, (t, i) in chunk_spikes.items():
                    spk_t[n].append(t)
                    spk_i[n].append(i)
        if bad_step is not None:
            done = bad_step - 1
            traj = _assemble(model, times, data, spk_t, spk_i, state, done, dt, every, transient)
            pop, _, var = bad_var.rpartition(".")
            where = f"variable {var!r} of population {pop!r}" if pop else f"variable {var!r} of {type(model).__name__}"
            raise DivergenceError(
                f"simulation diverged at step {bad_step}: {where} became NaN or Inf "
                f"(kept {written} samples recorded before it)",
                step=bad_step, variable=bad_var, trajectory=traj)
        done += n_rec * ev
        if bar is not None:
            bar.update(n_rec * ev)
        return new, new_prev

    try:
        prev = ()
        remaining = transient
        while remaining:
            n = min(remaining, no_record_chunk)
            state, prev = advance(state, prev, n, 1, (), (), ())
            remaining -= n
        obs = model.observe(state)
        prev = tuple(obs[n] for n in spike_names)
        remaining = n_records
        while remaining:
            n = min(remaining, chunk_records)
            state, prev = advance(state, prev, n, every, names, spike_names, event_names)
            remaining -= n
        if tail:
            state, prev = advance(state, prev, tail, 1, (), spike_names, event_names)
    finally:
        if bar is not None:
            bar.close()
    return _assemble(model, times, data, spk_t, spk_i, state, done, dt, every, transient)


def record_bytes(observables: Mapping, names, spiking, every: int) -> int:
    """Host bytes of one recording interval: the recorded samples plus the per-step spike flags."""
    size = lambda n: int(np.prod(jnp.shape(observables[n])))
    return (sum(size(n) * jnp.result_type(observables[n]).itemsize for n in names)
            + sum(-(-size(n) // 32) * 4 for n in spiking) * every)  # spike flags travel packed, 32 per word


def records_per_chunk(per_record: int, n_records: int, every: int, chunk: int | None) -> int:
    """Records per compiled call: ``chunk`` steps when given, else a CHUNK_BYTES budget."""
    if chunk is None:
        per_chunk = max(1, CHUNK_BYTES // max(per_record, 1))
    else:
        per_chunk = max(1, check_int("chunk", chunk, 1) // every)
    return min(per_chunk, max(n_records, 1))


def _assemble(model, times, data, spk_t, spk_i, state, done, dt, every, transient) -> Trajectory:
    cat = lambda parts, dtype=float: np.concatenate(parts) if parts else np.zeros(0, dtype)
    described = surface(model)
    return Trajectory(
        times=cat([t for t in times if t is not None]),
        data={n: (np.concatenate(v) if v else np.zeros((0,))) for n, v in data.items()},
        spikes={n: (cat(spk_t[n]), cat(spk_i[n], np.uint64)) for n in spk_t},
        final_state=state, steps=done, dt=dt, every=every, transient=transient,
        time_unit=described.time_unit, units=dict(described.units),
    )


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="step", unit_scale=True, dynamic_ncols=True, leave=False)
