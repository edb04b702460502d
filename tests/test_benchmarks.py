"""The benchmark runner: a missing peer library is skipped with a message, an unknown name is an error."""

import subprocess
import sys
from pathlib import Path

from benchmarks import skip_missing_peer

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_benchmark_name_exits_2_and_lists_the_real_ones():
    out = subprocess.run([sys.executable, "-m", "benchmarks", "nosuch"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    names = sorted(p.stem[len("bench_"):] for p in (ROOT / "benchmarks").glob("bench_*.py"))
    assert {"chialvo_ring_star", "diagnostics", "kuramoto", "sweep"} <= set(names)
    assert out.stderr.strip() == f"python -m benchmarks: no benchmark matches 'nosuch' (available: {', '.join(names)})"


def test_a_peer_that_is_not_installed_is_skipped_with_a_message(monkeypatch):
    from benchmarks.bench_diagnostics import sample_entropy_against_nolds
    from benchmarks.bench_sweep import esn_sweep

    for name in [m for m in sys.modules if m.split(".")[0] in ("reservoirpy", "nolds")] + ["reservoirpy", "nolds"]:
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if it were not installed (submodules too)
    assert list(skip_missing_peer(esn_sweep(quick=True))) == [
        "  skipped: the peer library 'reservoirpy' is not installed (pip install -e '.[test]')"]
    assert list(skip_missing_peer(sample_entropy_against_nolds(quick=True))) == [
        "  skipped: the peer library 'nolds' is not installed (pip install -e '.[test]')"]


def test_other_import_errors_are_not_hidden(monkeypatch):
    def broken():
        import neurodyn_missing_module  # noqa: F401
        yield "never"

    try:
        list(skip_missing_peer(broken()))
    except ModuleNotFoundError as e:
        assert e.name == "neurodyn_missing_module"
    else:
        raise AssertionError("a missing module that is not a peer must raise")
