"""Chialvo ring-star network with pairwise and higher-order coupling: the route to chaos and the
synchrony map (after Nair, Ghosh, Fatoyinbo & Muni, "On the higher-order smallest ring star
network of Chialvo neurons under diffusive couplings", arXiv:2405.06000, the bifurcation figures
and the two-parameter synchrony figure).

The network is the bundled spec ``models/chialvo_ring_star.toml`` (a hub and three ring nodes,
Chialvo a = 0.89, b = 0.18, c = 0.28; star mu = 0.01, ring sigma = 0.01, triadic sigma_2 = 0.005).
Everything is computed with neurodyn's sweep (one vmapped, compiled call per chunk of points):

* Figure 1, along the Chialvo parameter k, once with pairwise coupling only (sigma_2 = 0) and once
  with the triadic (2-simplex) coupling: the orbit diagram of the hub's x (the last ``KEEP``
  iterates, as dots), the maximal Lyapunov exponent of the whole network (tangent dynamics,
  renormalised every step), and, from the same orbits, the Gottwald–Melbourne 0-1 test K and the
  sample entropy SampEn(2, 0.2 sd).
* Figure 2: the mean pairwise cross-correlation Gamma over the star (mu) and ring (sigma) coupling
  strengths, with and without the triadic coupling.

What agrees with the paper, in shape: the route fixed point -> chaos -> quasi-periodic closed
invariant curves. The full run (241 values of k in [0, 0.06], 20,000 iterations, the last 2,000
kept) prints where it changes: the fixed point holds up to k = 0.0222 with both couplings and
loses stability abruptly (lambda_max from -0.15 to +0.06 between k = 0.0218 and 0.0225); the
orbit is quasi-periodic (|lambda_max| < 0.003, not periodic) from k = 0.0355 (pairwise) and
k = 0.0333 (with the triadic coupling) to 0.06. The 0-1 test gives K = 1.00 in the chaotic band
and falls to 0 on the quasi-periodic curves; the triadic coupling lowers lambda_max in the
chaotic band k in (0.023, 0.03) from 0.075 to 0.032 per iteration on average. What differs or
is unverified: the paper's exact coupling normalisations and parameter ranges were not available
to us (docs/models/maps.md), so the positions of the transitions are ours; the paper draws its
diagrams over coupling strengths, while at the spec's k = 0.03 an uncoupled node is already
chaotic, so the route is drawn along k here and the couplings span the synchrony map.

Run: ``python examples/chialvo_ring_star.py [--quick]`` (the full version took 107 s on the shared
2-core machine; ``--quick`` 14 s of CPU time). Writes ``hdf5_outputs/chialvo_ring_star_route.h5`` and
``hdf5_outputs/chialvo_ring_star_route.png`` / ``chialvo_ring_star_synchrony.png``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from neurodyn.cli import example_options

SPEC = Path(__file__).resolve().parents[1] / "models" / "chialvo_ring_star.toml"
TRIADIC = (0.0, 0.005)  # sigma_2: pairwise only, and with the 2-simplex coupling of the spec
SIZES = {  # k values, steps, transient, kept iterates; synchrony map points per axis and steps
    "full": dict(k=241, steps=20_000, transient=15_000, keep=2_000, grid=31, sync_steps=10_000),
    "quick": dict(k=41, steps=4_000, transient=3_000, keep=500, grid=9, sync_steps=2_000),
}
QUASI_PERIODIC = 3e-3  # |lambda_max| below this with a non-periodic orbit: quasi-periodic


def route(size: dict, out: Path) -> dict:
    """The k sweep: orbits of the hub's x, lambda_max, and K and SampEn of each orbit."""
    from neurodyn.diagnostics import sample_entropy, zero_one_test
    from neurodyn.sweep import sweep

    k = np.linspace(0.0, 0.06, size["k"])
    orbit_name = f"orbit(neurons.x,{size['keep']})"
    result = sweep(str(SPEC), {"populations.neurons.k": k, "couplings.triadic.strength": list(TRIADIC)},
                   [f"orbit:neurons.x:{size['keep']}", "max_lyapunov"], steps=size["steps"],
                   transient=size["transient"], out=out)
    shape = (len(k), len(TRIADIC))
    orbits = result.results[orbit_name].reshape(shape + (size["keep"],))
    lam = result.results["max_lyapunov"].reshape(shape)
    zero_one = np.full(shape, np.nan)
    entropy = np.full(shape, np.nan)
    for i in range(len(k)):
        for j in range(len(TRIADIC)):
            x = orbits[i, j]
            if np.ptp(x) > 1e-9:  # a fixed point has neither
                zero_one[i, j] = zero_one_test(x)
                entropy[i, j] = sample_entropy(x, 2, 0.2 * np.std(x))
    return {"k": k, "orbits": orbits, "lambda": lam, "zero_one": zero_one, "sampen": entropy}


def synchrony(size: dict, out: Path) -> dict:
    """Gamma over (mu, sigma), for each triadic strength."""
    from neurodyn.sweep import sweep

    mu = np.linspace(0.0, 0.1, size["grid"])
    sigma = np.linspace(0.0, 0.1, size["grid"])
    result = sweep(str(SPEC), {"couplings.star.strength": mu, "couplings.ring.strength": sigma,
                               "couplings.triadic.strength": list(TRIADIC)},
                   ["cross_correlation"], steps=size["sync_steps"], transient=size["sync_steps"] // 2, out=out)
    gamma = result.results["cross_correlation(neurons.x)"].reshape(len(mu), len(sigma), len(TRIADIC))
    return {"mu": mu, "sigma": sigma, "gamma": gamma}


def transitions(k, lam, orbits) -> dict:
    """Where the route changes, per triadic strength: the first k with lambda_max > 0, and the k
    range with |lambda_max| < QUASI_PERIODIC and a non-periodic orbit (more than 20 distinct
    values, rounded to 1e-6)."""
    out = {}
    for j, s2 in enumerate(TRIADIC):
        chaotic = np.nonzero(lam[:, j] > QUASI_PERIODIC)[0]
        distinct = np.array([len(np.unique(np.round(o, 6))) for o in orbits[:, j]])
        quasi = np.nonzero((np.abs(lam[:, j]) < QUASI_PERIODIC) & (distinct > 20))[0]
        out[s2] = {"first_chaotic_k": float(k[chaotic[0]]) if chaotic.size else None,
                   "quasi_periodic_k": (float(k[quasi[0]]), float(k[quasi[-1]])) if quasi.size else None,
                   "fixed_point_until_k": float(k[np.argmax(distinct > 1)] if (distinct > 1).any() else k[-1])}
    return out


def route_figure(r: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 2, figsize=(11, 8.5), sharex=True, layout="constrained",
                             gridspec_kw={"height_ratios": [2.2, 1.2, 1.2]})
    k = r["k"]
    for j, s2 in enumerate(TRIADIC):
        top, mid, low = axes[:, j]
        keep = r["orbits"].shape[-1]
        top.plot(np.repeat(k, keep), r["orbits"][:, j].ravel(), ",", color="k", alpha=0.4)
        top.set_title("pairwise coupling only (σ₂ = 0)" if s2 == 0 else f"with triadic coupling (σ₂ = {s2:g})",
                      fontsize=10)
        top.set_ylabel(f"hub x (last {keep:,} iterates)")
        mid.plot(k, r["lambda"][:, j], "o-", ms=2.5, lw=0.8, color="C0")
        mid.axhline(0.0, color="0.4", lw=0.8, ls="--")
        mid.set_ylabel("λ_max (1 / iteration)")
        low.plot(k, r["zero_one"][:, j], "o-", ms=2.5, lw=0.8, color="C3", label="0-1 test K")
        low.set_ylim(-0.1, 1.1)
        low.set_ylabel("0-1 test K", color="C3")
        twin = low.twinx()
        twin.plot(k, r["sampen"][:, j], "s-", ms=2.5, lw=0.8, color="C2")
        twin.set_ylabel("SampEn(2, 0.2 sd)", color="C2")
        low.set_xlabel("Chialvo k")
    fig.suptitle("Chialvo ring-star network (hub + 3 ring nodes, μ = σ = 0.01): route to chaos along k", fontsize=11)
    return fig


def synchrony_figure(s: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True, layout="constrained")
    mesh = None
    for j, s2 in enumerate(TRIADIC):
        mesh = axes[j].pcolormesh(s["mu"], s["sigma"], s["gamma"][:, :, j].T, shading="auto", cmap="RdBu_r",
                                  vmin=-1, vmax=1)
        axes[j].set_xlabel("star coupling μ")
        axes[j].set_title("pairwise only (σ₂ = 0)" if s2 == 0 else f"with triadic coupling (σ₂ = {s2:g})",
                          fontsize=10)
    axes[0].set_ylabel("ring coupling σ")
    fig.colorbar(mesh, ax=list(axes), label="cross-correlation Γ, mean over node pairs (dimensionless)")
    fig.suptitle("Chialvo ring-star network (k = 0.03): synchrony over the pairwise couplings", fontsize=11)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = example_options(__doc__, "small grids and short runs (under 30 s)", argv)
    import matplotlib.pyplot as plt

    import neurodyn as nd

    nd.set_precision("float64")
    size = SIZES["quick" if args.quick else "full"]
    t0 = time.perf_counter()
    r = route(size, args.out / "chialvo_ring_star_route.h5")
    s = synchrony(size, args.out / "chialvo_ring_star_synchrony.h5")
    found = transitions(r["k"], r["lambda"], r["orbits"])
    for s2, f in found.items():
        print(f"sigma_2 = {s2:g}: fixed point up to k = {f['fixed_point_until_k']:.4f}, first lambda_max > "
              f"{QUASI_PERIODIC:g} at k = {f['first_chaotic_k']}, quasi-periodic (|lambda_max| < {QUASI_PERIODIC:g}, "
              f"non-periodic orbit) in k = {f['quasi_periodic_k']}")
    written = {}
    for name, fig in (("route", route_figure(r)), ("synchrony", synchrony_figure(s))):
        path = args.out / f"chialvo_ring_star_{name}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written[name] = path
        print(f"wrote {path}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return {"route": r, "synchrony": s, "transitions": found, "figures": written}


if __name__ == "__main__":
    main()
