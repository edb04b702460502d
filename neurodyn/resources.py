"""Memory and disk limits checked before anything large is allocated or computed.

The command line measures the memory available (``MemAvailable`` of ``/proc/meminfo``) and sets
it as the limit of the block that builds a spec (:func:`limits`); builders whose size follows
from a few numbers (a population's ``n``, a graph's node count, a dense random matrix) call
:func:`check_memory` with their estimate before allocating, the recorded state variables are
checked against the free disk (:func:`check_disk`) before any population is built, and a run's
whole estimate (state, connectivity, records per chunk, output file) is checked before it
computes. Outside such a block (Python code) nothing is checked. Estimates are rough on
purpose: they catch sizes that cannot fit, they do not predict peak usage to the byte.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import OutputError, ResourceError

FORCE_HINT = "neurodyn run --force skips this check"


@dataclass(frozen=True)
class Limits:
    """What :func:`check_memory` and :func:`check_disk` enforce: ``memory`` bytes (``None``:
    unchecked) and whether output files must fit on their disk."""

    memory: int | None = None
    disk: bool = False


_LIMITS: contextvars.ContextVar[Limits] = contextvars.ContextVar("neurodyn_limits", default=Limits())


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation without swapping (``MemAvailable``), or the
    free physical pages where ``/proc/meminfo`` does not exist; ``None`` if neither is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def free_disk(path) -> float:
    """Free bytes on the file system that will hold ``path`` (its nearest existing folder); infinite
    where the file system has no size (``/proc``, ``/sys``: writing there fails with its own error,
    which says more than "0 B free")."""
    folder = Path(path).absolute().parent
    while not folder.exists():
        folder = folder.parent
    usage = shutil.disk_usage(folder)
    return float("inf") if usage.total == 0 else usage.free


def size_text(n: float) -> str:
    """``n`` bytes as a short human-readable size (``"1.5 GB"``, decimal units)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


@contextlib.contextmanager
def limits(memory: int | None = None, disk: bool = False) -> Iterator[Limits]:
    """Within the block, :func:`check_memory` refuses estimates above ``memory`` bytes (``None``:
    no limit) and, if ``disk``, :func:`check_disk` refuses output files larger than the free disk."""
    token = _LIMITS.set(Limits(memory, disk))
    try:
        yield _LIMITS.get()
    finally:
        _LIMITS.reset(token)


def check_memory(what: str, nbytes: float, field: str | None = None) -> None:
    """Raise :class:`ResourceError` if ``what`` would need more memory than the current limit;
    ``field`` (a spec path) leads the message when one field sets the size."""
    limit = _LIMITS.get().memory
    if limit is not None and nbytes > limit:
        raise ResourceError(f"{field + ': ' if field else ''}{what} needs about {size_text(nbytes)} of memory, more "
                            f"than the {size_text(limit)} available ({FORCE_HINT})")


def check_disk(path, nbytes: float, detail: str = "") -> None:
    """Raise :class:`ResourceError` if a file of ``nbytes`` at ``path`` would not fit on its disk
    (only within ``limits(disk=True)``); ``detail`` says what the estimate counts."""
    if not _LIMITS.get().disk:
        return
    free = free_disk(path)
    if nbytes > free:
        raise ResourceError(f"the output {path} would take about {size_text(nbytes)}{f' ({detail})' if detail else ''}, "
                            f"more than the {size_text(free)} free there; record fewer steps (record.every, "
                            f"record.transient), variables or neurons (record.neurons) ({FORCE_HINT})")


def check_writable(path, what: str = "output file", hint: str = "give another output path") -> None:
    """Raise :class:`~neurodyn.errors.OutputError` (one line) unless a file can be created where
    ``path`` will be written: its folder, or the nearest existing folder above it (created
    later), accepts a new file. Checked by creating and deleting a probe file, which also
    catches read-only file systems (where permission bits say nothing, e.g. for root)."""
    import tempfile

    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {what} {path}: it is a directory")
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {what} {path}: {folder} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".neurodyn-probe-"):
            pass
    except OSError as e:
        reason = " ".join(str(e.strerror or e).split())
        raise OutputError(f"cannot write {what} {path}: {reason} ({folder} does not accept new files); {hint}") from None
