"""Spike-train and E/I-balance statistics (docs/models/spiking.md). Spikes are given SONATA-style as
``(times, node_ids)``, times in ms unless a function says otherwise; rates are in Hz everywhere
(as ``/diagnostics/<pop>.rate`` in a run file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.loop import Observer
from ..core.monitors import node_indices
from ..core.model import surface
from ..errors import SpecError, check_int
from . import accumulators as acc_


TIME_UNITS_PER_SECOND = {"ms": 1000.0, "s": 1.0}


def firing_rates(times, node_ids, n: int, duration: float, *, time_unit: str = "ms") -> np.ndarray:
    """Firing rate in Hz of each of ``n`` neurons: its spike count over ``duration``, which is in
    ``time_unit`` (``"ms"``, SONATA's unit and neurodyn's, or ``"s"``)::

        rate_i = N_i / (duration / 1 s)   [Hz]
    """
    if time_unit not in TIME_UNITS_PER_SECOND:
        raise SpecError(f"firing_rates: time_unit must be 'ms' or 's' (rates are in Hz), got {time_unit!r}")
    seconds = duration / TIME_UNITS_PER_SECOND[time_unit]
    return np.bincount(np.asarray(node_ids, int), minlength=n)[:n] / seconds


def isi_cv(times, node_ids, n: int) -> np.ndarray:
    """Coefficient of variation of inter-spike intervals, ``CV = std(ISI) / mean(ISI)``, per
    neuron (NaN with fewer than 3 spikes). Poisson -> 1, regular -> 0."""
    times, ids = np.asarray(times, float), np.asarray(node_ids, int)
    order = np.lexsort((times, ids))
    times, ids = times[order], ids[order]
    same = ids[1:] == ids[:-1]  # consecutive spikes of one neuron: one ISI each
    isi, owner = np.diff(times)[same], ids[1:][same]
    count = np.bincount(owner, minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner, isi, minlength=n)[:n] / count
        std = np.sqrt(np.bincount(owner, (isi - mean[owner]) ** 2, minlength=n)[:n] / count)
        return np.where(count >= 2, std / mean, np.nan)


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


def bin_means(x, bins: int) -> np.ndarray:
    """Means of ``x`` ``(n_times, ...)`` over consecutive bins of ``bins`` samples (an incomplete
    last bin is dropped)."""
    x = np.asarray(x, float)
    k = len(x) // bins
    return x[:k * bins].reshape((k, bins) + x.shape[1:]).mean(axis=1)


def ei_balance(excitatory, inhibitory, bins: int = 1) -> dict:
    """E/I balance of input currents ``(n_times, n_neurons)`` (inhibitory currents negative).

    Returns per-neuron arrays: ``ratio`` = <I_E> / |<I_I>| (1 = balanced on average), ``net`` =
    <I_E + I_I> relative to <I_E> (loose vs tight cancellation) and ``correlation`` = Pearson
    correlation of I_E(t) and -I_I(t), both averaged in bins of ``bins`` samples first (1-5 ms
    in the literature; >~ 0.5: tight, detailed balance) — van Vreeswijk & Sompolinsky (Science
    274:1724, 1996), Vogels & Abbott (J. Neurosci. 25:10786, 2005); docs/models/spiking.md.
    """
    e, i = np.asarray(excitatory, float), np.asarray(inhibitory, float)
    me, mi = e.mean(axis=0), i.mean(axis=0)
    eb, ib = bin_means(e, bins), bin_means(i, bins)
    ec, ic = eb - eb.mean(axis=0), -(ib - ib.mean(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (ec * ic).sum(axis=0) / np.sqrt((ec ** 2).sum(axis=0) * (ic ** 2).sum(axis=0))
        return {"ratio": me / np.abs(mi), "net": (me + mi) / me, "correlation": corr}


def synchrony_chi(v) -> dict:
    """Golomb's synchrony measure of membrane potentials ``v`` ``(n_times, n_neurons)``:
    ``chi^2 = Var_t(<V>_pop) / <Var_t(V_i)>_i`` (variances over time, population SD), in [0, 1]
    for large N: 1 when the neurons move together, about 1/N when they are independent
    (D. Golomb, Scholarpedia 2(1):1347, 2007; D. Hansel & H. Sompolinsky 1992). Returns
    ``{"chi_squared", "chi"}``."""
    v = np.asarray(v, float)
    chi2 = v.mean(axis=1).var() / v.var(axis=0).mean()
    return {"chi_squared": chi2, "chi": np.sqrt(chi2)}


# ---------------------------------------------------------------- streamed on a running network

class MonitorState(NamedTuple):
    """The carry of a :class:`SpikingMonitor`: the steps taken (the absolute step after the
    last observed one), each monitored population's accumulators and the node indices of the
    populations observed on a subset."""

    step: jax.Array
    stats: dict
    nodes: dict = {}


@dataclass(frozen=True)
class SpikingMonitor(Observer):
    """An observer (:class:`neurodyn.core.Observer`) that accumulates spike-train and E/I-balance
    statistics of a network's spiking populations at every step, inside the compiled loop: no
    per-step record is kept, so a long run needs memory for the statistics alone. Give it to
    ``simulate(network, ..., observers=[monitor])``; the results are the trajectory's
    ``diagnostics`` (:meth:`finalize`), the raw values :meth:`results` of its carry.

    Every observed step from absolute step ``start`` on, for each population in ``populations``
    (state after the step; spike times in steps, as in the run file):

    * spike counts per neuron (rates), intervals between spikes (CV of the ISIs, as
      :func:`isi_cv`), spike counts in consecutive windows of ``window_steps`` (Fano factor, as
      :func:`fano_factor`);
    * ``V`` (sums of V_i - V_i(0), their squares, and of the population mean and its square,
      ``V(0)`` the state where observation starts): Golomb's ``chi^2`` (:func:`synchrony_chi`);
    * for models with synaptic currents (``currents(state) -> (I_E, I_I)``, e.g.
      :class:`~neurodyn.models.SynapticLIF`): sums of I_E and I_I (the ratio
      ``<I_E> / |<I_I>|``) and the Pearson correlation of I_E and -I_I averaged in bins of
      ``bin_steps`` (as :func:`ei_balance` with ``bins=bin_steps``).

    ``neurons`` (``{population: node indices}``, read by ``init`` and carried) restricts a
    population's statistics to those neurons, so a large network pays for the subset only; the
    per-neuron results are then the subset's, in the order of ``<pop>.node_ids``.

    Build it with :meth:`create`. See docs/models/spiking.md (E/I diagnostics).
    """

    populations: tuple
    bin_steps: int = 20
    window_steps: int = 1000
    start: int = 0
    dt: float = 0.1  # ms, the network's step
    neurons: tuple = field(default=(), compare=False)  # ((population, node indices), ...): read by init only

    kind = "spiking_statistics"

    @classmethod
    def create(cls, network, *, populations=None, bin_ms: float = 2.0, window_ms: float = 100.0,
               start: int = 0, neurons=None) -> "SpikingMonitor":
        """Monitor ``populations`` of ``network`` (default: every population with a ``spike``
        event and a ``v`` variable) from step ``start``; E/I correlation bins of ``bin_ms`` and
        Fano windows of ``window_ms`` (rounded to whole steps of the network's dt, in ms);
        ``neurons`` (``{population: node indices or "start:stop"}``) observes only those
        neurons of a population."""
        if not hasattr(network, "populations"):
            raise SpecError("SpikingMonitor: expected a Network (wrap a single population in nd.Network)")
        if populations is None:
            populations = tuple(name for name, m in network.populations.items() if _monitorable(m))
        for name in populations:
            if name not in network.populations or not _monitorable(network.populations[name]):
                raise SpecError(f"SpikingMonitor: population {name!r} is not a spiking population with a 'v' "
                                f"variable (spiking: {', '.join(n for n, m in network.populations.items() if _monitorable(m)) or 'none'})")
        dt = float(np.asarray(surface(network).dt))
        steps = {}
        for name, ms in (("bin_ms", bin_ms), ("window_ms", window_ms)):
            if not float(ms) >= dt:
                raise SpecError(f"SpikingMonitor: {name} must be at least one step ({dt:g} ms), got {ms!r}")
            steps[name] = int(round(float(ms) / dt))
        chosen = tuple((name, node_indices(f"neurons.{name}", value, int(network.populations[name].n)))
                       for name, value in (neurons or {}).items() if name in populations)
        return cls(tuple(populations), steps["bin_ms"], steps["window_ms"], check_int("start", start, 0), dt, chosen)

    # ------------------------------------------------------------ the observer protocol

    def init(self, model, state) -> MonitorState:
        """Empty statistics for a run observed from ``state`` (a network state)."""
        stats, nodes = {}, {name: jnp.asarray(idx, jnp.int32) for name, idx in self.neurons}
        for name in self.populations:
            v = _chosen(state[name].v, nodes.get(name))
            n, dtype = v.shape[-1], v.dtype
            zero = jnp.zeros((n,), dtype)
            acc = {"spikes": jnp.zeros((n,), jnp.int32), "isi": acc_.isi_init(n, dtype),
                   "windows": acc_.window_counts_init(n, dtype),
                   # V - V at the start: sums of deviations, free of the cancellation of <V^2> - <V>^2
                   "v_shift": v, "v": (zero, zero), "v_pop": (jnp.zeros((), dtype), jnp.zeros((), dtype))}
            if hasattr(model.populations[name], "currents"):
                acc["currents"] = (zero, zero)
                acc["pair"] = acc_.binned_pair_init(n, dtype)
            stats[name] = acc
        return MonitorState(jnp.zeros((), jnp.int32), stats, nodes)

    def step(self, carry: MonitorState, model, new, i):
        """Fold the state after absolute step ``i`` into the statistics (from ``start`` on)."""
        k = i - self.start  # monitored steps before this one
        active = k >= 0
        close_bin = active & ((k + 1) % self.bin_steps == 0)
        close_window = active & ((k + 1) % self.window_steps == 0)
        stats = {}
        for name in self.populations:
            pop_model, pop, acc = model.populations[name], new[name], carry.stats[name]
            chosen = carry.nodes.get(name)
            spike = _chosen(pop.spike, chosen).astype(bool)
            dv = _chosen(pop.v, chosen) - acc["v_shift"]
            upd = {"spikes": acc["spikes"] + spike, "isi": acc_.isi_update(acc["isi"], spike, i + 1),
                   "windows": acc_.window_counts_update(acc["windows"], spike, close_window),
                   "v_shift": acc["v_shift"], "v": (acc["v"][0] + dv, acc["v"][1] + dv * dv),
                   "v_pop": (acc["v_pop"][0] + dv.mean(), acc["v_pop"][1] + dv.mean() ** 2)}
            if "currents" in acc:
                i_e, i_i = (_chosen(x, chosen) for x in pop_model.currents(pop))
                upd["currents"] = (acc["currents"][0] + i_e, acc["currents"][1] + i_i)
                upd["pair"] = acc_.binned_pair_update(acc["pair"], i_e, -i_i, close_bin, self.bin_steps)
            # (a select per accumulator and step, only when there is a start to wait for)
            stats[name] = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), upd, acc) if self.start else upd
        return MonitorState(jnp.asarray(i + 1, jnp.int32), stats, carry.nodes), None

    def finalize(self, carry: MonitorState, steps=None) -> dict[str, tuple[np.ndarray, dict]]:
        """``{"<population>.<statistic>": (values, attrs)}`` for ``/diagnostics`` (host side):
        per-neuron ``rate`` (Hz), ``cv_isi``, ``fano``, and with synaptic currents ``ei_ratio``,
        ``ei_net``, ``ei_correlation``; the scalar ``synchrony`` (chi). Attrs hold the method,
        its parameters and the mean over neurons with a finite value (left out when none is)."""
        out = {}
        chosen = dict(self.neurons)
        for pop, res in self.results(carry).items():
            common = {"start_step": self.start, "steps": res["steps"]}
            if pop in chosen:  # the per-neuron values are those of these neurons
                out[f"{pop}.node_ids"] = (chosen[pop].astype(np.uint64), {
                    "method": "the neurons whose statistics are streamed (record.neurons), in the order of the "
                              "per-neuron values", **common})
            out[f"{pop}.rate"] = (res["rate"], {
                "method": "spikes per neuron per second of the monitored steps", "units": "Hz",
                "population_rate": res["population_rate"], **common})
            out[f"{pop}.cv_isi"] = (res["cv_isi"], {
                "method": "CV = std(ISI) / mean(ISI) per neuron (NaN below 3 spikes)",
                "mean": _finite_mean(res["cv_isi"]), **common})
            out[f"{pop}.fano"] = (res["fano"], {
                "method": "Fano factor Var[N_w] / E[N_w] of spike counts in consecutive windows per neuron",
                "window_ms": self.window_steps * self.dt, "windows": res["windows"],
                "mean": _finite_mean(res["fano"]), **common})
            out[f"{pop}.synchrony"] = (np.asarray(res["chi"]), {
                "method": "Golomb chi, chi^2 = Var_t(<V>_pop) / <Var_t(V_i)>_i", "chi_squared": res["chi_squared"],
                **common})
            if "ei_ratio" in res:
                out[f"{pop}.ei_ratio"] = (res["ei_ratio"], {
                    "method": "<I_E> / |<I_I>| per neuron (COBA: I = g (E_rev - V); CUBA: the synaptic variables)",
                    "mean": _finite_mean(res["ei_ratio"]), **common})
                out[f"{pop}.ei_net"] = (res["ei_net"], {
                    "method": "<I_E + I_I> / <I_E> per neuron", "mean": _finite_mean(res["ei_net"]), **common})
                out[f"{pop}.ei_correlation"] = (res["ei_correlation"], {
                    "method": "Pearson correlation of I_E and -I_I per neuron, averaged in bins",
                    "bin_ms": self.bin_steps * self.dt, "bins": res["bins"],
                    "mean": _finite_mean(res["ei_correlation"]), **common})
        return {name: (value, {k: v for k, v in attrs.items() if not (isinstance(v, float) and np.isnan(v))})
                for name, (value, attrs) in out.items()}

    # ------------------------------------------------------------ results

    def results(self, carry: MonitorState) -> dict:
        """``{population: {name: value}}`` (NumPy) from the statistics in ``carry``:

        * ``rate`` (per neuron, Hz: spikes per second of the monitored time) and
          ``population_rate`` (their mean, Hz);
        * ``cv_isi`` (per neuron; NaN below 3 spikes), ``fano`` (per neuron, windows of
          ``window_steps``; NaN for a silent neuron);
        * ``chi_squared`` and ``chi`` (Golomb's synchrony of ``V``);
        * with synaptic currents: ``ei_ratio`` = <I_E> / |<I_I>| and ``ei_net`` = <I_E + I_I> /
          <I_E> per neuron, ``ei_correlation`` (Pearson of I_E and -I_I in bins) per neuron;
        * ``steps`` monitored, ``bins`` and ``windows`` closed.
        """
        steps = int(carry.step) - self.start
        duration_s = max(steps, 0) * self.dt * 1e-3
        out = {}
        for name in self.populations:
            acc = jax.tree_util.tree_map(np.asarray, carry.stats[name])
            n_steps = max(steps, 1)
            res = {"steps": max(steps, 0), "windows": int(acc["windows"][1])}
            rate = acc["spikes"] / duration_s if duration_s > 0 else np.full(acc["spikes"].shape, np.nan)
            res.update(rate=rate, population_rate=float(np.mean(rate)))
            res["cv_isi"] = np.asarray(acc_.isi_finalize(jax.tree_util.tree_map(jnp.asarray, acc["isi"])))
            res["fano"] = np.asarray(acc_.window_counts_finalize(jax.tree_util.tree_map(jnp.asarray, acc["windows"]))[1])
            mean_v, sq_v = acc["v"][0] / n_steps, acc["v"][1] / n_steps
            var_i = np.maximum(sq_v - mean_v ** 2, 0.0)
            mean_p = acc["v_pop"][0] / n_steps
            var_p = max(float(acc["v_pop"][1] / n_steps - mean_p ** 2), 0.0)
            chi2 = var_p / float(np.mean(var_i)) if np.mean(var_i) > 0 else float("nan")
            res.update(chi_squared=chi2, chi=float(np.sqrt(chi2)))
            if "currents" in acc:
                me, mi = acc["currents"][0] / n_steps, acc["currents"][1] / n_steps
                with np.errstate(invalid="ignore", divide="ignore"):
                    res.update(ei_ratio=me / np.abs(mi), ei_net=(me + mi) / me)
                res["ei_correlation"] = np.asarray(acc_.binned_pair_finalize(
                    jax.tree_util.tree_map(jnp.asarray, acc["pair"])))
                res["bins"] = int(acc["pair"][2])
            out[name] = res
        return out


def _chosen(x, nodes):
    """``x`` (one value per neuron) at ``nodes`` (all of it for ``None``)."""
    return x if nodes is None else x[nodes]


def _finite_mean(values) -> float:
    finite = np.asarray(values, float)[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _monitorable(model) -> bool:
    return "spike" in getattr(model, "EVENTS", ()) and "v" in getattr(model, "VARIABLES", ())
