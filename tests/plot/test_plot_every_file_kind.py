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


def test_plot_of_a_run_checkpoint_is_one_line_saying_how_to_finish_the_run(tmp_path, capsys):
    """A run checkpoint holds state to resume, not results: one line naming it, exit 2, no PNG."""
    import neurodyn as nd
    from neurodyn.core.checkpoint import Checkpoint
    from neurodyn.errors import Interrupted

    calls = iter(range(10))
    with pytest.raises(Interrupted):
        nd.simulate(nd.models.Chialvo.create(2), 3000, chunk=1000, checkpoint=Checkpoint(tmp_path / "c.h5", every=1000),
                    should_stop=lambda: next(calls) >= 2)
    assert main(["plot", str(tmp_path / "c.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "is a run checkpoint" in err and "--resume" in err
    assert not list(tmp_path.glob("*.png"))
