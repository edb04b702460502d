"""Chaos tests on time series: the Gottwald–Melbourne 0-1 test and sample entropy."""

from __future__ import annotations

import numba
import numpy as np


def zero_one_test(x, *, n_c: int = 100, n_cut: int | None = None, seed: int = 0) -> float:
    """Gottwald–Melbourne 0-1 test for chaos, correlation method (G. A. Gottwald, I. Melbourne,
    Proc. R. Soc. A 460:603, 2004; SIAM J. Appl. Dyn. Syst. 8:129, 2009; docs/diagnostics.md).

    For ``n_c`` random ``c`` in (pi/5, 4pi/5): ``p_c(n) = sum_{j<=n} phi_j cos(j c)``,
    ``q_c(n) = sum_{j<=n} phi_j sin(j c)``, mean-square displacement ``M_c(n)`` (averaged over the
    available j, computed with FFT correlations), ``D_c(n) = M_c(n) - (E phi)^2 (1 - cos nc)/(1 - cos c)``,
    ``K_c = corr(n, D_c(n))`` for n = 1..n_cut (default N/10), and ``K = median_c K_c``.
    K ~ 1: chaotic; K ~ 0: regular. Oversampled flows must be subsampled first.
    """
    phi = np.asarray(x, float).ravel()
    n = len(phi)
    n_cut = n // 10 if n_cut is None else n_cut
    cs = np.random.default_rng(seed).uniform(np.pi / 5, 4 * np.pi / 5, n_c)
    lags = np.arange(1, n_cut + 1)
    j = np.arange(1, n + 1)
    mean2 = phi.mean() ** 2
    size = 1 << int(np.ceil(np.log2(2 * n)))
    k = np.empty(n_c)
    for i, c in enumerate(cs):
        z = np.cumsum(phi * np.exp(1j * j * c))  # p + i q
        sq = np.abs(z) ** 2
        csum = np.concatenate([[0.0], np.cumsum(sq)])
        f = np.fft.fft(z, size)
        corr = np.fft.ifft(f * np.conj(f))[: n_cut + 1].real  # sum_j Re(z_{j+lag} conj z_j)
        head = csum[n] - csum[lags]  # sum_{j >= lag} |z_j|^2
        tail = csum[n - lags]  # sum_{j < n - lag} |z_j|^2
        msd = (head + tail - 2 * corr[lags]) / (n - lags)
        d = msd - mean2 * (1 - np.cos(lags * c)) / (1 - np.cos(c))
        k[i] = np.corrcoef(lags, d)[0, 1]
    return float(np.median(k))


@numba.njit(cache=True)
def _sampen_counts(x, m, r, closed):  # pragma: no cover - compiled
    n_templates = len(x) - m
    first = x[:n_templates]
    order = np.argsort(first, kind="mergesort")
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


@numba.njit(cache=True)
def _within(d, r, closed):  # pragma: no cover - compiled
    return d <= r if closed else d < r


@numba.njit(cache=True)
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


@numba.njit(cache=True)
def _sampen_counts_tree(x, r, closed):  # pragma: no cover - compiled
    """B and A of SampEn(m = 2) in O(N log^2 N): sweep over the first coordinate; a Fenwick tree
    over ranks of the second coordinate counts length-2 matches in the sliding window (O(log N));
    for length 3, each node of that tree holds the sorted third coordinates of the points it
    covers with an inner Fenwick tree over them (2-D range counting, O(log^2 N) per query)."""
    n = len(x) - 2
    a1, a2, a3 = x[:n], x[1:n + 1], x[2:n + 2]
    order = np.argsort(a1, kind="mergesort")
    s2 = np.sort(a2)
    rank2 = np.searchsorted(s2, a2, side="left")  # ties share the first rank: fine for range counts
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
    for i in range(n):
        k = rank2[i] + 1
        while k <= n:
            vals[fill[k]] = a3[i]
            fill[k] += 1
            k += k & -k
    for k in range(1, n + 1):
        vals[offsets[k]:offsets[k + 1]] = np.sort(vals[offsets[k]:offsets[k + 1]])
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


def sample_entropy(x, m: int = 2, r: float | None = None, *, closed: bool = True) -> float:
    """Sample entropy ``SampEn(m, r) = -ln(A / B)`` (J. S. Richman, J. R. Moorman, Am. J. Physiol.
    278:H2039, 2000; docs/diagnostics.md).

    Templates ``(x_i, ..., x_{i+m-1})`` for i = 0..N-m-1 (the same N - m templates for lengths m and
    m + 1), Chebyshev distance, pairs i < j: B counts length-m matches, A length-(m+1) matches.
    ``r`` defaults to 0.2 x the standard deviation; ``closed=True`` counts distances <= r
    (Richman–Moorman), ``closed=False`` strictly < r (the ``nolds.sampen`` default). Returns inf
    when A = 0 and nan when B = 0.

    Algorithms (compiled with numba): for m = 2 (the canonical embedding) pairs are counted, not
    enumerated: a sweep over the first template coordinate with a Fenwick tree over the second
    (length-2 matches, O(N log N)) whose nodes carry sorted third coordinates with inner Fenwick
    trees (length-3 matches, 2-D range counting, O(N log^2 N) time and O(N log N) memory). For
    other m the templates are sorted by their first coordinate and each is compared with the
    following ones within r in it: O(N log N + P), P the pairs within r in the first coordinate.
    """
    x = np.ascontiguousarray(np.asarray(x, float).ravel())
    if r is None:
        r = 0.2 * np.std(x)
    if len(x) <= m + 1:
        raise ValueError(f"sample entropy needs more than m + 1 = {m + 1} points, got {len(x)}")
    if m == 2:
        a, b = _sampen_counts_tree(x, float(r), bool(closed))
    else:
        a, b = _sampen_counts(x, int(m), float(r), bool(closed))
    if b == 0:
        return float("nan")
    if a == 0:
        return float("inf")
    return float(-np.log(a / b))
