"""Start-up of the command line (issue 20): whole processes timed from outside, side by side.

``neurodyn --help`` and ``neurodyn info FILE`` against ``python -c "import h5py"`` (the least any
command that reads HDF5 pays), and ``neurodyn run`` of a small spec against ``python -c "import
jax"`` plus the compile and run time the run's own summary reports. The commands run in turn
(A B A B ...), so a drifting machine moves both; each figure is the median of the runs and each
ratio the median of the pairs' ratios. Targets: ``--help`` within 2.5x and ``info`` within 4x of
the h5py import; ``run`` within 1.3x of the JAX import plus its compile and run time.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEURODYN = [sys.executable, "-m", "neurodyn"]


def _wall(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env} if env else None)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return wall, done.stdout


def _pairs(a: list[str], b: list[str], runs: int, cwd: Path,
           env: dict | None = None) -> tuple[list[float], list[float], list[str]]:
    _wall(a, cwd, env), _wall(b, cwd)  # warm the file caches
    ta, tb, outputs = [], [], []
    for _ in range(runs):
        wall, out = _wall(a, cwd, env)
        ta.append(wall)
        outputs.append(out)
        tb.append(_wall(b, cwd)[0])
    return ta, tb, outputs


def main(quick: bool = False):
    runs = 3
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        run = [*NEURODYN, "run", str(ROOT / "models" / "chialvo_single.toml"), "--steps", "2000", "--out", "small.h5"]
        _wall(run, cwd)
        h5py = [sys.executable, "-c", "import h5py"]
        for label, command, target in (("neurodyn --help", [*NEURODYN, "--help"], 2.5),
                                       ("neurodyn info FILE", [*NEURODYN, "info", "small.h5"], 4.0)):
            ta, tb, _ = _pairs(command, h5py, runs, cwd)
            ratio = statistics.median(x / y for x, y in zip(ta, tb))
            yield (f"{label}: {statistics.median(ta):.3f} s, import h5py {statistics.median(tb):.3f} s: "
                   f"{ratio:.2f}x (target {target}x)")
        if quick:
            return
        cache = {"NEURODYN_CACHE_DIR": str(cwd / "xla")}
        for label, env in (("compiled programs loaded from the cache", cache),
                           ("cache off, everything compiled", {**cache, "NEURODYN_COMPILATION_CACHE": "0"})):
            ta, tb, outputs = _pairs(run, [sys.executable, "-c", "import jax"], runs, cwd, env)
            inner = [sum(map(float, re.search(r"compile ([\d.]+) s, run ([\d.]+) s", o).groups())) for o in outputs]
            ratio = statistics.median(x / (y + z) for x, y, z in zip(ta, tb, inner))
            yield (f"neurodyn run (chialvo_single, 2,000 steps; {label}): {statistics.median(ta):.2f} s, "
                   f"import jax {statistics.median(tb):.2f} s + compile and run {statistics.median(inner):.2f} s: "
                   f"{ratio:.2f}x (target 1.3x)")
