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
