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
}


def bundled_names() -> list[str]:
    """Names of the spec files in models/."""
    return sorted(p.stem for p in SPECS.glob("*.toml"))
