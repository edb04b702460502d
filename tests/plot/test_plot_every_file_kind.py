"""``neurodyn plot`` draws every kind of file neurodyn writes (run, partial, diverged, SONATA report
and spikes, sweep, task run, trained readout, training checkpoint) without a traceback, and each
figure is written as a PNG beside the file."""

from pathlib import Path

import pytest

from neurodyn.cli import main
from tests.test_cli import KINDS, every_file_kind  # noqa: F401  (the module-scoped fixture of one file per kind)


@pytest.mark.parametrize("name", list(KINDS))
def test_plot_draws_every_file_kind(every_file_kind, capsys, name):  # noqa: F811
    path = every_file_kind / name
    assert main(["plot", str(path)]) == 0, capsys.readouterr().err
    written = [Path(p) for p in capsys.readouterr().out.split() if p.endswith(".png")]
    assert written, name
    for png in written:
        assert png.is_file() and png.parent == path.parent and png.stat().st_size > 5_000
        assert png.name.startswith(path.name.removesuffix(".h5"))
