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

from ..errors import NeurodynError, OutputError
from .figures import axis_label, pyplot

MAX_NODES = 8  # lines drawn per variable: the first nodes, the legend says of how many
MAX_SAMPLES = 20_000  # longer series are drawn every k-th sample (the axis label says so)


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
    return f"{head}\n{spec_summary(meta)}"


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


def _stride(n: int) -> int:
    return max(1, -(-n // MAX_SAMPLES))


def _time_label(meta: dict, stride: int = 1) -> str:
    label = axis_label("time", str(meta.get("time_unit", "1")))
    return label if stride == 1 else f"{label}, every {stride}th sample drawn"


def timeseries_figure(data: dict, variables: list[str] | None = None, window=None):
    """One panel per variable against time (at most :data:`MAX_NODES` nodes each)."""
    series = _series(data, window)
    names = list(series) if not variables else variables
    if not names:
        raise OutputError("the run file records no variables (no /report group)")
    _check_names(names, series)
    fig, axes = pyplot().subplots(len(names), 1, figsize=(8, 1.2 + 2.2 * len(names)), sharex=True, squeeze=False,
                                  layout="constrained")
    stride = 1
    for ax, name in zip(axes[:, 0], names):
        t, v, unit = series[name]
        stride = _stride(len(t))
        n_nodes = v.shape[1]
        for node in range(min(n_nodes, MAX_NODES)):
            ax.plot(t[::stride], v[::stride, node], lw=0.7, label=f"node {node}")
        ax.set_ylabel(axis_label(name, unit))
        if n_nodes > 1:
            shown = f"nodes 0-{MAX_NODES - 1} of {n_nodes}" if n_nodes > MAX_NODES else None
            ax.legend(title=shown, fontsize=7, title_fontsize=7, ncols=min(n_nodes, MAX_NODES, 4), frameon=False,
                      loc="upper right")
    axes[-1, 0].set_xlabel(_time_label(data["meta"], stride))
    fig.suptitle(title(data["meta"], "time series"), fontsize=10)
    return fig


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
    (_, x, ux), (_, y, uy) = series[pair[0]], series[pair[1]]
    if x.shape[1] != y.shape[1]:
        raise OutputError(f"--phase {pair[0]},{pair[1]}: the variables have {x.shape[1]} and {y.shape[1]} nodes; "
                          f"a phase portrait needs the same nodes")
    fig, ax = pyplot().subplots(figsize=(6.4, 5.6), layout="constrained")
    stride = _stride(len(x))
    for node in range(min(x.shape[1], MAX_NODES)):
        ax.plot(x[::stride, node], y[::stride, node], lw=0.5, alpha=0.8, label=f"node {node}")
    ax.set_xlabel(axis_label(pair[0], ux))
    ax.set_ylabel(axis_label(pair[1], uy))
    if x.shape[1] > 1:
        ax.legend(title=f"nodes 0-{MAX_NODES - 1} of {x.shape[1]}" if x.shape[1] > MAX_NODES else None,
                  fontsize=7, title_fontsize=7, frameon=False)
    fig.suptitle(title(data["meta"], "phase portrait"), fontsize=10)
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
    for key, label in (("cv_isi", "CV ISI"), ("fano", "Fano"), ("synchrony", "chi"), ("ei_ratio", "E/I ratio"),
                       ("ei_correlation", "E-I corr.")):
        value = diag.get(f"{pop}.{key}")
        if value is not None:
            finite = np.asarray(value, float)[np.isfinite(value)]
            if finite.size:
                parts.append(f"{label} {finite.mean():.3g}")
    return ("\n" + ", ".join(parts)) if parts else ""


def raster_figure(data: dict, window=None):
    """For each spike population: a raster (node against spike time) and the population rate
    (spikes per neuron per unit time in bins of about 1/100 of the shown interval)."""
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
    fig, axes = pyplot().subplots(2 * len(spikes), 1, figsize=(8, 1.2 + 3.2 * len(spikes)), sharex=True,
                                  squeeze=False, layout="constrained",
                                  gridspec_kw={"height_ratios": [2, 1] * len(spikes)})
    for k, (pop, s) in enumerate(spikes.items()):
        times, ids = np.asarray(s["timestamps"], float), np.asarray(s["node_ids"], int)
        keep = (times >= t0) & (times <= t1)
        times, ids = times[keep], ids[keep]
        reported = [r["data"].shape[1] for r in data["report"].get(pop, {}).values()]
        streamed = data.get("diagnostics", {}).get(f"{pop}.rate")  # one value per neuron (spiking statistics)
        n = reported[0] if reported else (len(streamed) if streamed is not None and np.ndim(streamed) == 1
                                          else (int(ids.max()) + 1 if ids.size else 1))
        top, bottom = axes[2 * k, 0], axes[2 * k + 1, 0]
        top.plot(times, ids, "|", color="k", ms=max(1.0, min(6.0, 300.0 / n)))
        top.set_ylabel(f"{pop}: neuron")
        top.set_ylim(-0.5, n - 0.5)
        if n <= 10:
            top.set_yticks(range(n))
        else:
            top.yaxis.set_major_locator(MaxNLocator(integer=True))
        top.set_title(f"{pop}: {len(times):,} spikes of {n} neuron{'s' if n > 1 else ''}; population rate "
                      f"(spikes per neuron per unit time) below{_spiking_summary(data, pop)}", fontsize=9)
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


def readout_figure(data: dict, max_steps: int = 500):
    """The readout of a ``[task]`` run (``/readout``): for a series task, the targets and the
    readout's predictions over the first ``max_steps`` test steps (one panel per output, up to
    four) with the scores in the title; for a classification task, the confusion matrix of the
    test sequences (rows: true class, columns: predicted)."""
    readout, meta = data["readout"], data["meta"]
    scores = ", ".join(f"{k} {float(v):.4g}" for k, v in data.get("diagnostics", {}).items() if np.ndim(v) == 0)
    if "labels" in readout:
        n_test = int(readout["n_test"])
        truth = np.asarray(readout["labels"], int)[-n_test:]
        predicted = np.asarray(readout["predictions"], int)
        classes = int(max(truth.max(), predicted.max())) + 1
        confusion = np.zeros((classes, classes), int)
        np.add.at(confusion, (truth, predicted), 1)
        fig, ax = pyplot().subplots(figsize=(5.5, 5), layout="constrained")
        image = ax.imshow(confusion, cmap="Blues")
        for (i, j), count in np.ndenumerate(confusion):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        fig.colorbar(image, ax=ax, shrink=0.8, label="test sequences")
        fig.suptitle(title(meta, f"readout on {n_test} test sequences: {scores}"), fontsize=9)
        return fig
    start, length = int(readout["test_start"]), min(int(readout["test"]), max_steps)
    targets = np.asarray(readout["targets"], float)[start:start + length]
    predictions = np.asarray(readout["predictions"], float)[start:start + length]
    outputs = min(targets.shape[1], 4)
    fig, axes = pyplot().subplots(outputs, 1, figsize=(8, 1.5 + 2.2 * outputs), sharex=True, squeeze=False,
                                  layout="constrained")
    steps = np.arange(start, start + length)
    for k in range(outputs):
        axes[k, 0].plot(steps, targets[:, k], color="k", lw=1.0, label="target")
        axes[k, 0].plot(steps, predictions[:, k], color="C1", lw=1.0, ls="--", label="readout")
        axes[k, 0].set_ylabel(f"output {k}")
    axes[0, 0].legend(fontsize=8, frameon=False, loc="upper right")
    axes[-1, 0].set_xlabel("step (test segment)")
    fig.suptitle(title(meta, f"readout, {readout.get('dataset', 'task')}: {scores}"), fontsize=9)
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
    import matplotlib

    matplotlib.use("Agg")
    from ..io import load

    path = Path(path)
    stem = path.name[:-3] if path.name.endswith(".h5") else path.name
    written = []
    for kind, fig in run_figures(load(path), variables=variables, phase=phase, window=window).items():
        out = path.with_name(f"{stem}.{kind}.png")
        fig.savefig(out, dpi=110)
        pyplot().close(fig)
        written.append(out)
    return written


def _check_names(names, series) -> None:
    unknown = [n for n in names if n not in series]
    if unknown:
        raise OutputError(f"unknown variable {unknown[0]!r} (recorded: {', '.join(series) or 'none'})")
