"""The one atomic-write helper (neurodyn.files): a file appears under its final name complete or
not at all, the earlier file survives a failed write, and an OSError is one line."""

import errno
import re
import os

import h5py
import numpy as np
import pytest

from neurodyn.errors import OutputError
from neurodyn.files import atomic_write, remove_stale_temporaries, temporary_path


def test_written_under_a_temporary_name_then_renamed(tmp_path):
    path = tmp_path / "sub" / "a.h5"
    with atomic_write(path, "test file") as tmp:
        assert tmp == tmp_path / "sub" / f".a.h5.{os.getpid()}.tmp" == temporary_path(path)
        with h5py.File(tmp, "w") as f:
            f["x"] = np.arange(3)
        assert not path.exists()
    with h5py.File(path) as f:
        assert f["x"][()].tolist() == [0, 1, 2]
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.h5"]


def test_a_failed_write_keeps_the_earlier_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("complete")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert path.read_text() == "complete" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_an_os_error_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("complete")
    with pytest.raises(OutputError) as e:
        with atomic_write(path, "checkpoint") as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space\nleft on device")
    assert re.fullmatch(rf"cannot write checkpoint {re.escape(str(path))}: the disk is full \(\S+ [kMGT]?B free "
                        rf"there\); nothing was written under that name and any earlier file of that name is "
                        rf"unchanged", str(e.value)), str(e.value)
    with pytest.raises(OutputError) as e:
        with atomic_write(path, "checkpoint") as tmp:
            raise OSError(errno.EACCES, "Permission\ndenied")
    assert str(e.value) == f"cannot write checkpoint {path}: Permission denied"
    assert path.read_text() == "complete" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match="it is a directory"):
        with atomic_write(tmp_path / "d"):
            pass


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    path = tmp_path / "r.h5"
    mine = temporary_path(path)
    mine.write_text("in use")
    dead = tmp_path / ".r.h5.999999999.tmp"  # above any pid the kernel hands out
    dead.write_text("left by a kill")
    other = tmp_path / ".s.h5.999999999.tmp"
    other.write_text("another file's")
    assert remove_stale_temporaries(path) == [(dead, 999999999)]
    assert mine.exists() and other.exists() and not dead.exists()
