"""The shared two-thread helper of the native kernels (neurodyn.ops._threads): the chunks cover
every row once with about equal non-zero counts, and a ticket is handed out once."""

import numpy as np
import pytest

pytest.importorskip("numba")

from neurodyn.ops import _threads  # noqa: E402


@pytest.mark.parametrize("rows,chunk,most", [(1000, 4096, 64), (7, 4096, 64), (1000, 100, 64), (3, 1, 64)])
def test_chunks_cover_every_row_once_with_balanced_non_zeros(rows, chunk, most):
    counts = np.random.default_rng(0).integers(0, 200, rows)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
    bounds = _threads.chunk_bounds(indptr, chunk, most)
    total = int(indptr[-1])
    expected = max(1, min(most, total // chunk, rows))  # the documented number of chunks
    assert len(bounds) == expected + 1 and bounds[0] == 0 and bounds[-1] == rows
    assert np.all(np.diff(bounds) >= 0)
    per_chunk = np.diff(indptr[bounds].astype(np.int64))
    # each chunk starts at the first row boundary at or past its share: at most one row over it
    assert per_chunk.sum() == total and per_chunk.max() <= total / expected + counts.max()


def test_tickets_are_handed_out_once_each():
    counters = np.zeros(_threads.COUNTER_WORDS, np.int64)
    tickets = counters.ctypes.data + 64
    assert [_threads.take(tickets) for _ in range(5)] == [0, 1, 2, 3, 4]
    _threads.finish(tickets)
    _threads.finish(tickets)
    _threads.wait_for(_threads.done(tickets), 2, _threads.sched_yield_address())  # returns: two are done
    assert counters[8] == 5 and counters[16] == 2


def test_claims_split_a_round_from_both_ends_once_each():
    counters = np.zeros(_threads.COUNTER_WORDS + 3, np.int64)
    tickets = counters.ctypes.data + 64
    # round 1: thread 0 takes two from the front, thread 1 the rest from the back, then none is left
    got = [_threads.claim(tickets, 1, 0, 5), _threads.claim(tickets, 1, 1, 5), _threads.claim(tickets, 1, 0, 5),
           _threads.claim(tickets, 1, 1, 5), _threads.claim(tickets, 1, 1, 5), _threads.claim(tickets, 1, 0, 5),
           _threads.claim(tickets, 1, 1, 5)]
    assert got == [0, 4, 1, 3, 2, -1, -1]
    # the rounds are independent: round 2 starts afresh, round 0 was not touched
    assert _threads.claim(tickets, 2, 1, 5) == 4 and counters[_threads.COUNTER_WORDS] == 0
