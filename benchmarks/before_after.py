"""Before/after speed of a refactoring: the same workloads timed on two checkouts, side by side.

    python -m benchmarks.before_after /path/to/old/checkout /path/to/new/checkout [--rounds 3]

Each workload is a short script using the public API both checkouts share (``neurodyn.simulate``,
``neurodyn.run``, ``readout.harvest``, ``neurodyn.sweep``); it runs in its own process with
``PYTHONPATH`` set to one checkout, compiles once, and prints the best of two timed calls after
compilation (compile time apart, so a compile cache or a lowering change does not count). The
two checkouts alternate (old, new, old, new, ...) so a machine whose load drifts moves both; each
time is the median over the rounds and the ratio new / old is the median of the rounds' ratios.
Peers are not run: a ratio to a peer (Brian2, ReservoirPy) changes by exactly new / old here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

COMMON = """
import time, jax, numpy as np
import neurodyn as nd
def best(fn, rounds=2):
    jax.block_until_ready(fn())
    b = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter(); jax.block_until_ready(fn()); b = min(b, time.perf_counter() - t0)
    print(f"TIME {b:.6f}")
"""

WORKLOADS = {
    "COBA-4000, 1 s, simulate() recording every spike (float32)": """
from neurodyn.models import coba_ei, coba_initial_state
net = coba_ei(4000, i_ext=20.0, seed=1)
state = coba_initial_state(net, jax.random.PRNGKey(0))
best(lambda: len(nd.simulate(net, 10_000, state=state, record=(), progress=False).spikes["exc.spike"][0]))
""",
    "COBA-4000, 1 s, jitted run() recording exc spikes (float32)": """
from neurodyn.models import coba_ei, coba_initial_state
net = coba_ei(4000, i_ext=20.0, seed=1)
state = coba_initial_state(net, jax.random.PRNGKey(0))
run = jax.jit(lambda m, s: nd.run(m, s, 10_000, record=("exc.spike",))[1]["exc.spike"].sum())
best(lambda: run(net, state))
""",
    "Kuramoto mean field N=100,000, 2,000 RK4 steps (float64)": """
nd.set_precision("float64")
from neurodyn.models import KuramotoMeanField, natural_frequencies
omega = natural_frequencies(100_000, "lorentzian", 0.5, quantile=True)
model = KuramotoMeanField.create(100_000, omega=omega, coupling=2.0, dt=0.05, dtype=np.float64)
state = model.init(jax.random.PRNGKey(0))
run = jax.jit(lambda m, s: nd.run(m, s, 2_000, every=100, record=("r",)))
best(lambda: run(model, state))
""",
}

_SWEEP = """
import tempfile, uuid
nd.set_precision("float64")
import neurodyn.spec
from neurodyn.sweep import sweep
spec = neurodyn.spec.load_spec("models/chialvo_ring_star.toml")
folder = tempfile.mkdtemp()
def go():  # a new file each call: an existing sweep file would be resumed, not recomputed
    sweep(spec, {"couplings.star.strength": list(np.linspace(0.0, 0.05, 64))}, ["max_lyapunov"],
          steps=STEPS, out=f"{folder}/{uuid.uuid4().hex}.h5", progress=False)
    return 0
best(go, rounds=1)
"""
_HARVEST = """
nd.set_precision("DTYPE")
from neurodyn.models import ESN
from neurodyn.readout import harvest
rng = np.random.default_rng(1)
n = 1000
w = np.where(rng.random((n, n)) < 0.1, rng.normal(size=(n, n)), 0.0)
w *= 0.9 / np.max(np.abs(np.linalg.eigvals(w)))
esn = ESN.from_matrices(w, rng.uniform(-1, 1, (n, 1)), rng.uniform(-1, 1, n), dtype=np.DTYPE)
u = rng.uniform(-1, 1, (2000, 1))
best(lambda: harvest(esn, u))
"""
for _dtype in ("float32", "float64"):
    WORKLOADS[f"ESN harvest N=1,000, 10 % dense, T=2,000 ({_dtype})"] = _HARVEST.replace("DTYPE", _dtype)

# at two lengths: the short one measures a sweep call's fixed cost as much as its steps
for _steps in (5_000, 50_000):
    WORKLOADS[f"Sweep: 64 Chialvo ring-star points x {_steps:,} steps, max Lyapunov exponent (float64)"] = \
        _SWEEP.replace("STEPS", str(_steps))


def _time(checkout: str, code: str) -> float:
    env = {**os.environ, "PYTHONPATH": checkout}
    done = subprocess.run([sys.executable, "-c", COMMON + code], cwd=checkout, env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("TIME "):
            return float(line.split()[1])
    raise RuntimeError(f"{checkout}: workload failed: {done.stderr.strip().splitlines()[-1:]}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.before_after")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="", help="run the workloads whose name contains this text")
    args = p.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; old = {args.old}, new = {args.new}; "
          f"times after compilation, median of {args.rounds} alternating rounds", flush=True)
    print("| workload | old | new | new / old (median of rounds) |\n|---|---|---|---|", flush=True)
    for name, code in WORKLOADS.items():
        if args.only not in name:
            continue
        olds, news = [], []
        try:
            for _ in range(args.rounds):
                olds.append(_time(args.old, code))
                news.append(_time(args.new, code))
        except RuntimeError as e:
            print(f"| {name} | {e} | | |", flush=True)
            continue
        ratio = statistics.median(n / o for n, o in zip(news, olds))
        print(f"| {name} | {statistics.median(olds) * 1e3:.1f} ms | {statistics.median(news) * 1e3:.1f} ms | "
              f"{ratio:.2f} (range {min(n / o for n, o in zip(news, olds)):.2f}-"
              f"{max(n / o for n, o in zip(news, olds)):.2f}) |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
