"""A spiking network split over several devices with JAX's own sharding (``jax.shard_map`` on a
one-axis ``jax.sharding.Mesh``).

Partition: every population's neurons are split into equal contiguous blocks, block ``d`` on
device ``d`` (its state and per-neuron parameters). Each device owns the synapses *onto* its
neurons: for every projection, the columns ``W[:, block_d]`` of the weight matrix, stored as a
presynaptic-major CSR over all presynaptic neurons with local target indices. Exchange: once per
step, each projection all-gathers the boolean spike vector of its source
(``lax.all_gather(..., tiled=True)``: ``n_pre`` bytes per device and step), then every device
runs the event product for its own targets and steps its own neurons; nothing else crosses
devices. Delay ring buffers hold the gathered spike vectors, one copy per device.

Exactness: a target's input is summed on the one device that owns it, over the same synapses
in the same order (presynaptic neuron, then storage order) as on one device, and the neuron
update is elementwise, so the sharded run equals the one-device run bit for bit with the same
event kernel (the default CPU kernel adds the spiking rows in presynaptic order).

External drive: the same as :func:`neurodyn.run`'s (``neurodyn.core.loop``): arrays whose row
``i`` is the input of step ``i`` are split along their neuron axis (shape ``(steps, n, ...)``;
``(steps,)``, one value for all neurons, is replicated), and a function of model time ``t`` is
evaluated on every device inside the compiled step, each keeping its own block of neurons (no
host round trip).

Memory per device: ``nnz / D`` synapses (4 B targets, plus 4 B weights when per synapse) plus
its own row pointers (``4 (n_pre + 1)`` B per projection: the targets of a fixed fan-out row are
in general not split evenly over the devices, so the local rows have unequal lengths; none when
they happen to be equal), ``1 / D`` of the neuron state and parameters, ``1 / D`` of a per-neuron
drive array, and the gathered spike vectors (``n_pre`` bytes per projection, times the ring
length with delays). See docs/multi-device.md.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ..errors import SpecError, check_int
from ..pytree import pytree_dataclass
from ..core.network import Network, NetworkState
from ..core.projection import Projection

AXIS = "neurons"


@pytree_dataclass(static=("axis",))
class GatheredSpikeProjection(Projection):
    """A spiking projection inside a sharded step: the local spikes of its source are
    all-gathered over mesh axis ``axis`` (the full presynaptic spike vector, in global neuron
    order), then ``inner`` (a :class:`~neurodyn.models.synapses.SpikingProjection` over the
    synapses onto this device's neurons) propagates them."""

    inner: Projection
    axis: str = AXIS

    def sources(self) -> tuple:
        """The source population of ``inner``."""
        return self.inner.sources()

    def targets(self) -> tuple:
        """The ``(population, port)`` pairs of ``inner``."""
        return self.inner.targets()

    def init(self, key, observables):
        """``inner``'s state (built from full-size observables)."""
        return self.inner.init(key, observables)

    def step(self, state, observables, step):
        """Gather the source's spikes over the devices, then ``inner``'s step."""
        source = self.inner.source
        local = dict(observables[source])
        local["spike"] = jax.lax.all_gather(local["spike"], self.axis, tiled=True)
        return self.inner.step(state, {source: local}, step)


def shard_network(network: Network, n_devices: int) -> Network:
    """The network as each of ``n_devices`` devices sees it: the static sizes of one device
    (``n / D`` neurons per population; the projections as :class:`GatheredSpikeProjection`
    over the synapses onto one device's neurons) and leaves holding all devices' blocks
    concatenated along their first axis, so that splitting every array leaf along its first
    axis over the mesh (:func:`partition_spec`) hands device ``d`` its own block."""
    from .synapses import SpikingProjection

    n_devices = check_int("n_devices", n_devices, 1)
    if not isinstance(network, Network):
        raise SpecError(f"run_sharded: expected a Network, got {type(network).__name__}")
    if network.order is not None:
        raise SpecError("run_sharded: sequential networks (order) are not supported; use a parallel Network")
    pops = {}
    for name, model in network.populations.items():
        n = getattr(model, "n", None)
        if not isinstance(n, int) or n % n_devices:
            raise SpecError(f"run_sharded: population {name!r} has {n} neurons, which does not split into "
                            f"{n_devices} equal blocks (n must be a multiple of the number of devices)")
        for leaf in jax.tree_util.tree_leaves(model):
            if jnp.ndim(leaf) and jnp.shape(leaf)[0] != n:
                raise SpecError(f"run_sharded: population {name!r} has a parameter of shape {jnp.shape(leaf)}, "
                                f"neither per neuron ({n},) nor a scalar")
        pops[name] = dataclasses.replace(model, n=n // n_devices)
    projs = {}
    for name, proj in network.projections.items():
        if not isinstance(proj, SpikingProjection):
            raise SpecError(f"run_sharded: projection {name!r} is a {type(proj).__name__}; only spiking "
                            f"projections (SpikingProjection) can be split over devices")
        outputs = tuple((pop, port, size // n_devices) for pop, port, size in proj.outputs)
        inner = SpikingProjection(proj.source, outputs, _local_synapses(proj, n_devices), proj.backend)
        projs[name] = GatheredSpikeProjection(inner, AXIS)
    return Network(pops, projs)


def partition_spec(leaf) -> P:
    """How a leaf of :func:`shard_network`'s network or of a sharded state is split: arrays
    along their first axis (neurons, or the devices' stacked blocks), scalars replicated."""
    return P(AXIS) if jnp.ndim(leaf) else P()


def run_sharded(network: Network, state, steps: int, *, devices=None, record=None, drive=None):
    """Run ``network`` for ``steps`` steps split over ``devices`` (default: all of JAX's
    devices), neurons partitioned and spikes all-gathered every step (module docstring).

    ``state``: a :class:`NetworkState` or the dict of population states (as for
    :func:`neurodyn.run`). Returns ``(final_state, records)`` like :func:`neurodyn.run`: the
    final state in global neuron order and, for each name in ``record`` (population
    observables such as ``"exc.spike"``), its value before every step, shape ``(steps, n)``.
    ``drive``: external input with the meaning of ``neurodyn.run``'s -- ``None``, a dict
    ``{population: drive}`` (or one population's drive) of arrays whose row ``i`` is the input
    of step ``i`` (at least ``steps`` rows; shape ``(steps, n, ...)`` is split over the devices
    along ``n``, ``(steps,)`` replicated), or a JAX-traceable function of model time ``t``
    returning such a dict of per-step values (``(n, ...)`` or scalars). Equal bit for bit to
    ``neurodyn.run`` on one device with the same event kernel and drive. To run several times,
    build the compiled run once with :func:`sharded_runner`.
    """
    return sharded_runner(network, steps, devices=devices, record=record, drive=drive)(state)


def sharded_runner(network: Network, steps: int, *, devices=None, record=None, drive=None):
    """The compiled sharded run of :func:`run_sharded` as a function ``state -> (final_state,
    records)``: the per-device synapses and the drive arrays are split and placed on the
    devices once, and the program compiles on the first call."""
    from ..core.loop import prepare_drive
    from ..core.model import surface
    from ..core.simulate import run

    devices = list(jax.devices() if devices is None else devices)
    n_dev = len(devices)
    steps = check_int("steps", steps, 1)
    local = shard_network(network, n_dev)
    names = tuple(record or ())
    for name in names:
        if name.partition(".")[0] not in network.populations:
            raise SpecError(f"run_sharded: record names population.observable; {name!r} names no population "
                            f"(populations: {', '.join(network.populations)})")
    mesh = Mesh(np.array(devices), (AXIS,))
    drive = prepare_drive(network, drive, steps, surface(network).dt)
    drive_fn, drive_leaves, drive_specs, drive_tree = _split_drive(network, drive, n_dev)
    net_leaves, net_tree = jax.tree_util.tree_flatten(local)
    net_specs = [partition_spec(leaf) for leaf in net_leaves] + drive_specs
    placed = [jax.device_put(leaf, NamedSharding(mesh, spec))
              for leaf, spec in zip(net_leaves + drive_leaves, net_specs)]
    n_fixed = len(net_leaves) + len(drive_leaves)
    compiled = {}

    def runner(state):
        state = network.as_state(state)
        # population state split by neuron; projection states (ring buffers of gathered spike
        # vectors) replicated: one copy per device, stacked along the first axis
        lengths = {name: jax.tree_util.tree_map(lambda leaf: jnp.shape(leaf)[0], s)
                   for name, s in state.projections.items()}
        stacked = NetworkState(
            state.populations,
            {name: jax.tree_util.tree_map(lambda leaf: jnp.concatenate([leaf] * n_dev), s)
             for name, s in state.projections.items()},
            state.step)
        leaves, state_tree = jax.tree_util.tree_flatten(stacked)
        specs = [partition_spec(leaf) for leaf in leaves]
        key = (state_tree, tuple((jnp.shape(x), jnp.result_type(x)) for x in leaves))
        if key not in compiled:
            def body(*flat):
                net = jax.tree_util.tree_unflatten(net_tree, flat[:len(net_leaves)])
                local_drive = (drive_fn if drive_tree is None
                               else jax.tree_util.tree_unflatten(drive_tree, flat[len(net_leaves):n_fixed]))
                st = jax.tree_util.tree_unflatten(state_tree, flat[n_fixed:])
                final, records = run(net, st, steps, record=names, drive=local_drive)
                return jax.tree_util.tree_leaves(final), records

            compiled[key] = jax.jit(jax.shard_map(
                body, mesh=mesh, in_specs=tuple(net_specs + specs),
                out_specs=(specs, {name: P(None, AXIS) for name in names}), check_vma=False))
        state_placed = [jax.device_put(leaf, NamedSharding(mesh, spec)) for leaf, spec in zip(leaves, specs)]
        final_leaves, records = compiled[key](*placed, *state_placed)
        final = jax.tree_util.tree_unflatten(state_tree, final_leaves)
        projections = {name: jax.tree_util.tree_map(lambda leaf, length: leaf[:length], s, lengths[name])
                       for name, s in final.projections.items()}
        return NetworkState(final.populations, projections, final.step), records

    return runner


def _split_drive(network: Network, drive, n_devices: int):
    """``(drive_fn, leaves, specs, tree)``: a drive function that keeps each device's block of
    neurons (``tree`` None), or the drive arrays with how to split each over the mesh (along
    their neuron axis, axis 1) and their tree (``drive_fn`` None); all empty without a drive.
    A leaf that is neither one value for all neurons nor one per neuron is a SpecError naming
    it (the population, then its path in the drive)."""
    if drive is None:
        return None, [], [], None
    sizes = {name: model.n for name, model in network.populations.items()}

    def neuron_axes(per_population, axis: int) -> list:
        """For every leaf (in flattening order): ``axis`` if it holds one value per neuron
        there, None if it holds one value for all (replicated)."""
        found = []
        for path, leaf in jax.tree_util.tree_flatten_with_path(per_population)[0]:
            pop, shape = path[0].key, jnp.shape(leaf)
            if len(shape) <= axis:
                found.append(None)
                continue
            if shape[axis] != sizes[pop]:
                form = "(steps,) or (steps, n, ...)" if axis else "a scalar or (n, ...)"
                where = f", entry {jax.tree_util.keystr(path[1:])}" if path[1:] else ""
                raise SpecError(f"drive of population {pop!r}{where}: shape {shape} is not {form} with "
                                f"n = {sizes[pop]} neurons (per-neuron values are split over the devices)")
            found.append(axis)
        return found

    if callable(drive):
        from ..core.model import surface

        t = jnp.zeros((), jnp.int32) * surface(network).dt  # the type of t in neurodyn.core.loop.drive_at
        axes = neuron_axes(network._per_population(jax.eval_shape(drive, t)), 0)

        def local_drive(time):
            values, tree = jax.tree_util.tree_flatten_with_path(network._per_population(drive(time)))
            index = jax.lax.axis_index(AXIS)
            kept = []
            for (path, value), axis in zip(values, axes):
                if axis is not None:
                    size = sizes[path[0].key] // n_devices
                    value = jax.lax.dynamic_slice_in_dim(jnp.asarray(value), index * size, size, axis=0)
                kept.append(value)
            return jax.tree_util.tree_unflatten(tree, kept)

        return local_drive, [], [], None
    per_population = network._per_population(drive)
    leaves, tree = jax.tree_util.tree_flatten(per_population)
    specs = [P() if axis is None else P(None, AXIS) for axis in neuron_axes(per_population, 1)]
    return None, leaves, specs, tree


def _local_synapses(proj, n_devices: int):
    """The synapses of ``proj`` onto each device's neurons, as one SynapseCSR whose leaves hold
    the devices' blocks concatenated (each padded to the same number of synapses): device
    ``d`` keeps the synapses whose target lies in block ``d`` of its output population, in
    their storage order, with targets renumbered locally (blocks of the outputs side by side).

    Row pointers: the fixed fan-out of the whole network (which stores none) does not survive
    the split -- a row's targets fall unevenly on the devices -- so each device gets its own
    ``indptr`` (``4 (n_pre + 1)`` bytes per projection and device, on top of the 4 or 8 bytes
    per local synapse); only when every local row has the same length are none stored."""
    from ..ops.synapses import SynapseCSR

    conn = proj.synapses
    post = np.asarray(conn.indices).astype(np.int64)
    pre = conn.presynaptic().astype(np.int64)
    owner = np.zeros(conn.nnz, np.int64)
    local = np.zeros(conn.nnz, np.int64)
    start = local_start = 0
    for _, _, size in proj.outputs:
        block = size // n_devices
        sel = (post >= start) & (post < start + size)
        rel = post[sel] - start
        owner[sel], local[sel] = rel // block, rel % block + local_start
        start, local_start = start + size, local_start + block
    groups = len(conn.delay_steps) if conn.delay_ptr is not None else 1
    group = (np.searchsorted(np.asarray(conn.delay_steps), conn.synapse_delays()) if groups > 1
             else np.zeros(conn.nnz, np.int64))
    weights = np.asarray(conn.weights)
    parts = []
    for d in range(n_devices):
        keep = owner == d
        counts = np.bincount(pre[keep], minlength=conn.n_pre)
        group_counts = np.bincount(pre[keep] * groups + group[keep], minlength=conn.n_pre * groups)
        parts.append((counts, local[keep], weights[keep] if weights.ndim else None, group_counts))
    width = max(int(c.max(initial=0)) for c, _, _, _ in parts)
    nnz = max(t.size for _, t, _, _ in parts)
    fixed = all(bool(np.all(c == width)) for c, _, _, _ in parts)

    def ptr(counts):
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)

    def padded(a, dtype):
        return np.concatenate([a, np.zeros(nnz - a.size, dtype)]).astype(dtype)

    dtype = weights.dtype
    indptr = None if fixed else jnp.asarray(np.concatenate([ptr(c) for c, _, _, _ in parts]))
    indices = jnp.asarray(np.concatenate([padded(t, np.int32) for _, t, _, _ in parts]))
    w = (jnp.asarray(weights) if not weights.ndim
         else jnp.asarray(np.concatenate([padded(x, dtype) for _, _, x, _ in parts])))
    delay_ptr, delay_width = None, (width if conn.delay_steps else 0)
    if groups > 1:
        delay_ptr = jnp.asarray(np.concatenate([ptr(g) for _, _, _, g in parts]))
        delay_width = max(int(g.max(initial=0)) for _, _, _, g in parts)
    n_post = sum(size // n_devices for _, _, size in proj.outputs)
    return SynapseCSR(conn.n_pre, n_post, indptr, indices, w, width, fixed, delay_ptr, conn.delay_steps,
                      delay_width)
