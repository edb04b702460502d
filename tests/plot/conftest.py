"""Figures are drawn headless and closed after each test; ``workdir`` and ``run_spec`` give the
plot tests a scratch folder and a bundled spec's run file."""

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

SPECS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run_spec(workdir):
    """``run_spec(name, *args)``: ``neurodyn run models/<name>.toml`` into the scratch folder, read back."""
    from neurodyn.cli import main
    from neurodyn.io import load

    def run(spec, *args):
        assert main(["run", str(SPECS / f"{spec}.toml"), "--quiet", "--out", f"{spec}.h5", *args]) == 0
        return load(f"{spec}.h5")

    return run


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
