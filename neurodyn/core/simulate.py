"""``simulate``: run any model of the protocol as one compiled ``lax.scan`` per chunk.

A run is split into chunks of whole recording intervals; each chunk is a single compiled call of
the block-scan driver (:func:`neurodyn.core.loop.scan_blocks`, one block per recording interval;
the model is a traced argument, so new parameter values never recompile), after which its
records are copied to the host, handed to an optional writer and checked for NaN/Inf. Recorded
samples (:class:`Record`) and spikes (:class:`Spikes`) are observers of the driver, beside any
the caller gives (``observers=``). The compiled body is the same for every chunk length, so a
chunked run equals an unchunked one bit for bit. ``run`` is the pure, differentiable, vmappable
counterpart without host work.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import DivergenceError, Interrupted, SpecError, check_int
from ..ops.bits import pack_bits, unpack_events
from ..pytree import is_inexact
from .checkpoint import Checkpoint, Snapshot, run_identity
from .loop import (Observer, init_observers, init_state, initial_state, iterate, join_drive, prepare_drive,
                   scan_blocks, split_drive)
from .model import model_dt, step_times, surface
from .monitors import RATE, neuron_subsets, rate_name, rate_sources, rate_unit
from .trajectory import Trajectory

tmap = jax.tree_util.tree_map
CHUNK_BYTES = 32 * 2**20  # host memory for one chunk of records
NO_RECORD_CHUNK = 100_000  # steps per chunk when nothing is recorded
MAX_STEPS = 2**31 - 1  # the step counter is a 32-bit integer


@dataclass(frozen=True)
class Record(Observer):
    """The recorded samples of ``simulate``: ``names`` observed once per block (the block's
    recording interval), on the state before its first step."""

    names: tuple = ()
    subsets: tuple = field(default=(), compare=False)  # ((name, node indices), ...): read by init only (carried)

    def init(self, model, state):
        """The carry: the node indices of the observables recorded on a subset."""
        return {n: jnp.asarray(idx, jnp.int32) for n, idx in self.subsets if n in self.names}

    def block(self, carry, model, state, i, outputs):
        obs = model.observe(state) if self.names else {}
        chosen = carry or {}
        return carry, {n: obs[n][chosen[n]] if n in chosen else obs[n] for n in self.names}


@dataclass(frozen=True)
class Spikes(Observer):
    """Spikes of ``simulate`` at every step, packed 32 per word: upward crossings
    ``v_{n-1} < threshold <= v_n`` of ``crossing`` (thresholds and the previous values in the
    carry) and the boolean ``events`` as they are, of the nodes in ``subsets`` (carried node
    indices) or all. Step output: ``(words, counts)``, ``words`` the words of every source one
    after the other (one array: one copy into the record per step; the host splits it), ``counts``
    the spikes of all nodes of each source in ``rates`` (population rate monitors,
    :mod:`neurodyn.core.monitors`). Block output: the block's words ``(block, words)`` and the
    block's spike count per rate source."""

    crossing: tuple = ()
    events: tuple = ()
    rates: tuple = ()
    thresholds: tuple = field(default=(), compare=False)  # read by init only (carried, not compiled in)
    subsets: tuple = field(default=(), compare=False)  # ((source, node indices), ...): read by init only

    def init(self, model, state):
        """The carry: the thresholds (in each observable's dtype), the values of ``state`` and the
        node indices of the sources recorded on a subset."""
        obs = model.observe(state)
        chosen = dict(self.subsets)
        # NumPy values (constants under a trace): converting them with jnp would run a program each
        return (tuple(jax.device_put(np.asarray(th, jnp.result_type(obs[n])))
                      for n, th in zip(self.crossing, self.thresholds)),
                tuple(obs[n] for n in self.crossing),
                {n: jax.device_put(np.asarray(chosen[n], np.int32)) for n in (*self.crossing, *self.events)
                 if n in chosen})

    def step(self, carry, model, state, i):
        if not (self.crossing or self.events):
            return carry, ((), ())
        thresholds, prev, chosen = carry
        obs = model.observe(state)
        cur = tuple(obs[n] for n in self.crossing)
        spk = tuple((p < th) & (c >= th) for p, c, th in zip(prev, cur, thresholds))
        spk = spk + tuple(obs[n].astype(bool) for n in self.events)
        sources = (*self.crossing, *self.events)
        words = tuple(pack_bits(x[chosen[n]] if n in chosen else x) for n, x in zip(sources, spk))
        words = jnp.concatenate(words) if len(words) > 1 else words[0]  # one record per step: split on the host
        counts = tuple(jnp.sum(spk[sources.index(n)], dtype=jnp.int32) for n in self.rates)
        return (thresholds, cur, chosen), (words, counts)

    def block(self, carry, model, state, i, outputs):
        words, counts = outputs
        return carry, (words, tuple(c.sum(axis=0) for c in counts))


@partial(jax.jit, static_argnames=("blocks", "block", "observers", "drive_fn"))
def _chunk(model, state, step0, dt, carries, drive_arrays, *, blocks, block, observers, drive_fn):
    """One compiled call of the driver: ``blocks`` blocks of ``block`` steps from ``step0``."""
    return scan_blocks(model, state, join_drive(drive_fn, drive_arrays), dt, step0, blocks, block, observers,
                       carries)


@partial(jax.jit, static_argnames=("n_steps", "names", "drive_fn"))
def _finite_per_step(model, state, step0, dt, drive_arrays, n_steps, names, drive_fn):
    """For each of ``n_steps`` steps: whether each observable of the new state is finite."""
    drive = join_drive(drive_fn, drive_arrays)

    def finite(new, i):
        obs = model.observe(new)
        return jnp.stack([jnp.all(jnp.isfinite(obs[n])) for n in names])

    return iterate(model, state, drive, dt, step0, n_steps, finite)[1]


def _all_finite(tree) -> bool:
    """Whether every floating leaf of ``tree`` is finite. On the CPU the leaves are read in place
    by NumPy: a compiled check would cost a model's first run a program to trace and lower (tens
    of milliseconds of a short command-line run) for a pass that NumPy makes as fast."""
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if is_inexact(x)]
    if jax.default_backend() == "cpu":
        return all(bool(np.isfinite(np.asarray(x)).all()) for x in leaves)
    return bool(_all_finite_on_device(leaves))


@jax.jit
def _all_finite_on_device(leaves) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else jnp.array(True)


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
    drive_fn, drive_arrays = split_drive(prepare_drive(model, drive, t0 + steps, dt))
    step0 = jnp.asarray(t0, jnp.int32)
    # the same compiled function as simulate (model as an argument), so both agree bit for bit
    final, _, (recs, _) = _chunk(model, state, step0, dt, ((), ((), ())), drive_arrays, blocks=n_records, block=every,
                                 observers=(Record(names), Spikes()), drive_fn=drive_fn)
    tail = steps - n_records * every
    if tail:
        final, _, _ = _chunk(model, final, step0 + n_records * every, dt, ((), ((), ())), drive_arrays, blocks=tail,
                             block=1, observers=(Record(), Spikes()), drive_fn=drive_fn)
    return final, recs


def simulate(model, steps: int, *, key: jax.Array | None = None, state: Any = None, drive: Any = None,
             record: tuple[str, ...] | None = None, every: int = 1, transient: int = 0,
             spikes: Mapping[str, float | None] | None = None, events: tuple[str, ...] | None = None,
             chunk: int | None = None, writer=None, progress: bool | None = None, dt: float | None = None,
             keep: bool = True, should_stop: Callable[[], bool] | None = None,
             observers: Sequence[Observer] = (), neurons: Mapping[str, Any] | None = None,
             rates: Sequence[str] = (), checkpoint: Checkpoint | None = None) -> Trajectory:
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
        observers: :class:`neurodyn.core.Observer` objects run inside the compiled loop on
            every step after the transient (e.g. :class:`neurodyn.diagnostics.SpikingMonitor`);
            their ``finalize`` results are the trajectory's ``diagnostics``.
        neurons: record only these nodes: ``{population or observable: node indices}``, the
            indices a list or a slice text ``"0:100"`` (:func:`neurodyn.core.monitors.node_indices`);
            the recorded samples and spikes of the observables of a population named here (of
            one value per node) are those nodes' (``trajectory.node_ids`` says which).
        rates: population rate monitors: populations (or spike observables) whose spikes of all
            neurons are counted over each recording interval and recorded as
            ``<pop>.population_rate`` (Hz for a model timed in ms; :mod:`neurodyn.core.monitors`).
        checkpoint: a :class:`neurodyn.core.Checkpoint`: written at chunk boundaries as often as it
            says, and before stopping for ``should_stop``; when its file exists the run resumes
            from it (refused with :class:`~neurodyn.errors.OutputError` if it is damaged or belongs
            to another run) and returns the same trajectory, and hands the writer the same data,
            bit for bit, as an uninterrupted run. The writer must then have ``snapshot()`` (its
            arrays so far) and ``restore(arrays)``, as :class:`neurodyn.io.RunWriter` has.

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
    state = init_state(model, state, key)
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
    sources = (*spike_map, *event_names)
    subsets = neuron_subsets(neurons, available, (*names, *sources))
    rate_from = rate_sources(rates, sources)
    observers = tuple(observers)
    for o in observers:
        if not isinstance(o, Observer):
            raise SpecError(f"observers: expected neurodyn.core.Observer objects, got {type(o).__name__}")
    drive_fn, drive_arrays = split_drive(prepare_drive(model, drive, steps, dt))
    if not bool(_all_finite(state)):
        raise DivergenceError("the initial state contains NaN or Inf", step=0, variable="initial state",
                              trajectory=Trajectory(np.zeros(0), {}, {}, state, 0, dt, every, transient))

    n_records, tail = divmod(steps - transient, every)
    spiking = Spikes(tuple(spike_map), event_names, rate_from, tuple(spike_map.values()),
                     tuple((n, subsets[n]) for n in sources if n in subsets))
    watched = (Record(names, tuple((n, subsets[n]) for n in names if n in subsets)), spiking, *observers)
    identity, resumed = None, None
    if checkpoint is not None:
        if writer is not None and not (hasattr(writer, "snapshot") and hasattr(writer, "restore")):
            raise SpecError(f"checkpoint: the writer {type(writer).__name__} cannot be checkpointed (it has no "
                            f"snapshot() and restore())")
        settings = (steps, every, transient, names, sorted(spike_map.items()), event_names, rate_from, repr(dt), keep,
                    writer is not None, [type(o).__name__ for o in observers])
        identity = run_identity(f"{checkpoint.identity}|{settings}", model, state,
                                {n: np.asarray(idx) for n, idx in subsets.items()})
        if checkpoint.path.exists():
            carries_like = lambda st, step: init_observers(watched, model, st) if step > transient else None
            resumed = checkpoint.load(identity, state, carries_like)
    per_record = record_bytes(available, names, sources, every, subsets)
    chunk_records = records_per_chunk(per_record, n_records, every, chunk)
    no_record_chunk = NO_RECORD_CHUNK if chunk is None else chunk
    show = progress if progress is not None else (sys.stderr.isatty() and steps >= 100_000)
    host = _Host(model, steps, dt, every, transient, (drive_fn, drive_arrays), available, writer, keep, should_stop,
                 _progress_bar(steps) if show else None, names, sources, observers, subsets, checkpoint, identity)
    if resumed is not None:
        state = host.resume(resumed, (*names, *(rate_name(n) for n in rate_from)))
    if checkpoint is not None:
        checkpoint.start(host.done)
    try:
        remaining = max(transient - host.done, 0)  # the transient: no observer
        while remaining:
            n = min(remaining, no_record_chunk)
            state, _ = host.advance(state, (), (), n, 1)
            remaining -= n
        if resumed is not None and resumed.step > transient:
            carries = resumed.carries
        else:
            carries = init_observers(watched, model, state)
        observed = max(host.done - transient, 0)  # steps already observed (a resumed run)
        remaining = n_records - min(observed // every, n_records)
        while remaining:
            n = min(remaining, chunk_records)
            state, carries = host.advance(state, carries, watched, n, every)
            remaining -= n
        tail_left = tail - max(observed - n_records * every, 0)
        if tail_left:
            # no sample and no rate in the incomplete last interval (its spikes are kept)
            state, carries = host.advance(state, carries, (Record(), replace(spiking, rates=()), *watched[2:]),
                                          tail_left, 1)
    finally:
        host.close()
    if checkpoint is not None and checkpoint.remove_when_done:
        checkpoint.remove()
    return host.trajectory(state, watched[2:], carries[2:])


class _Host:
    """The host side of a ``simulate`` run: one compiled call per chunk, the NaN/Inf check, the
    chunk's records and spikes to the writer and (``keep``) to memory, the stop flag, the
    progress bar; ``done`` steps and ``written`` samples so far."""

    def __init__(self, model, steps, dt, every, transient, drive, available, writer, keep, should_stop, bar, names,
                 spiking, observers, subsets, checkpoint=None, identity=None):
        self.model, self.steps, self.dt, self.every, self.transient = model, steps, dt, every, transient
        self.drive_fn, self.drive_arrays = drive
        self.available, self.writer, self.keep, self.should_stop, self.bar = available, writer, keep, should_stop, bar
        self.subsets = subsets  # observable -> the node indices recorded (absent: every node)
        self.rate_unit = rate_unit(surface(model).time_unit)
        self.times: list = []
        self.data: dict = {n: [] for n in names}
        self.spikes: dict = {n: ([], []) for n in spiking}
        self.observers = observers  # the caller's observers (their carries follow Record's and Spikes')
        self.done = self.written = 0
        self.state, self.carries = None, ()  # the state and carries before the current chunk
        self.checkpoint, self.identity = checkpoint, identity

    def resume(self, snapshot: Snapshot, recorded: tuple):
        """Take up a run where ``snapshot`` left it: the steps and samples done, the records
        kept (``recorded``: their names in the order of the trajectory) and written so far;
        returns its state."""
        self.done, self.written = snapshot.step, snapshot.samples
        rec = snapshot.records
        if self.keep:
            self.times = [rec["kept/times"]]
            for n in recorded:
                if len(rec.get(f"kept/data/{n}", ())):
                    self.data[n] = [rec[f"kept/data/{n}"]]
            for n in self.spikes:
                self.spikes[n] = ([rec[f"kept/spikes/{n}/times"]], [rec[f"kept/spikes/{n}/ids"]])
        if self.writer is not None:
            self.writer.restore({k.removeprefix("writer/"): v for k, v in rec.items() if k.startswith("writer/")})
        if self.bar is not None:
            self.bar.update(self.done)
        return snapshot.state

    def save(self, state, carries) -> None:
        """Write the checkpoint of the run as it stands (``done`` steps, the state after them)."""
        cat = lambda parts, dtype=float: np.concatenate(parts) if parts else np.zeros(0, dtype)
        records = {}
        if self.keep:
            records["kept/times"] = cat(self.times)
            for n, parts in self.data.items():
                records[f"kept/data/{n}"] = cat(parts)
            for n, (t, i) in self.spikes.items():
                records[f"kept/spikes/{n}/times"], records[f"kept/spikes/{n}/ids"] = cat(t), cat(i, np.uint64)
        if self.writer is not None:
            records.update({f"writer/{k}": v for k, v in self.writer.snapshot().items()})
        self.checkpoint.save(Snapshot(self.done, self.written, state, carries, records), self.identity)

    def advance(self, state, carries, observers, blocks: int, block: int):
        """``blocks`` blocks of ``block`` steps from step ``done``; returns the new state and
        carries. Raises Interrupted before the chunk if asked to stop, DivergenceError (with the
        samples before the bad step) if a state became NaN/Inf."""
        self.state, self.carries = state, carries
        if self.should_stop is not None and self.should_stop():
            if self.checkpoint is not None:
                self.save(state, carries)
            raise Interrupted(f"stopped at step {self.done:,} of {self.steps:,} ({self.written:,} samples recorded)",
                              steps=self.done, trajectory=self._early())
        step0 = np.int32(self.done)  # a NumPy scalar: no conversion program per chunk
        new, new_carries, outputs = _chunk(self.model, state, step0, self.dt, carries, self.drive_arrays, blocks=blocks,
                                           block=block, observers=observers, drive_fn=self.drive_fn)
        bad = None if bool(_all_finite(new)) else self._first_bad_step(state, step0, blocks * block)
        keep_steps = blocks * block if bad is None else bad[0] - 1 - self.done
        record_names = observers[0].names if observers else ()
        rates = observers[1].rates if observers else ()
        recs, chunk_times = {}, None
        if record_names or rates:
            n_keep = blocks if bad is None else min(blocks, keep_steps // block + 1)
            recs = {n: np.asarray(outputs[0][n][:n_keep]) for n in record_names}
            unit, factor = self.rate_unit
            for n, counts in zip(rates, outputs[1][1]):  # spikes per neuron per time unit of the interval
                size = int(np.prod(np.shape(self.available[n])))
                recs[rate_name(n)] = np.asarray(counts[:n_keep], np.float64) * (factor / (size * block * self.dt))
            chunk_times = step_times(self.done + block * np.arange(blocks), self.dt)[:n_keep]
        chunk_spikes = {}
        if observers:
            spiking = observers[1]
            sources = (*spiking.crossing, *spiking.events)
            every_word = np.asarray(outputs[1][0]).reshape(blocks * block, -1)[:keep_steps] if sources else None
            start = 0
            for n in sources:
                chosen = self.subsets.get(n)
                size = len(chosen) if chosen is not None else int(np.prod(np.shape(self.available[n])))
                stop = start + -(-size // 32)  # this source's words: columns start:stop
                step_idx, node = unpack_events(every_word, size, columns=(start, stop))
                start = stop
                node = chosen[node] if chosen is not None else node
                chunk_spikes[n] = (step_times(self.done + step_idx + 1, self.dt), node.astype(np.uint64))
        self._take(chunk_times, recs, chunk_spikes)
        if bad is not None:
            self.done = bad[0] - 1
            pop, _, var = bad[1].rpartition(".")
            where = f"variable {var!r} of population {pop!r}" if pop else \
                f"variable {var!r} of {type(self.model).__name__}"
            raise DivergenceError(f"simulation diverged at step {bad[0]}: {where} became NaN or Inf "
                                  f"(kept {self.written} samples recorded before it)",
                                  step=bad[0], variable=bad[1], trajectory=self._early())
        self.done += blocks * block
        if self.bar is not None:
            self.bar.update(blocks * block)
        if self.checkpoint is not None and self.done < self.steps and self.checkpoint.due(self.done):
            self.save(new, new_carries)
        return new, new_carries

    def _first_bad_step(self, state, step0, n_steps) -> tuple[int, str]:
        """``(step, observable)``: the first step of the chunk whose state is not finite."""
        names = tuple(self.available)
        flags = np.asarray(_finite_per_step(self.model, state, step0, self.dt, self.drive_arrays, n_steps=n_steps,
                                            names=names, drive_fn=self.drive_fn))
        bad_rows = np.nonzero(~flags.all(axis=1))[0]
        i = int(bad_rows[0]) if len(bad_rows) else n_steps - 1
        return self.done + i + 1, names[int(np.nonzero(~flags[i])[0][0])] if len(bad_rows) else names[0]

    def _take(self, chunk_times, recs: dict, chunk_spikes: dict) -> None:
        """Hand a chunk's samples and spikes to the writer and keep them (``keep``)."""
        self.written += len(chunk_times) if chunk_times is not None else 0
        if not (recs or chunk_spikes or chunk_times is not None):
            return
        if self.writer is not None:
            self.writer.append(chunk_times, recs, chunk_spikes)
        if self.keep:
            self.times.append(chunk_times if chunk_times is not None else np.zeros(0))
            for n, v in recs.items():
                self.data.setdefault(n, []).append(v)
            for n, (t, i) in chunk_spikes.items():
                self.spikes[n][0].append(t)
                self.spikes[n][1].append(i)

    def _early(self) -> Trajectory:
        """The trajectory until the last completed chunk (an interrupted or diverged run)."""
        carries = self.carries[2:]  # none before observation starts (in the transient)
        return self.trajectory(self.state, self.observers[:len(carries)], carries)

    def trajectory(self, state, observers, carries) -> Trajectory:
        cat = lambda parts, dtype=float: np.concatenate(parts) if parts else np.zeros(0, dtype)
        described = surface(self.model)
        observed = max(self.done - self.transient, 0)
        diagnostics = {}
        for o, c in zip(observers, carries):
            for name, value in o.finalize(c, observed).items():
                value, attrs = value if isinstance(value, tuple) else (value, {})
                diagnostics[name] = (np.asarray(value), dict(attrs))
        return Trajectory(
            times=cat([t for t in self.times if t is not None]),
            data={n: (np.concatenate(v) if v else np.zeros((0,))) for n, v in self.data.items()},
            spikes={n: (cat(t), cat(i, np.uint64)) for n, (t, i) in self.spikes.items()},
            final_state=state, steps=self.done, dt=self.dt, every=self.every, transient=self.transient,
            time_unit=described.time_unit, diagnostics=diagnostics,
            units={**described.units, **{n: self.rate_unit[0] for n in self.data if n.rpartition(".")[2] == RATE
                                         and n not in described.units}},
            node_ids={n: idx.astype(np.uint64) for n, idx in self.subsets.items()},
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def record_bytes(observables: Mapping, names, spiking, every: int, subsets: Mapping | None = None) -> int:
    """Host bytes of one recording interval: the recorded samples plus the per-step spike flags
    (of the recorded nodes, ``subsets``: observable -> node indices)."""
    subsets = subsets or {}
    size = lambda n: len(subsets[n]) if n in subsets else int(np.prod(jnp.shape(observables[n])))
    return (sum(size(n) * jnp.result_type(observables[n]).itemsize for n in names)
            + sum(-(-size(n) // 32) * 4 for n in spiking) * every)  # spike flags travel packed, 32 per word


def records_per_chunk(per_record: int, n_records: int, every: int, chunk: int | None) -> int:
    """Records per compiled call: ``chunk`` steps when given, else a CHUNK_BYTES budget."""
    if chunk is None:
        per_chunk = max(1, CHUNK_BYTES // max(per_record, 1))
    else:
        per_chunk = max(1, check_int("chunk", chunk, 1) // every)
    return min(per_chunk, max(n_records, 1))


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="step", unit_scale=True, dynamic_ncols=True, leave=False)
