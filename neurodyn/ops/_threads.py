"""A second thread for a numba FFI kernel, and the ticket scheme that shares a call's work
between it and the calling thread (used by :mod:`neurodyn.ops._leaky_recurrence_kernel` and
:mod:`neurodyn.ops._sparse_matvec_kernel`).

How a kernel uses it:

1. Write the work of one thread as a C function ``int64 work(frame_address, tickets, thread,
   yield_address)`` (all int64: the address of the call frame, the call's counters, 0 on the
   calling thread and 1 on the second, the address of ``sched_yield``): a ``numba.cfunc`` of
   signature :data:`WORK` with ``cache=True``, so that a new process loads its machine code from
   numba's disk cache and compiles only the thin handler around it (a handler that called an
   ``njit`` function instead linked in and optimised the callee's code anew in every process:
   10 s for the leaky recurrence kernel). It cuts the call into pieces and
   takes them in a loop until none is left, in one of two ways:

   * ``piece = take(tickets)``, pieces 0 .. P-1 in order to whichever thread asks, until
     ``piece >= P``;
   * in rounds (the steps of a recurrence), ``piece = claim(tickets, r, thread, P)`` until it
     returns -1: thread 0 takes round r's pieces from the front (0, 1, ...), thread 1 from the
     back (P-1, P-2, ...) until they meet, so on a quiet machine each thread does the same
     half in every round (its part of the operands stays in its own core's cache) and a
     thread the other waits for leaves it the rest. ``share`` must reserve a word per
     round.

   Each piece is taken by exactly one thread. If a piece may start only after earlier pieces
   are done (step t of a recurrence after step t-1), either count them: ``finish(tickets, m)``
   for the m pieces a thread has done, ``wait_for(done(tickets), k, yield_address)`` before a
   piece that needs k pieces done (a thread must not wait while it holds pieces done but not
   counted); or flag them: ``mark_done(flags(tickets, rounds), p)`` after piece p and
   ``all_done(...)`` / ``is_done(...)`` before. Flags let a waiting thread see which piece it
   waits for and compute it itself if the other thread, descheduled, holds it too long (the
   leaky recurrence kernel does; each piece must then write only final values, the same
   whoever computes it). Pieces without dependencies need neither.
2. In the kernel's ``handler``, build ``share = two_threads(work.address)`` once (in Python, at
   handler build time) and call ``share(frame_address, second, words)`` from the handler's
   ``numba.cfunc``: it runs ``work`` on the calling thread and, if ``second`` is true and the
   machine has two cores, on one more thread started for the call (joined before it returns).
   ``words``: the int64 words reserved (zero) after the counters, one per round for ``claim``,
   then the flags' bytes. ``share`` returns False only if the second thread was started and
   its join failed.

Why tickets rather than fixed halves: on the shared, busy machine a thread is often
descheduled for milliseconds. With fixed halves the other thread then waits at every meeting
(two threads measured up to 2x slower than one at load 6.5); with tickets it takes the pieces
the descheduled thread would have done, and is held up only by a piece that thread holds (for
which flags let it step in). The result
must not depend on which thread did which piece: each piece must always compute the same
numbers in the same order (the kernels sum each row in a fixed order).

Waits spin :data:`SPIN` times, then give the core up (``sched_yield``) on each further try,
so a thread waiting for a descheduled one lets it run.
"""

from __future__ import annotations

import os

import numba
import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.core.extending import intrinsic

from . import _frame
from ._frame import address

SPIN = 64
"""Tries of a wait before the waiting thread yields its core on each further try."""

COUNTER_WORDS = 24
"""int64 words of a call's counters before the rounds' claims: the pieces taken and the pieces
done, each on its own 64-byte cache line (at 64 and 128 bytes from an array start that numba
aligns to 16 bytes); the claims of round r at word ``COUNTER_WORDS + r``."""


@intrinsic
def pointer_value(typingctx, pointer):
    """``void* -> int64`` (a call frame handed to the second thread as a number)."""

    def codegen(context, builder, signature, args):
        return builder.ptrtoint(args[0], context.get_value_type(types.int64))

    return types.int64(types.voidptr), codegen


@intrinsic
def load_acquire(typingctx, where):
    """``*(int64*) where`` with acquire order."""

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        return builder.load_atomic(pointer, "acquire", 8)

    return types.int64(types.int64), codegen


@intrinsic
def fetch_add(typingctx, where, value):
    """``*(int64*) where += value``, atomically (acquire-release order); the old value."""

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        return builder.atomic_rmw("add", pointer, args[1], "acq_rel")

    return types.int64(types.int64, types.int64), codegen


@intrinsic
def call_int(typingctx, function):
    """Call the C function ``int f(void)`` at address ``function`` (``sched_yield``)."""

    def codegen(context, builder, signature, args):
        kind = ir.FunctionType(ir.IntType(32), [])
        return builder.call(builder.inttoptr(args[0], kind.as_pointer()), [])

    return types.int32(types.int64), codegen


WORK = types.int64(types.int64, types.int64, types.int64, types.int64)
"""The signature of a thread's work (``numba.cfunc``; module docstring): ``int64 work(frame_address,
tickets, thread, yield_address)``."""


@intrinsic
def call_work(typingctx, function, frame_address, tickets, thread, yield_address):
    """Call the C function of signature :data:`WORK` at address ``function``."""

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        kind = ir.FunctionType(i64, [i64] * 4)
        return builder.call(builder.inttoptr(args[0], kind.as_pointer()), args[1:])

    return types.int64(types.int64, types.int64, types.int64, types.int64, types.int64), codegen


@intrinsic
def store_release_byte(typingctx, where, value):
    """``*(uint8*) where = value`` with release order."""

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], ir.IntType(8).as_pointer())
        builder.store_atomic(builder.trunc(args[1], ir.IntType(8)), pointer, "release", 1)
        return context.get_dummy_value()

    return types.none(types.int64, types.int64), codegen


@intrinsic
def load_acquire_byte(typingctx, where):
    """``*(uint8*) where`` with acquire order."""

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(args[0], ir.IntType(8).as_pointer())
        return builder.zext(builder.load_atomic(pointer, "acquire", 1), ir.IntType(64))

    return types.int64(types.int64), codegen


@numba.njit(cache=True)
def flags(tickets, rounds):
    """The address of the pieces' done flags (one byte a piece, round after round) of a call
    with ``rounds`` rounds of claims: after the claims' words."""
    return tickets + 8 * (COUNTER_WORDS - 8) + 8 * rounds


@numba.njit(cache=True)
def mark_done(flag_address, piece):
    """Flag piece ``piece`` done (release order: its writes are seen by whoever sees the flag)."""
    store_release_byte(flag_address + piece, 1)


@numba.njit(cache=True)
def all_done(flag_address, first, count):
    """Whether pieces ``first <= p < first + count`` are all flagged done (acquire order)."""
    for p in range(first, first + count):
        if load_acquire_byte(flag_address + p) == 0:
            return False
    return True


@numba.njit(cache=True)
def is_done(flag_address, piece):
    """Whether piece ``piece`` is flagged done (acquire order)."""
    return load_acquire_byte(flag_address + piece) != 0


@numba.njit(cache=True)
def take(tickets):
    """The next piece's number (the counter of pieces taken, incremented atomically)."""
    return fetch_add(tickets, 1)


@numba.njit(cache=True)
def done(tickets):
    """The address of the counter of pieces done."""
    return tickets + 64


@numba.njit(cache=True)
def finish(tickets, pieces=1):
    """Count ``pieces`` more pieces done (release order: their writes are seen by whoever waits
    for them)."""
    fetch_add(tickets + 64, pieces)


@numba.njit(cache=True)
def claim(tickets, round_, thread, pieces):
    """A piece of round ``round_`` (of ``pieces``) for ``thread``: from the front for thread 0,
    from the back for thread 1; -1 once the round's pieces are all taken. One atomic add on the
    round's word, which counts the front's claims in its low 32 bits and the back's in its high
    ones: a claim is good if fewer than ``pieces`` were made before it."""
    word = tickets + 8 * (COUNTER_WORDS - 8) + 8 * round_
    old = fetch_add(word, np.int64(1) if thread == 0 else np.int64(1) << 32)
    front, back = old & 0xFFFFFFFF, old >> 32
    if front + back >= pieces:
        return -1
    return front if thread == 0 else pieces - 1 - back


@numba.njit(cache=True)
def wait_for(counter, value, yield_address):
    """Until ``*counter >= value``: spin, then yield the core on each further try."""
    waits = 0
    while load_acquire(counter) < value:
        waits += 1
        if waits > SPIN and yield_address != 0:
            call_int(yield_address)


@numba.njit([(types.Array(types.uint32, 1, "C"), types.int64, types.int64)], cache=True)  # eager: no literal variants
def chunk_bounds(indptr, chunk_nnz, max_chunks):
    """Rows cut into chunks of about ``chunk_nnz`` non-zeros each (at least 1, at most
    ``max_chunks`` and the number of rows): ``bounds`` with chunk c the rows
    ``bounds[c] <= i < bounds[c + 1]``, from the CSR row pointers ``indptr`` (uint32)."""
    n_rows = indptr.shape[0] - 1
    total = np.int64(indptr[n_rows])
    chunks = max(1, min(max_chunks, total // chunk_nnz, n_rows))
    bounds = np.empty(chunks + 1, np.int64)
    for c in range(chunks):
        bounds[c] = min(np.searchsorted(indptr, np.uint32(total * c // chunks)), n_rows)
    bounds[chunks] = n_rows
    return bounds


def sched_yield_address() -> int:
    """The address of the C library's ``sched_yield`` (0 if absent: the waits then only spin)."""
    import ctypes

    try:
        return ctypes.cast(ctypes.CDLL(None).sched_yield, ctypes.c_void_p).value or 0
    except (OSError, AttributeError):
        return 0


def pthread():
    """ctypes ``pthread_create`` and ``pthread_join`` of the C library (``(None, None)`` if absent)."""
    import ctypes
    import ctypes.util

    for name in (None, ctypes.util.find_library("pthread")):
        try:
            lib = ctypes.CDLL(name)
            create = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                      ctypes.c_void_p)(("pthread_create", lib))
            join = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64, ctypes.c_void_p)(("pthread_join", lib))
            return create, join
        except (OSError, AttributeError, TypeError):
            continue
    return None, None


_ALIVE = []
"""The second threads' entry points (``numba.cfunc`` objects), kept for the process's life: a
handler holds only their addresses."""


def two_threads(work):
    """``share(frame_address, second, words) -> bool``, a numba function for a kernel's FFI
    handler: the C function at address ``work`` (signature :data:`WORK`) on the calling thread
    (thread 0) and, when ``second`` is true and the machine has two cores (and
    ``pthread_create`` succeeds), on one more thread (thread 1) started for this call and joined
    before ``share`` returns (module docstring). ``frame_address`` is the handler's ``void*``
    argument; ``tickets`` is the address of the call's fresh counters (zero; ``words`` more for
    :func:`claim` and :func:`flags`); the result is False only if that thread's join failed.
    Compiled in the process (it calls addresses of this process); build it once per handler.
    ``work`` is called through its address with the thread number and the yield address as
    run-time int64 values: a cached function compiled for constants of this process (numba's
    literal types) would be keyed on them, so its disk cache would miss in every new process."""
    yield_address = sched_yield_address()

    @numba.cfunc(types.voidptr(types.voidptr))
    def helper(task_address):
        task = carray(task_address, (2,), np.int64)
        call_work(work, task[0], task[1], 1, yield_address)
        return task_address

    _ALIVE.append(helper)
    helper_address = helper.address
    spawn, join = pthread()
    two_cores = spawn is not None and (os.cpu_count() or 1) >= 2

    @numba.njit
    def share(frame_address, second, words):
        counters = np.zeros(COUNTER_WORDS + words, np.int64)
        tickets = counters.ctypes.data + 64
        task = np.array([pointer_value(frame_address), tickets], np.int64)
        thread = np.zeros(1, np.uint64)
        started = two_cores and second and spawn(thread.ctypes.data, 0, helper_address, task.ctypes.data) == 0
        call_work(work, task[0], tickets, 0, yield_address)
        joined = True
        if started:
            joined = join(thread[0], 0) == 0
        # read after the join, so numba keeps both arrays alive while the second thread uses them
        return joined and counters[0] >= 0 and task[1] == tickets

    return share
