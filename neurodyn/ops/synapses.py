"""The synapses of one projection as a presynaptic-major CSR pytree.

Row ``i`` holds the synapses of presynaptic neuron ``i``: synapse ``k`` in
``indptr[i]:indptr[i+1]`` (the row pointers) connects ``i`` to postsynaptic neuron ``indices[k]`` with weight
``weights[k]`` (per-synapse weights) or ``weights`` (one homogeneous scalar), so the weight
matrix is ``W[pre, post]`` and a projection delivers ``y_post = sum_pre W[pre, post] x_pre``.
Rows are what a spike touches: an event-driven product reads only the rows of the neurons that
spiked (``neurodyn.ops.event``). Repeated ``(pre, post)`` pairs are separate synapses (their
weights add).

Fixed fan-out (every row holds exactly ``fanout`` synapses, ``fixed=True``) needs neither
padding nor row pointers: row ``i`` is ``indices[i * fanout:(i + 1) * fanout]``, the ELL view of
the synapses is ``indices.reshape(n_pre, fanout)`` (a free reshape), and ``indptr`` is ``None``.
Such a projection stores exactly 4 bytes per synapse for its int32 targets and 4 more for
float32 per-synapse weights (8 in all; :meth:`SynapseCSR.bytes_per_synapse`). Otherwise
``indptr`` (int32, ``n_pre + 1``) is stored and ``fanout`` is the longest row, the width of the
padded ELL view.

Delays: a synapse may carry a delay in steps. The distinct delays are the static tuple
``delay_steps``; within each row the synapses are grouped by delay (ascending), and
``delay_ptr[i * D + g]`` points at the first synapse of row ``i`` with delay
``delay_steps[g]`` (``D = len(delay_steps)``), so the groups ``(pre, delay)`` are the rows of
a finer CSR matrix on the same ``indices`` and ``weights``: delayed propagation is the same
event kernel on those rows (no per-synapse delay array is stored).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecError
from ..pytree import pytree_dataclass


@pytree_dataclass(static=("n_pre", "n_post", "fanout", "fixed", "delay_steps", "delay_fanout"))
class SynapseCSR:
    """Synapses ``W[pre, post]`` in presynaptic-major CSR (see the module docstring).

    Build it with :meth:`from_coo`, :meth:`from_scipy` or :meth:`fixed_fanout`; those check
    the indices, so the kernels can trust them. ``indptr`` is ``None`` exactly when ``fixed``
    (row ``i`` starts at ``i * fanout``); :meth:`row_pointers` gives it in either case.
    """

    n_pre: int
    n_post: int
    indptr: jax.Array | None  # (n_pre + 1,) int32 row pointers; None for fixed fan-out
    indices: jax.Array  # (nnz,) int32 postsynaptic targets, row by row
    weights: jax.Array  # () homogeneous or (nnz,) per synapse
    fanout: int  # longest row: the width of the ELL view
    fixed: bool  # every row has exactly ``fanout`` synapses
    delay_ptr: jax.Array | None = None  # (n_pre * D + 1,) int32 when D > 1
    delay_steps: tuple = ()  # the distinct delays in steps, ascending; () for none
    delay_fanout: int = 0  # longest (pre, delay) group

    # ---- properties -------------------------------------------------------------------------
    @property
    def nnz(self) -> int:
        """Number of synapses."""
        return int(self.indices.shape[-1])

    @property
    def homogeneous(self) -> bool:
        """Whether all synapses share one scalar weight."""
        return jnp.ndim(self.weights) == 0

    @property
    def has_delays(self) -> bool:
        """Whether the synapses carry delays (propagate with ``delayed_event_csr_matvec``)."""
        return bool(self.delay_steps)

    @property
    def max_delay(self) -> int:
        """The longest delay in steps (0 without delays)."""
        return max(self.delay_steps, default=0)

    @property
    def delay_rows(self) -> tuple:
        """``(indptr, width)`` of the ``(pre, delay)`` groups: ``n_pre * D`` groups for ``D``
        distinct delays, stored pre by pre (group ``(i, g)`` starts at ``indptr[i * D + g]``),
        ``width`` the largest group; the plain rows when there is one delay or none (``indptr``
        then ``None`` for fixed fan-out: row ``i`` starts at ``i * width``)."""
        if self.delay_ptr is None:
            return self.indptr, self.fanout
        return self.delay_ptr, self.delay_fanout

    def bytes_per_synapse(self) -> float:
        """Bytes of device memory per synapse: the arrays that grow with the network (targets,
        per-synapse weights, row and delay-group pointers) over the number of synapses. A
        homogeneous weight is one scalar per projection, not per synapse, and is not counted
        (:attr:`nbytes` counts it). Fixed fan-out without several delays: exactly 4.0 with a
        homogeneous weight, 8.0 with float32 per-synapse weights."""
        arrays = (self.indptr, self.indices, self.weights, self.delay_ptr)
        total = sum(int(np.prod(a.shape)) * a.dtype.itemsize for a in arrays if a is not None and a.ndim)
        return total / max(self.nnz, 1)

    @property
    def nbytes(self) -> int:
        """Bytes of device memory of all the arrays (the homogeneous weight included)."""
        arrays = (self.indptr, self.indices, self.weights, self.delay_ptr)
        return sum(int(np.prod(jnp.shape(a))) * jnp.result_type(a).itemsize for a in arrays if a is not None)

    def row_pointers(self) -> np.ndarray:
        """The row pointers ``indptr`` (int64, ``n_pre + 1``) on the host: the stored ones, or
        ``i * fanout`` for fixed fan-out, which stores none."""
        if self.indptr is None:
            return np.arange(self.n_pre + 1, dtype=np.int64) * self.fanout
        return np.asarray(self.indptr).astype(np.int64)

    # ---- conversions ------------------------------------------------------------------------
    def with_weights(self, weights) -> "SynapseCSR":
        """The same synapses with new weights: a scalar (homogeneous) or one per synapse, in
        storage order (row by row, grouped by delay)."""
        w = _weights(weights, self.nnz, jnp.asarray(self.weights).dtype)
        return _replace(self, weights=w)

    def synapse_delays(self) -> np.ndarray:
        """The delay in steps of every synapse, in storage order (zeros without delays)."""
        if not self.delay_steps:
            return np.zeros(self.nnz, np.int32)
        if self.delay_ptr is None:
            return np.full(self.nnz, self.delay_steps[0], np.int32)
        counts = np.diff(np.asarray(self.delay_ptr))
        return np.repeat(np.tile(np.asarray(self.delay_steps, np.int32), self.n_pre), counts)

    def without_delays(self) -> "SynapseCSR":
        """The same synapses and weights, all delivered at once."""
        return _replace(self, delay_ptr=None, delay_steps=(), delay_fanout=0)

    def presynaptic(self) -> np.ndarray:
        """The presynaptic neuron of every synapse, in storage order."""
        if self.indptr is None:
            return np.repeat(np.arange(self.n_pre, dtype=np.int32), self.fanout)
        return np.repeat(np.arange(self.n_pre, dtype=np.int32), np.diff(np.asarray(self.indptr)))

    def to_scipy(self, delay: int | None = None):
        """``W[pre, post]`` as a ``scipy.sparse.csr_matrix`` (duplicate synapses summed); with
        ``delay``, only the synapses of that delay."""
        import scipy.sparse as sp

        w = np.broadcast_to(np.asarray(self.weights), (self.nnz,))
        pre, post = self.presynaptic(), np.asarray(self.indices)
        if delay is not None:
            keep = self.synapse_delays() == delay
            w, pre, post = w[keep], pre[keep], post[keep]
        return sp.coo_matrix((w, (pre, post)), shape=(self.n_pre, self.n_post)).tocsr()

    def todense(self, delay: int | None = None) -> np.ndarray:
        """``W[pre, post]`` as a dense NumPy array (see :meth:`to_scipy`)."""
        return self.to_scipy(delay).toarray()

    # ---- builders ---------------------------------------------------------------------------
    @classmethod
    def from_coo(cls, pre, post, weights=1.0, *, n_pre: int, n_post: int, delays=None,
                 dtype=None) -> "SynapseCSR":
        """Synapses from ``(pre, post)`` index arrays: ``weights`` a scalar (homogeneous) or one
        per synapse, ``delays`` (steps, ints >= 0) a scalar or one per synapse.

        The synapses are stored row by row (and by delay within a row), keeping the given order
        otherwise; per-synapse weights follow their synapse.
        """
        n_pre, n_post = _size("n_pre", n_pre), _size("n_post", n_post)
        pre = _index_array("pre", pre, n_pre)
        post = _index_array("post", post, n_post)
        if pre.shape != post.shape:
            raise SpecError(f"synapses: pre and post must have the same length, got {pre.size} and {post.size}")
        nnz = pre.size
        w = np.asarray(weights)
        if w.ndim and w.shape != (nnz,):
            raise SpecError(f"synapses: weights must be a scalar or have one value per synapse ({nnz}), "
                            f"got shape {w.shape}")
        steps, group = _delay_groups(delays, nnz)
        key = pre.astype(np.int64) if group is None else pre.astype(np.int64) * len(steps) + group
        if nnz and np.any(np.diff(key) < 0):
            order = np.argsort(key, kind="stable")
            pre, post, key = pre[order], post[order], key[order]
            if w.ndim:
                w = w[order]
        counts = np.bincount(pre, minlength=n_pre)
        return _assemble(n_pre, n_post, counts, post, w, steps, key, dtype)

    @classmethod
    def from_scipy(cls, matrix, *, delays=None, dtype=None) -> "SynapseCSR":
        """Synapses from a scipy sparse matrix ``W[pre, post]``: one synapse per stored entry
        (explicit zeros included), per-synapse weights; ``delays`` as in :meth:`from_coo`, per
        stored entry in the order of ``matrix.tocoo()``."""
        import scipy.sparse as sp

        if not sp.issparse(matrix):
            raise SpecError(f"from_scipy: expected a scipy.sparse matrix, got {type(matrix).__name__}")
        coo = matrix.tocoo()
        return cls.from_coo(coo.row, coo.col, coo.data, n_pre=coo.shape[0], n_post=coo.shape[1],
                            delays=delays, dtype=dtype)

    @classmethod
    def fixed_fanout(cls, n_pre: int, n_post: int, fanout: int, *, weight=1.0, seed: int = 0,
                     self_connections: bool = True, delays=None, dtype=None) -> "SynapseCSR":
        """Every presynaptic neuron projects to ``fanout`` distinct postsynaptic neurons drawn
        uniformly at random (seeded NumPy generator; vectorised: a million neurons with 80
        synapses each build in about a second).

        ``self_connections=False`` (a projection within one population, ``n_pre == n_post``)
        excludes ``i -> i``. ``weight``: a scalar (homogeneous) or an array ``(n_pre, fanout)``
        / ``(n_pre * fanout,)`` giving the k-th synapse of row i (targets ascending);
        ``delays`` likewise (scalar or per synapse).

        Sampling: each row draws ``fanout`` integers uniformly and is redrawn as a whole while
        it holds a repeat, which is exactly uniform over the sets of ``fanout`` targets; where
        repeats are common (``fanout^2 > 8 n_post``) only the repeated entries are drawn again,
        and rows denser than a quarter take the ``fanout`` smallest of one uniform key per
        candidate target (``_sample_rows``).
        """
        n_pre, n_post = _size("n_pre", n_pre), _size("n_post", n_post)
        fanout = _size("fanout", fanout, minimum=0)
        if not self_connections and n_pre != n_post:
            raise SpecError(f"fixed_fanout: self_connections=False needs one population (n_pre == n_post), "
                            f"got {n_pre} and {n_post}")
        available = n_post - (0 if self_connections else 1)
        if fanout > available:
            raise SpecError(f"fixed_fanout: fanout {fanout} exceeds the {available} available targets")
        rng = np.random.default_rng(seed)
        targets = _sample_rows(rng, n_pre, available, fanout)
        if not self_connections:
            # shift draws from [0, n-1) past the neuron itself: strictly increasing, so rows stay sorted
            targets += targets >= np.arange(n_pre, dtype=np.int32)[:, None]
        nnz = n_pre * fanout
        w = np.asarray(weight)
        if w.ndim:
            if w.size != nnz:
                raise SpecError(f"fixed_fanout: weight must be a scalar or have n_pre * fanout = {nnz} values, "
                                f"got shape {w.shape}")
            w = w.reshape(nnz)
        steps, group = _delay_groups(None if delays is None else _per_row(delays, n_pre, fanout), nnz)
        post = targets.reshape(nnz)
        key = None  # the (pre, delay) group of each synapse, needed with several delays only
        if len(steps) > 1:
            order = np.argsort(group.reshape(n_pre, fanout), axis=1, kind="stable")
            order = (order + np.arange(n_pre, dtype=np.int64)[:, None] * fanout).reshape(nnz)
            post, group = post[order], group[order]
            if w.ndim:
                w = w[order]
            key = np.repeat(np.arange(n_pre, dtype=np.int64), fanout) * len(steps) + group
        counts = np.full(n_pre, fanout, np.int64)
        return _assemble(n_pre, n_post, counts, post, w, steps, key, dtype)

    @classmethod
    def fixed_probability(cls, n_pre: int, n_post: int, p: float, *, weight=1.0, seed: int = 0,
                          self_connections: bool = True, delays=None, dtype=None) -> "SynapseCSR":
        """Every pair ``pre -> post`` is connected independently with probability ``p`` (the
        random networks of Brette et al. 2007), homogeneous ``weight``, ``delays`` a scalar.

        Vectorised and seeded (NumPy generator): the number of targets of each row is drawn
        from Binomial(available, p), then the targets uniformly without repetition, as in
        :meth:`fixed_fanout` -- the same distribution as one Bernoulli draw per pair.
        """
        n_pre, n_post = _size("n_pre", n_pre), _size("n_post", n_post)
        if not 0.0 <= float(p) <= 1.0:
            raise SpecError(f"fixed_probability: p must be in [0, 1], got {p!r}")
        if not self_connections and n_pre != n_post:
            raise SpecError(f"fixed_probability: self_connections=False needs one population (n_pre == n_post), "
                            f"got {n_pre} and {n_post}")
        if np.ndim(weight) or np.ndim(delays if delays is not None else 0):
            raise SpecError("fixed_probability: weight and delays must be scalars (the synapse count is random)")
        available = n_post - (0 if self_connections else 1)
        rng = np.random.default_rng(seed)
        counts = rng.binomial(available, float(p), size=n_pre)
        width = int(counts.max(initial=0))
        if width == 0:
            pre = post = np.zeros(0, np.int32)
        else:
            rows = _sample_rows(rng, n_pre, available, width)
            # a uniform subset of a uniform subset is uniform: keep a random `count` of each row
            rank = np.argsort(np.argsort(rng.random((n_pre, width)), axis=1), axis=1)
            keep = rank < counts[:, None]
            rows = np.where(keep, rows, -1)
            if not self_connections:
                rows = np.where(rows >= 0, rows + (rows >= np.arange(n_pre)[:, None]), -1)
            pre, post = np.nonzero(rows >= 0)[0].astype(np.int32), rows[rows >= 0].astype(np.int32)
        return cls.from_coo(pre, post, weight, n_pre=n_pre, n_post=n_post, delays=delays, dtype=dtype)


# ---- helpers ----------------------------------------------------------------------------------
def _replace(conn: SynapseCSR, **changes) -> SynapseCSR:
    import dataclasses

    return dataclasses.replace(conn, **changes)


def _size(name: str, value, minimum: int = 1) -> int:
    from ..errors import check_int

    return check_int(name, value, minimum)


def _index_array(name: str, values, bound: int) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != 1:
        raise SpecError(f"synapses: {name} must be a 1-D index array, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.mod(a, 1) == 0):
            raise SpecError(f"synapses: {name} must hold integers, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= bound):
        bad = a[(a < 0) | (a >= bound)][0]
        raise SpecError(f"synapses: {name} index {bad} is outside [0, {bound})")
    return a.astype(np.int32)


def _weights(weights, nnz: int, dtype) -> jax.Array:
    w = jnp.asarray(weights, dtype=dtype)
    if w.ndim and w.shape != (nnz,):
        raise SpecError(f"synapses: weights must be a scalar or have one value per synapse ({nnz}), "
                        f"got shape {w.shape}")
    return w


def _per_row(values, n_pre: int, fanout: int):
    a = np.asarray(values)
    if a.ndim:
        if a.size != n_pre * fanout:
            raise SpecError(f"fixed_fanout: delays must be a scalar or have n_pre * fanout = {n_pre * fanout} "
                            f"values, got shape {a.shape}")
        return a.reshape(-1)
    return a


def _delay_groups(delays, nnz: int) -> tuple[tuple, np.ndarray | None]:
    """``(delay_steps, group)``: the distinct delays (ascending) and each synapse's index into
    them; ``group`` is None with one delay or none."""
    if delays is None:
        return (), None
    d = np.asarray(delays)
    if d.ndim and d.shape != (nnz,):
        raise SpecError(f"synapses: delays must be a scalar or have one value per synapse ({nnz}), got shape {d.shape}")
    if d.size and (not np.all(np.mod(d, 1) == 0) or d.min() < 0):
        raise SpecError(f"synapses: delays must be integers >= 0 (steps), got values from {d.min()} to {d.max()}")
    d = d.astype(np.int64)
    if d.ndim == 0:
        return (int(d),), None
    if not nnz:
        return (), None
    low = int(d.min())
    present = np.bincount(d - low) > 0  # delays are small integers: O(nnz), no sort
    steps = np.flatnonzero(present) + low
    if steps.size == 1:
        return (int(steps[0]),), None
    lookup = np.cumsum(present) - 1
    return tuple(int(s) for s in steps), lookup[d - low].astype(np.int64)


def _sample_rows(rng, n_rows: int, available: int, k: int) -> np.ndarray:
    """``(n_rows, k)`` sorted int32 rows of ``k`` distinct values from ``[0, available)``,
    each row uniform over the ``k``-subsets.

    Three regimes, chosen by the chance that ``k`` uniform draws hold no repeat, about
    ``exp(-k (k - 1) / (2 available))`` (the birthday problem):

    - repeats rare (exponent <= 4, at most ~55 tries a row): each row is redrawn as a whole
      while it holds a repeat;
    - repeats common but the row sparse (``4 k <= available``): only the repeated entries are
      drawn again until the row holds ``k`` distinct values -- the first ``k`` distinct values
      of an i.i.d. uniform sequence, uniform over the subsets by symmetry. Whole-row redraws
      would take ``exp(k^2 / 2 available)`` tries a row here (22,000 for ``k = 90`` of 400);
    - dense rows: the ``k`` smallest of one uniform key per candidate.

    The first regime is what every seed drew before the second existed, so networks built
    there are unchanged.
    """
    if k == 0:
        return np.zeros((n_rows, 0), np.int32)
    if 4 * k > available:
        out = np.empty((n_rows, k), np.int32)
        block = max(1, (1 << 24) // available)
        for start in range(0, n_rows, block):  # bounded memory: one key per (row, candidate)
            keys = rng.random((min(block, n_rows - start), available))
            out[start:start + block] = np.sort(np.argpartition(keys, k - 1, axis=1)[:, :k], axis=1)
        return out
    rows = rng.integers(0, available, size=(n_rows, k), dtype=np.int32)
    rows.sort(axis=1)
    if k * (k - 1) > 8 * available:  # repeats common: draw the repeated entries again
        while True:
            repeat = np.zeros(rows.shape, bool)
            repeat[:, 1:] = rows[:, 1:] == rows[:, :-1]
            n_repeat = int(repeat.sum())
            if not n_repeat:
                return rows
            rows[repeat] = rng.integers(0, available, size=n_repeat, dtype=np.int32)
            rows.sort(axis=1)
    redo = np.flatnonzero((rows[:, 1:] == rows[:, :-1]).any(axis=1))
    while redo.size:
        fresh = rng.integers(0, available, size=(redo.size, k), dtype=np.int32)
        fresh.sort(axis=1)
        rows[redo] = fresh
        redo = redo[(fresh[:, 1:] == fresh[:, :-1]).any(axis=1)]
    return rows


def _assemble(n_pre, n_post, counts, post, w, steps, key, dtype) -> SynapseCSR:
    """Build the pytree from row-sorted synapses (``key = pre * D + delay group``, sorted; used
    with several delays only). Rows of equal length store no row pointers."""
    dt = dtype or jnp.result_type(float)
    nnz = post.size
    indptr = np.zeros(n_pre + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    if indptr[-1] >= 2 ** 31:
        raise SpecError(f"synapses: {indptr[-1]} synapses exceed the int32 index range")
    fanout = int(counts.max()) if n_pre else 0
    fixed = bool(nnz == n_pre * fanout)
    delay_ptr, delay_fanout = None, fanout if steps else 0
    if len(steps) > 1:
        group_counts = np.bincount(key, minlength=n_pre * len(steps))
        ptr = np.zeros(n_pre * len(steps) + 1, np.int64)
        np.cumsum(group_counts, out=ptr[1:])
        delay_ptr, delay_fanout = jnp.asarray(ptr.astype(np.int32)), int(group_counts.max())
    indices = jnp.asarray(post.astype(np.int32, copy=False))
    row_ptr = None if fixed else jnp.asarray(indptr.astype(np.int32))
    return SynapseCSR(n_pre, n_post, row_ptr, indices, jnp.asarray(w, dtype=dt), fanout, fixed, delay_ptr,
                      tuple(steps), delay_fanout)
