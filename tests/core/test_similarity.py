"""Tests for brainalign.rsa.similarity: oracles (sklearn, numpy, the core Mantel test), null
calibration and planted structure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as ss
from sklearn.metrics.pairwise import cosine_similarity

from brainalign.rsa.compare import METHODS, compare_rdms
from brainalign.rsa.mantel import mantel_test
from brainalign.rsa.similarity import (
    _paired_statistic,
    class_mean_matrix,
    class_mean_rsm,
    compare_full_matrices,
    compare_rsms,
    cosine_rsm,
    rsm_to_condensed_rdm,
    sort_by_class,
)


def _embeddings(seed: int, n: int = 30, d: int = 20) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


# --------------------------------------------------------------------------------------------
# RSMs
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(30, 20), (114, 100), (5, 1000), (7, 2)])
def test_cosine_rsm_equals_sklearn(shape):
    X = np.random.default_rng(shape[0]).normal(size=shape) + 0.3
    S = cosine_rsm(X)
    assert S.dtype == np.float64 and S.shape == (shape[0], shape[0])
    np.testing.assert_allclose(S, cosine_similarity(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(S, S.T)
    np.testing.assert_array_equal(np.diag(S), 1.0)


def test_cosine_rsm_casts_float32():
    X = _embeddings(1).astype(np.float32)
    np.testing.assert_allclose(cosine_rsm(X), cosine_similarity(X.astype(np.float64)), atol=1e-12)


def test_cosine_rsm_zero_row_names_the_index():
    X = _embeddings(2)
    X[7] = 0.0
    with pytest.raises(ValueError, match=r"row 7 has zero norm"):
        cosine_rsm(X)
    X[3] = np.nan
    with pytest.raises(ValueError, match=r"row 3"):
        cosine_rsm(X)
    with pytest.raises(ValueError, match=r"shape \(30,\)"):
        cosine_rsm(np.ones(30))


def test_sort_by_class_is_stable_and_follows_class_order():
    labels = np.array(["artifact", "animal", "geo", "animal", "artifact", "animal"])
    order = sort_by_class(labels, ["animal", "artifact", "geo"])
    np.testing.assert_array_equal(order, [1, 3, 5, 0, 4, 2])
    np.testing.assert_array_equal(sort_by_class([2, 0, 1, 0]), [1, 3, 2, 0])
    with pytest.raises(ValueError, match="'geo'"):
        sort_by_class(labels, ["animal", "artifact"])
    with pytest.raises(ValueError, match="repeats"):
        sort_by_class(labels, ["animal", "animal", "artifact", "geo"])


def test_class_mean_rsm_is_cosine_of_class_means():
    X = _embeddings(3, n=40) + 0.5
    labels = np.random.default_rng(3).integers(0, 3, 40)
    means = np.stack([X[labels == c].mean(axis=0) for c in range(3)])
    out = class_mean_rsm(X, labels, 3)
    assert out.shape == (3, 3)
    np.testing.assert_allclose(out, cosine_similarity(means), atol=1e-12)


def test_class_mean_rsm_rejects_bad_labels():
    X = _embeddings(4, n=6)
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have no items"):
        class_mean_rsm(X, [0, 0, 1, 1, 0, 1], 3)
    with pytest.raises(ValueError, match=r"labels\[4\] = 5"):
        class_mean_rsm(X, [0, 0, 1, 1, 5, 1], 3)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        class_mean_rsm(X, [0, 1, 2], 3)
    Y = X.copy()
    Y[:3] = 1.0
    Y[3:] = -1.0  # the mean of class 0 (rows 0 and 3) is zero
    with pytest.raises(ValueError, match="class 0 has zero norm"):
        class_mean_rsm(Y, [0, 1, 1, 0, 1, 2], 3)


@pytest.mark.parametrize("include_diagonal", [False, True])
def test_class_mean_matrix_equals_brute_force(include_diagonal):
    rng = np.random.default_rng(5)
    S = cosine_rsm(rng.normal(size=(17, 4)))
    labels = np.array([0] * 6 + [1] * 10 + [2])  # class 2 has one item
    out = class_mean_matrix(S, labels, 3, include_diagonal=include_diagonal)
    for a in range(3):
        for b in range(3):
            vals = [
                S[i, j]
                for i in np.flatnonzero(labels == a)
                for j in np.flatnonzero(labels == b)
                if include_diagonal or i != j
            ]
            if vals:
                assert out[a, b] == pytest.approx(np.mean(vals), abs=1e-12)
            else:
                assert math.isnan(out[a, b])
    assert math.isnan(out[2, 2]) != include_diagonal


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------
def test_compare_full_matrices_equals_corrcoef():
    a, b = cosine_rsm(_embeddings(6)), cosine_rsm(_embeddings(7))
    assert compare_full_matrices(a, b) == np.corrcoef(a.flatten(), b.flatten())[0, 1]
    # the diagonal of ones inflates the faithful statistic above the off-diagonal one
    iu = np.triu_indices(30, 1)
    assert compare_full_matrices(a, b) > np.corrcoef(a[iu], b[iu])[0, 1]
    assert math.isnan(compare_full_matrices(np.ones((4, 4)), b[:4, :4]))
    with pytest.raises(ValueError, match="equal shape"):
        compare_full_matrices(a, b[:5, :5])


def test_rsm_to_condensed_rdm():
    S = cosine_rsm(_embeddings(8))
    v = rsm_to_condensed_rdm(S)
    iu = np.triu_indices(30, 1)
    np.testing.assert_allclose(v, 1.0 - S[iu], atol=0)
    bad = S.copy()
    bad[2, 5] += 0.01
    with pytest.raises(ValueError, match="not symmetric"):
        rsm_to_condensed_rdm(bad, "a")
    # float32-rounded but symmetric to 1e-6 is accepted
    rsm_to_condensed_rdm(S.astype(np.float32))


@pytest.mark.parametrize("method", METHODS)
def test_compare_rsms_equals_core_statistic_and_mantel(method):
    Xa = _embeddings(9)
    Xb = Xa + 2.0 * _embeddings(10)
    a, b = cosine_rsm(Xa), cosine_rsm(Xb)
    out = compare_rsms(a, b, method=method, n_permutations=499, n_bootstrap=50, seed=4)
    va, vb = rsm_to_condensed_rdm(a), rsm_to_condensed_rdm(b)
    direct = mantel_test(va, vb, method, 499, "greater", 4)
    assert out["statistic"] == direct.statistic
    assert out["p"] == direct.pvalue
    assert out["n_items"] == 30
    assert out["statistic"] == pytest.approx(compare_rdms(va, vb, method), abs=1e-12)
    # similarity and 1 - similarity give the same statistic
    iu = np.triu_indices(30, 1)
    oracle = {
        "pearson": lambda x, y: ss.pearsonr(x, y).statistic,
        "spearman": lambda x, y: ss.spearmanr(x, y).statistic,
        "tau_b": lambda x, y: ss.kendalltau(x, y).statistic,
        "tau_a": lambda x, y: compare_rdms(x, y, "tau_a"),
    }[method]
    assert out["statistic"] == pytest.approx(oracle(a[iu], b[iu]), abs=1e-12)
    assert set(out) == {"statistic", "p", "ci_low", "ci_high", "n_items"}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("decimals", [None, 1])
def test_bootstrap_statistic_equals_core_statistic(method, decimals):
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=190), rng.normal(size=190) + 0.5 * np.arange(190) / 190
    if decimals is not None:
        x, y = np.round(x, decimals), np.round(y, decimals)  # ties
    assert _paired_statistic(x, y, method) == pytest.approx(compare_rdms(x, y, method), abs=1e-12)


def test_compare_rsms_is_seeded():
    a, b = cosine_rsm(_embeddings(12)), cosine_rsm(_embeddings(13))
    kw = {"n_permutations": 199, "n_bootstrap": 100}
    assert compare_rsms(a, b, seed=1, **kw) == compare_rsms(a, b, seed=1, **kw)
    r1, r2 = compare_rsms(a, b, seed=1, **kw), compare_rsms(a, b, seed=2, **kw)
    assert r1["statistic"] == r2["statistic"]
    assert (r1["p"], r1["ci_low"]) != (r2["p"], r2["ci_low"])


def test_compare_rsms_without_permutations_or_bootstrap():
    a, b = cosine_rsm(_embeddings(14)), cosine_rsm(_embeddings(15))
    out = compare_rsms(a, b, n_permutations=0, n_bootstrap=0)
    assert math.isfinite(out["statistic"])
    assert math.isnan(out["p"]) and math.isnan(out["ci_low"]) and math.isnan(out["ci_high"])


def test_compare_rsms_null_calibration():
    """Independent embeddings: the one-sided Mantel test rejects at about the nominal rate."""
    rng = np.random.default_rng(2024)
    n_sims, alpha = 300, 0.05
    rejections = 0
    for k in range(n_sims):
        a = cosine_rsm(rng.normal(size=(30, 10)))
        b = cosine_rsm(rng.normal(size=(30, 10)))
        out = compare_rsms(a, b, n_permutations=199, n_bootstrap=0, seed=k)
        rejections += out["p"] <= alpha
    rate = rejections / n_sims
    se = math.sqrt(alpha * (1 - alpha) / n_sims)
    assert abs(rate - alpha) < 3 * se, rate


def test_compare_rsms_planted_noisy_copy():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 50))
    a = cosine_rsm(X)
    b = cosine_rsm(X + 0.7 * rng.normal(size=X.shape))
    out = compare_rsms(a, b, n_permutations=999, n_bootstrap=300, seed=0)
    assert out["statistic"] > 0.6
    assert out["p"] == pytest.approx(1 / 1000)
    assert 0 < out["ci_low"] < out["statistic"] < out["ci_high"] <= 1


def test_bootstrap_interval_covers_population_value():
    """Items drawn from a population in which the two representations share a latent part: the
    percentile interval covers the population statistic (approximated with many items) in most
    simulations (nominal 90 %; the item bootstrap of pair statistics is not exact -- 97 % in a
    200-simulation check of this set-up -- so only gross under-coverage is tested)."""
    rng = np.random.default_rng(99)

    def sample(n):
        z = rng.normal(size=(n, 8))
        xa = np.hstack([z, rng.normal(size=(n, 8))])
        xb = np.hstack([z, rng.normal(size=(n, 8))])
        return cosine_rsm(xa), cosine_rsm(xb)

    big_a, big_b = sample(600)
    iu = np.triu_indices(600, 1)
    truth = ss.pearsonr(big_a[iu], big_b[iu]).statistic
    hits = 0
    n_sims = 60
    for k in range(n_sims):
        a, b = sample(25)
        out = compare_rsms(
            a, b, method="pearson", n_permutations=0, n_bootstrap=200, seed=k, ci=0.9
        )
        hits += out["ci_low"] <= truth <= out["ci_high"]
    assert hits / n_sims >= 0.7, (hits, truth)


def test_compare_rsms_bad_input():
    a, b = cosine_rsm(_embeddings(16)), cosine_rsm(_embeddings(17))
    with pytest.raises(ValueError, match="'kendall'"):
        compare_rsms(a, b, method="kendall")
    with pytest.raises(ValueError, match="differ in size"):
        compare_rsms(a, b[:20, :20])
    with pytest.raises(ValueError, match="ci must be in"):
        compare_rsms(a, b, ci=95)
    with pytest.raises(ValueError, match="n_bootstrap must be a non-negative int, got -1"):
        compare_rsms(a, b, n_bootstrap=-1)
    with pytest.raises(ValueError, match=r"square \(n, n\)"):
        compare_rsms(a[:, :5], b)
    with pytest.raises(ValueError, match="at least 3 items"):
        compare_rsms(a[:2, :2], b[:2, :2])
