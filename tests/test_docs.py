"""The docs are true: every shell command and Python block of README.md and docs/ runs (with the
small sizes a block's doc-test comment gives), the code in docs/writing-a-model.md gives the
numbers its comments state, and every cited page and link exists."""

import contextlib
import os
import re
import shlex
import sys
import types
from pathlib import Path

import numpy as np
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "writing-a-model.md"


def test_writing_a_model_page_runs_and_its_numbers_hold():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)
    # Hénon exponents (0.419, -1.623): Sprott, Chaos and Time-Series Analysis (2003), table A.1
    np.testing.assert_allclose(np.asarray(namespace["lyap"]), [0.419, -1.623], atol=0.01)
    # damped linear oscillator: both exponents tend to Re(eigenvalues) = -gamma / 2 (slowly, ~1/T, for a
    # rotating pair); their sum is the trace of the Jacobian, -gamma, exactly
    spectrum = np.asarray(namespace["spectrum"])
    np.testing.assert_allclose(spectrum, [-0.05, -0.05], atol=5e-3)
    assert abs(spectrum.sum() + 0.1) < 1e-6
    assert namespace["traj"]["b.x"].shape == (1000, 3)
    g = namespace["g"]
    assert np.isfinite(float(g.a)) and float(g.a) != 0.0


ROOT = Path(__file__).resolve().parents[1]
USER_FILES = [p for folder in ("neurodyn", "models", "examples", "benchmarks", "tests", "docs")
              for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".toml", ".md")] + [ROOT / "README.md"]


def test_docstrings_and_specs_cite_the_projects_own_docs():
    # the model reference the user has is docs/; a sheet outside the repository is never cited
    outside = "MODELS" + ".md"
    assert not [str(p.relative_to(ROOT)) for p in USER_FILES if outside in p.read_text(encoding="utf-8")]
    cited = {m for p in USER_FILES for m in re.findall(r"docs/[\w/.-]+?\.md", p.read_text(encoding="utf-8"))}
    assert {"docs/models/maps.md", "docs/models/kuramoto.md", "docs/models/reservoirs.md", "docs/models/spiking.md",
            "docs/diagnostics.md"} <= cited
    assert not [c for c in cited if not (ROOT / c).is_file()]


def test_every_registered_model_has_a_page_and_every_doc_link_resolves():
    import neurodyn.models  # noqa: F401  (importing it registers the models)
    from neurodyn.schema import MODELS

    pages = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "models").glob("*.md")}
    assert len(MODELS) >= 8
    for name in MODELS:
        assert any(f"`{name}`" in text for page, text in pages.items() if page != "index.md"), name
    index = (ROOT / "docs" / "models" / "index.md").read_text(encoding="utf-8")
    assert not [name for name in MODELS if f"`{name}`" not in index]  # the index lists every model
    for page in [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).is_file(), (page, target)


# ---- every shell command and Python block of README.md and docs/ runs -------------------------
#
# A fenced block is run when it is Python, or a shell block (no language, sh, bash) with a line that
# starts with a command. A comment right above the fence adapts it to the test's small sizes:
#
#   <!-- doc-test: sub "A" "B"; args --steps 3000; skip REASON -->
#
# ``sub`` replaces text in the block first (a grid of 2 points for one of 201, a smaller network),
# ``args`` appends options to every ``neurodyn run``, ``sweep`` and ``search`` of the block, ``skip``
# leaves the block out, saying why. Commands run in order, in one scratch folder per block (with
# ``models/`` at hand), ``neurodyn`` in this process; Python blocks of a page share one namespace.
# ``pip install`` and ``pytest`` (set-up) are not run, nor commands with a placeholder (``...``,
# ``[name]``, ``head-node``), nor ``python`` programs (examples and benchmarks: long runs, tested by
# tests/test_benchmarks.py and the examples' own tests).


DOC_PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md")
                                         if "spec" not in p.relative_to(ROOT / "docs").parts[:1]
                                         and p.name != "writing-a-model.md")]  # tested above; spec/: generated
FENCE = re.compile(r"(?:<!-- doc-test: (?P<directives>.*?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
COMMAND = re.compile(r"^\s*(neurodyn|python|pip|pytest)\b", re.M)


def _directives(text: str | None) -> dict:
    out = {"sub": [], "args": [], "skip": None}
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        word, _, rest = part.partition(" ")
        if word == "sub":
            a, b = shlex.split(rest)
            out["sub"].append((a, b))
        elif word == "args":
            out["args"] += shlex.split(rest)
        elif word == "skip":
            out["skip"] = rest
        else:
            raise ValueError(f"doc-test directive {word!r}: expected sub, args or skip")
    return out


def doc_blocks(page: Path) -> list[tuple[str, str, dict, int]]:
    """``(kind, code, directives, line)`` of the page's blocks that run: ``python`` or ``shell``."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        lang, body = m["lang"], m["body"]
        kind = "python" if lang == "python" else "shell" if lang in ("", "sh", "bash") and COMMAND.search(body) else None
        if kind is None:
            continue
        d = _directives(m["directives"])
        for a, b in d["sub"]:
            assert a in body, f"{page.name}: doc-test sub {a!r} is not in the block"
            body = body.replace(a, b)
        blocks.append((kind, body, d, text[:m.start()].count("\n") + 1))
    return blocks


def shell_commands(code: str) -> list[list[str]]:
    """The commands of a shell block: continuations joined, ``&&`` split, comments dropped."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words:
                commands.append(words)
    return commands


def _not_run(words: list[str]) -> bool:
    placeholder = any(w in ("...",) or w.startswith("[") or "head-node" in w for w in words)
    return words[0] in ("pip", "pytest", "python") or placeholder


@contextlib.contextmanager
def _scratch(folder: Path):
    folder.mkdir()
    (folder / "models").symlink_to(ROOT / "models")
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _stub_cluster():
    """dask_jobqueue's SLURMCluster and distributed's Client stand-ins: the README's SLURM snippet
    runs its sweep in this process (``executor=None``) instead of on a cluster."""
    jobqueue = types.ModuleType("dask_jobqueue")
    jobqueue.SLURMCluster = lambda **kw: types.SimpleNamespace(scale=lambda **kw: None)
    distributed = types.ModuleType("distributed")
    distributed.Client = lambda cluster: None
    saved = {k: sys.modules.get(k) for k in ("dask_jobqueue", "distributed")}
    sys.modules.update(dask_jobqueue=jobqueue, distributed=distributed)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_every_doc_page_with_code_is_covered():
    pages = {p.name for p in DOC_PAGES if doc_blocks(p)}
    assert {"README.md", "reservoirs.md", "training.md", "multi-device.md"} <= pages


@pytest.mark.parametrize("page", [p for p in DOC_PAGES if doc_blocks(p)], ids=lambda p: p.name)
def test_doc_commands_and_python_blocks_run(tmp_path, page, capsys):
    from neurodyn.cli import main

    ran = 0
    namespace: dict = {"__name__": "__doc__"}
    for kind, code, d, line in doc_blocks(page):
        if d["skip"]:
            continue
        where = f"{page.relative_to(ROOT)}:{line}"
        with _scratch(tmp_path / f"line{line}"), _stub_cluster():  # each block in a folder of its own
            if kind == "python":
                exec(compile(code, where, "exec"), namespace)
                ran += 1
                continue
            for words in shell_commands(code):
                if _not_run(words):
                    continue
                argv = words[1:] + (d["args"] if words[1] in ("run", "sweep", "search") else [])
                try:
                    status = main(argv)
                except SystemExit as stop:
                    status = stop.code
                assert status == 0, f"{where}: neurodyn {' '.join(argv)} -> {status}\n{capsys.readouterr().err}"
                ran += 1
    assert ran
