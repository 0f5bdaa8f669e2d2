"""Tests for brainalign.rsa.compare against independent oracles (scipy, rsatoolbox)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss
from rsatoolbox.rdm.compare import compare_kendall_tau_a
from scipy.spatial.distance import pdist, squareform

from brainalign.rsa.compare import METHODS, compare_rdms, compare_rdms_many
from brainalign.rsa.condensed import condensed


def _rdm(rng: np.random.Generator, n: int, decimals: int | None = None) -> np.ndarray:
    d = squareform(pdist(rng.normal(size=(n, 6)), metric="correlation"))
    return d if decimals is None else np.round(d, decimals)


# (decimals for a, decimals for b): no ties, ties on one side (each), ties on both sides
TIES = {
    "no_ties": (None, None),
    "ties_a": (1, None),
    "ties_b": (None, 1),
    "ties_both": (1, 1),
    "heavy_ties_both": (0, 1),
}


@pytest.fixture(params=list(TIES), ids=list(TIES))
def pair(request):
    rng = np.random.default_rng(abs(hash(request.param)) % 2**32)
    da, db = TIES[request.param]
    return _rdm(rng, 25, da), _rdm(rng, 25, db)


def test_condensed_matches_squareform():
    rng = np.random.default_rng(1)
    d = _rdm(rng, 13)
    np.testing.assert_array_equal(condensed(d), squareform(d, checks=False))
    assert condensed(d).dtype == np.float64


def test_tau_b_equals_scipy(pair):
    a, b = pair
    va, vb = condensed(a), condensed(b)
    expected = ss.kendalltau(va, vb).statistic
    assert abs(compare_rdms(a, b, "tau_b") - expected) <= 1e-12
    # default method is tau_b; condensed input gives the same value
    assert compare_rdms(va, vb) == compare_rdms(a, b, "tau_b")


def test_tau_a_equals_rsatoolbox(pair):
    a, b = pair
    va, vb = condensed(a), condensed(b)
    expected = compare_kendall_tau_a(va[None, :], vb[None, :])[0, 0]
    assert abs(compare_rdms(a, b, "tau_a") - expected) <= 1e-12


def test_spearman_pearson_equal_scipy(pair):
    a, b = pair
    va, vb = condensed(a), condensed(b)
    assert abs(compare_rdms(a, b, "spearman") - ss.spearmanr(va, vb).statistic) <= 1e-12
    assert abs(compare_rdms(a, b, "pearson") - ss.pearsonr(va, vb).statistic) <= 1e-12


def test_tau_b_on_study_sized_rdms():
    """92 x 92 correlation-distance RDMs, as in the study (4,186 pairs)."""
    rng = np.random.default_rng(7)
    latent = rng.normal(size=(92, 20))
    a = squareform(pdist(latent + rng.normal(size=latent.shape), metric="correlation"))
    b = squareform(pdist(latent + rng.normal(size=latent.shape), metric="correlation"))
    va, vb = condensed(a), condensed(b)
    tau = compare_rdms(a, b, "tau_b")
    assert abs(tau - ss.kendalltau(va, vb).statistic) <= 1e-12
    assert tau > 0.1  # shared latent structure: a real, positive association


def test_symmetry_and_sign():
    rng = np.random.default_rng(3)
    a, b = _rdm(rng, 15, 1), _rdm(rng, 15)
    for method in METHODS:
        assert compare_rdms(a, b, method) == pytest.approx(compare_rdms(b, a, method), abs=1e-15)
        # b has no ties, so even tau-a reaches +-1
        assert compare_rdms(b, b, method) == pytest.approx(1.0, abs=1e-15)
        vb = condensed(b)
        assert compare_rdms(vb, -vb, method) == pytest.approx(-1.0, abs=1e-15)
    # with ties tau-a of an RDM with itself is 1 - ties / total pairs, tau-b stays 1
    assert compare_rdms(a, a, "tau_b") == 1.0
    assert compare_rdms(a, a, "tau_a") < 1.0


def test_constant_rdm_gives_nan():
    rng = np.random.default_rng(4)
    a = _rdm(rng, 10)
    const = np.ones((10, 10)) - np.eye(10)
    for method in METHODS:
        assert np.isnan(compare_rdms(a, const, method))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((4, 5)), r"square .*\(4, 5\)"),
        (np.zeros((3, 3, 3)), r"\(3, 3, 3\)"),
        (np.array([[0.0, 1.0, 2.0], [1.5, 0.0, 1.0], [2.0, 1.0, 0.0]]), r"not symmetric.*1\.5"),
        (np.array([[0.0, np.nan, 2.0], [np.nan, 0.0, 1.0], [2.0, 1.0, 0.0]]), r"non-finite.*nan"),
        (np.array([[0.5, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0]]), r"diagonal.*0\.5"),
        (np.ones(5), r"length 5"),
        (np.array([1.0, np.inf, 2.0]), r"non-finite.*inf"),
    ],
)
def test_invalid_rdms_raise(bad, match):
    good = np.ones((3, 3)) - np.eye(3)
    with pytest.raises(ValueError, match=match):
        compare_rdms(bad, good)
    if bad.ndim == 2 and bad.shape[0] == bad.shape[1]:
        with pytest.raises(ValueError, match=match):
            condensed(bad)


def test_length_mismatch_and_unknown_method():
    rng = np.random.default_rng(5)
    a, b = _rdm(rng, 6), _rdm(rng, 7)
    with pytest.raises(ValueError, match="15 vs 21"):
        compare_rdms(a, b)
    with pytest.raises(ValueError, match="'kendall'"):
        compare_rdms(a, a, method="kendall")


@pytest.mark.parametrize("method", METHODS)
def test_compare_rdms_many_equals_pairwise(method):
    """Every pair of the two sets, against scipy / rsatoolbox per pair (with ties on both sides
    and a constant RDM, which gives nan)."""
    rng = np.random.default_rng(7)
    xs = [condensed(_rdm(rng, 20, d)) for d in (None, 1, 0)] + [np.ones(190)]
    ys = np.stack([condensed(_rdm(rng, 20, d)) for d in (None, 1, None, 2)])
    got = compare_rdms_many(np.stack(xs), ys, method)
    assert got.shape == (4, 4)
    oracle = {
        "tau_b": lambda a, b: ss.kendalltau(a, b).statistic,
        "tau_a": lambda a, b: compare_kendall_tau_a(a[None], b[None])[0, 0],
        "spearman": lambda a, b: ss.spearmanr(a, b).statistic,
        "pearson": lambda a, b: ss.pearsonr(a, b).statistic,
    }[method]
    for i, x in enumerate(xs[:3]):
        for j, y in enumerate(ys):
            assert abs(got[i, j] - oracle(x, y)) <= 1e-12
            if method != "pearson":
                assert got[i, j] == compare_rdms(x, y, method)
    assert np.isnan(got[3]).all()
    # square RDMs give the same
    np.testing.assert_array_equal(
        compare_rdms_many([squareform(x) for x in xs[:2]], ys, method), got[:2]
    )
    with pytest.raises(ValueError, match="one size"):
        compare_rdms_many(np.stack(xs), [condensed(_rdm(rng, 21))], method)
