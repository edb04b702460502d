"""Small command-line runs of every bundled spec (models/*.toml): options of each kind
(--steps, --seed, --set) that keep a run to about a second and still record spikes."""

from pathlib import Path

SPECS = Path(__file__).resolve().parents[1] / "models"

SMALL_RUNS = {
    "chialvo_single": ["--steps", "1500", "--seed", "3", "--set", "record.transient=200",
                       "--set", "populations.neuron.b=[0.6, 0.2]"],
    "chialvo_ring_star": ["--steps", "1500", "--seed", "2", "--set", "record.transient=200",
                          "--set", "couplings.star.strength=0.02"],
    "rulkov_chialvo_chain": ["--steps", "1500", "--set", "record.transient=200",
                             "--set", "couplings.chain.strength=2.0"],
    "kuramoto_all_to_all": ["--steps", "400", "--set", "populations.oscillators.n=200",
                            "--set", "record.transient=100"],
    "kuramoto_lattice_kpz": ["--steps", "400", "--seed", "5", "--set", "populations.lattice.n=64"],
    "lif_rate": ["--steps", "3000", "--set", "populations.neurons.i_ext=[1.5, 3.0, 2.0]"],
    "coba_ei": ["--steps", "600", "--seed", "2", *(f"--set=couplings.{c}.weight={w}" for c, w in
                                                  (("ee", 0.5), ("ei", 0.5), ("ie", 6.0), ("ii", 6.0)))],
    "cuba_ei": ["--steps", "600", "--set", "populations.exc.i_ext=1.0"],
    "coba_ei_stdp": ["--steps", "600", "--set", "populations.exc.n=800", "--set", "populations.inh.n=200",
                     "--set", "couplings.ee.plasticity.a_plus=0.02"],
    "coba_ei_fixed_fanout": ["--steps", "600", "--set", "populations.exc.n=1600", "--set", "populations.inh.n=400"],
    # the model zoo and equation-defined models
    "adex_patterns": ["--steps", "2000"],
    "zoo_cells": ["--steps", "1000"],
    "cobahh": ["--steps", "300", "--set", "populations.exc.n=400", "--set", "populations.inh.n=100"],
    "coba_ei_equations": ["--steps", "600", "--set", "populations.exc.n=800", "--set", "populations.inh.n=200"],
    "cuba_ei_equations": ["--steps", "600", "--set", "populations.exc.n=800", "--set", "populations.inh.n=200"],
    "lif_fi_curve": ["--steps", "2000"],
    "izhikevich_network": ["--steps", "400", "--set", "populations.exc.n=200", "--set", "populations.inh.n=50"],
    # reservoir tasks: harvest, train and score a readout (smaller reservoirs and splits)
    "esn_mackey_glass": ["--steps", "1500", "--set", "populations.reservoir.n=100", "--set", "task.washout=200",
                         "--set", "task.train=800", "--set", "task.test=400", "--set", "task.generate=100"],
    "esn_narma10": ["--steps", "1200", "--seed", "2", "--set", "populations.reservoir.n=50",
                    "--set", "task.train=600", "--set", "task.test=400"],
    "deepresesn_memory": ["--steps", "1000", *(f"--set=populations.layer{l}.n=20" for l in (1, 2, 3)),
                          "--set", "task.dataset.max_delay=40", "--set", "task.washout=100",
                          "--set", "task.train=600", "--set", "task.test=300"],
    "resrmn_digits": ["--set", "populations.reservoir.n=30", "--set", "task.readout.ridge=0.01"],
    "deepesn_mackey_glass": ["--steps", "1200", "--set", "populations.reservoir.n=60", "--set", "task.washout=200",
                             "--set", "task.train=600", "--set", "task.test=400", "--set", "task.generate=100"],
    "nvar_lorenz": ["--steps", "800", "--set", "task.test=200", "--set", "task.generate=100"],
    "ei_reservoir_adaptive": ["--steps", "1000", "--set", "populations.reservoir.n=50",
                              "--set", "populations.reservoir.in_degree=8", "--set", "task.dataset.max_delay=20",
                              "--set", "task.washout=200", "--set", "task.train=500", "--set", "task.test=300"],
}
# specs with a [task]: reservoirs of rate units, which record no spikes
TASKS = {"esn_mackey_glass", "esn_narma10", "deepresesn_memory", "resrmn_digits", "ei_reservoir_adaptive",
         "nvar_lorenz", "deepesn_mackey_glass"}


def bundled_names() -> list[str]:
    """Names of the spec files in models/."""
    return sorted(p.stem for p in SPECS.glob("*.toml"))
