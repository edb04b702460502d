"""Chaos tests on time series: the Gottwald–Melbourne 0-1 test and sample entropy."""

from __future__ import annotations

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
    from ._sampen import counts  # numba, on first use

    a, b = counts(x, int(m), float(r), bool(closed))
    if b == 0:
        return float("nan")
    if a == 0:
        return float("inf")
    return float(-np.log(a / b))
