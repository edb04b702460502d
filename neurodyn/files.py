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
import os
import re
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
    except OSError as e:
        discard(tmp)
        raise OutputError(f"cannot write {what} {path}: {_reason(e)}") from None
    except BaseException:
        discard(tmp)
        raise


def _reason(e: OSError) -> str:
    return " ".join(str(e.strerror or e).split())  # one line (HDF5's messages hold newlines)


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
