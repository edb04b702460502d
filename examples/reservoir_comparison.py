"""Memory capacity and digits sequence classification across neurodyn's reservoirs, printed as
tables (docs/models/reservoirs.md): plain ESN, ResESN (random orthogonal and cyclic residual
branch), DeepResESN and ResRMN of the same total size; the E/I reservoir against its global
balance, fixed, self-adapted (homogeneous and heterogeneous targets) and one-step designed.

Memory capacity (Jaeger 2002): i.i.d. U(-0.8, 0.8) input, delays up to 2N, ridge 1e-8, 3000
training and 2000 held-out samples. Digits: scikit-learn's 8x8 digits as sequences (row by row,
pixel by pixel, permuted pixels), the state reset before every sequence, ridge on one-hot
targets over the last state (cross-validated) and multinomial logistic regression on the mean
state. Every number depends on the seed; means and standard deviations over seeds are printed.

Run: python examples/reservoir_comparison.py [--quick]  (a few minutes on two CPU cores)
"""

import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn
import neurodyn as nd
from neurodyn.cli import example_options
from neurodyn.datasets import digits_sequences, memory_task
from neurodyn.models import ESN, ResESN, deep_res_esn, res_rmn
from neurodyn.models.ei_reservoir import AdaptiveEIReservoir, EIReservoir, adapt, one_step_design, target_rates
from neurodyn.readout import LogisticClassifier, Ridge, RidgeClassifier, harvest, memory_capacity

neurodyn.set_precision("float64")
warnings.simplefilter("ignore")
N, SEEDS = 100, 3


def mc_of_states(model, into=None, seed=0, max_delay=2 * N, train=3000, test=2000, washout=200):
    """Memory capacity from harvested states (works for stacks, whose state is every layer)."""
    steps = washout + max_delay + train + test
    u, targets = memory_task(steps, max_delay, seed=seed)
    x = np.c_[np.ones(steps), harvest(model, u, into=into)][washout + max_delay:]
    y = targets[washout + max_delay:]
    reg = 1e-8 * np.eye(x.shape[1])
    reg[0, 0] = 0.0
    w = np.linalg.solve(x[:train].T @ x[:train] + reg, x[:train].T @ y[:train])
    p, y = x[train:] @ w, y[train:]
    p, y = p - p.mean(axis=0), y - y.mean(axis=0)
    return float(np.sum((p * y).sum(axis=0) ** 2 / ((p ** 2).sum(axis=0) * (y ** 2).sum(axis=0))))


def row(name, values):
    print(f"  {name:<44s} {np.mean(values):7.3f} ± {np.std(values):.3f}")


def memory_table():
    print(f"Memory capacity, N = {N} units in every model, tanh, input scaling 0.1 (mean ± std over {SEEDS} seeds)")
    builders = {
        "ESN, leak 1": lambda s: (ESN.create(N, 1, spectral_radius=0.9, input_scaling=0.1, seed=s), None),
        "ESN, leak 0.5": lambda s: (ESN.create(N, 1, spectral_radius=0.9, input_scaling=0.1, leak=0.5, seed=s), None),
        "ResESN random O, alpha 0.9, beta 0.1": lambda s: (ResESN.create(
            N, 1, alpha=0.9, beta=0.1, spectral_radius=0.9, input_scaling=0.1, orthogonal="random", seed=s), None),
        "ResESN cycle O, alpha 0.9, beta 0.1": lambda s: (ResESN.create(
            N, 1, alpha=0.9, beta=0.1, spectral_radius=0.9, input_scaling=0.1, orthogonal="cycle", seed=s), None),
        "DeepResESN 2 x 50, random O": lambda s: (deep_res_esn(
            2, N // 2, 1, alpha=0.9, beta=0.1, spectral_radius=0.9, input_scaling=0.1, seed=s), "layer1"),
    }
    for name, build in builders.items():
        row(name, [mc_of_states(*build(s), seed=s) for s in range(SEEDS)])


def ei_table(seeds=5):
    print(f"\nE/I reservoir memory capacity (N = {N}, k = 10, gain 10; delays <= 60; {seeds} seeds)")
    mc = dict(max_delay=60, train=2000, test=1000, washout=100)
    for balance in (0.5, 0.8, 1.0, 1.2, 1.5, 2.0):
        fixed, hetero, homo, design = [], [], [], []
        for s in range(seeds):
            res = EIReservoir.create(N, in_degree=10, balance=balance, seed=s)
            u = np.random.default_rng(100 + s).uniform(-0.8, 0.8, (1000, 1))
            fixed.append(memory_capacity(res, seed=s, **mc).total)
            for targets, out in ((target_rates(N, "heterogeneous", seed=s), hetero),
                                 (target_rates(N, "homogeneous", rate=0.5), homo)):
                adapted = adapt(AdaptiveEIReservoir.create(res, targets, 1e-2), u, epochs=10)[0]
                out.append(memory_capacity(adapted, seed=s, **mc).total)
            design.append(memory_capacity(one_step_design(res, target_rates(N, "heterogeneous", seed=s), 0.0),
                                          seed=s, **mc).total)
        print(f"  balance {balance:3.1f}: fixed {np.mean(fixed):5.2f}, adapted Beta(2,2) {np.mean(hetero):5.2f}, "
              f"adapted rho = 0.5 {np.mean(homo):5.2f}, one-step design {np.mean(design):5.2f}")


def rmn_last_states(net, x):
    init = net.init(jax.random.PRNGKey(0))

    def last(u):
        return net.observe(nd.run(net, init, u.shape[0], drive={"memory": u, "reservoir": u}, record=())[0])[
            "reservoir.x"]

    return [h[None] for h in np.asarray(jax.jit(jax.vmap(last))(jnp.asarray(x)))]


def digits_table(modes=("row", "pixel", "permuted")):
    print(f"\nDigits sequence classification, {N} units in every model, test accuracy (449 digits)")
    print(f"  {'model':<30s} {'mode':<9s} {'ridge, last':>12s} {'logistic, mean':>15s}")
    for mode in modes:
        split = digits_sequences(mode, seed=0)
        d = split.x_train.shape[2]
        models = {
            "ESN, leak 1": (ESN.create(N, d, spectral_radius=0.9, seed=0), "esn"),
            "ESN, leak 0.3": (ESN.create(N, d, spectral_radius=0.9, leak=0.3, seed=0), "esn"),
            "DeepResESN 2 x 50": (deep_res_esn(2, N // 2, d, alpha=0.9, beta=0.1, spectral_radius=0.9, seed=0), "deep"),
            "ResRMN 50 + 50 (h(T) readout)": (res_rmn(N // 2, N // 2, d, alpha=0.9, beta=0.1, spectral_radius=0.9,
                                                      memory_input_scaling=0.1, memory_scaling=0.1, bias_scaling=0.1,
                                                      orthogonal="identity", seed=0), "rmn"),
        }
        for name, (model, kind) in models.items():
            if kind == "rmn":
                train, test = rmn_last_states(model, split.x_train), rmn_last_states(model, split.x_test)
            else:
                into = "layer1" if kind == "deep" else None
                train, test = (harvest(model, list(split.x_train), into=into),
                               harvest(model, list(split.x_test), into=into))
            ridge = RidgeClassifier(Ridge([1e-4, 1e-2, 1.0, 10.0], standardize=True), pool="last").fit(train,
                                                                                                     split.y_train)
            logistic = LogisticClassifier(l2=0.1, pool="mean", standardize=True).fit(train, split.y_train)
            print(f"  {name:<30s} {mode:<9s} {ridge.score(test, split.y_test)['accuracy']:12.3f} "
                  f"{logistic.score(test, split.y_test)['accuracy']:15.3f}")


if __name__ == "__main__":
    args = example_options(__doc__, "60 units, one seed, the row-by-row digits only", out=None)
    if args.quick:
        N, SEEDS = 60, 1
    start = time.perf_counter()
    memory_table()
    ei_table(seeds=1 if args.quick else 5)
    digits_table(("row",) if args.quick else ("row", "pixel", "permuted"))
    print(f"\n({time.perf_counter() - start:.0f} s)")
