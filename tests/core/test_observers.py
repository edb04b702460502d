"""The observer protocol (neurodyn.core.Observer): an observer written here, and nowhere else,
runs in ``simulate``, in a sweep and in a streamed run (the file ``neurodyn run`` writes), and
its result equals a NumPy loop of the same map. The Lyapunov tangent observers give the same
exponents through the driver as the textbook values."""

from dataclasses import dataclass

import h5py
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.core import Observer, scan_blocks
from neurodyn.core.tangent import LyapunovSpectrum, MaxLyapunov
from neurodyn.diagnostics import lyapunov_spectrum
from neurodyn.runs import run_spec
from neurodyn.spec import load_spec
from neurodyn.sweep import cartesian, parse_axis, sweep

from systems import Henon, Logistic

SPEC = """
name = "observed"
steps = 400
dt = 1.0
seed = 1
precision = "float64"

[populations.neuron]
model = "chialvo"
n = 2
a = 0.89
b = [0.6, 0.18]
c = 0.28
k = 0.03
init.x = 0.5
init.y = 0.5

[record]
variables = ["neuron.x"]
every = 7
transient = 30
"""


@dataclass(frozen=True)
class RunningMax(Observer):
    """The running maximum of one observable over the observed steps, and the number of blocks
    it was folded in (the step hook reads the value, the block hook folds a block's values)."""

    observable: str = "x"

    @property
    def label(self):
        return f"running_max({self.observable})"

    def init(self, model, state):
        x = jnp.asarray(model.observe(state)[self.observable])
        return jnp.full(x.shape, -jnp.inf, x.dtype), jnp.zeros((), jnp.int32)

    def step(self, carry, model, state, i):
        return carry, model.observe(state)[self.observable]

    def block(self, carry, model, state, i, outputs):
        return (jnp.maximum(carry[0], jnp.max(outputs, axis=0)), carry[1] + 1), None

    def finalize(self, carry, steps):
        return {self.label: carry[0], f"{self.label}.blocks": carry[1]}


def _chialvo_numpy(steps, a=0.89, b=(0.6, 0.18), c=0.28, k=0.03):
    """x after each of ``steps`` steps of the Chialvo map from x = y = 0.5 (Chialvo 1995):
    x' = x^2 exp(y - x) + k, y' = a y - b x + c."""
    x, y = np.full(2, 0.5), np.full(2, 0.5)
    out = []
    for _ in range(steps):
        x, y = x * x * np.exp(y - x) + k, a * y - np.asarray(b) * x + c
        out.append(x)
    return np.asarray(out)


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    nd.set_precision("float64")
    path = tmp_path_factory.mktemp("spec") / "observed.toml"
    path.write_text(SPEC)
    return load_spec(path)


def _expected(spec):
    """The maximum of x over the states after steps 31 .. 400 (the states after the 30 transient
    steps' successors): the regular neuron against the NumPy map, both against every sample of a
    plain 401-step run (the chaotic neuron parts from NumPy's rounding within 400 steps)."""
    full = nd.simulate(spec.model, 401, state=spec.state, record=("neuron.x",), transient=30)["neuron.x"]
    expected = full[1:].max(axis=0)
    assert expected[0] == pytest.approx(_chialvo_numpy(400)[30:, 0].max(), rel=1e-9)
    return expected


def test_a_new_observer_runs_in_simulate(spec):
    expected = _expected(spec)
    for chunk in (None, 21):
        traj = nd.simulate(spec.model, 400, state=spec.state, every=7, transient=30, record=("neuron.x",),
                           chunk=chunk, observers=[RunningMax("neuron.x")])
        value, attrs = traj.diagnostics["running_max(neuron.x)"]
        np.testing.assert_array_equal(value, expected)
        assert attrs == {}
        # one block per recording interval: 370 observed steps = 52 intervals of 7 + a tail of 6 one-step blocks
        assert int(traj.diagnostics["running_max(neuron.x).blocks"][0]) == 52 + 6
        np.testing.assert_allclose(traj["neuron.x"][:, 0], _chialvo_numpy(400)[29:29 + 7 * 52:7, 0], rtol=1e-9)


def test_a_new_observer_runs_in_a_sweep():
    nd.set_precision("float64")
    model = Logistic(r=jnp.asarray(3.0))
    grid = cartesian([parse_axis("r=3.2,3.5,3.9")])
    res = sweep(model, grid, [RunningMax("x"), "mean:x", "firing_rate:x:0.6"], steps=300, transient=20, progress=False)
    for j, r in enumerate([3.2, 3.5, 3.9]):
        x, xs = 0.3, []
        for _ in range(300):
            x = r * x * (1 - x)
            xs.append(x)
        assert res.results["running_max(x)"][j] == pytest.approx(max(xs[20:]), rel=1e-12)
        assert res.results["mean(x)"][j] == pytest.approx(np.mean(xs[20:]), rel=1e-10)
        # (a registered measure beside it; its crossing counter stays int32 in float64 mode)
        ups = sum(a < 0.6 <= b for a, b in zip(xs[19:-1], xs[20:]))
        assert res.results["firing_rate(x>0.6)"][j] == pytest.approx(ups / 280, rel=1e-12)
    assert np.all(res.results["running_max(x).blocks"] == 5)  # 280 measured steps: 4 blocks of 64 and a tail


def test_a_new_observer_runs_in_a_streamed_run(spec, tmp_path):
    path = run_spec(spec, tmp_path / "observed.h5", observers=[RunningMax("neuron.x")]).path
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["diagnostics/running_max(neuron.x)"][()], _expected(spec))
        assert f["report/neuron/x/data"].shape == (52, 2)


def test_tangent_observers_through_the_driver():
    nd.set_precision("float64")
    # Henon map a = 1.4, b = 0.3: lambda_1 = 0.419, lambda_1 + lambda_2 = ln 0.3 (Sprott, Chaos and
    # Time-Series Analysis, 2003)
    model = Henon(a=jnp.asarray(1.4), b=jnp.asarray(0.3))
    state = scan_blocks(model, model.init(None), None, 1.0, 0, None, 500)[0]
    _, (carry,), _ = scan_blocks(model, state, None, 1.0, 500, 200, 10, (LyapunovSpectrum(k=2),))
    lam = np.asarray(LyapunovSpectrum(k=2).finalize(carry, 2000)["lyapunov_spectrum"])
    assert lam[0] == pytest.approx(0.419, abs=0.05)  # 2000 steps: 0.398
    assert lam.sum() == pytest.approx(np.log(0.3), abs=1e-8)  # |det J| = b at every step
    np.testing.assert_allclose(lam, lyapunov_spectrum(model, 2000, transient=500, renorm_every=10), rtol=1e-8)
    one = MaxLyapunov()
    _, (c1,), _ = scan_blocks(model, state, None, 1.0, 500, None, 2000, (one,))
    assert float(one.finalize(c1, 2000)["max_lyapunov"]) == pytest.approx(lam[0], abs=0.01)
    with pytest.raises(ValueError, match="at most one observer"):
        scan_blocks(model, state, None, 1.0, 0, None, 3, (one, MaxLyapunov(name="other")))
