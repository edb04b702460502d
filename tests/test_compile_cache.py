"""The command line keeps compiled programs on disk (neurodyn.compile_cache): a run loads them
the second time, its file is identical, and the cache can be switched off or be unwritable."""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "models" / "chialvo_single.toml"


def _run(out: Path, env: dict) -> None:
    done = subprocess.run([sys.executable, "-m", "neurodyn", "run", str(SPEC), "--steps", "300", "--set", "record.transient=100", "--out", str(out)],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _datasets(path: Path) -> dict:
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_second_run_loads_compiled_programs_and_writes_the_same_file(tmp_path):
    cache = tmp_path / "xla"
    _run(tmp_path / "a.h5", {"NEURODYN_CACHE_DIR": str(cache)})
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) >= 3  # the loop and the small programs of setting the model up
    _run(tmp_path / "b.h5", {"NEURODYN_CACHE_DIR": str(cache)})
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith("lock")) == \
        [e for e in entries if not e.endswith("lock")]  # nothing compiled anew
    # the first run compiled its programs, the second loaded them: the same file
    a, b = _datasets(tmp_path / "a.h5"), _datasets(tmp_path / "b.h5")
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_an_unwritable_cache_directory_leaves_the_cache_off(tmp_path):
    from neurodyn.compile_cache import enable_compilation_cache

    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    assert enable_compilation_cache(blocked / "xla") is None
    os.environ["NEURODYN_COMPILATION_CACHE"] = "off"
    try:
        assert enable_compilation_cache(tmp_path / "xla") is None
    finally:
        del os.environ["NEURODYN_COMPILATION_CACHE"]


def test_prune_deletes_the_oldest_programs_down_to_three_quarters_of_the_limit(tmp_path):
    from neurodyn.compile_cache import prune

    for i in range(10):
        path = tmp_path / f"entry{i}-cache"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 + i, 1000 + i))  # entry0 oldest
    assert prune(tmp_path, max_bytes=2000) == 0  # 1,000 bytes: under the limit
    (tmp_path / ".pruned").unlink()
    assert prune(tmp_path, max_bytes=800) == 4  # down to 600 <= 0.75 * 800
    assert sorted(p.name for p in tmp_path.glob("entry*")) == [f"entry{i}-cache" for i in range(4, 10)]
    assert prune(tmp_path, max_bytes=100) == 0  # checked at most once an hour
