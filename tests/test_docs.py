"""The code in docs/writing-a-model.md runs and its comments' numbers hold."""

import re
from pathlib import Path

import numpy as np

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
    for page in [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).is_file(), (page, target)
