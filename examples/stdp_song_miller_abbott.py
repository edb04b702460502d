"""Song, Miller & Abbott (2000): additive STDP splits the weights of 1,000 Poisson inputs
towards the two bounds and regulates the output rate (their Fig. 2).

One conductance-based integrate-and-fire neuron (tau_m 20 ms, V_rest -70, V_th -54, V_reset
-60 mV, E_ex 0, E_in -70 mV, tau_ex = tau_in = 5 ms) receives 1,000 excitatory Poisson inputs at
10 Hz through additive pair STDP (tau_+ = tau_- = 20 ms, A_+ = 0.005, A_- / A_+ = 1.05, weights in
[0, g_max], g_max = 0.015 g_L, uniform at the start) and 200 inhibitory Poisson inputs at 10 Hz of
0.05 g_L. The weights are sampled every ``--every`` seconds (histogram, output rate); the file
holds the histograms, the rates and the final weights, the figure the final distribution and
the time course (docs/models/plasticity.md).

Run: python examples/stdp_song_miller_abbott.py           (1,000 s simulated at dt = 0.1 ms)
     python examples/stdp_song_miller_abbott.py --quick   (A_+ = 0.01, 300 s at dt = 0.25 ms)
Writes hdf5_outputs/stdp_song_miller_abbott.h5 and .png (docs/figures/stdp_song_miller_abbott.png).

Measured (shared 2-core machine): the full run, 13 min, ends with 27.8 % of the weights below
0.1 g_max, 38.7 % above 0.9 g_max and 12.0 % in 0.3-0.7 g_max (uniform start: 10 %, 10 %, 40 %),
output rate about 14 Hz; --quick, 4 min: 16.4 %, 25.9 %, 20.2 %.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from neurodyn.cli import example_options

BINS = 20


def song_network(n_inputs=1000, rate=10.0, a_plus=0.005, dt=0.1, seed=0):
    """The network of the module docstring (``n_inputs`` inputs at ``rate`` Hz, ``g_max`` =
    0.015 g_L x 1000 / ``n_inputs``)."""
    import jax.numpy as jnp  # noqa: F401  (JAX after the precision is set)

    from neurodyn.core import Network
    from neurodyn.models import PairSTDP, PlasticProjection, PoissonInput, PoissonSource, SynapticLIF
    from neurodyn.ops.synapses import SynapseCSR

    g_max = 0.015 * 1000 / n_inputs
    cell = SynapticLIF.create(1, tau_m=20.0, v_rest=-70.0, v_reset=-60.0, v_th=-54.0, t_ref=0.0, tau_e=5.0,
                              tau_i=5.0, e_e=0.0, e_i=-70.0, dt=dt)
    inputs = PoissonSource.create(n_inputs, rate, dt=dt)
    w0 = np.random.default_rng(seed).uniform(0, g_max, n_inputs)
    conn = SynapseCSR.from_coo(np.arange(n_inputs), np.zeros(n_inputs, int), w0, n_pre=n_inputs, n_post=1)
    rule = PairSTDP(tau_plus=20.0, tau_minus=20.0, a_plus=a_plus, a_minus=1.05 * a_plus, w_max=g_max)
    stdp = PlasticProjection.create("inputs", "cell", conn, rule=rule, dt=dt)
    inhibition = PoissonInput.create("cell", cell, rate=10.0, n_inputs=200, weight=0.05, port="g_i")
    return Network({"inputs": inputs, "cell": cell}, {"stdp": stdp, "inhibition": inhibition})


def simulate(duration_s: float, every_s: float, a_plus: float, dt: float, seed: int = 1) -> dict:
    """Run the network for ``duration_s`` seconds in compiled chunks of ``every_s`` seconds (one
    compilation; a Python loop over chunks, none over steps); returns the weight histogram
    (fractions of g_max, ``BINS`` bins) at the start and after every chunk, the output rate of
    every chunk (Hz) and the final weights (fractions of g_max)."""
    import jax

    import neurodyn as nd

    net = song_network(a_plus=a_plus, dt=dt)
    g_max = float(net.projections["stdp"].rule.w_max)
    state = net.init(jax.random.PRNGKey(seed))
    chunk = int(round(every_s * 1000 / dt))
    run = jax.jit(lambda s: nd.run(net, s, chunk, record=("cell.spike",)))

    def histogram(st):
        return np.histogram(np.asarray(st.projections["stdp"].weights) / g_max, BINS, (0.0, 1.0))[0]

    times, hists, rates = [0.0], [histogram(state)], []
    for k in range(int(round(duration_s / every_s))):
        state, rec = run(state)
        rates.append(float(np.asarray(rec["cell.spike"]).mean()) / dt * 1000.0)
        times.append((k + 1) * every_s)
        hists.append(histogram(state))
    return {"times_s": np.asarray(times), "histograms": np.asarray(hists), "rates_hz": np.asarray(rates),
            "weights": np.asarray(state.projections["stdp"].weights) / g_max, "g_max": g_max}


def summary(result: dict) -> dict:
    """Fractions of the final weights within 10 % of each bound and in the middle (0.3-0.7 g_max),
    the output rate over the first and the last tenth of the run."""
    w, rates = result["weights"], result["rates_hz"]
    tenth = max(1, len(rates) // 10)
    return {"near_zero": float((w < 0.1).mean()), "near_max": float((w > 0.9).mean()),
            "middle": float(((w > 0.3) & (w < 0.7)).mean()), "rate_start_hz": float(rates[:tenth].mean()),
            "rate_end_hz": float(rates[-tenth:].mean())}


def figure(result: dict, numbers: dict, label: str):
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8))
    edges = np.linspace(0, 1, BINS + 1)
    a.bar(edges[:-1], result["histograms"][0] / result["weights"].size, width=1 / BINS, align="edge",
          color="0.8", edgecolor="0.5", label="start (uniform)")
    a.bar(edges[:-1], result["histograms"][-1] / result["weights"].size, width=1 / BINS, align="edge",
          color="tab:blue", alpha=0.8, edgecolor="tab:blue", label=f"after {result['times_s'][-1]:.0f} s")
    a.set_xlabel("weight / g_max")
    a.set_ylabel("fraction of the 1,000 synapses")
    a.set_title(f"near 0: {numbers['near_zero']:.0%}, near g_max: {numbers['near_max']:.0%}", fontsize=10)
    a.legend(fontsize=8)
    image = c.imshow(result["histograms"].T / result["weights"].size, aspect="auto", origin="lower",
                     extent=(0, result["times_s"][-1], 0, 1), cmap="viridis")
    c.set_xlabel("time (s)")
    c.set_ylabel("weight / g_max")
    c.set_title("weight distribution over time", fontsize=10)
    fig.colorbar(image, ax=c, label="fraction of synapses")
    b.plot(result["times_s"][1:], result["rates_hz"], color="tab:red")
    b.set_xlabel("time (s)")
    b.set_ylabel("output rate (Hz)")
    b.set_ylim(0, None)
    b.set_title("output rate (10 Hz inputs)", fontsize=10)
    fig.suptitle(f"Additive STDP, 1,000 Poisson inputs (Song, Miller & Abbott 2000, Fig. 2); {label}", fontsize=11)
    fig.tight_layout()
    return fig


def write(path: Path, result: dict, numbers: dict, parameters: dict) -> None:
    """The histograms, rates and final weights as an HDF5 file (written under a temporary name,
    then renamed)."""
    import h5py

    from neurodyn.files import atomic_write

    with atomic_write(path, "run file") as tmp, h5py.File(tmp, "w") as f:
        for k, v in parameters.items():
            f.attrs[k] = v
        for k, v in numbers.items():
            f.attrs[k] = v
        f["times_s"] = result["times_s"]
        f["histograms"] = result["histograms"]
        f["histograms"].attrs["bins"] = "20 equal bins of weight / g_max over [0, 1]"
        f["rates_hz"] = result["rates_hz"]
        f["weights"] = result["weights"]
        f["weights"].attrs["units"] = "g_max"


def main(argv: list[str] | None = None) -> dict:
    args = example_options(__doc__, "A+ = 0.01, 300 s at dt = 0.25 ms (a few minutes)", argv)
    import matplotlib.pyplot as plt

    parameters = ({"a_plus": 0.01, "dt_ms": 0.25, "duration_s": 300.0, "every_s": 5.0} if args.quick else
                  {"a_plus": 0.005, "dt_ms": 0.1, "duration_s": 1000.0, "every_s": 10.0})
    t0 = time.perf_counter()
    result = simulate(parameters["duration_s"], parameters["every_s"], parameters["a_plus"], parameters["dt_ms"])
    numbers = summary(result)
    print(f"after {parameters['duration_s']:.0f} s: {numbers['near_zero']:.1%} of the weights below 0.1 g_max, "
          f"{numbers['near_max']:.1%} above 0.9 g_max, {numbers['middle']:.1%} in 0.3-0.7 g_max; output rate "
          f"{numbers['rate_start_hz']:.1f} Hz at the start, {numbers['rate_end_hz']:.1f} Hz at the end")
    write(args.out / "stdp_song_miller_abbott.h5", result, numbers, parameters)
    label = f"A+ = {parameters['a_plus']:g}, dt = {parameters['dt_ms']:g} ms"
    fig = figure(result, numbers, label)
    png = args.out / "stdp_song_miller_abbott.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    print(f"wrote {args.out / 'stdp_song_miller_abbott.h5'} and {png} in {time.perf_counter() - t0:.0f} s")
    return {"result": result, "summary": numbers}


if __name__ == "__main__":
    main()
