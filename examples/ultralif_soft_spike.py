"""The UltraLIF soft spike against the hard threshold as eps shrinks (docs/models/ultralif.md).

For eps in (2, 1, 0.5, 0.2, 0.1, 0.05) it computes
* the soft spike sigma((V - theta)/eps) and its slope on a grid of V, against H(V - theta):
  the L1 gap over [theta - a, theta + a] is 2 eps (log 2 - log(1 + e^{-a/eps})) and the
  steepest slope 1/(4 eps) at V = theta (Miñoza, arXiv:2602.11206, Lemma 5.1, Prop. 5.4);
* an UltraLIF trajectory against the max-plus LIF (its eps -> 0 limit) on inputs far from the
  threshold: the largest |V_eps(t) - V_0(t)| against the bound T eps log 2 (Prop. 5.2);

prints them, and writes hdf5_outputs/ultralif_soft_spike.h5 and .png (or into --out).

Run: python examples/ultralif_soft_spike.py [--quick] [--out DIR]   (a few seconds)
"""

import math

import h5py
import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurodyn as nd  # noqa: E402
from neurodyn.cli import example_options  # noqa: E402
from neurodyn.models import MaxPlusLIF, UltraLIF  # noqa: E402

nd.set_precision("float64")

EPSILONS = np.array([2.0, 1.0, 0.5, 0.2, 0.1, 0.05])
THETA = 0.5
HALF_WIDTH = 3.0


def spike_curves(points: int):
    """Soft spike, its slope and the L1 gap to the step, one row per eps."""
    v = np.linspace(THETA - HALF_WIDTH, THETA + HALF_WIDTH, points)
    soft, slope = [], []
    for eps in EPSILONS:
        cell = UltraLIF.create(1, eps=float(eps), theta=THETA, learn_eps=False)
        one = lambda x: cell.spike_of(x, cell.eps)[0]  # noqa: E731
        soft.append(np.asarray(jax.vmap(one)(jnp.asarray(v)[:, None])))
        slope.append(np.asarray(jax.vmap(jax.grad(one))(jnp.asarray(v)[:, None]))[:, 0])
    soft, slope = np.array(soft), np.array(slope)
    step = (v >= THETA).astype(float)
    gap = np.trapezoid(np.abs(soft - step), v, axis=1)
    theory = 2 * EPSILONS * (math.log(2) - np.log1p(np.exp(-HALF_WIDTH / EPSILONS)))
    return v, soft, step, slope, gap, theory


def trajectory_errors(steps: int, n: int = 16, seed: int = 0):
    """Largest |V_eps(t) - V_0(t)| of UltraLIF against the max-plus LIF, inputs far from threshold."""
    rng = np.random.default_rng(seed)
    theta = 30.0
    # spikes far above threshold, other inputs near the potential (where the LSE differs from the max)
    currents = np.where(rng.random((steps, n)) < 0.15, rng.uniform(60, 70, (steps, n)), rng.uniform(-3, 3, (steps, n)))
    drive = jnp.asarray(currents)
    hard = MaxPlusLIF.create(n, tau=0.9, theta=theta)
    ref = np.asarray(nd.run(hard, hard.batch_state(), steps, drive=drive, record=("v",))[1]["v"])
    errors = []
    for eps in EPSILONS:
        cell = UltraLIF.create(n, eps=float(eps), tau=0.9, theta=theta, learn_eps=False)
        v = np.asarray(nd.run(cell, cell.batch_state(), steps, drive=drive, record=("v",))[1]["v"])
        errors.append(np.abs(v - ref).max())
    return np.array(errors), steps * EPSILONS * math.log(2)


def main():
    args = example_options(__doc__, "coarser grid and a shorter trajectory")
    out = args.out
    points, steps = (601, 50) if args.quick else (6001, 500)

    v, soft, step, slope, gap, theory = spike_curves(points)
    errors, bound = trajectory_errors(steps)
    print(" eps    L1 gap  (theory)   max slope (1/(4 eps))   max |V_eps - V_0|  (bound T eps log 2)")
    for i, eps in enumerate(EPSILONS):
        print(f"{eps:5.2f}  {gap[i]:.5f} ({theory[i]:.5f})   {slope[i].max():8.4f} ({1 / (4 * eps):8.4f})"
              f"      {errors[i]:.3e}  ({bound[i]:.3e})")

    with h5py.File(out / "ultralif_soft_spike.h5", "w") as f:
        f.attrs["theta"] = THETA
        f.attrs["steps"] = steps
        f.attrs["reference"] = "Minoza, arXiv:2602.11206: Lemma 5.1, Prop. 5.2, Prop. 5.4"
        for name, value in dict(eps=EPSILONS, v=v, soft_spike=soft, heaviside=step, slope=slope,
                                max_slope=slope.max(axis=1), l1_gap_to_heaviside=gap, l1_gap_theory=theory,
                                max_trajectory_error=errors, trajectory_bound=bound).items():
            f[name] = value

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for i, eps in enumerate(EPSILONS):
        axes[0].plot(v, soft[i], label=f"eps = {eps:g}")
        axes[1].plot(v, slope[i], label=f"eps = {eps:g}")
    axes[0].plot(v, step, "k--", label="H(V - theta)")
    axes[0].set(xlabel=f"membrane potential V (dimensionless, threshold theta = {THETA:g})", ylabel="spike s",
                title="soft spike s = sigma((V - theta) / eps)")
    axes[1].set(xlabel=f"membrane potential V (dimensionless, threshold theta = {THETA:g})", ylabel="slope ds/dV",
                yscale="log", ylim=(1e-4, None), title="slope of the soft spike (peak 1 / (4 eps))")
    axes[2].loglog(EPSILONS, errors, "o-", label="measured")
    axes[2].loglog(EPSILONS, bound, "k--", label="bound T eps log 2 (Prop. 5.2)")
    axes[2].set(xlabel="softness eps", ylabel="largest |V_eps(t) - V_0(t)| over the run",
                title=f"UltraLIF against its eps -> 0 limit, T = {steps} steps")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "ultralif_soft_spike.png", dpi=110)
    print(f"wrote {out / 'ultralif_soft_spike.h5'} and {out / 'ultralif_soft_spike.png'}")


if __name__ == "__main__":
    main()
