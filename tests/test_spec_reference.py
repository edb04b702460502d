from pathlib import Path

from neurodyn.spec.reference import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "spec"


def test_committed_spec_reference_matches_the_field_declarations(tmp_path):
    # the pages are generated from the registries; regenerate with
    # `python -m neurodyn.spec.reference docs/spec` after changing a field
    assert main([str(tmp_path)]) == 0
    generated = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.md")}
    committed = {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")}
    assert sorted(generated) == ["couplings.md", "datasets.md", "distributions.md", "graphs.md", "index.md",
                                 "measures.md", "models.md"]
    # besides the generated pages, hand-written ones (the equation syntax)
    assert sorted(set(committed) - set(generated)) == ["equations.md"]
    for name, text in generated.items():
        assert committed[name] == text, f"docs/spec/{name} is out of date"
