"""Every example accepts ``--quick`` (a small, fast version of itself), writes what it says, and
refuses an unknown option instead of ignoring it."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(monkeypatch, tmp_path, name, *args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [name, *args])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")


@pytest.mark.parametrize("name, outputs", [
    ("kuramoto_sweep_K.py", ["kuramoto_sweep_K.h5", "kuramoto_sweep_K.png"]),
    ("kuramoto_lattice_growth.py", ["kuramoto_lattice_growth.h5", "kuramoto_lattice_growth.png"]),
    ("ultralif_soft_spike.py", ["ultralif_soft_spike.png"]),
])
def test_quick_example_writes_its_files(monkeypatch, tmp_path, capsys, name, outputs):
    extra = ["--out", "hdf5_outputs"]
    _run(monkeypatch, tmp_path, name, "--quick", *extra)
    for output in outputs:
        assert (tmp_path / "hdf5_outputs" / output).stat().st_size > 1_000, output


def test_reservoir_comparison_quick_prints_its_tables(monkeypatch, tmp_path, capsys):
    _run(monkeypatch, tmp_path, "reservoir_comparison.py", "--quick")
    out = capsys.readouterr().out
    assert "Memory capacity, N = 60" in out and "E/I reservoir memory capacity" in out and "row" in out


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_refuses_an_unknown_option(monkeypatch, tmp_path, capsys, name):
    with pytest.raises(SystemExit) as stop:
        _run(monkeypatch, tmp_path, name, "--no-such-option")
    assert stop.value.code == 2 and "unrecognized arguments: --no-such-option" in capsys.readouterr().err
