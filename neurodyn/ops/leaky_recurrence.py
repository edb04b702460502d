"""The leaky recurrence of a sparse reservoir over a whole input sequence, in one native call:
the harvest of large sparse echo state networks (docs/models/reservoirs.md, "Large sparse
reservoirs").

``x_t = (1 - a) x_{t-1} + a phi(g W x_{t-1} + v_t)``, t = 0 .. T-1 from ``x_{-1} = x0``, with W
sparse (:class:`~neurodyn.ops.sparse_matvec.SparseMatrix`), ``v_t`` the input term of step t
(e.g. ``g_in W_in u_t + b``, computed beforehand for all steps as one matrix product), ``phi``
tanh or the identity; the result is the ``(T, N)`` states. It is the ESN step of
:mod:`neurodyn.models.reservoir` (H. Jaeger, GMD Report 148, 2001).

A scan that calls the sparse product once per step pays, per step, the compiled loop's
iteration, an FFI call, and, on two cores, the start and join of a thread: tens of
microseconds, which at N = 500 to 2,000 are as long as the product itself. Here the T steps are
one call of a numba kernel (:mod:`neurodyn.ops._leaky_recurrence_kernel`): its second thread
is started once for the call, the two threads take chunks of rows of each step from a shared
counter (so a thread the busy machine deschedules holds the other up for one chunk only), tanh
is a vectorised approximation within a few ulp (float32: Eigen's rational one; float64: within 2 ulp, in fused multiply-adds),
and column indices are sent as 16-bit numbers where the matrix has at most 65,536 columns (a
quarter fewer bytes per non-zero in float32). Where ``x`` does not fit in the first-level cache
(more than 16 KiB: N > 4,096 in float32, 2,048 in float64) and the call has at least 8 steps,
the kernel first copies W into a column-blocked layout (for each block of 8 KiB of ``x``, the
rows' non-zeros in those columns, with 16-bit column offsets) and reads it block after block:
out of cache the gather of ``x[j]`` from the second-level cache, not the memory bandwidth, was
the limit (N = 10,000, one thread: 1.3 G non-zeros/s from the matrix as given, 2.9 with the
same matrix's columns folded into 2,048; the blocked layout 1.9x faster). A row's sum is then
the sum of its blocks' sums. The result does not depend on the threads. The
definition, the fallback (other platforms, ``backend="jax"``) and the derivative are the
``jax.lax.scan`` of the formula with the segment-sum product (:func:`reference`); under
``jax.vmap`` the kernel runs once per batch member (``jax.lax.map``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .kernel import NativeKernel
from .sparse_matvec import SparseMatrix
from .sparse_matvec import reference as sparse_reference

ACTIVATIONS = {"identity": 0, "tanh": 1}


def leaky_recurrence(w: SparseMatrix, inputs: jax.Array, x0: jax.Array, leak, gain=1.0, *,
                     activation: str = "tanh", threads: int = 2, backend: str | None = None) -> jax.Array:
    """The states ``(T, N)`` of ``x_t = (1 - a) x_{t-1} + a phi(g W x_{t-1} + v_t)`` (module
    docstring): ``w`` N x N, ``inputs`` the ``(T, N)`` terms ``v_t``, ``x0`` ``(N,)``, ``leak``
    a, ``gain`` g, ``activation`` "tanh" or "identity", ``threads`` the most threads the kernel
    uses (1 or 2). Differentiable in every floating operand; batched by ``jax.vmap``;
    ``backend``: "numba" (the kernel, default on CPU) or "jax" (the scan)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"leaky_recurrence: activation must be 'tanh' or 'identity', got {activation!r}")
    n = w.shape[0]
    inputs, x0 = jnp.asarray(inputs), jnp.asarray(x0)
    if w.shape != (n, n) or x0.shape != (n,) or inputs.ndim != 2 or inputs.shape[1] != n:
        raise ValueError(f"leaky_recurrence: W {w.shape} must be square, x0 ({n},) and inputs (T, {n}); "
                         f"got x0 {x0.shape}, inputs {inputs.shape}")
    dtype = jnp.result_type(w.data, inputs, x0)
    backend = KERNEL.backend(backend, what="leaky_recurrence")
    if dtype not in (jnp.float32, jnp.float64) or w.nnz == 0:  # the kernel reads at least one value
        backend = "jax"
    scalars = jnp.stack([jnp.asarray(leak, dtype), jnp.asarray(gain, dtype)])
    return KERNEL((ACTIVATIONS[activation], int(threads)), w.data.astype(dtype), x0.astype(dtype),
                  inputs.astype(dtype), scalars, w.indptr, w.indices, w.rows, backend=backend)


def reference(static, data, x0, inputs, scalars, indptr, indices, rows) -> jax.Array:
    """The recurrence as a ``jax.lax.scan`` of the formula (the kernel's definition and derivative)."""
    activation, _ = static
    leak, gain = scalars[0], scalars[1]
    n = x0.shape[0]

    def step(x, v):
        pre = gain * sparse_reference(data, x, indices, rows, n) + v
        new = (1 - leak) * x + leak * (jnp.tanh(pre) if activation == ACTIVATIONS["tanh"] else pre)
        return new, new

    return jax.lax.scan(step, x0, inputs)[1]


BLOCK_BYTES = 8192
"""Bytes of ``x`` per column block of the blocked layout (module docstring): a quarter of this
machine's 32 KiB first-level data cache, which the streamed values and indices share. Measured
against 2, 32 and 1,024 KiB blocks (one W x, 10 % density, load 6, milliseconds): N = 10,000
float32 3.9 against 5.6 / 7.0 / 7.4 (unblocked 7.4), float64 5.7 against 7.7 / 9.4 / 11.6
(11.6); N = 5,000 float32 1.04 against 1.50 / 1.60 / 1.68, float64 1.48 against 2.1 / 2.3 /
2.7."""

BLOCK_ABOVE_BYTES = 16384
"""The layout is blocked only where ``x`` is larger than this (half the first-level cache): at
N = 2,000 in float64 (16 KiB) two 8 KiB blocks took 0.27 ms against 0.18 unblocked."""

BLOCK_MIN_STEPS = 8
"""Fewest steps for which the kernel builds the blocked layout: building it costs about four
steps' time (N = 10,000 in float32: 17-25 ms, against 4-5 ms a step blocked and 7-9 unblocked)."""


def block_width(n: int, steps: int, dtype) -> int:
    """Columns per block of W's blocked layout (a power of two), or 0 where ``x`` has at most
    :data:`BLOCK_ABOVE_BYTES` or the call fewer than :data:`BLOCK_MIN_STEPS` steps (then W is
    read as given)."""
    size = jnp.dtype(dtype).itemsize
    return BLOCK_BYTES // size if n * size > BLOCK_ABOVE_BYTES and steps >= BLOCK_MIN_STEPS else 0


CHUNK_NNZ = 8192
"""Non-zeros per piece of a step on two threads (about 3-5 us of work), at most :data:`MAX_CHUNKS`
pieces a step (:func:`step_pieces`)."""
MAX_CHUNKS = 64


def step_pieces(nnz: int, threads: int) -> int:
    """Pieces each step is cut into (chunks of rows of about equal non-zeros, claimed from both
    ends by the two threads): one on one thread; on two an even number, about :data:`CHUNK_NNZ`
    non-zeros each, from 2 to :data:`MAX_CHUNKS`. Even, so that on a quiet machine each thread
    does half of every step (three pieces would leave one thread two of them and the other idle
    for one). Each piece costs about 0.1-0.2 us of one thread's time besides its rows (one
    thread, N = 500, CPU time a step at load 6: 6 pieces 11.3 us float32 / 12.5 us float64, 2
    pieces 10.6 / 11.5); more pieces only balance a step better between threads that do not
    run at the same speed."""
    if threads < 2:
        return 1
    return min(MAX_CHUNKS, max(2, 2 * (nnz // (2 * CHUNK_NNZ))))


THREAD_MIN_NNZ = 16_000
"""Below this many non-zeros a step is a few microseconds of work, about what handing pieces
between two threads costs; the call stays on the calling thread."""


def index_bits(n: int) -> int:
    """Bits of the column indices the kernel reads for an N x N matrix: 16 where they fit (N at
    most 65,536), else 32."""
    return 16 if n <= 65536 else 32


def _variant(static, data, x0, inputs, scalars, indptr, indices, rows):
    """What a kernel is compiled for: the value type and the column indices' bits."""
    return jnp.dtype(data.dtype).name, index_bits(x0.shape[0])


def _ffi_call(target, static, data, x0, inputs, scalars, indptr, indices, rows):
    activation, threads = static
    n = x0.shape[0]
    width = block_width(n, inputs.shape[0], data.dtype)
    blocked = indices.shape[0] if width else 1
    pieces = -(-n // width) * n + 1 if width else 1
    nnz = indices.shape[0]
    threads = threads if nnz >= THREAD_MIN_NNZ else 1
    chunks = step_pieces(nnz, threads)
    # chunks of nnz // chunks non-zeros, at most `chunks` of them (chunk_bounds): exactly `chunks`
    meta = jnp.asarray([activation, threads, width, max(1, nnz // chunks), chunks], jnp.int32)
    results = (jax.ShapeDtypeStruct(inputs.shape, data.dtype), jax.ShapeDtypeStruct((blocked,), data.dtype),
               jax.ShapeDtypeStruct((blocked,), jnp.uint16), jax.ShapeDtypeStruct((pieces,), jnp.uint32))
    return jax.ffi.ffi_call(target, results)(
        indptr, indices.astype(jnp.uint16) if index_bits(n) == 16 else indices, data, x0, inputs, scalars, meta)[0]


def _vmap(static, backend, axis_size, in_batched, *operands):
    """The kernel once per batch member (``jax.lax.map``); batched structure: the scan, vmapped."""
    if any(in_batched[4:]):
        axes = [0 if b else None for b in in_batched]
        return jax.vmap(lambda *ops: reference(static, *ops), in_axes=axes, axis_size=axis_size)(*operands), True
    batched = [op for op, b in zip(operands, in_batched) if b]

    def one(members):
        members = iter(members)
        ops = [next(members) if b else op for op, b in zip(operands, in_batched)]
        return KERNEL.batched(static, *ops, backend=backend)

    return jax.lax.map(one, batched), True


def _handler(variant):
    from . import _leaky_recurrence_kernel

    return _leaky_recurrence_kernel.handler(variant)


def _check_case(variant):
    """Three steps of a small integer-valued matrix at leak 1 with the identity (exact); with
    32-bit indices the matrix has 65,537 columns and its last column (beyond 16 bits) stands in
    for the 13th."""
    import numpy as np
    import scipy.sparse as sp

    dtype, bits = variant
    n = 13 if bits == 16 else 65537
    rng = np.random.default_rng(0)
    rows, cols = np.nonzero(rng.random((13, 13)) < 0.3)
    cols = np.where(cols == 12, n - 1, cols)
    a = sp.csr_matrix((rng.choice([-1.0, 1.0], len(rows)), (rows, cols)), shape=(n, n))
    w = SparseMatrix.from_scipy(a, dtype)
    inputs = rng.integers(-3, 4, (3, n)).astype(dtype)
    return ((ACTIVATIONS["identity"], 1), (w.data, np.zeros(n, dtype), inputs, np.array([1, 1], dtype),
                                           w.indptr, w.indices, w.rows))


#: the whole recurrence behind XLA's FFI; the scan of the formula where it cannot serve; JVP
#: from the scan
KERNEL = NativeKernel(
    "neurodyn_leaky_recurrence", title="the leaky recurrence kernel", handler=_handler, ffi=_ffi_call,
    reference=reference, variant=_variant, vmap=_vmap, check=_check_case, fallback_title="the scan of the formula")
