"""Growth of the phase-field width W(t) on a 1-D oscillator ring: Edwards–Wilkinson (odd
coupling) against the drift toward KPZ (non-odd coupling G(x) = sin x + a (1 - cos x)),
as in R. Gutiérrez and R. Cuerno, arXiv:2604.06040 (docs/models/kuramoto.md).

L = 1024, K = 1, time noise D, Euler–Maruyama dt = 0.05 up to t = 2000, 8 realizations per
case, one vmapped compiled call each. beta is fitted on two windows, t in [20, 2000] and
t in [200, 2000]: with a > 0 it drifts from the EW value 1/4 toward the KPZ value 1/3. Writes
hdf5_outputs/kuramoto_lattice_growth.h5 and .png.

Run: python examples/kuramoto_lattice_growth.py [--quick]
"""

import time
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurodyn  # noqa: E402
from neurodyn.cli import example_options  # noqa: E402
from neurodyn.diagnostics import growth_exponent, width_growth  # noqa: E402
from neurodyn.models import PhaseLattice1D  # noqa: E402

neurodyn.set_precision("float64")
CASES = [("EW: a = 0, D = 0.1", 0.0, 0.1), ("KPZ: a = 1, D = 0.05", 1.0, 0.05), ("KPZ: a = 2, D = 0.05", 2.0, 0.05)]
L, STEPS, EVERY, REALIZATIONS = 1024, 40_000, 20, 8
WINDOWS = ((20.0, 1999.0), (200.0, 1999.0))


QUICK = dict(L=128, steps=4_000, realizations=2, windows=((20.0, 199.0), (50.0, 199.0)))


def run_cases(quick: bool = False):
    """(label, times, W, {window: beta}, wall seconds) for each case."""
    size, steps, reps, windows = ((QUICK["L"], QUICK["steps"], QUICK["realizations"], QUICK["windows"]) if quick
                                  else (L, STEPS, REALIZATIONS, WINDOWS))
    out = []
    for label, a, d in CASES:
        model = PhaseLattice1D.create(size, coupling=1.0, nonodd=a, noise=d, dt=0.05)
        t0 = time.perf_counter()
        times, w = width_growth(model, reps, steps, EVERY)
        wall = time.perf_counter() - t0
        betas = {win: growth_exponent(times, w, *win) for win in windows}
        out.append((label, times, w, betas, wall))
    return out


def main(out_dir: Path = Path("hdf5_outputs"), quick: bool = False) -> None:
    results = run_cases(quick)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 3.8))
    with h5py.File(out_dir / "kuramoto_lattice_growth.h5", "w") as f:
        for i, (label, times, w, betas, wall) in enumerate(results):
            text = ", ".join(f"beta[{lo:g}, {hi:g}] = {b:.3f}" for (lo, hi), b in betas.items())
            print(f"{label}: {text}  ({wall:.1f} s)")
            g = f.create_group(f"diagnostics/case{i}")
            g.attrs["label"] = label
            g.create_dataset("times", data=times)
            g.create_dataset("width", data=w)
            for (lo, hi), b in betas.items():
                g.attrs[f"beta_{lo:g}_{hi:g}"] = b
            ax.loglog(times[1:], w[1:], label=f"{label} (beta = {list(betas.values())[1]:.2f})")
    tt = np.array([20, max(float(r[1][-1]) for r in results)])  # the guides span the simulated times only
    ax.loglog(tt, 0.35 * tt ** 0.25, "k:", label="t^1/4 (EW)")
    ax.loglog(tt, 0.25 * tt ** (1 / 3), "k--", label="t^1/3 (KPZ)")
    ax.set_xlabel("t")
    ax.set_ylabel("W(L, t)")
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "kuramoto_lattice_growth.png", dpi=120)
    print(f"wrote {out_dir / 'kuramoto_lattice_growth.h5'} and .png")


if __name__ == "__main__":
    args = example_options(__doc__, "L = 128 up to t = 200, 2 realizations (seconds)")
    main(args.out, quick=args.quick)
