"""``neurodyn plot`` writes each PNG under a temporary name and renames it into place
(:func:`neurodyn.files.atomic_write`): a write that fails half way (a full disk, Ctrl-C inside
matplotlib's savefig) leaves the earlier PNG of that name byte for byte and no temporary file."""

import errno
import hashlib
import io
import os
import re
from pathlib import Path

import matplotlib.figure
import pytest

import neurodyn.files
from neurodyn.cli import main

PNGS = ["chialvo_ring_star.phase.png", "chialvo_ring_star.raster.png", "chialvo_ring_star.timeseries.png"]


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).iterdir())
            if p.suffix == ".png" or p.name.endswith(".tmp")}


@pytest.mark.parametrize("failure", ["disk full", "Ctrl-C"])
def test_a_png_write_failing_half_way_leaves_the_earlier_png(run_spec, workdir, monkeypatch, capsys, failure):
    run_spec("chialvo_ring_star", "--steps", "1200")
    assert main(["plot", "chialvo_ring_star.h5"]) == 0
    before = _digests(workdir)
    assert sorted(before) == PNGS
    run_spec("chialvo_ring_star", "--steps", "1200", "--set", "couplings.star.strength=0.02")  # other figures
    capsys.readouterr()
    real, written = matplotlib.figure.Figure.savefig, []

    def half(fig, fname, **kwargs):
        """matplotlib's own PNG, but only its first half reaches the file before the failure."""
        buf = io.BytesIO()
        real(fig, buf, **kwargs)
        png = buf.getvalue()
        Path(fname).write_bytes(png[:len(png) // 2])
        written.append(Path(fname))
        if failure == "disk full":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise KeyboardInterrupt

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half)
    monkeypatch.setattr(neurodyn.files, "DISK_FULL", [])  # the console's record of full-disk writes, not this process's
    rc = main(["plot", "chialvo_ring_star.h5"])
    err = capsys.readouterr().err
    assert len(written) == 1 and written[0].name.startswith(".chialvo_ring_star.") and written[0].suffix == ".tmp"
    assert written[0].resolve().parent == workdir  # the half-written file had a temporary name beside the PNG
    png = written[0].name[1:].rsplit(".", 2)[0]
    assert png in PNGS
    if failure == "disk full":
        assert rc == 2
        assert re.fullmatch(rf"neurodyn: error: cannot write figure \S*{re.escape(png)}: the disk is full [^\n]*\n", err), err
    else:
        assert (rc, err) == (130, "neurodyn: interrupted\n")
    assert _digests(workdir) == before  # every earlier PNG as it was, no temporary file left
    # without the failure the same command replaces them
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", real)
    assert main(["plot", "chialvo_ring_star.h5"]) == 0
    after = _digests(workdir)
    assert sorted(after) == PNGS and all(after[n] != before[n] for n in PNGS)


def test_a_signal_while_the_pngs_are_rendered_replaces_none_of_them(run_spec, workdir, monkeypatch, capsys):
    """A SIGTERM (or SIGINT) under ``neurodyn plot`` while its second PNG is rendered: the plot
    stops before the next figure and before any rename, exit 130 with one line, and every
    earlier PNG is as it was, also the first, whose new version was complete."""
    import signal
    import threading

    from neurodyn.signals import stop_requested

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers (the stop block) exist only in the main thread")
    run_spec("chialvo_ring_star", "--steps", "1200")
    assert main(["plot", "chialvo_ring_star.h5"]) == 0
    before = _digests(workdir)
    run_spec("chialvo_ring_star", "--steps", "1200", "--set", "couplings.star.strength=0.02")
    capsys.readouterr()
    real, rendered = matplotlib.figure.Figure.savefig, []

    def render(fig, fname, **kwargs):
        rendered.append(Path(fname).name)
        if len(rendered) == 2:
            flag.set(signal.SIGTERM)  # as if the signal landed while matplotlib drew the second PNG
        return real(fig, fname, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", render)
    with stop_requested() as flag:  # main's own block nests in this one and shares its flag
        rc = main(["plot", "chialvo_ring_star.h5"])
    assert rc == 130 and len(rendered) == 2, rendered
    assert capsys.readouterr() == ("", "neurodyn: interrupted: SIGTERM: plot stopped; no figure was written or "
                                       "replaced\n")
    assert _digests(workdir) == before
