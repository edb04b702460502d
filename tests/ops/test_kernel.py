"""The native-kernel abstraction (neurodyn.ops.kernel.NativeKernel, neurodyn.ops.backends): a kernel
declared in a few lines serves on CPU and equals its formula, differentiates and batches through
it, falls back with one warning where it cannot serve; ``import neurodyn`` does not import numba;
bundled specs run where numba's cache has no writable place."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numba
import numpy as np
import pytest

from neurodyn.ops import _frame, backends, ffi
from neurodyn.ops.kernel import NativeKernel

ROOT = Path(__file__).resolve().parents[2]


@numba.njit(cache=True)
def _axpb_loop(a, x, b, y):
    for i in range(x.shape[0]):
        y[i] = a[0] * x[i] + b[0]


def _axpb_handler(variant):
    real = np.dtype(variant[0]).type
    major, minor = ffi.api_version()

    @numba.cfunc(numba.types.int64(numba.types.voidptr))
    def run(frame_address):
        frame = _frame.frame_of(frame_address)
        if _frame.metadata_query(frame, major, minor):
            return 0
        args, rets = ffi.FRAME_ARGS, ffi.FRAME_RETS
        _axpb_loop(_frame.array(frame, args, 0, real), _frame.array(frame, args, 1, real),
                   _frame.array(frame, args, 2, real), _frame.array(frame, rets, 0, real))
        return 0

    return run


def _axpb(name, ffi_call=None, **extra):
    """The example kernel of the ``neurodyn.ops.kernel`` docstring: ``y = a x + b``."""
    return NativeKernel(
        name, title=f"the test kernel {name}", handler=_axpb_handler,
        variant=lambda static, a, x, b: (np.dtype(x.dtype).name,),
        ffi=ffi_call or (lambda target, static, a, x, b: jax.ffi.ffi_call(
            target, jax.ShapeDtypeStruct(x.shape, x.dtype))(a.reshape(1), x, b.reshape(1))),
        reference=lambda static, a, x, b: a * x + b,
        check=lambda variant: (None, (np.asarray(2, variant[0]), np.arange(5, dtype=variant[0]),
                                      np.asarray(1, variant[0]))),
        tolerance={"float32": (1e-6, 0.0)}, **extra)


def test_a_kernel_declared_in_a_few_lines_serves_differentiates_and_batches():
    kernel = _axpb("neurodyn_test_axpb")
    assert kernel.backend() == "numba" and kernel.backend(platform="gpu") == "jax"
    a, b = jnp.float64(1.5), jnp.float64(-0.25)
    x = jnp.asarray(np.random.default_rng(0).normal(size=50))
    f = jax.jit(lambda a, x, b: kernel(None, a, x, b, backend="numba"))
    assert "neurodyn_test_axpb_float64" in f.lower(a, x, b).as_text()  # the FFI call, no fallback
    np.testing.assert_array_equal(np.asarray(f(a, x, b)), 1.5 * np.asarray(x) - 0.25)
    assert kernel.targets() == {("float64",): "neurodyn_test_axpb_float64"}  # registered and checked once
    # derivatives of the formula, JAX's batching of the formula under vmap (no rule declared)
    grad = jax.grad(lambda a, x: jnp.sum(kernel(None, a, x, b) ** 2), argnums=(0, 1))(a, x)
    y = 1.5 * np.asarray(x) - 0.25
    np.testing.assert_allclose(grad[0], np.sum(2 * y * np.asarray(x)), rtol=1e-12)
    np.testing.assert_allclose(grad[1], 2 * y * 1.5, rtol=1e-12)
    scales = jnp.asarray([1.0, 2.0, 3.0])
    np.testing.assert_allclose(jax.vmap(lambda s: kernel(None, s, x, b))(scales),
                               np.asarray(scales)[:, None] * np.asarray(x) - 0.25, rtol=1e-15)
    with pytest.raises(Exception, match="unknown backend 'cuda'"):
        kernel.backend("cuda")


def test_a_kernel_failing_its_self_check_warns_once_and_its_formula_serves():
    wrong = lambda target, static, a, x, b: jax.ffi.ffi_call(  # noqa: E731 - b and a swapped
        target, jax.ShapeDtypeStruct(x.shape, x.dtype))(b.reshape(1), x, a.reshape(1))
    kernel = _axpb("neurodyn_test_axpb_wrong", ffi_call=wrong)
    x = jnp.arange(4.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = kernel(None, jnp.float64(3.0), x, jnp.float64(1.0))
        kernel(None, jnp.float64(3.0), x, jnp.float64(1.0))
    np.testing.assert_array_equal(np.asarray(y), 3.0 * np.arange(4.0) + 1.0)
    messages = [str(w.message) for w in caught if "self-check" in str(w.message)]
    assert messages == ["neurodyn: the test kernel neurodyn_test_axpb_wrong failed its self-check (result 0 differs "
                        "from the formula); using its jax.numpy formula"]
    assert not kernel.serves(("float64",))


def test_import_neurodyn_and_its_cli_do_not_import_numba():
    code = "import sys, neurodyn, neurodyn.cli, neurodyn.diagnostics.chaos; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_bundled_specs_run_where_numbas_cache_cannot_be_written(tmp_path):
    """``NUMBA_CACHE_DIR`` a path that cannot be created (under a file), and no other place numba
    may cache in (``NUMBA_CACHE_LOCATOR_CLASSES``: a read-only install): the native kernels are
    off with one warning, their formulas run, spikes unpack with NumPy, sample entropy compiles
    uncached."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(blocker / "cache"),
           "NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator"}
    code = f"""
import numpy as np
from neurodyn.cli import main
from neurodyn.diagnostics.chaos import sample_entropy
from neurodyn.io import load
from neurodyn.ops import backends
assert backends.native_problem().startswith("numba has no writable place"), backends.native_problem()
for spec, extra in (("coba_ei", ["--steps", "100", "--set", "populations.exc.n=400", "--set", "populations.inh.n=100"]),
                    ("chialvo_single", ["--steps", "1500"])):
    assert main(["run", r"{ROOT}/models/" + spec + ".toml", "--out", spec + ".h5", "--quiet", *extra]) == 0
    data = load(spec + ".h5")
    assert data["meta"]["status"] == "complete" and data["spikes"], spec
x = np.random.default_rng(0).random(200)
print(sample_entropy(x))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("the native CPU kernels are off: numba has no writable place") == 1, out.stderr
    assert "self-check" not in out.stderr
    x = np.random.default_rng(0).random(200)
    from neurodyn.diagnostics.chaos import sample_entropy

    assert float(out.stdout.split()[-1]) == sample_entropy(x)  # the uncached compilation, the same counts
