"""What a sweep reports while and after it runs: chunks small enough for progress every few
seconds, and why points are not finite."""

from pathlib import Path

import numpy as np

from neurodyn.cli import main
from neurodyn.spec import load_spec
from neurodyn.sweep import cartesian, parse_axis
from neurodyn.sweep.job import MIN_CHUNK, WORK_PER_CHUNK, prepare
from neurodyn.sweep.runner import point_reasons

SPEC = Path(__file__).resolve().parents[1] / "models" / "chialvo_ring_star.toml"


def test_default_chunks_are_bounded_by_work_so_progress_moves_every_few_seconds():
    spec = load_spec(SPEC, steps=20000)
    grid = cartesian([parse_axis("couplings.star.strength=0:0.1:100"), parse_axis("populations.neurons.k=0:0.1:100")])
    job, identity, _ = prepare(spec, grid, ["max_lyapunov"])
    # 8 state values x 20000 steps per point: 2e8 / 1.6e5 = 1250 points at most, in equal chunks
    assert job.chunk_size == 1250 and identity["chunk_size"] == 1250
    assert job.chunk_size * 8 * 20000 <= WORK_PER_CHUNK
    # a heavy point still gets a batch of MIN_CHUNK points
    heavy, _, _ = prepare(load_spec(SPEC, steps=10**8), grid, ["max_lyapunov"])
    assert heavy.chunk_size == MIN_CHUNK


def test_nonfinite_points_are_explained():
    nan = np.nan
    results = {"mean(neurons.x)": np.array([0.1, nan, 0.2, 0.3, nan]),
               "max_lyapunov": np.array([-np.inf, nan, 0.1, 0.2, nan]),
               "cross_correlation(neurons.x)": np.array([nan, nan, 0.5, nan, nan])}
    done = np.array([True, True, True, True, False])
    reasons = point_reasons(results, done)
    # point 1: the mean is NaN, so its run diverged; a Lyapunov exponent of -inf is only undefined
    assert list(reasons["mean(neurons.x)"]) == ["", "run diverged", "", "", "not computed yet"]
    assert list(reasons["max_lyapunov"]) == ["undefined", "run diverged", "", "", "not computed yet"]
    assert list(reasons["cross_correlation(neurons.x)"]) == ["undefined", "run diverged", "", "undefined",
                                                              "not computed yet"]
    only = point_reasons({"cross_correlation(neurons.x)": results["cross_correlation(neurons.x)"]})
    assert list(only["cross_correlation(neurons.x)"]) == ["diverged or undefined"] * 2 + [""] + \
        ["diverged or undefined"] * 2


def test_cli_sweep_summary_says_which_points_diverged(tmp_path, capsys):
    # star strengths 3 and 10 blow the ring-star network up; 0 and 0.05 stay bounded
    args = ["sweep", str(SPEC), "--steps", "800", "--set", "record.transient=100", "--grid",
            "couplings.star.strength=0,0.05,3,10", "--measure", "max_lyapunov", "--measure", "cross_correlation",
            "--out", str(tmp_path / "s.h5")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "/sweep/results/max_lyapunov  (4,)  (2 non-finite points: 2 run diverged)" in out
    assert "/sweep/results/cross_correlation(neurons.x)  (4,)  (2 non-finite points: 2 run diverged)" in out
