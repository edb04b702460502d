"""The numba loops of :func:`neurodyn.diagnostics.chaos.sample_entropy` (imported on its first
call, so ``import neurodyn`` does not import numba). Cached on disk by numba where it has a
writable place for its cache (:func:`neurodyn.ops.backends.numba_problem`); compiled in each
process where it has none.

The sorting is done by NumPy before the loops (:func:`counts`): numba's own sorts, and the
error paths of slice assignment, were most of their compile time (9 s of 9.4 s, once per
installation, more on a loaded machine)."""

from __future__ import annotations

import numba
import numpy as np

from ..ops.backends import numba_problem

_CACHE = not numba_problem()


def counts(x: np.ndarray, m: int, r: float, closed: bool) -> tuple[int, int]:
    """``(A, B)`` of SampEn(m, r): the template pairs within ``r`` at length ``m + 1`` and ``m``
    (Chebyshev distance, ``<= r`` if ``closed`` else ``< r``), by :func:`sampen_counts_tree` for
    ``m = 2`` and :func:`sampen_counts` otherwise, with their sorting done here in NumPy."""
    if m == 2:
        n = len(x) - 2
        a1, a2, a3 = x[:n], x[1:n + 1], x[2:n + 2]
        s2 = np.sort(a2)
        rank2 = np.searchsorted(s2, a2, side="left")  # ties share the first rank: fine for range counts
        return sampen_counts_tree(x, np.argsort(a1, kind="mergesort"), s2, rank2, np.argsort(a3, kind="stable"),
                                  r, closed)
    return sampen_counts(x, np.argsort(x[:len(x) - m], kind="mergesort"), m, r, closed)


@numba.njit(cache=_CACHE)
def sampen_counts(x, order, m, r, closed):  # pragma: no cover - compiled
    """``(A, B)`` for any ``m``: the templates in ``order`` of their first coordinate, each
    compared with the following ones within ``r`` in it."""
    n_templates = len(x) - m
    first = x[:n_templates]
    b = 0
    a = 0
    for p in range(n_templates):
        i = order[p]
        for q in range(p + 1, n_templates):
            j = order[q]
            gap = first[j] - first[i]
            if gap > r or (not closed and gap >= r):
                break
            ok = True
            for k in range(1, m):
                d = abs(x[i + k] - x[j + k])
                if d > r or (not closed and d >= r):
                    ok = False
                    break
            if ok:
                b += 1
                d = abs(x[i + m] - x[j + m])
                if d < r or (closed and d == r):
                    a += 1
    return a, b


@numba.njit(cache=_CACHE)
def _within(d, r, closed):  # pragma: no cover - compiled
    return d <= r if closed else d < r


@numba.njit(cache=_CACHE)
def _rank_bounds(sorted_vals, v, r, closed):  # pragma: no cover - compiled
    """Index range [lo, hi) of the sorted values w with |w - v| within r, by the same floating-point
    test as the direct comparison (v - r and v + r alone can round across a tie at the boundary)."""
    lo = np.searchsorted(sorted_vals, v - r, side="left")
    hi = np.searchsorted(sorted_vals, v + r, side="right")
    while lo > 0 and _within(abs(sorted_vals[lo - 1] - v), r, closed):
        lo -= 1
    while lo < hi and not _within(abs(sorted_vals[lo] - v), r, closed):
        lo += 1
    while hi < len(sorted_vals) and _within(abs(sorted_vals[hi] - v), r, closed):
        hi += 1
    while hi > lo and not _within(abs(sorted_vals[hi - 1] - v), r, closed):
        hi -= 1
    return lo, hi


@numba.njit(cache=_CACHE)
def sampen_counts_tree(x, order, s2, rank2, by_third, r, closed):  # pragma: no cover - compiled
    """B and A of SampEn(m = 2) in O(N log^2 N): sweep over the first coordinate; a Fenwick tree
    over ranks of the second coordinate counts length-2 matches in the sliding window (O(log N));
    for length 3, each node of that tree holds the sorted third coordinates of the points it
    covers with an inner Fenwick tree over them (2-D range counting, O(log^2 N) per query).
    ``order``: the points by first coordinate; ``s2`` the second coordinates sorted, ``rank2``
    each point's rank among them; ``by_third`` the points by third coordinate (filled in that
    order, each node's list is sorted)."""
    n = len(x) - 2
    a1, a2, a3 = x[:n], x[1:n + 1], x[2:n + 2]
    # outer Fenwick nodes 1..n; node k covers ranks (k - lowbit(k), k]
    sizes = np.zeros(n + 1, np.int64)
    for i in range(n):
        k = rank2[i] + 1
        while k <= n:
            sizes[k] += 1
            k += k & -k
    offsets = np.zeros(n + 2, np.int64)
    for k in range(1, n + 1):
        offsets[k + 1] = offsets[k] + sizes[k]
    vals = np.empty(offsets[n + 1])
    fill = offsets[:n + 1].copy()
    for i in by_third:
        k = rank2[i] + 1
        while k <= n:
            vals[fill[k]] = a3[i]
            fill[k] += 1
            k += k & -k
    inner = np.zeros(offsets[n + 1], np.int64)  # inner Fenwick trees, 1-based within each node
    count2 = np.zeros(n + 1, np.int64)  # plain Fenwick tree over rank2 for the length-2 count

    def update(i, delta):
        k = rank2[i] + 1
        while k <= n:
            count2[k] += delta
            base = offsets[k]
            size = offsets[k + 1] - base
            p = np.searchsorted(vals[base:base + size], a3[i], side="left") + 1
            while p <= size:
                inner[base + p - 1] += delta
                p += p & -p
            k += k & -k

    def prefix2(k):
        total = 0
        while k > 0:
            total += count2[k]
            k -= k & -k
        return total

    def prefix3(k, v3):
        # points with rank2 < k and third coordinate within r of v3
        total = 0
        while k > 0:
            base = offsets[k]
            size = offsets[k + 1] - base
            lo, hi = _rank_bounds(vals[base:base + size], v3, r, closed)
            p = hi
            while p > 0:
                total += inner[base + p - 1]
                p -= p & -p
            p = lo
            while p > 0:
                total -= inner[base + p - 1]
                p -= p & -p
            k -= k & -k
        return total

    b = 0
    a = 0
    left = 0
    for p in range(n):
        i = order[p]
        while (a1[i] - a1[order[left]] > r) or (not closed and a1[i] - a1[order[left]] >= r):
            update(order[left], -1)
            left += 1
        lo2, hi2 = _rank_bounds(s2, a2[i], r, closed)
        b += prefix2(hi2) - prefix2(lo2)
        a += prefix3(hi2, a3[i]) - prefix3(lo2, a3[i])
        update(i, 1)
    return a, b
