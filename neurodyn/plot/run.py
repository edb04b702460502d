"""``neurodyn plot`` for run files: the figures a run's content allows.

* ``timeseries``: every recorded variable (or those asked for) against time, one panel each;
* ``phase``: a phase portrait of two variables with the same nodes (by default the first two
  variables of one population, e.g. Chialvo's x and y);
* ``raster``: the spikes of each population with its population rate below;
* ``order_parameter``: r(t) where the run recorded it or streamed ``/diagnostics/order_parameter``.

Axes carry the units stored in the file (SONATA's: ms for spiking models, iterations for maps);
every figure's title names the spec, its seed and what it builds (populations, models, sizes,
couplings, overrides). ``window`` restricts every figure to a time interval.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from ..core.monitors import RATE
from ..errors import NeurodynError, OutputError
from .figures import axis_label, pyplot

MAX_NODES = 8  # lines drawn per variable: the first nodes, the legend says of how many
MAX_SAMPLES = 20_000  # longer series are drawn every k-th sample (the axis label says so)
MAP_WINDOW = 200  # iterations of a map drawn by default: the last ones (dots joined by lines would draw flows
                  # that do not exist, and 20,000 iterates as dots are a solid band)
MAX_PHASE_NODES = 200  # oscillators drawn in the phase raster: the first ones (the label says of how many)
MAX_RASTER_NEURONS = 500  # neurons drawn in a raster: the first ones (the title says of how many)


def parse_window(text: str | None) -> tuple[float, float] | None:
    """``"START:STOP"`` (either end may be empty) as ``(start, stop)`` in the file's time unit."""
    if not text:
        return None
    start, sep, stop = text.partition(":")
    try:
        if not sep:
            raise ValueError
        window = (float(start) if start.strip() else -np.inf, float(stop) if stop.strip() else np.inf)
    except ValueError:
        raise NeurodynError(f"--window {text!r}: expected START:STOP in the file's time unit, e.g. 1000:2000") from None
    if not window[0] < window[1]:
        raise NeurodynError(f"--window {text!r}: START must be below STOP")
    return window


def title(meta: dict, what: str) -> str:
    """``"<what>: <spec name>, seed <seed>"`` and a second line saying what the spec builds."""
    head = f"{what}: {meta.get('name', 'run')}, seed {meta.get('seed', '?')}"
    status = meta.get("status", "complete")
    if status != "complete":
        head += f" ({status})"
    import textwrap

    return "\n".join([head, *textwrap.wrap(spec_summary(meta), 110)])


def spec_summary(meta: dict) -> str:
    """The populations (model and size), couplings and overrides of the stored spec, in one line."""
    try:
        spec = tomllib.loads(str(meta.get("spec", "")))
    except tomllib.TOMLDecodeError:
        spec = {}
    parts = [f"{name} = {p.get('model', '?')} (n = {p.get('n', 1)})" for name, p in spec.get("populations", {}).items()]
    couplings = list(spec.get("couplings", {}))
    if couplings:
        parts.append("couplings " + ", ".join(couplings))
    overrides = meta.get("overrides") or []
    if overrides:
        parts.append("--set " + " ".join(overrides))
    return "spec: " + ("; ".join(parts) if parts else "not stored")


def _series(data: dict, window):
    """``{pop.var: (times, values (n_times, n_nodes), unit)}`` of the reports, inside ``window``."""
    out = {}
    for pop, variables in data["report"].items():
        for var, rep in variables.items():
            t, v = np.asarray(rep["times"], float), np.asarray(rep["data"])
            if window is not None:
                keep = (t >= window[0]) & (t <= window[1])
                t, v = t[keep], v[keep]
            out[f"{pop}.{var}"] = (t, v, str(rep.get("units", "1")))
    return out


def is_map(meta: dict) -> bool:
    """Whether the run's model steps in iterations (a map): its samples are drawn as dots."""
    return str(meta.get("time_unit", "")) == "iteration"


def default_window(data: dict, window):
    """``window``, or for a map run longer than :data:`MAP_WINDOW` recorded iterations and no
    window asked for, the last :data:`MAP_WINDOW` iterations; and a note saying which."""
    if window is not None or not is_map(data["meta"]):
        return window, ""
    times = [np.asarray(rep["times"], float) for variables in data["report"].values() for rep in variables.values()]
    times = [t for t in times if t.size]
    if not times:
        return None, ""
    last, first = max(float(t[-1]) for t in times), min(float(t[0]) for t in times)
    if last - first <= MAP_WINDOW:
        return None, ""
    return (last - MAP_WINDOW + 1, np.inf), (f"last {MAP_WINDOW} of {int(last - first) + 1:,} iterations "
                                             f"(--window START:STOP for others)")


def _legend_outside(ax, **kwargs) -> None:
    """A legend right of the axes, never on the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False, fontsize=7,
              title_fontsize=7, **kwargs)


def _stride(n: int) -> int:
    return max(1, -(-n // MAX_SAMPLES))


def _time_label(meta: dict, stride: int = 1) -> str:
    label = axis_label("time", str(meta.get("time_unit", "1")))
    return label if stride == 1 else f"{label}, every {stride}th sample drawn"


def timeseries_figure(data: dict, variables: list[str] | None = None, window=None):
    """One panel per variable against time (at most :data:`MAX_NODES` nodes each). A map's
    iterates are dots, by default over its last :data:`MAP_WINDOW` iterations; a phase (unit rad)
    is drawn as a phase raster (:func:`_phase_raster`) of the first :data:`MAX_PHASE_NODES` nodes."""
    window, note = default_window(data, window)
    series = _series(data, window)
    names = list(series) if not variables else variables
    if not names:
        raise OutputError("the run file records no variables (no /report group)")
    _check_names(names, series)
    dots = is_map(data["meta"])
    heights = [3.0 if series[n][2] == "rad" else 2.2 for n in names]
    fig, axes = pyplot().subplots(len(names), 1, figsize=(9, 1.2 + sum(heights)), sharex=True, squeeze=False,
                                  layout="constrained", gridspec_kw={"height_ratios": heights})
    stride = 1
    ids = {f"{pop}.{var}": rep["node_ids"] for pop, variables in data["report"].items()
           for var, rep in variables.items()}
    for ax, name in zip(axes[:, 0], names):
        t, v, unit = series[name]
        stride = _stride(len(t))
        n_nodes = v.shape[1]
        node_ids = np.asarray(ids.get(name, np.arange(n_nodes)), int)  # a subset's own ids (record.neurons)
        if unit == "rad":
            _phase_raster(fig, ax, t[::stride], v[::stride], name)
            continue
        for node in range(min(n_nodes, MAX_NODES)):
            label = f"node {node_ids[node]}" if len(node_ids) == n_nodes else f"node {node}"
            if dots:
                ax.plot(t[::stride], v[::stride, node], ".", ms=2.5, label=label)
            else:
                ax.plot(t[::stride], v[::stride, node], lw=0.7, label=label)
        ax.set_ylabel(axis_label(name, unit))
        if n_nodes > 1:
            shown = f"first {MAX_NODES}\nof {n_nodes}" if n_nodes > MAX_NODES else None
            _legend_outside(ax, title=shown, markerscale=3 if dots else 1)
    label = _time_label(data["meta"], stride)
    axes[-1, 0].set_xlabel(f"{label}; {note}" if note else label)
    fig.suptitle(title(data["meta"], "time series"), fontsize=10)
    return fig


def _phase_raster(fig, ax, t, v, name: str) -> None:
    """Phases relative to the mean-field phase psi(t) = arg sum_j exp(i theta_j) of all recorded
    nodes, wrapped to [-pi, pi), as colour (a cyclic map) over node and time; rows sorted by mean
    angular velocity. Phase-locked nodes keep one colour; drifting nodes cycle through the map.
    Unwrapped phases grow without bound and hide the synchrony this shows."""
    total = v.shape[1]
    nodes = np.unique(np.linspace(0, total - 1, min(total, MAX_PHASE_NODES)).round().astype(int))
    n = len(nodes)
    psi = np.angle(np.exp(1j * v).mean(axis=1))
    span = max(float(t[-1] - t[0]), np.finfo(float).eps) if len(t) > 1 else 1.0
    velocity = (v[-1, nodes] - v[0, nodes]) / span if len(t) > 1 else np.zeros(n)
    order = nodes[np.argsort(velocity, kind="stable")]
    relative = np.mod(v[:, order] - psi[:, None] + np.pi, 2 * np.pi) - np.pi
    if len(t) > 1:
        half = np.diff(t).mean() / 2
        extent = (t[0] - half, t[-1] + half, -0.5, n - 0.5)
    else:
        extent = (t[0] - 0.5, t[0] + 0.5, -0.5, n - 0.5) if len(t) else None
    image = ax.imshow(relative.T, aspect="auto", origin="lower", cmap="twilight_shifted", vmin=-np.pi, vmax=np.pi,
                      interpolation="nearest", extent=extent)
    pop, var = name.rpartition(".")[0], name.rpartition(".")[2]
    shown = f"{n} of {total} nodes (evenly spaced)" if total > n else f"{n} nodes"
    ax.set_ylabel(f"{pop}: {shown},\nsorted by mean frequency")
    ax.set_yticks([])
    bar = fig.colorbar(image, ax=ax, pad=0.01, ticks=[-np.pi, 0, np.pi])
    bar.ax.set_yticklabels(["-π", "0", "π"])
    bar.set_label(f"{var} - ψ, wrapped (rad);\nψ: mean-field phase", fontsize=8)


def phase_pair(data: dict, variables: list[str] | None = None) -> tuple[str, str] | None:
    """The two variables of the default phase portrait: the first two (of those asked for, or of
    one population) that have the same nodes; ``None`` when no two do."""
    series = {f"{p}.{v}": r["data"].shape[1] for p, vs in data["report"].items() for v, r in vs.items()}
    names = [n for n in (variables or series) if n in series]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if series[a] == series[b] and (variables or a.rpartition(".")[0] == b.rpartition(".")[0]):
                return a, b
    return None


def phase_figure(data: dict, pair: tuple[str, str], window=None):
    """Phase portrait: ``pair[1]`` against ``pair[0]``, one curve per node (at most :data:`MAX_NODES`)."""
    series = _series(data, window)
    _check_names(list(pair), series)
    dots = is_map(data["meta"])
    (_, x, ux), (_, y, uy) = series[pair[0]], series[pair[1]]
    if x.shape[1] != y.shape[1]:
        raise OutputError(f"--phase {pair[0]},{pair[1]}: the variables have {x.shape[1]} and {y.shape[1]} nodes; "
                          f"a phase portrait needs the same nodes")
    fig, ax = pyplot().subplots(figsize=(7.4, 5.6), layout="constrained")
    stride = _stride(len(x))
    for node in range(min(x.shape[1], MAX_NODES)):
        if dots:  # successive iterates of a map are points, not a flow
            ax.plot(x[::stride, node], y[::stride, node], ".", ms=1.5, alpha=0.6, label=f"node {node}")
        else:
            ax.plot(x[::stride, node], y[::stride, node], lw=0.5, alpha=0.8, label=f"node {node}")
    ax.set_xlabel(axis_label(pair[0], ux))
    ax.set_ylabel(axis_label(pair[1], uy))
    if x.shape[1] > 1:
        _legend_outside(ax, title=f"nodes 0-{MAX_NODES - 1}\nof {x.shape[1]}" if x.shape[1] > MAX_NODES else None,
                        markerscale=6 if dots else 1)
    what = "phase portrait (each iterate a dot)" if dots else "phase portrait"
    fig.suptitle(title(data["meta"], what), fontsize=10)
    return fig


def _rate_unit(time_unit: str) -> tuple[str, float]:
    """The label of a population rate and the factor from spikes per time unit to it."""
    if time_unit == "ms":
        return "pop. rate (Hz)", 1000.0
    if time_unit == "s":
        return "pop. rate (Hz)", 1.0
    return f"pop. rate (1 / {'time unit' if time_unit in ('1', '') else time_unit})", 1.0


def _spiking_summary(data: dict, pop: str) -> str:
    """``"\nCV ISI 0.82, Fano 1.3, chi 0.21, E/I ratio 1.09, E-I corr. 0.64"``: the means over
    neurons of the statistics streamed during the run (``/diagnostics/<pop>.*``), when present."""
    diag = data.get("diagnostics", {})
    parts = []
    for key, label in (("cv_isi", "CV ISI"), ("fano", "Fano"), ("synchrony", "synchrony χ"),
                       ("ei_ratio", "E/I ratio"), ("ei_correlation", "E-I corr.")):
        value = diag.get(f"{pop}.{key}")
        if value is not None:
            finite = np.asarray(value, float)[np.isfinite(value)]
            if finite.size:
                parts.append(f"{label} {finite.mean():.3g}")
    return ("\nmeans over neurons: " + ", ".join(parts)) if parts else ""


def _recorded_neurons(data: dict, pop: str, ids: np.ndarray) -> tuple[np.ndarray | None, int]:
    """``(node ids, n)``: the recorded neurons of ``pop`` when the run recorded a subset of them
    (``record.neurons``: the node ids of its reports, or of its streamed statistics), else
    ``None``; ``n`` how many neurons the raster has (the subset's, or the population's)."""
    reports = [np.asarray(r["node_ids"], int) for var, r in data["report"].get(pop, {}).items() if var != RATE]
    streamed = data.get("diagnostics", {})
    chosen = reports[0] if reports else streamed.get(f"{pop}.node_ids")
    if chosen is not None and not np.array_equal(chosen, np.arange(len(chosen))):
        return np.asarray(chosen, int), len(chosen)
    rate = streamed.get(f"{pop}.rate")  # one value per neuron (spiking statistics)
    n = len(chosen) if chosen is not None else (len(rate) if rate is not None and np.ndim(rate) == 1
                                                else (int(ids.max()) + 1 if ids.size else 1))
    return None, n


def raster_figure(data: dict, window=None):
    """For each spike population: a raster (neuron index against spike time) of its first
    :data:`MAX_RASTER_NEURONS` recorded neurons (rows in the order of their node ids when the run
    recorded a subset), and the population rate (in Hz for a model timed in ms): the recorded
    ``<pop>.population_rate`` of all its neurons when the run has one (``record.rates``), else
    that of the recorded neurons in bins of about 1/100 of the shown interval."""
    meta, spikes = data["meta"], data["spikes"]
    if not spikes:
        raise OutputError("the run file records no spikes (no /spikes group)")
    dt = float(meta.get("dt", 1.0))
    last = max((float(np.max(s["timestamps"])) for s in spikes.values() if len(s["timestamps"])), default=0.0)
    t0 = float(meta.get("transient", 0)) * dt
    t1 = max(float(meta.get("steps", 0)) * dt, last)
    if window is not None:
        t0, t1 = max(t0, window[0]), min(t1, window[1])
    from matplotlib.ticker import MaxNLocator
    unit = str(meta.get("time_unit", "1"))
    rate_label, factor = _rate_unit(unit)
    fig, axes = pyplot().subplots(2 * len(spikes), 1, figsize=(8, 1.2 + 3.4 * len(spikes)), sharex=True,
                                  squeeze=False, layout="constrained",
                                  gridspec_kw={"height_ratios": [2, 1] * len(spikes)})
    for k, (pop, s) in enumerate(spikes.items()):
        times, ids = np.asarray(s["timestamps"], float), np.asarray(s["node_ids"], int)
        keep = (times >= t0) & (times <= t1)
        times, ids = times[keep], ids[keep]
        chosen, n = _recorded_neurons(data, pop, ids)
        rows = ids if chosen is None else np.searchsorted(chosen, ids)
        shown = min(n, MAX_RASTER_NEURONS)
        drawn = rows < shown
        top, bottom = axes[2 * k, 0], axes[2 * k + 1, 0]
        top.plot(times[drawn], rows[drawn], "|", color="k", ms=max(1.0, min(6.0, 300.0 / shown)), mew=0.6)
        top.set_ylabel(f"neuron index ({pop})" if chosen is None else f"recorded neuron, row ({pop})")
        top.set_ylim(-0.5, shown - 0.5)
        if shown <= 10:
            top.set_yticks(range(shown))
        else:
            top.yaxis.set_major_locator(MaxNLocator(integer=True))
        which = f"neurons 0-{shown - 1} of {n} drawn" if shown < n else f"{n} neuron{'s' if n > 1 else ''}"
        if chosen is not None:
            which = f"{n} recorded neurons (node ids {chosen[0]}..{chosen[-1]})" + \
                (f", the first {shown} drawn" if shown < n else "")
        monitor = data["report"].get(pop, {}).get(RATE)
        of_whom = ("of all its neurons (rate monitor)" if monitor is not None
                   else f"of all {n}" if chosen is None else f"of the {n} recorded")
        top.set_title(f"{pop}: {len(times):,} spikes; {which}; population rate {of_whom} below"
                      f"{_spiking_summary(data, pop)}", fontsize=9)
        if monitor is not None:  # the recorded rate of every neuron, per recording interval
            rt, rv = np.asarray(monitor["times"], float), np.asarray(monitor["data"], float).reshape(-1)
            keep = (rt >= t0) & (rt <= t1)
            step = float(monitor["time"][2])
            bottom.stairs(rv[keep], np.append(rt[keep], rt[keep][-1] + step) if keep.any() else [t0],
                          fill=True, alpha=0.6)
            bottom.set_ylabel(axis_label("pop. rate", str(monitor.get("units", "Hz"))), fontsize=8)
            continue
        span = max(t1 - t0, np.finfo(float).eps)
        width = span / 100 if unit != "iteration" else max(1.0, np.round(span / 100))
        edges = np.arange(t0, t1 + width, width)
        counts, _ = np.histogram(times, edges)
        bottom.stairs(counts / (n * width) * factor, edges, fill=True, alpha=0.6)
        bottom.set_ylabel(rate_label, fontsize=8)
    axes[-1, 0].set_xlabel(axis_label("time", unit))
    fig.suptitle(title(meta, "spike raster"), fontsize=10)
    return fig


def order_parameters(data: dict, window=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{label: (times, r)}`` of the order parameters a run file holds: the recorded ``r`` of
    each population, else ``/diagnostics/order_parameter`` (on the time axis of the samples)."""
    out = {}
    series = _series(data, None)
    for name, (t, v, _) in series.items():
        if name.rpartition(".")[2] == "r":
            out[f"{name} (recorded)"] = (t, v[:, 0])
    r = data["diagnostics"].get("order_parameter")
    if r is not None and np.ndim(r) == 1 and not out:
        axis = next((t for t, v, _ in series.values() if len(t) == len(r)), None)
        if axis is not None:
            out["/diagnostics/order_parameter"] = (axis, np.asarray(r, float))
    if window is not None:
        out = {k: (t[(t >= window[0]) & (t <= window[1])], r[(t >= window[0]) & (t <= window[1])])
               for k, (t, r) in out.items()}
    return out


def order_parameter_figure(data: dict, window=None):
    """r(t) with its time average, for each order parameter the file holds."""
    found = order_parameters(data, window)
    if not found:
        raise OutputError("the run file holds no order parameter (no recorded r, no /diagnostics/order_parameter)")
    fig, ax = pyplot().subplots(figsize=(8, 4), layout="constrained")
    for label, (t, r) in found.items():
        stride = _stride(len(t))
        line, = ax.plot(t[::stride], r[::stride], lw=0.8, label=label)
        if r.size:
            ax.axhline(float(np.mean(r)), color=line.get_color(), ls="--", lw=0.8,
                       label=f"time average <r>_t = {np.mean(r):.4g}")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(_time_label(data["meta"]))
    ax.set_ylabel(axis_label("order parameter r", "1"))
    ax.legend(fontsize=8, frameon=False)
    fig.suptitle(title(data["meta"], "Kuramoto order parameter"), fontsize=10)
    return fig


def _score_lines(data: dict, width: int = 100) -> str:
    """The task's scalar scores (``/diagnostics``), wrapped to lines of at most ``width`` characters."""
    import textwrap

    scores = ", ".join(f"{k} {float(v):.4g}" for k, v in data.get("diagnostics", {}).items() if np.ndim(v) == 0)
    return "\n".join(textwrap.wrap(scores, width)) if scores else "no scores stored"


def readout_figure(data: dict, max_steps: int = 500):
    """The readout of a ``[task]`` run (``/readout``):

    * classification: the confusion matrix of the test sequences (rows: true class, columns:
      predicted), every class labelled;
    * memory capacity: the forgetting curve r^2(k) against the delay k on the test data;
    * series: the targets and the readout's predictions over the first ``max_steps`` test steps
      (up to four outputs), and, when the run generated in closed loop (``/readout/generated``),
      the free-running forecast against the truth with the valid prediction time marked.

    The scores (``/diagnostics``) are in the title."""
    readout, meta = data["readout"], data["meta"]
    scores = _score_lines(data)
    if "labels" in readout:
        return _confusion_figure(readout, meta, scores)
    start, test = int(readout["test_start"]), int(readout["test"])
    targets_all = np.asarray(readout["targets"], float)
    predictions_all = np.asarray(readout["predictions"], float)
    dataset = str(readout.get("dataset", "task"))
    if dataset == "memory_task" or "memory_capacity" in data.get("diagnostics", {}):
        return _forgetting_figure(targets_all[start:start + test], predictions_all[start:start + test], meta, scores,
                                  test)
    length = min(test, max_steps)
    targets, predictions = targets_all[start:start + length], predictions_all[start:start + length]
    outputs = min(targets.shape[1], 4)
    generated = readout.get("generated")
    rows = outputs + (1 if generated is not None else 0)
    fig, axes = pyplot().subplots(rows, 1, figsize=(8.5, 1.9 + 2.3 * rows), squeeze=False, layout="constrained")
    steps = np.arange(start, start + length)
    for k in range(outputs):
        ax = axes[k, 0]
        ax.plot(steps, targets[:, k], color="k", lw=1.0, label="target")
        ax.plot(steps, predictions[:, k], color="C1", lw=1.0, ls="--", label="readout (driven)")
        ax.set_ylabel(f"output {k}" if targets.shape[1] > 1 else "output")
        ax.set_xlabel(f"step (first {length:,} of {test:,} test steps)")
    _legend_outside(axes[0, 0])
    if targets.shape[1] > outputs:
        axes[0, 0].set_title(f"outputs 0-{outputs - 1} of {targets.shape[1]}", fontsize=9)
    if generated is not None:
        _generated_panel(axes[-1, 0], np.asarray(generated, float), targets_all, start, data)
    fig.suptitle(f"{title(meta, f'readout, {dataset}')}\n{scores}", fontsize=9)
    return fig


def _generated_panel(ax, generated, targets, start: int, data: dict) -> None:
    """The closed-loop forecast against the truth: generated row ``i`` is compared with target row
    ``start - 1 + i`` (the first forecast answers the last teacher-forced input)."""
    first = start - 1
    n = min(len(generated), len(targets) - first)
    steps = np.arange(first, first + n)
    ax.plot(steps, targets[first:first + n, 0], color="k", lw=1.0, label="truth")
    ax.plot(steps, generated[:n, 0], color="C3", lw=1.0, ls="--", label="closed-loop forecast")
    valid = data.get("diagnostics", {}).get("valid_time")
    if valid is not None and np.isfinite(valid):
        ax.axvline(first + float(valid), color="0.4", lw=1.0, ls=":",
                   label=f"valid prediction time: {int(valid):,} steps")
    ax.set_xlabel("step (closed loop: the readout's output fed back as input)")
    ax.set_ylabel("output 0" if generated.shape[1] > 1 else "output")
    _legend_outside(ax)


def _forgetting_figure(targets, predictions, meta, scores, test: int):
    from ..readout.metrics import forgetting_curve

    curve = forgetting_curve(predictions, targets)
    delays = np.arange(1, len(curve) + 1)
    fig, ax = pyplot().subplots(figsize=(7.5, 4.6), layout="constrained")
    ax.fill_between(delays, curve, step="mid", alpha=0.3, color="C0")
    ax.plot(delays, curve, drawstyle="steps-mid", color="C0", lw=1.0,
            label=f"r²(k); sum over k = {np.nansum(curve):.4g}")
    ax.set_xlim(0.5, len(curve) + 0.5)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("delay k (steps)")
    ax.set_ylabel("r²(k) = corr²(y_k(t), u(t - k))")
    ax.legend(frameon=False, loc="upper right")
    ax.set_title(f"forgetting curve on {test:,} test steps", fontsize=9)
    fig.suptitle(f"{title(meta, 'readout, memory task')}\n{scores}", fontsize=9)
    return fig


def _confusion_figure(readout, meta, scores):
    n_test = int(readout["n_test"])
    truth = np.asarray(readout["labels"], int)[-n_test:]
    predicted = np.asarray(readout["predictions"], int)
    classes = int(max(truth.max(), predicted.max())) + 1
    confusion = np.zeros((classes, classes), int)
    np.add.at(confusion, (truth, predicted), 1)
    fig, ax = pyplot().subplots(figsize=(6, 5.4), layout="constrained")
    image = ax.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            dark = count > 0.6 * confusion.max()
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color="w" if dark else "k")
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(image, ax=ax, shrink=0.8, label="test sequences")
    fig.suptitle(f"{title(meta, f'readout on {n_test} test sequences')}\n{scores}", fontsize=9)
    return fig


def trained_figure(path) -> "object":
    """A trained-readout file (``<stem>.trained.h5``): the cross-validation error against the ridge
    strength (the chosen one marked), the eigenvalues of each square recurrent weight matrix in
    the complex plane with the unit circle, and the distribution of the readout weights."""
    from ..io import open_for_reading

    with open_for_reading(Path(path)) as f:
        readout = f["readout"]
        while "weights" not in readout and "readout" in readout:  # a classifier wraps its ridge readout
            readout = readout["readout"]
        attrs = {**dict(f["readout"].attrs), **dict(readout.attrs)}
        weights = readout["weights"][()] if "weights" in readout else None
        candidates = readout["candidates"][()] if "candidates" in readout else None
        cv = readout["cv_errors"][()] if "cv_errors" in readout else None
        recurrent = {}
        if "reservoir" in f:
            def visit(name, node):
                if name.endswith("/w") and getattr(node, "ndim", 0) == 2 and node.shape[0] == node.shape[1] \
                        and node.shape[0] <= 4000:
                    recurrent[name.removeprefix("populations/").removesuffix("/w")] = node[()]
            f["reservoir"].visititems(visit)
    panels = (1 if cv is not None and candidates is not None else 0) + len(recurrent) + (weights is not None)
    if not panels:
        raise OutputError(f"{path}: a trained file with no readout weights, cross-validation or reservoir to draw")
    fig, axes = pyplot().subplots(1, panels, figsize=(4.6 * panels, 4.4), squeeze=False, layout="constrained")
    axes = list(axes[0])
    ridge = attrs.get("float:ridge")
    if cv is not None and candidates is not None:
        ax = axes.pop(0)
        ax.loglog(candidates, cv, "o-", ms=4)
        if ridge is not None:
            ax.axvline(float(ridge), color="C3", ls="--", lw=1, label=f"chosen ridge {float(ridge):.3g}")
            ax.legend(frameon=False, fontsize=8)
        ax.set_xlabel("ridge strength")
        ax.set_ylabel(f"cross-validation error ({int(attrs.get('int:folds', 0)) or '?'} folds, MSE)")
    for name, w in recurrent.items():
        ax = axes.pop(0)
        eig = np.linalg.eigvals(w)
        circle = np.linspace(0, 2 * np.pi, 256)
        ax.plot(np.cos(circle), np.sin(circle), color="0.5", lw=0.8, label="unit circle")
        ax.plot(eig.real, eig.imag, ".", ms=2.5, color="C0", label="eigenvalues")
        ax.set_aspect("equal")
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
        ax.set_title(f"{name}: recurrent weights, spectral radius {np.max(np.abs(eig)):.4g}", fontsize=9)
        ax.legend(frameon=False, fontsize=7, loc="upper right")
    if weights is not None:
        ax = axes.pop(0)
        ax.hist(np.asarray(weights, float).ravel(), bins=60, color="C2", alpha=0.8)
        ax.set_xlabel("readout weight (output units per feature unit)")
        ax.set_ylabel("count")
        ax.set_title(f"readout: {weights.shape[0]:,} features x {weights.shape[1]} outputs", fontsize=9)
    fig.suptitle(f"trained readout: {Path(path).name} ({str(attrs.get('class', 'readout')).rpartition(':')[2]})",
                 fontsize=10)
    return fig


def run_figures(data: dict, *, variables: list[str] | None = None, phase: tuple[str, str] | None = None,
                window=None) -> dict:
    """``{kind: Figure}`` for a run file read by :func:`neurodyn.io.load`: a time series always
    (if anything was recorded), a phase portrait when two variables share their nodes (or
    ``phase`` names them), a raster when there are spikes, the order parameter when present, and
    the readout's predictions (or confusion matrix) of a ``[task]`` run."""
    figures = {}
    if data["report"]:
        figures["timeseries"] = timeseries_figure(data, variables, window)
        pair = tuple(phase) if phase else phase_pair(data, variables)
        if pair:
            figures["phase"] = phase_figure(data, pair, window)
    elif variables or phase:
        raise OutputError("the run file records no variables (no /report group)")
    if data["spikes"]:
        figures["raster"] = raster_figure(data, window)
    if order_parameters(data):
        figures["order_parameter"] = order_parameter_figure(data, window)
    if data.get("readout"):
        figures["readout"] = readout_figure(data)
    if not figures:
        raise OutputError("the run file holds nothing to draw (no reports, spikes or order parameter)")
    return figures


def plot_run_file(path, *, variables: list[str] | None = None, phase: tuple[str, str] | None = None,
                  window=None) -> list[Path]:
    """Draw a run file's figures (:func:`run_figures`) to ``<file stem>.<kind>.png`` beside it."""
    from ..io import load, open_for_reading
    from .figures import save_beside, start_drawing

    start_drawing(path)
    with open_for_reading(path) as f:
        trained = "readout" in f and "class" in f["readout"].attrs and "neurodyn" not in f
    figures = {"": trained_figure(path)} if trained else run_figures(load(path), variables=variables,
                                                                     phase=phase, window=window)
    return save_beside(path, figures)


def _check_names(names, series) -> None:
    unknown = [n for n in names if n not in series]
    if unknown:
        raise OutputError(f"unknown variable {unknown[0]!r} (recorded: {', '.join(series) or 'none'})")
