"""Chialvo–Rulkov–Chialvo chain: coexisting period-4 and chaotic attractors, and the synchrony
map over the coupling and the Rulkov neuron's input (after Ghosh, Nair, Fatoyinbo & Muni,
"Dynamical properties of a small heterogeneous chain network of neurons in discrete time",
arXiv:2405.05675: the phase portraits of coexisting attractors and the cross-correlation maps).

The chain is ``neurodyn.models.chialvo_rulkov_chain`` (docs/models/maps.md): Chialvo neurons 1
and 3 (a = 0.89, b = 0.6, c = 0.28, k = 0.03, Chialvo's regular-oscillation values) coupled in
both directions to a chaotic Rulkov neuron 2 (alpha = 4.1, mu = 0.001) on the fast variables x,
all four couplings equal to g. Everything is in iterations and dimensionless.

* Attractors: at g = 0.04 and Rulkov sigma = -0.16, a grid of initial conditions over the
  Rulkov neuron's (x_2(0), y_2(0)) (the Chialvo coordinates fixed) runs in ONE vmapped, compiled
  call; each final orbit is classified by its period (the smallest p <= 64 with
  |x_{n+p} - x_n| below 1e-6 of the orbit's scale over the last iterates) and its maximal
  Lyapunov exponent (``neurodyn.diagnostics.max_lyapunov``, tangent dynamics). Phase portraits
  are drawn as dots.
* Synchrony: ``neurodyn.sweep`` over (g, sigma), every point from one initial condition (in the
  period-4 basin of the chosen point), measuring inside the compiled run the zero-lag
  cross-correlation Gamma_ij (docs/diagnostics.md) between the Chialvo neurons and the Rulkov
  neuron and between the two Chialvo neurons, lambda_max, and the last 128 values of x_2 (whose
  period is then found as above).

What agrees with the paper: a period-4 attractor coexists with a chaotic one. The full run
finds, over 48 x 48 initial conditions, 1008 on a period-4 orbit (lambda_max = -0.0011 to
-0.0013 per iteration) and 1296 on a chaotic attractor (lambda_max = 0.39 to 0.58 per
iteration), nothing else; which one is reached is decided by the Rulkov slow variable (y_2(0)
above about -2.4: period 4). On the period-4 orbit the Rulkov neuron fires once every 4
iterations (x_2 = 1.775, -1.479, -0.92, -0.02, averaging sigma as the slow equation requires;
y_2 = -2.330) and the Chialvo neurons stay near rest (x_1 in [0.031, 0.111]); on the chaotic
attractor all three fire irregularly (x_1 in [-0.03, 2.74], y_2 near -2.73). The period-4 orbit
is only weakly attracting: its largest exponent is set by the Rulkov slow time scale mu = 0.001.
The chaotic class is not uniform: 212 of its 1296 initial conditions sit in a second chaotic
state (lambda_max = 0.39 to 0.42, y_2 near -2.61) after the 30,000-iteration transient; run on
from two of them for 2 x 10^5 iterations, one fell into the main chaotic state (lambda_max 0.57,
y_2 near -2.73) after about 4 x 10^4 iterations and the other stayed. It is a long chaotic
transient or a second, weakly separated chaotic attractor; we have not decided which.
The sweep (41 x 41 points, g in [0, 0.2], sigma in [-0.5, 0]) finds the period-4 orbit along a
band, sigma in [-0.125, -0.100] at g = 0 down to [-0.350, -0.287] at g = 0.16, ending near
g = 0.17; there the Chialvo and Rulkov neurons are anti-correlated (Gamma = -0.79 at the chosen
point, down to -0.83), while on the chaotic attractor Gamma stays within [-0.38, 0.20] (5th to
95th percentile). A period-3 region (Gamma = -0.93 to -0.96) appears for g > 0.155 near
sigma = 0. The two Chialvo neurons synchronise completely (Gamma_13 = 1) at every g > 0 of the
grid; uncoupled (g = 0) they oscillate with a fixed phase offset (Gamma_13 = 0.35).
What differs or is unverified: only the paper's abstract and introduction could be read, so its
equations, parameter values and figure axes are not known to us. The parameters above were
found by our own search (random parameter sets with Chialvo a, b, c, k, Rulkov alpha, mu, sigma
and the four couplings free, 4 initial conditions each, then a scan over g and sigma with 12):
with the bundled spec's chaotic Chialvo b = 0.18 no period-4 attractor was found at any
(g, sigma) scanned; with b = 0.6 the band above appears. Our Rulkov map is the 2001 chaotic form
x' = alpha / (1 + x^2) + y, y' = y - mu (x - sigma).

Run: ``python examples/chialvo_rulkov_chain.py [--quick]`` (the full version took 41 s of wall
time on the shared 2-core machine; ``--quick`` 20 s). Writes ``hdf5_outputs/chialvo_rulkov_chain.h5`` (initial
conditions, classes, exponents, portraits), ``hdf5_outputs/chialvo_rulkov_chain.sweep.h5`` and
the figure ``hdf5_outputs/chialvo_rulkov_chain.png``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from neurodyn.cli import example_options

CHIALVO = {"a": 0.89, "b": 0.6, "c": 0.28, "k": 0.03}
RULKOV = {"alpha": 4.1, "mu": 0.001}
COUPLING, RULKOV_SIGMA = 0.04, -0.16  # where the period-4 and the chaotic attractor coexist
SLICE = {"x2": (-2.0, 2.0), "y2": (-3.5, -1.5)}  # the initial-condition plane (Rulkov neuron)
FIXED = {"x1": 0.5, "y1": 0.5, "x3": 1.0, "y3": 0.5}  # the other initial coordinates
SWEEP_START = (-0.5, -2.0)  # (x2(0), y2(0)) of every sweep point: the period-4 basin at the chosen point
SIZES = {  # initial conditions per axis, transient, Lyapunov steps, kept iterates; sweep
    "full": dict(grid=48, transient=30_000, lyapunov=5_000, keep=1_000, sweep=41, steps=20_000, sweep_transient=15_000),
    "quick": dict(grid=10, transient=16_000, lyapunov=1_000, keep=300, sweep=7, steps=6_000, sweep_transient=4_000),
}
MAX_PERIOD, PERIOD_TOL, CHAOS = 64, 1e-6, 0.01  # lambda_max above CHAOS (1 / iteration): chaotic
ORBIT = 2 * MAX_PERIOD  # iterates of x2 kept per sweep point, for its period
CLASSES = ("period 4", "chaotic", "other periodic", "other", "diverged")


def chain(coupling: float, sigma: float):
    from neurodyn.models import chialvo_rulkov_chain

    return chialvo_rulkov_chain(sigma12=coupling, sigma21=coupling, sigma23=coupling, sigma32=coupling,
                                chialvo=CHIALVO, rulkov={**RULKOV, "sigma": sigma})


def start_state(net, x2: float, y2: float):
    """The state with the Rulkov neuron at (x2, y2) and the Chialvo neurons at FIXED."""
    import jax
    import jax.numpy as jnp

    from neurodyn.models.maps import MapState

    dtype = jnp.result_type(float)
    base = net.init(jax.random.PRNGKey(0))
    chialvo = MapState(jnp.array([FIXED["x1"], FIXED["x3"]], dtype), jnp.array([FIXED["y1"], FIXED["y3"]], dtype))
    rulkov = MapState(jnp.reshape(jnp.asarray(x2, dtype), (1,)), jnp.reshape(jnp.asarray(y2, dtype), (1,)))
    return base.replace_population("chialvo", chialvo).replace_population("rulkov", rulkov)


def initial_states(net, n: int):
    """States on an n x n grid over (x_2(0), y_2(0)), stacked along a leading axis."""
    import jax

    x2, y2 = np.meshgrid(np.linspace(*SLICE["x2"], n), np.linspace(*SLICE["y2"], n), indexing="ij")
    states = jax.vmap(lambda a, b: start_state(net, a, b))(x2.ravel(), y2.ravel())
    return states, x2[:, 0], y2[0]


def period(x: np.ndarray) -> int:
    """Smallest p <= MAX_PERIOD with max_n |x_{n+p} - x_n| <= PERIOD_TOL (1 + max |x|) over the
    window (``x``: iterates x components), 0 if none (aperiodic or longer period)."""
    tol = PERIOD_TOL * (1.0 + np.max(np.abs(x)))
    span = len(x) - MAX_PERIOD
    for p in range(1, MAX_PERIOD + 1):
        if np.max(np.abs(x[p:p + span] - x[:span])) <= tol:
            return p
    return 0


def classify(p: int, lam: float, finite: bool) -> int:
    if not finite:
        return CLASSES.index("diverged")
    if p == 4 and lam < 0:
        return CLASSES.index("period 4")
    if p == 0 and lam > CHAOS:
        return CLASSES.index("chaotic")
    return CLASSES.index("other periodic") if p > 0 else CLASSES.index("other")


def attractors(size: dict) -> dict:
    """Every initial condition of the slice, run, classified, in one compiled vmapped call."""
    import jax

    from neurodyn.core.simulate import run
    from neurodyn.diagnostics import max_lyapunov

    net = chain(COUPLING, RULKOV_SIGMA)
    states, x2, y2 = initial_states(net, size["grid"])
    names = ("chialvo.x", "chialvo.y", "rulkov.x", "rulkov.y")

    @jax.jit
    @jax.vmap
    def settle(state):
        warm, _ = run(net, state, size["transient"], record=())
        _, rec = run(net, warm, size["keep"], record=names)
        return rec, max_lyapunov(net, size["lyapunov"], state=warm)

    rec, lam = settle(states)
    rec = {k: np.asarray(v) for k, v in rec.items()}
    lam = np.asarray(lam)
    x = np.concatenate([rec["chialvo.x"], rec["rulkov.x"]], -1)  # neurons 1, 3, 2
    finite = np.all(np.isfinite(x), axis=(1, 2)) & np.isfinite(lam)
    periods = np.array([period(o) if ok else -1 for o, ok in zip(x, finite)])
    classes = np.array([classify(p, v, ok) for p, v, ok in zip(periods, lam, finite)])
    return {"x2": x2, "y2": y2, "orbits": rec, "lambda": lam, "period": periods, "cls": classes}


def synchrony(size: dict, out: Path) -> dict:
    """Gamma and lambda_max over (g, sigma) with neurodyn's sweep, every point from the initial
    condition SWEEP_START (in the period-4 basin at the chosen point)."""
    import jax.numpy as jnp

    from neurodyn.diagnostics.accumulators import xcorr_finalize, xcorr_init, xcorr_update
    from neurodyn.sweep import Measure, sweep

    def gamma(rec):
        x = jnp.concatenate([rec["chialvo.x"], rec["rulkov.x"]], axis=-1)  # neurons 1, 3, 2
        g = xcorr_finalize(xcorr_update(xcorr_init(x[0]), x))
        return {"chialvo_rulkov": 0.5 * (g[0, 2] + g[1, 2]), "chialvo_chialvo": g[0, 1]}

    coupling = np.linspace(0.0, 0.2, size["sweep"])
    sigma = np.linspace(-0.5, 0.0, size["sweep"])
    net = chain(1.0, RULKOV_SIGMA)  # unit edge weights: the coupling's strength is g
    result = sweep(net, {"projections.chain.strength": coupling, "populations.rulkov.sigma": sigma},
                   [Measure.function(gamma, ("chialvo.x", "rulkov.x")), "max_lyapunov", f"orbit:rulkov.x:{ORBIT}"],
                   steps=size["steps"],
                   transient=size["sweep_transient"], state=start_state(net, *SWEEP_START), out=out)
    shape = (len(coupling), len(sigma))
    return {"coupling": coupling, "sigma": sigma,
            "gamma_cr": result.results["gamma.chialvo_rulkov"].reshape(shape),
            "gamma_cc": result.results["gamma.chialvo_chialvo"].reshape(shape),
            "lambda": result.results["max_lyapunov"].reshape(shape),
            "period": np.array([period(o) for o in result.results[f"orbit(rulkov.x,{ORBIT})"]]).reshape(shape)}


def representatives(a: dict) -> dict:
    """The first initial condition of each class found, by class name."""
    return {CLASSES[c]: int(np.nonzero(a["cls"] == c)[0][0]) for c in np.unique(a["cls"])}


def figure(a: dict, s: dict):
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap, TwoSlopeNorm

    colours = {"period 4": "C3", "chaotic": "0.25", "other periodic": "C2", "other": "C1", "diverged": "C4"}
    fig, axes = plt.subplots(2, 3, figsize=(13.5, 8.2), layout="constrained")
    reps = representatives(a)
    o = a["orbits"]
    for ax, (pop, j, title) in zip(axes[0, :2], (("chialvo", 0, "Chialvo neuron 1"), ("rulkov", 0, "Rulkov neuron 2"))):
        for name, i in reps.items():
            if name == "diverged":
                continue
            x, y = o[f"{pop}.x"][i, :, j], o[f"{pop}.y"][i, :, j]
            p = a["period"][i]
            big = 0 < p <= 8
            label = (f"{name}, λ_max = {a['lambda'][i]:.3f}" if name != "period 4"
                     else f"period 4, λ_max = {a['lambda'][i]:.4f}")
            ax.plot(x, y, "o" if big else ".", ms=7 if big else 2.5, color=colours[name], label=label,
                    zorder=3 if big else 2, alpha=1 if big else 0.7, mec="k" if big else "none")
        ax.set_xlabel(f"{title.split()[0].lower()} x{j + 1 if pop == 'chialvo' else 2}  (fast variable)")
        ax.set_ylabel(f"y{1 if pop == 'chialvo' else 2}  (slow variable)")
        ax.set_title(f"({'ab'[pop == 'rulkov']}) {title}: coexisting attractors", fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(labels), fontsize=9, markerscale=2,
               title=f"g = {COUPLING:g}, Rulkov σ = {RULKOV_SIGMA:g}, last {o['chialvo.x'].shape[1]:,} iterates as dots",
               title_fontsize=9, frameon=False)
    present = [c for c in range(len(CLASSES)) if np.any(a["cls"] == c)]
    cmap = ListedColormap([colours[CLASSES[c]] for c in present])
    index = np.searchsorted(present, a["cls"]).reshape(len(a["x2"]), len(a["y2"]))
    ax = axes[0, 2]
    mesh = ax.pcolormesh(a["x2"], a["y2"], index.T, cmap=cmap, norm=BoundaryNorm(np.arange(len(present) + 1) - 0.5,
                                                                                 len(present)), shading="auto")
    bar = fig.colorbar(mesh, ax=ax, ticks=range(len(present)))
    bar.ax.set_yticklabels([f"{CLASSES[c]} ({np.sum(a['cls'] == c)})" for c in present])
    ax.set_xlabel("x2(0)")
    ax.set_ylabel("y2(0)")
    ax.set_title(f"(c) basins: attractor reached from the Rulkov neuron's (x2(0), y2(0))\n"
                 f"(x1 = {FIXED['x1']:g}, x3 = {FIXED['x3']:g}, y1 = y3 = {FIXED['y1']:g} at n = 0)", fontsize=10)
    maps = (("gamma_cr", "(d) Γ between Chialvo and Rulkov neurons", "Γ, mean of Γ_12 and Γ_32", "RdBu_r", None),
            ("lambda", "(f) maximal Lyapunov exponent", "λ_max (1 / iteration)", "coolwarm", "centred"))
    period_map(fig, axes[1, 1], s)
    for ax, (key, title, label, cmap_name, centred) in zip(axes[1, [0, 2]], maps):
        values = s[key].T
        if centred:
            low, high = min(np.nanmin(values), -1e-3), max(np.nanmax(values), 1e-3)
            mesh = ax.pcolormesh(s["coupling"], s["sigma"], values, cmap=cmap_name, norm=TwoSlopeNorm(0.0, low, high),
                                 shading="auto")
            ticks = [low, 0.0] + list(np.arange(0.2, high, 0.2))  # the negative half spans only [low, 0]
        else:
            mesh = ax.pcolormesh(s["coupling"], s["sigma"], values, cmap=cmap_name, vmin=-1, vmax=1, shading="auto")
            ticks = None
        fig.colorbar(mesh, ax=ax, label=label, ticks=ticks, format="%.3g")
        ax.set_xlabel("coupling strength g (all four links)")
        ax.set_ylabel("Rulkov σ (input of neuron 2)")
        ax.set_title(title, fontsize=10)
    return fig


def period_map(fig, ax, s: dict) -> None:
    """The period of x2 at each sweep point, as categories."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    p = s["period"]
    kinds = np.where(p > 4, 5, p)  # 1-4 as they are, 5: longer (up to MAX_PERIOD), 0: none found
    names = {0: "aperiodic", 1: "1", 2: "2", 3: "3", 4: "4", 5: f"5-{MAX_PERIOD}"}
    colours = {0: "0.3", 1: "C0", 2: "C9", 3: "C2", 4: "C3", 5: "C1"}
    present = [k for k in names if np.any(kinds == k)]
    index = np.searchsorted(present, kinds)
    mesh = ax.pcolormesh(s["coupling"], s["sigma"], index.T, cmap=ListedColormap([colours[k] for k in present]),
                         norm=BoundaryNorm(np.arange(len(present) + 1) - 0.5, len(present)), shading="auto")
    bar = fig.colorbar(mesh, ax=ax, ticks=range(len(present)))
    bar.ax.set_yticklabels([names[k] for k in present])
    ax.set_xlabel("coupling strength g (all four links)")
    ax.set_ylabel("Rulkov σ (input of neuron 2)")
    ax.set_title("(e) period of x2 in iterations (same runs)", fontsize=10)


def save(a: dict, path: Path) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["coupling"], f.attrs["rulkov_sigma"] = COUPLING, RULKOV_SIGMA
        f.attrs["classes"] = ", ".join(CLASSES)
        for key in ("x2", "y2", "lambda", "period", "cls"):
            f[f"attractors/{key}"] = a[key]
        for name, values in a["orbits"].items():
            f[f"attractors/orbits/{name}"] = values


def main(argv: list[str] | None = None) -> dict:
    args = example_options(__doc__, "small grids and short runs (under 30 s)", argv)
    import matplotlib.pyplot as plt

    import neurodyn as nd

    nd.set_precision("float64")
    size = SIZES["quick" if args.quick else "full"]
    t0 = time.perf_counter()
    a = attractors(size)
    save(a, args.out / "chialvo_rulkov_chain.h5")
    for name, i in representatives(a).items():
        found = a["cls"] == CLASSES.index(name)
        x = np.concatenate([a["orbits"]["chialvo.x"][i], a["orbits"]["rulkov.x"][i]], -1)
        print(f"{name}: {found.sum()} of {found.size} initial conditions, lambda_max in "
              f"[{a['lambda'][found].min():.4f}, {a['lambda'][found].max():.4f}]; x1 in [{x[:, 0].min():.3f}, "
              f"{x[:, 0].max():.3f}], x2 in [{x[:, 2].min():.3f}, {x[:, 2].max():.3f}], "
              f"y2 = {a['orbits']['rulkov.y'][i, -1, 0]:.3f}")
    s = synchrony(size, args.out / "chialvo_rulkov_chain.sweep.h5")
    print(f"Gamma(Chialvo, Rulkov) in [{np.nanmin(s['gamma_cr']):.2f}, {np.nanmax(s['gamma_cr']):.2f}]; "
          f"Gamma_13 = 1 at {np.mean(s['gamma_cc'][1:] > 0.999):.0%} of the points with g > 0")
    band = s["period"] == 4
    rows = np.nonzero(band.any(axis=1))[0]
    if rows.size:
        print(f"period 4 from this start for g in [{s['coupling'][rows[0]]:.3f}, {s['coupling'][rows[-1]]:.3f}]: "
              + ", ".join(f"g = {s['coupling'][r]:.3f}: sigma in [{s['sigma'][band[r]].min():.3f}, "
                          f"{s['sigma'][band[r]].max():.3f}]" for r in rows[::max(1, len(rows) // 4)]))
    fig = figure(a, s)
    path = args.out / "chialvo_rulkov_chain.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}\ndone in {time.perf_counter() - t0:.1f} s")
    return {"attractors": a, "synchrony": s, "figure": path}


if __name__ == "__main__":
    main()
