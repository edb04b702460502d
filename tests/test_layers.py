"""The layer rule of docs/architecture.md: every module of neurodyn imports only from its own
package or from the layers below it (module-level and function-local imports alike, read with
``ast``, so an import hidden inside a function cannot slip through); and the version is one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "neurodyn"

# lowest first; a package may import from its own row's package and from rows above it in this
# list, never from its row's other packages or from below (docs/architecture.md, "Layers")
LAYERS = [
    ("errors", "_version"),
    ("pytree", "schema", "precision", "resources", "signals", "files", "checksum", "compile_cache"),
    ("ops",),
    ("connectivity",),
    ("core",),
    ("models",),
    ("readout", "datasets", "diagnostics", "train", "io"),
    ("sweep",),
    ("spec",),
    ("plot",),
    ("runs",),
    ("cli", "__main__", "__init__"),
]
RANK = {name: i for i, row in enumerate(LAYERS) for name in row}
BASE = {"errors", "_version", "pytree", "schema", "precision", "resources", "signals", "files", "checksum",
        "compile_cache"}

# upward imports not yet removed (issue 18); each entry must still exist, so the list only shrinks
KNOWN: set[tuple[str, str]] = set()
# upward imports by design, each with its reason and the one module allowed to make it
ALLOWED = {("spec", "runs"): ("spec/build.py", "RunSpec.simulate / RunSpec.run: the thin callers of the run layer "
                                               "that issue 18 asks RunSpec to keep (function-local imports)"),
           ("io", "runs"): ("io/__init__.py", "neurodyn.io.save, the public name scripts used before the run "
                                              "layer took saving over: a thin caller of neurodyn.runs.save")}


def _unit(module: str) -> str:
    """The layer unit of a dotted module name: ``neurodyn.core.loop`` -> ``core``; the package
    root itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> list[tuple[str, int]]:
    """Every ``neurodyn`` module imported anywhere in ``path`` (absolute names), with its line."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "neurodyn"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "neurodyn":
                continue
            if node.module is None or module == "neurodyn":  # from . import x: x may be a module
                found += [(f"{module}.{a.name}", node.lineno) for a in node.names]
            else:
                found.append((module, node.lineno))
    return found


def _edges():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        src = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name != "__init__.py" else "__init__"
        for module, line in imports(path):
            dst = _unit(module)
            if dst == "__version__":
                dst = "__init__"
            if dst != src:
                yield src, dst, f"{rel}:{line} imports {module}"


def test_every_unit_has_a_layer():
    units = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert units - set(RANK) == set(), "add the new package to LAYERS and to docs/architecture.md"


def test_no_upward_import():
    bad, seen = [], set()
    for src, dst, where in _edges():
        upward = RANK[dst] > RANK[src] or (RANK[dst] == RANK[src] and not {src, dst} <= BASE
                                           and src not in ("__init__", "__main__"))
        if upward:
            seen.add((src, dst))
            allowed = ALLOWED.get((src, dst))
            if (src, dst) not in KNOWN and not (allowed and where.startswith(allowed[0] + ":")):
                bad.append(where)
    assert not bad, "imports against the layer rule:\n" + "\n".join(bad)
    assert KNOWN <= seen, f"fixed, remove from KNOWN: {sorted(KNOWN - seen)}"


def test_the_rule_catches_a_function_local_upward_import(tmp_path):
    src = tmp_path / "neurodyn" / "core" / "x.py"
    src.parent.mkdir(parents=True)
    src.write_text("def f():\n    from ..spec import build_spec\n    from .. import __version__\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = [m for m, _ in imports(src)]
    finally:
        ROOT = saved
    assert found == ["neurodyn.spec", "neurodyn.__version__"]
    assert RANK[_unit(found[0])] > RANK["core"]


def test_one_version():
    from neurodyn import __version__
    from neurodyn._version import __version__ as low

    text = (ROOT / "pyproject.toml").read_text()
    assert __version__ == low == re.search(r'^version = "([^"]+)"', text, re.M).group(1)
