"""Atomic file writes: every file a user keeps is written under a temporary name beside its
final one, flushed to disk and renamed over it, so a crash, a kill or a full disk never leaves a
half-written file under the final name and never damages the previous complete one.

The temporary name is ``.<name>.<pid>.tmp`` in the destination's folder (the same file system,
so the rename is atomic on POSIX); :func:`remove_stale_temporaries` deletes those left by a
process that no longer runs. Two ways to use it:

- :func:`atomic_write` (a context manager) for a file written in one go;
- :func:`temporary_path` / :func:`publish` / :func:`discard` for a file kept open while a long
  computation streams into it (:class:`neurodyn.io.hdf5.RunWriter`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from pathlib import Path
from typing import Iterator

from .errors import OutputError


def temporary_path(path) -> Path:
    """The temporary name of ``path`` for this process: ``<folder>/.<name>.<pid>.tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename itself is still atomic
    finally:
        os.close(fd)


def publish(tmp, path) -> Path:
    """Flush the finished temporary file ``tmp`` to disk and rename it to ``path`` (atomic: a
    reader sees the old file or the new one, never a mix). Raises ``OSError`` as the system
    does; the caller turns it into its own one-line error."""
    tmp, path = Path(tmp), Path(path)
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync_folder(path.parent)
    return path


def discard(tmp) -> None:
    """Delete a temporary file that is not worth keeping (missing is fine)."""
    try:
        Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass


@contextlib.contextmanager
def atomic_write(path, what: str = "file") -> Iterator[Path]:
    """Write ``path`` atomically: the block receives the temporary path to write (and close);
    when it ends normally the file is flushed and renamed to ``path``, when it raises the
    temporary file is deleted and ``path`` is left as it was. An ``OSError`` becomes one
    :class:`~neurodyn.errors.OutputError` line ``cannot write <what> <path>: <reason>``.

    >>> with atomic_write("out.h5", "run file") as tmp:      # doctest: +SKIP
    ...     with h5py.File(tmp, "w") as f: ...
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {what} {path}: it is a directory")
    tmp = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        publish(tmp, path)
    except OutputError:
        discard(tmp)
        raise
    except OSError as e:
        discard(tmp)
        raise write_error(what, path, e) from None
    except RuntimeError as e:  # h5py raises some failed writes (a full disk) as RuntimeError
        discard(tmp)
        if not disk_full(e):
            raise
        raise write_error(what, path, e) from None
    except BaseException:
        discard(tmp)
        raise


def _reason(e: OSError) -> str:
    return " ".join(str(e.strerror or e).split())  # one line (HDF5's messages hold newlines)


DISK_FULL = []  # the paths whose writes failed on a full disk in this process (see neurodyn.cli.console)


def disk_full(e: BaseException) -> bool:
    """Whether ``e`` (an ``OSError``, or the ``RuntimeError`` h5py raises for a failed write)
    says the disk is full (``ENOSPC``, or a disk quota exceeded)."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(e)
    return "errno = 28" in text or "No space left on device" in text or "Disk quota exceeded" in text


def free_space(path) -> int | None:
    """Free bytes on the file system holding ``path`` (its nearest existing folder), if known."""
    folder = Path(path).absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _size(n: int | None) -> str:
    if n is None:
        return "an unknown amount"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000


def write_error(what: str, path, e: BaseException) -> OutputError:
    """One :class:`~neurodyn.errors.OutputError` line for a failed write of ``what`` at ``path``:
    on a full disk, the free space there (and ``path`` is remembered in :data:`DISK_FULL`);
    otherwise the system's reason."""
    if disk_full(e):
        DISK_FULL.append(Path(path))
        return OutputError(f"cannot write {what} {path}: the disk is full ({_size(free_space(path))} free "
                           f"there); nothing was written under that name and any earlier file of that name is "
                           f"unchanged")
    return OutputError(f"cannot write {what} {path}: {_reason(e)}")


def ensure_space(path, nbytes: float, what: str = "output file", margin: int = 1 << 16) -> None:
    """Raise the full-disk :func:`write_error` for ``path`` if fewer than ``nbytes`` plus
    ``margin`` bytes are free there: a write that would fill the disk is refused before it
    starts (HDF5 cannot recover a file after a failed write)."""
    free = free_space(path)
    if free is not None and nbytes + margin > free:
        raise write_error(what, path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))


def remove_stale_temporaries(path) -> list[tuple[Path, int]]:
    """Delete the temporary files ``.<name>.<pid>.tmp`` beside ``path`` whose process is no
    longer running (left by a killed run); returns ``[(file, pid)]`` of those removed."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.tmp")
    removed = []
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    for tmp in candidates:
        m = pattern.fullmatch(tmp.name)
        if m is None or _process_alive(int(m.group(1))):
            continue
        try:
            tmp.unlink()
        except OSError:
            continue
        removed.append((tmp, int(m.group(1))))
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a pid we cannot test): leave its file alone
    return True
