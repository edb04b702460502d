"""Spike-train and E/I-balance statistics (docs/models/spiking.md). Spikes are given SONATA-style as
``(times, node_ids)``; times in any unit (rates come out per that unit)."""

from __future__ import annotations

import numpy as np


def firing_rates(times, node_ids, n: int, duration: float) -> np.ndarray:
    """Spikes per unit time of each of ``n`` neurons over ``duration``."""
    return np.bincount(np.asarray(node_ids, int), minlength=n)[:n] / duration


def isi_cv(times, node_ids, n: int) -> np.ndarray:
    """Coefficient of variation of inter-spike intervals, ``CV = std(ISI) / mean(ISI)``, per
    neuron (NaN with fewer than 3 spikes). Poisson -> 1, regular -> 0."""
    times, ids = np.asarray(times, float), np.asarray(node_ids, int)
    cv = np.full(n, np.nan)
    order = np.lexsort((times, ids))
    times, ids = times[order], ids[order]
    bounds = np.searchsorted(ids, np.arange(n + 1))
    for i in range(n):
        t = times[bounds[i]:bounds[i + 1]]
        if len(t) >= 3:
            isi = np.diff(t)
            cv[i] = isi.std() / isi.mean()
    return cv


def fano_factor(times, node_ids, n: int, window: float, t_start: float, t_stop: float) -> np.ndarray:
    """Fano factor ``F = Var[N_w] / E[N_w]`` of spike counts in consecutive windows of length
    ``window`` within [t_start, t_stop), per neuron (NaN for silent neurons). Poisson -> 1."""
    times, ids = np.asarray(times, float), np.asarray(node_ids, int)
    n_win = int((t_stop - t_start) // window)
    keep = (times >= t_start) & (times < t_start + n_win * window)
    counts = np.zeros((n_win, n))
    np.add.at(counts, (((times[keep] - t_start) // window).astype(int), ids[keep]), 1)
    mean = counts.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, counts.var(axis=0) / mean, np.nan)


def ei_balance(excitatory, inhibitory) -> dict:
    """E/I balance of input currents ``(n_times, n_neurons)`` (inhibitory currents negative).

    Returns per-neuron arrays: ``ratio`` = <I_E> / |<I_I>| (1 = balanced on average), ``net`` =
    <I_E + I_I> relative to <I_E> (loose vs tight cancellation) and ``correlation`` = Pearson
    correlation of I_E(t) and -I_I(t) (>~ 0.5: tight, detailed balance) — Vogels & Abbott
    (J. Neurosci. 25:10786, 2005); docs/models/spiking.md.
    """
    e, i = np.asarray(excitatory, float), np.asarray(inhibitory, float)
    me, mi = e.mean(axis=0), i.mean(axis=0)
    ec, ic = e - me, -(i - mi)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (ec * ic).sum(axis=0) / np.sqrt((ec ** 2).sum(axis=0) * (ic ** 2).sum(axis=0))
        return {"ratio": me / np.abs(mi), "net": (me + mi) / me, "correlation": corr}
