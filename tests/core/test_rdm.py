import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import spearmanr

from brainalign.rsa.rdm import compute_rdm, symmetrize_upper, validate_rdm, validate_rdm_stack


@pytest.mark.parametrize("metric", ["correlation", "cosine", "euclidean"])
def test_compute_rdm_equals_pdist(metric):
    x = np.random.default_rng(0).standard_normal((30, 50)).astype(np.float32)
    expected = squareform(pdist(x.astype(np.float64), metric))
    got = compute_rdm(x, metric)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert np.array_equal(got, got.T)
    assert np.all(np.diag(got) == 0)


def test_spearman_rdm_equals_one_minus_rho():
    x = np.random.default_rng(1).standard_normal((8, 20))
    rho = spearmanr(x, axis=1).statistic
    np.testing.assert_allclose(
        compute_rdm(x, "spearman"), 1 - rho - np.diag(np.diag(1 - rho)), atol=1e-12
    )


def test_compute_rdm_errors_name_the_problem():
    x = np.ones((4, 5))
    with pytest.raises(ValueError, match=r"item\(s\) \[0, 1, 2, 3\] have constant patterns"):
        compute_rdm(x)
    y = np.random.default_rng(0).standard_normal((4, 5))
    y[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf for item\(s\) \[2\]"):
        compute_rdm(y)
    with pytest.raises(ValueError, match="unknown RDM metric 'manhattan'"):
        compute_rdm(y[:2] * 0 + 1 + np.arange(5), "manhattan")


def test_symmetrize_upper_matches_original_squareform_roundtrip():
    a = np.random.default_rng(2).random((6, 6))
    np.testing.assert_array_equal(symmetrize_upper(a), squareform(squareform(a, checks=False)))


def test_validate_rdm_rejects_bad_matrices():
    good = squareform(pdist(np.random.default_rng(3).standard_normal((5, 4))))
    assert validate_rdm(good, "x").shape == (5, 5)
    asym = good.copy()
    asym[0, 1] += 0.5
    with pytest.raises(ValueError, match=r"IT subject 2: not symmetric \(entry \[0,1\]"):
        validate_rdm(asym, "IT subject 2")
    with pytest.raises(ValueError, match="expected 6×6"):
        validate_rdm(good, "x", n_items=6)
    nan = good.copy()
    nan[1, 2] = nan[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first at row 1, column 2\)"):
        validate_rdm(nan, "x")
    diag = good + np.eye(5)
    with pytest.raises(ValueError, match="diagonal is not zero"):
        validate_rdm(diag, "x")
    with pytest.raises(ValueError, match="subject 2: not symmetric"):
        validate_rdm_stack(np.stack([good, asym]), "IT")
