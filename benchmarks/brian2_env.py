"""Create ``.venv-brian2/`` in the repository root: a separate Python 3.11 virtual environment with
Brian2 for the side-by-side benchmarks against it (``python -m benchmarks coba``, ``python -m
benchmarks brian2``; ``benchmarks/brian2_peer.py`` runs it).

Brian2 2.9.0 does not import with NumPy 2 (it calls ``np.ndarray.ptp``, removed in NumPy 2), while
neurodyn's environment uses NumPy 2, so Brian2 gets its own environment with ``numpy<2`` and Cython
(for Brian2's ``cython`` code-generation target). The benchmark never imports Brian2 itself: it runs
Brian2 in a subprocess with ``.venv-brian2/bin/python``.

Usage, from the repository root::

    python benchmarks/brian2_env.py            # create .venv-brian2/ (skipped if it already works)
    python benchmarks/brian2_env.py --force    # delete and recreate it

Needs ``python3.11`` on the PATH (or ``--python``), a C compiler (for Cython) and access to PyPI.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-brian2"
PACKAGES = ["brian2==2.9.0", "numpy<2", "cython"]


def python_path(venv: Path = VENV) -> Path:
    """The interpreter of the Brian2 environment (it may not exist)."""
    return venv / "bin" / "python"


def works(venv: Path = VENV) -> bool:
    """Whether ``venv`` imports Brian2 2.9.0 with NumPy < 2."""
    exe = python_path(venv)
    if not exe.exists():
        return False
    check = "import brian2, numpy; assert brian2.__version__ == '2.9.0' and int(numpy.__version__.split('.')[0]) < 2"
    return subprocess.run([str(exe), "-c", check], capture_output=True).returncode == 0


def create(python: str = "python3.11", force: bool = False, venv: Path = VENV) -> Path:
    """Create ``venv`` with ``python -m venv`` and pip-install ``brian2==2.9.0 'numpy<2' cython``;
    returns its interpreter."""
    if force and venv.exists():
        shutil.rmtree(venv)
    if works(venv):
        print(f"{venv} already has brian2 2.9.0 with numpy<2")
        return python_path(venv)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(python_path(venv)), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run(pip + ["--upgrade", "pip", "setuptools", "wheel"], check=True)
    subprocess.run(pip + PACKAGES, check=True)
    if not works(venv):
        raise SystemExit(f"{venv} was created but does not import brian2 2.9.0 with numpy<2")
    print(f"created {venv} ({' '.join(PACKAGES)})")
    return python_path(venv)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/brian2_env.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--python", default="python3.11", help="interpreter that creates the environment")
    p.add_argument("--force", action="store_true", help="delete and recreate .venv-brian2/")
    args = p.parse_args(argv)
    create(args.python, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
