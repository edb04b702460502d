"""``create`` constructors convert and check their arguments in one place, the model's
``__post_init__`` (issue 18, item 5): the same values give the same model either way, the same
errors, and ``dtype=`` casts every floating parameter."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.errors import SpecError
from neurodyn.models.maps import Chialvo, RulkovPiecewise
from neurodyn.models.spiking import LIF, SynapticLIF
from neurodyn.models.surrogate import AdaLIF
from neurodyn.models.ultralif import MaxPlusLIF, UltraLIF


def _leaves(model):
    return {f.name: np.asarray(getattr(model, f.name)) for f in dataclasses.fields(model) if f.name != "integrator"}


@pytest.mark.parametrize("cls, values", [
    (Chialvo, dict(a=0.9, b=[0.6, 0.18, 0.2], c=np.float32(0.28), k=jnp.asarray(0.03))),
    (RulkovPiecewise, dict(alpha=np.array([3.0, 3.5, 4.0]), sigma=0.2)),
    (LIF, dict(tau_m=[10.0, 20.0, 30.0], i_ext=25.0, dt=0.05)),
    (SynapticLIF, dict(tau_m=[10.0, 20.0, 30.0], tau_e=4.0, e_i=np.float32(-75.0))),
])
def test_create_equals_the_constructor(cls, values):
    # numbers, lists, NumPy and JAX values: create passes them to __post_init__, which converts them
    plain = {k: np.asarray(v, float).tolist() for k, v in values.items()}
    made, built = _leaves(cls.create(3, **values)), _leaves(cls(3, **plain))
    assert made.keys() == built.keys()
    for name in made:
        assert made[name].dtype == built[name].dtype and made[name].shape == built[name].shape, name
        np.testing.assert_array_equal(made[name], built[name], err_msg=name)


@pytest.mark.parametrize("make", [lambda d: Chialvo.create(2, b=[0.6, 0.18], dtype=d),
                                  lambda d: SynapticLIF.create(2, tau_m=[10.0, 20.0], dtype=d),
                                  lambda d: UltraLIF.create(2, tau=[0.8, 0.9], sharpness=3.0, dtype=d),
                                  lambda d: AdaLIF.create(2, beta_adapt=0.2, dtype=d),
                                  lambda d: MaxPlusLIF.create(2, tau=0.7, dtype=d)])
def test_create_dtype_casts_every_floating_parameter(make):
    # the suite runs in float64 (tests/conftest.py): float32 parameters are the float64 ones rounded
    wide, narrow = make(None), make("float32")
    floats = {k: v for k, v in _leaves(wide).items() if v.dtype.kind == "f"}
    assert floats and all(v.dtype == np.float64 for v in floats.values())
    for name, value in floats.items():
        got = np.asarray(getattr(narrow, name))
        assert got.dtype == np.float32, name
        np.testing.assert_array_equal(got, value.astype(np.float32), err_msg=name)


def test_synaptic_lif_create_checks_its_parameters():
    # create used to convert before __post_init__ and so skipped its range checks
    for bad in (dict(tau_m=-1.0), dict(tau_e=0.0), dict(v_reset=-40.0), dict(dt=0.0), dict(t_ref=[1.0, -1.0, 1.0])):
        with pytest.raises(SpecError):
            SynapticLIF.create(3, **bad)
    with pytest.raises(SpecError, match="one per neuron"):
        SynapticLIF.create(3, tau_m=[10.0, 20.0])
    # a value shared by every neuron stays a scalar, from create and from the constructor alike
    assert SynapticLIF.create(3).tau_m.shape == () and SynapticLIF(3).tau_m.shape == ()
    assert SynapticLIF.create(3, tau_m=[10.0, 20.0, 30.0]).tau_m.shape == (3,)


def test_create_refuses_non_finite_values():
    with pytest.raises(SpecError, match="finite"):
        Chialvo.create(2, b=float("nan"))
    with pytest.raises(SpecError, match="finite"):
        LIF.create(2, i_ext=[1.0, float("inf")])
