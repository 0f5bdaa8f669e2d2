"""Exactness of the RDM regression against numpy.linalg.lstsq, statsmodels OLS and the formulas."""

from itertools import combinations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.spatial.distance import pdist, squareform

from brainalign.rsa.condensed import n_conditions_from_pairs, rdm_to_vector, vector_to_rdm
from brainalign.rsa.ols import (
    DesignBases,
    adjusted_r2,
    clip_negative,
    ols_fit,
    orthonormal_basis,
    r2_score,
    stack_predictors,
)
from brainalign.rsa.partition import (
    union_designs,
    unique_r2_draws,
    variance_partition,
    variance_partition_gram,
    vpart2,
    vpart3,
    vpart_general,
)


def _rdm_vec(rng, n, d=8):
    return pdist(rng.standard_normal((n, d)), "correlation")


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    n = 20
    models = {f"m{k}": np.stack([_rdm_vec(rng, n), _rdm_vec(rng, n)], axis=1) for k in range(4)}
    y = 0.6 * models["m0"][:, 0] + 0.3 * models["m2"][:, 1] + 0.2 * _rdm_vec(rng, n)
    return y, models


def _sm_fit(y, X):
    return sm.OLS(y, sm.add_constant(X)).fit()


def test_vectorisation_matches_squareform():
    rng = np.random.default_rng(0)
    v = _rdm_vec(rng, 9)
    R = squareform(v)
    np.testing.assert_array_equal(rdm_to_vector(R), v)
    np.testing.assert_array_equal(vector_to_rdm(v), R)
    assert n_conditions_from_pairs(36) == 9
    with pytest.raises(ValueError, match="35"):
        n_conditions_from_pairs(35)


def test_ols_matches_lstsq_and_statsmodels(data):
    y, models = data
    X = np.concatenate([models["m0"], models["m1"]], axis=1)
    fit = ols_fit(y, X)
    A = np.column_stack([np.ones(len(y)), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(fit.coef, coef, rtol=1e-10, atol=1e-12)
    res = _sm_fit(y, X)
    np.testing.assert_allclose(fit.coef, res.params, rtol=1e-9, atol=1e-12)
    assert fit.r2 == pytest.approx(res.rsquared, rel=1e-12)
    assert fit.r2_adj == pytest.approx(res.rsquared_adj, rel=1e-12)
    # spec formula with n = #pairs, p = #predictors
    n, p = X.shape
    assert fit.r2_adj == pytest.approx(1 - (1 - res.rsquared) * (n - 1) / (n - p - 1), rel=1e-12)


def test_batched_r2_matches_statsmodels(data):
    y, models = data
    rng = np.random.default_rng(3)
    Y = np.stack([y, y[::-1].copy(), rng.standard_normal(len(y))])
    db = DesignBases(models)
    r2 = db.r2(Y)
    r2a = db.adjusted_r2(Y)
    for i in range(Y.shape[0]):
        for k, name in enumerate(models):
            res = _sm_fit(Y[i], models[name])
            assert r2[i, k] == pytest.approx(res.rsquared, rel=1e-10)
            assert r2a[i, k] == pytest.approx(res.rsquared_adj, rel=1e-10)
    # float32 projection stays close
    db32 = DesignBases(models, dtype=np.float32)
    np.testing.assert_allclose(db32.r2(Y.astype(np.float32)), r2, atol=1e-5)


def test_rank_deficient_design_equals_lstsq(data):
    y, models = data
    X = np.column_stack([models["m0"], models["m0"][:, 0] * 2.0])  # collinear column
    r2 = r2_score(y, X)
    A = np.column_stack([np.ones(len(y)), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    assert r2 == pytest.approx(1 - resid @ resid / np.sum((y - y.mean()) ** 2), rel=1e-10)


def _adj_r2_sm(y, sets, idx):
    return _sm_fit(y, np.concatenate([sets[i] for i in idx], axis=1)).rsquared_adj


def test_vpart2_formula(data):
    y, models = data
    s = [models["m0"], models["m1"]]
    out = vpart2(y, *s)
    R1, R2, R12 = (_adj_r2_sm(y, s, i) for i in [(0,), (1,), (0, 1)])
    y12 = R1 + R2 - R12
    np.testing.assert_allclose(out["unique"], [R1 - y12, R2 - y12], rtol=1e-10)
    np.testing.assert_allclose(out["shared"], [y12], rtol=1e-10)
    assert out["total"] == pytest.approx(R12, rel=1e-12)


def test_vpart3_formula(data):
    y, models = data
    s = [models["m0"], models["m1"], models["m2"]]
    out = vpart3(y, *s)
    R = {c: _adj_r2_sm(y, s, c) for k in (1, 2, 3) for c in combinations(range(3), k)}
    y123 = R[(0,)] + R[(1,)] + R[(2,)] - R[(0, 1)] - R[(0, 2)] - R[(1, 2)] + R[(0, 1, 2)]
    y12 = R[(0,)] + R[(1,)] - R[(0, 1)] - y123
    y13 = R[(0,)] + R[(2,)] - R[(0, 2)] - y123
    y23 = R[(1,)] + R[(2,)] - R[(1, 2)] - y123
    uniq = [
        R[(0,)] - y12 - y13 - y123,
        R[(1,)] - y12 - y23 - y123,
        R[(2,)] - y13 - y23 - y123,
    ]
    np.testing.assert_allclose(out["unique"], uniq, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(out["shared"], [y12, y13, y23, y123], rtol=1e-9, atol=1e-13)
    assert out["total"] == pytest.approx(R[(0, 1, 2)], rel=1e-12)
    # plain-R² variant: unique of set 1 = R123 - R23 holds for R² too (inclusion-exclusion)
    plain = vpart3(y, *s, adjusted=False)
    r123 = _sm_fit(y, np.concatenate(s, axis=1)).rsquared
    r23 = _sm_fit(y, np.concatenate(s[1:], axis=1)).rsquared
    assert plain["unique"][0] == pytest.approx(r123 - r23, rel=1e-9)


def test_vpart_general_formula(data):
    y, models = data
    s = list(models.values())
    out = vpart_general(y, s)
    Rall = _adj_r2_sm(y, s, range(4))
    for i in range(4):
        Rwo = _adj_r2_sm(y, s, [j for j in range(4) if j != i])
        assert out["unique"][i] == pytest.approx(Rall - Rwo, rel=1e-9)
    # dispatcher: 4 sets -> general; batched targets agree with single ones
    Y = np.stack([y, y * 2 + 1])
    batched = variance_partition(Y, s)
    np.testing.assert_allclose(batched["unique"][0], out["unique"], rtol=1e-10)
    np.testing.assert_allclose(batched["unique"][1], out["unique"], rtol=1e-10)


def test_clip_and_adjusted_errors():
    np.testing.assert_array_equal(clip_negative([-0.1, 0.0, 0.3]), [0.0, 0.0, 0.3])
    with pytest.raises(ValueError, match="n_predictors=5"):
        adjusted_r2(0.5, 6, 5)


def test_bad_inputs_raise():
    rng = np.random.default_rng(1)
    v = _rdm_vec(rng, 6)
    with pytest.raises(ValueError, match="NaN"):
        ols_fit(np.where(np.arange(v.size) == 0, np.nan, v), v)
    with pytest.raises(ValueError, match="14"):
        ols_fit(v[:14], v)
    with pytest.raises(ValueError, match="'b'"):
        DesignBases({"a": v, "b": v[:10]})
    with pytest.raises(ValueError, match="shape"):
        rdm_to_vector(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="at least 2 sets"):
        variance_partition(v, [v])


def test_stack_predictors_accepts_square_and_vectors():
    rng = np.random.default_rng(2)
    a, b = _rdm_vec(rng, 7), _rdm_vec(rng, 7)
    X1 = stack_predictors([squareform(a), b])
    X2 = stack_predictors(np.stack([a, b]))
    np.testing.assert_array_equal(X1, X2)
    assert X1.shape == (21, 2)
    np.testing.assert_array_equal(stack_predictors(squareform(a))[:, 0], a)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_gram_partition_equals_svd_route(data, k):
    y, models = data
    sets = list(models.values())[:k]
    a = variance_partition(y, sets)
    b = variance_partition_gram(y, sets)
    np.testing.assert_allclose(b["unique"], a["unique"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(b["total"], a["total"], rtol=1e-10)
    c = variance_partition_gram(y, sets, adjusted=False)
    np.testing.assert_allclose(
        c["unique"], variance_partition(y, sets, adjusted=False)["unique"], rtol=1e-8, atol=1e-12
    )


def test_weighted_basis_equals_repeated_rows(data):
    """Row multiplicities fold the basis of the repeated design back onto the rows: the same
    projections, rank and (with centring) no response to a constant."""
    y, models = data
    X = np.concatenate([models["m0"], models["m1"], models["m0"][:, :1]], axis=1)  # rank 4
    rng = np.random.default_rng(3)
    w = rng.integers(0, 3, size=X.shape[0])
    rows = np.repeat(np.arange(X.shape[0]), w)
    A = orthonormal_basis(X, weights=w)
    Q = orthonormal_basis(X[rows])
    assert A.shape[1] == Q.shape[1] == 4
    Y = rng.standard_normal((5, X.shape[0]))
    np.testing.assert_allclose((Y @ A) ** 2 @ np.ones(4), (Y[:, rows] @ Q) ** 2 @ np.ones(4))
    np.testing.assert_allclose(A.sum(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(orthonormal_basis(X, weights=np.ones(X.shape[0])) ** 2 @ np.ones(4),
                               orthonormal_basis(X) ** 2 @ np.ones(4), atol=1e-12)  # fmt: skip
    with pytest.raises(ValueError, match="non-negative"):
        orthonormal_basis(X, weights=-w)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_unique_r2_draws_equals_refit_on_drawn_rows(data, k):
    """Oracle: the partition refitted on the rows each bootstrap draw repeats (PartitionPlan on
    copies), for every draw and target; float32 products within 1e-5."""
    from brainalign.stats.bootstrap import iter_bootstrap_indices

    y, models = data
    sets = dict(list(models.items())[:k])
    rng = np.random.default_rng(5)
    Y = np.stack([y + 0.1 * rng.standard_normal(y.size) + 7.0 * i for i in range(4)])
    draws = list(iter_bootstrap_indices(20, 6, seed=2, replace=True))
    W = np.stack([np.bincount(ci, minlength=y.size) for ci in draws])
    got = unique_r2_draws(Y, sets, W, block_rows=3)
    assert got.shape == (6, 4, k)
    for b, ci in enumerate(draws):
        want = variance_partition(Y[:, ci], {n: X[ci] for n, X in sets.items()})["unique"]
        np.testing.assert_allclose(got[b], want, rtol=1e-9, atol=1e-12)
    plain = unique_r2_draws(Y, sets, W, adjusted=False)
    want = variance_partition(Y[:, draws[0]], {n: X[draws[0]] for n, X in sets.items()},
                              adjusted=False)["unique"]  # fmt: skip
    np.testing.assert_allclose(plain[0], want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(unique_r2_draws(Y, sets, W, dtype=np.float32), got, atol=1e-5)
    with pytest.raises(ValueError, match="weights must be"):
        unique_r2_draws(Y, sets, W[:, 1:])


def test_design_bases_span_and_weights(data):
    """Projecting on the union's basis (``span``) gives every design's R² as its own basis does,
    with fewer columns; a design outside the span falls back; weights = fit on repeated rows."""
    y, models = data
    sets = [models["m0"], models["m1"], models["m2"]]
    designs = {"+".join(map(str, k)): X for k, X in union_designs(sets).items()}
    Y = np.stack([y, y[::-1], y**2])
    plain = DesignBases(designs)
    spanned = DesignBases(designs, span="0+1+2")
    assert spanned.T is not None and spanned.Q.shape[1] == 6 < plain.Q.shape[1] == 24
    np.testing.assert_allclose(spanned.r2(Y), plain.r2(Y), rtol=1e-12)
    outside = DesignBases({"a": models["m0"], "b": models["m1"]}, span="a")
    assert outside.T is None
    np.testing.assert_allclose(
        outside.r2(Y), DesignBases({"a": models["m0"], "b": models["m1"]}).r2(Y)
    )
    w = np.random.default_rng(1).integers(0, 3, size=y.size)
    rows = np.repeat(np.arange(y.size), w)
    weighted = DesignBases(designs, span="0+1+2", weights=w)
    repeated = DesignBases({k: X[rows] for k, X in designs.items()})
    assert weighted.n_obs == rows.size
    np.testing.assert_allclose(
        weighted.adjusted_r2(Y), repeated.adjusted_r2(Y[:, rows]), rtol=1e-10
    )
