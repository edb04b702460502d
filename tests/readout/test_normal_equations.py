"""The one normal-equations module (neurodyn.readout.normal_equations): its many-ridge solve
against numpy.linalg.solve and scikit-learn's Ridge, blocked cross-validation against explicit
refits per fold, streamed (chunked) moments against offline ones, in NumPy and in JAX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.readout import normal_equations as ne

RIDGES = np.array([1e-6, 1e-3, 0.1, 3.0, 100.0])


@pytest.fixture(autouse=True)
def float64():
    nd.set_precision("float64")


def _problem(t=240, f=9, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, f)) @ rng.normal(size=(f, f)) + 2.0  # correlated, off-centre features
    y = x @ rng.normal(size=(f, k)) - 1.5 + rng.normal(scale=0.4, size=(t, k))
    return x, y


def _solve(x, y, beta, bias=True):
    """``(X1^T X1 + beta P) W = X1^T Y`` by numpy.linalg.solve, ``X1 = [1, X]``, ``P`` the identity
    without its bias entry (no bias: plain Tikhonov)."""
    if not bias:
        return np.linalg.solve(x.T @ x + beta * np.eye(x.shape[1]), x.T @ y)
    x1 = np.c_[np.ones(len(x)), x]
    reg = beta * np.eye(x1.shape[1])
    reg[0, 0] = 0.0
    return np.linalg.solve(x1.T @ x1 + reg, x1.T @ y)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xp", [np, jnp], ids=["numpy", "jax"])
def test_every_ridge_solved_at_once_equals_numpy_solve(bias, xp):
    x, y = _problem()
    b, w = ne.solve(ne.moments(xp.asarray(x), xp.asarray(y), xp=xp), xp.asarray(RIDGES), bias=bias, xp=xp)
    assert w.shape == (len(RIDGES), x.shape[1], y.shape[1])
    for i, beta in enumerate(RIDGES):
        ref = _solve(x, y, beta, bias)
        got = np.r_[np.asarray(b[i])[None], np.asarray(w[i])] if bias else np.asarray(w[i])
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
    if not bias:
        assert np.all(np.asarray(b) == 0)


def test_solve_equals_sklearn_ridge():
    """scikit-learn's Ridge (fit_intercept: the intercept unpenalised, alpha the ridge)."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    x, y = _problem(seed=3)
    b, w = ne.solve(ne.moments(x, y), RIDGES)
    for i, beta in enumerate(RIDGES):
        ref = sklearn.Ridge(alpha=beta, solver="cholesky", fit_intercept=True).fit(x, y)
        np.testing.assert_allclose(w[i], ref.coef_.T, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(b[i], ref.intercept_, rtol=1e-10, atol=1e-10)


def test_shifted_rows_give_the_same_readout():
    """Rows shifted before their moments (by any row): the same readout once unshifted."""
    x, y = _problem(seed=1)
    b, w = ne.solve(ne.moments(x, y), RIDGES)
    shift, target_shift = x[17], y.mean(axis=0)
    bs, ws = ne.unshift(*ne.solve(ne.moments(x - shift, y - target_shift), RIDGES), shift, target_shift)
    np.testing.assert_allclose(ws, w, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bs, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("xp", [np, jnp], ids=["numpy", "jax"])
def test_streamed_chunks_equal_offline_moments(xp):
    x, y = _problem(t=301)
    streamed = ne.zeros(x.shape[1], y.shape[1], np.float64, xp)
    for lo in range(0, len(x), 37):  # uneven chunks, the last one short
        streamed = ne.accumulate(streamed, xp.asarray(x[lo:lo + 37]), xp.asarray(y[lo:lo + 37]), xp)
    offline = ne.moments(x, y)
    for got, ref in zip(streamed, offline):
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12)
    # and the readouts solved from them, and the training error from the moments alone
    (b1, w1), (b2, w2) = ne.solve(streamed, xp.asarray(RIDGES), xp=xp), ne.solve(offline, RIDGES)
    np.testing.assert_allclose(np.asarray(w1), w2, rtol=1e-10, atol=1e-10)
    sq = np.asarray(ne.squared_error(streamed, b1[2], w1[2], xp))
    np.testing.assert_allclose(sq, np.sum((b2[2] + x @ w2[2] - y) ** 2, axis=0), rtol=1e-8)


def test_weighted_rows_equal_the_selected_rows():
    """A fixed split is a 0/1 mask: the moments of the masked rows are those of the rows kept."""
    x, y = _problem()
    mask = np.zeros(len(x))
    mask[30:170] = 1.0
    for got, ref in zip(ne.moments(x, y, mask), ne.moments(x[30:170], y[30:170])):
        np.testing.assert_allclose(got, ref, rtol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xp", [np, jnp], ids=["numpy", "jax"])
def test_blocked_cv_equals_explicit_refits_per_fold(bias, xp):
    """Fold moments subtracted from the total = a fresh fit on the other rows (numpy.linalg.solve)."""
    x, y = _problem(t=203)
    folds = 4
    edges = ne.fold_edges(len(x), folds)
    assert list(edges) == [0, 50, 101, 152, 203]
    blocks = [ne.moments(xp.asarray(x[lo:hi]), xp.asarray(y[lo:hi]), xp=xp) for lo, hi in zip(edges[:-1], edges[1:])]
    per_fold = ne.Moments(*(xp.stack(a) for a in zip(*blocks)))
    total = ne.Moments(*(xp.sum(a, axis=0) for a in per_fold))

    def rows(f):
        lo, hi = edges[f], edges[f + 1]
        return xp.asarray(x[lo:hi]), xp.asarray(y[lo:hi]), xp.ones(hi - lo)

    if xp is jnp:  # traced fold index: equal-length windows (the rows of fold f, masked)
        def rows(f):
            lo, hi = jnp.asarray(edges)[f], jnp.asarray(edges)[f + 1]
            start = jnp.minimum(lo, len(x) - 51)
            idx = start + jnp.arange(51)
            return (jax.lax.dynamic_slice_in_dim(jnp.asarray(x), start, 51),
                    jax.lax.dynamic_slice_in_dim(jnp.asarray(y), start, 51), ((idx >= lo) & (idx < hi)).astype(float))

    errors = ne.blocked_cv_errors(total, per_fold, rows, xp.asarray(RIDGES), folds, bias=bias, xp=xp)
    ref = np.zeros(len(RIDGES))
    for lo, hi in zip(edges[:-1], edges[1:]):
        train = np.r_[0:lo, hi:len(x)]
        for i, beta in enumerate(RIDGES):
            w = _solve(x[train], y[train], beta, bias)
            pred = (np.c_[np.ones(hi - lo), x[lo:hi]] if bias else x[lo:hi]) @ w
            ref[i] += np.mean((pred - y[lo:hi]) ** 2) / folds
    np.testing.assert_allclose(np.asarray(errors), ref, rtol=1e-10)


def test_an_empty_fold_counts_for_nothing():
    x, y = _problem()
    b = ne.held_out_error(ne.moments(x, y), ne.zeros(x.shape[1], y.shape[1], float), x, y, np.zeros(len(x)),
                          RIDGES)
    assert np.all(b == 0)


def test_a_ridge_below_the_gram_rounding_is_raised_to_it():
    """float32, nearly collinear rows: the rounded Gram matrix has a negative eigenvalue, so a
    ridge of 1e-12 left Cholesky a negative pivot (NaN readouts, a failed search trial). Ridges
    below eps * trace(Gram) are raised to it (the same readout as asking for that value); larger
    ridges are used exactly as given."""
    import jax.numpy as jnp

    rng = np.random.default_rng(3)
    base = rng.normal(size=(300, 1))
    x = np.hstack([base + 1e-4 * rng.normal(size=(300, 1)) for _ in range(12)]).astype(np.float32)
    x -= x.mean(0)
    y = (x @ rng.normal(size=(12, 1))).astype(np.float32)
    m = ne.moments(jnp.asarray(x), jnp.asarray(y), None, jnp)
    g = np.asarray(m.gram, np.float64)
    assert np.linalg.eigvalsh(g).min() < 0  # the rounding the floor is there for
    floor = float(np.finfo(np.float32).eps * np.trace(np.asarray(m.gram)))
    _, tiny = ne.solve(m, jnp.asarray([1e-12], jnp.float32), bias=False, xp=jnp)
    _, at_floor = ne.solve(m, jnp.asarray([floor], jnp.float32), bias=False, xp=jnp)
    assert np.all(np.isfinite(np.asarray(tiny)))
    np.testing.assert_array_equal(tiny, at_floor)
    big = 10 * floor  # above the floor: exactly the Cholesky solve at the ridge asked for
    _, w = ne.solve(m, jnp.asarray([big], jnp.float32), bias=False, xp=jnp)
    from jax.scipy.linalg import cho_factor, cho_solve
    direct = cho_solve(cho_factor(m.gram + jnp.float32(big) * jnp.eye(12, dtype=jnp.float32), lower=True), m.cross)
    np.testing.assert_array_equal(w[0], direct)
    # the host (float64) solve applies the same floor
    mh = ne.moments(x.astype(np.float64), y.astype(np.float64))
    fh = np.finfo(np.float64).eps * np.trace(mh.gram)
    np.testing.assert_array_equal(ne.solve(mh, np.array([fh * 1e-3]), bias=False)[1],
                                  ne.solve(mh, np.array([fh]), bias=False)[1])
