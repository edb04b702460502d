"""Time steps far longer than a model's fastest time constant are refused (issue 19, defect 13:
``dt = 1e9`` on a spiking spec ran 200 steps and 175k spikes without a word)."""

from pathlib import Path

import pytest

from neurodyn.cli import main
from neurodyn.errors import SpecError
from neurodyn.models import Chialvo, Equations, SynapticLIF
from neurodyn.models.timescales import MAX_STEPS_PER_TAU, check_time_step, time_constants

ROOT = Path(__file__).resolve().parents[2]


def test_time_constants_of_class_and_equation_models_and_none_for_maps():
    # Brette et al. 2007 COBA cell: tau_m = 20, tau_e = 5, tau_i = 10 ms (the class defaults)
    assert time_constants(SynapticLIF.create(3)) == {"tau_m": 20.0, "tau_e": 5.0, "tau_i": 10.0}
    eq = Equations("dv/dt = -v / tau_x + i_0 / c : mV", parameters={"tau_x": "0.02 s", "i_0": "1 pA", "c": "1 pF"},
                   n=2)
    assert time_constants(eq) == {"tau_x": 20.0}  # 0.02 s in ms; i_0 and c are no time constants
    assert time_constants(Chialvo.create(4)) == {}


def test_a_step_beyond_a_hundred_fastest_time_constants_is_refused():
    cells = {"exc": SynapticLIF.create(3)}
    check_time_step(MAX_STEPS_PER_TAU * 5.0, cells)  # exactly 100 tau_e: accepted
    with pytest.raises(SpecError, match=r"^dt: 501 ms is 100 times populations\.exc\.tau_e \(5 ms\), the spec's "
                                        r"fastest time constant: .* give dt <= 0\.5 ms"):
        check_time_step(501.0, cells)
    check_time_step(1e9, {"map": Chialvo.create(4)})  # a map counts iterations: nothing to compare


def test_absurd_dt_on_a_spiking_spec_is_one_line_and_nothing_is_written(tmp_path, capsys):
    assert main(["run", str(ROOT / "models" / "coba_ei.toml"), "--steps", "200", "--set", "dt=1e9",
                 "--out", str(tmp_path / "c.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("neurodyn: error: dt: 1e+09 ms is 2e+08 times "
                                                   "populations.exc.tau_e (5 ms)") and "(from --set dt=1e9)" in err
    assert not list(tmp_path.iterdir())
