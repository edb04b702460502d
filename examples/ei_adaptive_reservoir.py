"""E/I-balanced reservoirs, globally tuned against locally adaptive: memory capacity against the
global E/I ratio (after Srinivasan, Plenz & Girvan, "Boosting reservoir computer performance with
multiple timescale and local E/I balance", arXiv:2504.12480, the main figure: performance against
the global balance, globally tuned against locally self-adapted).

The reservoir is neurodyn's ``EIReservoir`` (sigmoid rate units, 80 % excitatory, sparse random
in-degree, inhibitory weights scaled by the global balance beta = <A^I> / <A^E>). For each beta:

* globally tuned: the reservoir as built (one global balance for every unit);
* locally adaptive: homeostatic inhibitory plasticity (``AdaptiveEIReservoir``: every inhibitory
  weight onto unit i moves with its rate error, ``A^I_ij <- max(0, A^I_ij + delta (r_i - rho_i))``)
  during an unsupervised phase on the task input, with heterogeneous targets rho_i ~ Beta(2, 2),
  then frozen;
* one-step design: the inhibitory scale per unit that puts the fixed point at rho_i at once.

Performance is Jaeger's memory capacity (i.i.d. U(-0.8, 0.8) input, one ridge readout per delay,
held-out data), mean and spread over seeds. The right panel shows the adaptation converging: the
mean distance of the units' rates from their targets per epoch.

What agrees with the paper, in shape: the globally tuned reservoir performs well only in a narrow
band of beta, while the locally adaptive one keeps its performance across the whole range. The
full run (N = 100, 5 seeds, 9 balances from 0.5 to 2) measured a globally tuned capacity that peaks
at 9.34 at beta = 1 and falls to 2.49 at beta = 0.5 and 2.96 at beta = 2, against 8.32-8.69 for
the locally adaptive reservoir and 8.81 for the one-step design at every beta: 3.5x and 2.8x the
global tuning at the ends of the range. What differs: the paper reports up to 130 % improvement
(2.3x); ours reaches more at the ends of our range and is 7 % below the best global tuning at
beta = 1, where the paper's adaptive reservoir is not worse; its reservoir, input and task
settings differ from ours (docs/models/reservoirs.md), so the values are ours. The full run took
516 s on the 2-core machine shared with eight other jobs.

Run: ``python examples/ei_adaptive_reservoir.py [--quick]``. Writes ``hdf5_outputs/ei_adaptive_reservoir.h5``
and ``.png``.
"""

from __future__ import annotations

import time

import numpy as np

from neurodyn.cli import example_options

SIZES = {
    "full": dict(n=100, seeds=5, balances=9, epochs=10, adapt_steps=1000, max_delay=60, train=2000, test=1000),
    "quick": dict(n=60, seeds=1, balances=4, epochs=4, adapt_steps=400, max_delay=30, train=600, test=300),
}
VARIANTS = ("globally tuned", "locally adaptive (Beta(2,2) targets)", "one-step design")


def capacities(size: dict) -> dict:
    from neurodyn.readout import memory_capacity
    from neurodyn.models.ei_reservoir import AdaptiveEIReservoir, EIReservoir, adapt, one_step_design, target_rates

    balances = np.geomspace(0.5, 2.0, size["balances"])
    mc = np.zeros((len(VARIANTS), len(balances), size["seeds"]))
    mismatch = np.zeros((len(balances), size["seeds"], size["epochs"]))
    kw = dict(max_delay=size["max_delay"], train=size["train"], test=size["test"], washout=100)
    for j, balance in enumerate(balances):
        for s in range(size["seeds"]):
            reservoir = EIReservoir.create(size["n"], in_degree=10, balance=float(balance), seed=s)
            targets = target_rates(size["n"], "heterogeneous", seed=s)
            u = np.random.default_rng(100 + s).uniform(-0.8, 0.8, (size["adapt_steps"], 1))
            adapted, _, mismatch[j, s] = adapt(AdaptiveEIReservoir.create(reservoir, targets, 1e-2), u,
                                               epochs=size["epochs"])
            for i, model in enumerate((reservoir, adapted, one_step_design(reservoir, targets, 0.0))):
                mc[i, j, s] = memory_capacity(model, seed=s, **kw).total
    return {"balance": balances, "mc": mc, "mismatch": mismatch}


def figure(r: dict, n: int):
    import matplotlib.pyplot as plt

    fig, (ax, conv) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained",
                                   gridspec_kw={"width_ratios": [1.4, 1]})
    for i, (name, marker) in enumerate(zip(VARIANTS, "osd")):
        mean, sd = r["mc"][i].mean(-1), r["mc"][i].std(-1)
        ax.plot(r["balance"], mean, marker + "-", ms=4, label=name)
        if r["mc"].shape[-1] > 1:
            ax.fill_between(r["balance"], mean - sd, mean + sd, alpha=0.15)
    ax.set_xscale("log")
    ax.set_xticks(r["balance"], [f"{b:.2g}" for b in r["balance"]])
    ax.minorticks_off()
    ax.set_xlabel("global E/I balance β = <A^I> / <A^E>")
    ax.set_ylabel("memory capacity")
    seeds = r["mc"].shape[-1]
    ax.set_title(f"N = {n} rate units; mean{' ± sd over ' + str(seeds) + ' seeds' if seeds > 1 else ''}", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="lower center")
    epochs = np.arange(1, r["mismatch"].shape[-1] + 1)
    for j in range(0, len(r["balance"]), max(1, len(r["balance"]) // 4)):
        conv.plot(epochs, r["mismatch"][j].mean(0), "o-", ms=3, label=f"β = {r['balance'][j]:.2g}")
    conv.set_yscale("log")
    conv.set_xticks(epochs)
    conv.set_xlabel("adaptation epoch")
    conv.set_ylabel("mean |<r_i> - ρ_i| (rate units)")
    conv.legend(frameon=False, fontsize=8)
    conv.set_title("local adaptation converges to the targets", fontsize=9)
    fig.suptitle("E/I reservoirs: global tuning against local homeostatic adaptation", fontsize=11)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = example_options(__doc__, "small reservoirs, 4 balances, 1 seed (under 30 s)", argv)
    import h5py
    import matplotlib.pyplot as plt

    import neurodyn as nd

    nd.set_precision("float64")
    size = SIZES["quick" if args.quick else "full"]
    t0 = time.perf_counter()
    r = capacities(size)
    for name, values in zip(VARIANTS, r["mc"].mean(-1)):
        print(f"{name:<38s} " + "  ".join(f"{b:.2g}: {v:5.2f}" for b, v in zip(r["balance"], values)))
    with h5py.File(args.out / "ei_adaptive_reservoir.h5", "w") as f:
        f["balance"], f["memory_capacity"], f["mismatch"] = r["balance"], r["mc"], r["mismatch"]
        f["memory_capacity"].attrs["axes"] = "variant, balance, seed"
        f["memory_capacity"].attrs["variants"] = list(VARIANTS)
    path = args.out / "ei_adaptive_reservoir.png"
    fig = figure(r, size["n"])
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}; done in {time.perf_counter() - t0:.1f} s")
    return {**r, "figure": path}


if __name__ == "__main__":
    main()
