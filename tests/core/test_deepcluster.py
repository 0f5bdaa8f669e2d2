"""DeepCluster's clustering step against scikit-learn (oracle) and planted clusters."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import normalized_mutual_info_score
from sklearn.preprocessing import normalize

from brainalign.networks.deepcluster import (
    cluster_features,
    kmeans,
    nmi,
    pca_whiten_l2,
    uniform_label_sample,
)


def _blobs(rng: np.random.Generator, n_per: int, k: int, dim: int, spread: float = 0.3):
    centres = rng.normal(size=(k, dim)) * 3.0
    labels = np.repeat(np.arange(k), n_per)
    return centres[labels] + spread * rng.normal(size=(k * n_per, dim)), labels


@pytest.mark.parametrize("n, d", [(120, 40), (30, 200)])  # more images / more dimensions
def test_pca_whitening_equals_sklearn(n, d):
    """Same whitened, L2-normed points as sklearn's PCA(whiten=True) + normalize, up to the
    sign of each component (compared through the Gram matrix and per-column |r|)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, min(n, d))) @ rng.normal(size=(min(n, d), d))
    ours = pca_whiten_l2(x, 16)
    ref = normalize(PCA(n_components=16, whiten=True, svd_solver="full").fit_transform(x))
    assert ours.shape == (n, 16) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(ours @ ours.T, ref @ ref.T, atol=1e-5)
    for j in range(16):
        assert abs(np.corrcoef(ours[:, j], ref[:, j])[0, 1]) > 1 - 1e-6


def test_kmeans_equals_sklearn_from_the_same_start():
    rng = np.random.default_rng(1)
    x, _ = _blobs(rng, 40, 5, 8, spread=1.5)
    init = x[rng.choice(len(x), 5, replace=False)]
    labels, cent, inertia = kmeans(x, 5, n_iter=50, init=init)
    ref = KMeans(5, init=init, n_init=1, max_iter=50, tol=0.0, algorithm="lloyd").fit(x)
    np.testing.assert_array_equal(labels, ref.labels_)
    np.testing.assert_allclose(cent, ref.cluster_centers_, atol=1e-5)
    assert inertia == pytest.approx(ref.inertia_, rel=1e-5)


def test_empty_clusters_are_split_and_the_run_is_seeded():
    rng = np.random.default_rng(2)
    x, _ = _blobs(rng, 30, 3, 4)
    init = np.concatenate([x[[0, 30, 60]], np.full((2, 4), 1e3)])  # two centroids far away
    labels, _, _ = kmeans(x, 5, n_iter=10, init=init, seed=3)
    assert np.unique(labels).size == 5  # no cluster left empty
    again, _, _ = kmeans(x, 5, n_iter=10, init=init, seed=3)
    np.testing.assert_array_equal(labels, again)
    a, ca, _ = kmeans(x, 4, n_iter=5, seed=11)
    b, cb, _ = kmeans(x, 4, n_iter=5, seed=11)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ca, cb)


def test_cluster_features_recovers_planted_categories():
    """Six categories span 5 dimensions of 64: kept whitened components = the signal ones.
    (Whitening gives every kept component unit variance, so noise components kept beside
    them weigh as much as the signal: DeepCluster keeps 256 of 4,096.)"""
    rng = np.random.default_rng(4)
    x, truth = _blobs(rng, 25, 6, 64, spread=0.8)
    # one Lloyd run from a random start (as DeepCluster/faiss): some seeds merge two blobs
    scores = [nmi(cluster_features(x, 6, n_components=5, seed=s), truth) for s in range(4)]
    assert max(scores) == pytest.approx(1.0) and min(scores) > 0.85
    labels = cluster_features(x, 6, n_components=5, seed=1)
    assert nmi(labels, truth) == normalized_mutual_info_score(truth, labels)
    shuffled = rng.permutation(6)[truth]  # NMI ignores label names
    assert nmi(shuffled, truth) == pytest.approx(1.0)


def test_uniform_sampling_balances_clusters():
    rng = np.random.default_rng(5)
    labels = np.r_[np.zeros(900, int), np.ones(60, int), np.full(40, 7)]
    idx = uniform_label_sample(labels, 1000, seed=1)
    assert idx.shape == (1000,) and idx.dtype == np.int64
    counts = np.bincount(labels[idx], minlength=8)[[0, 1, 7]]
    per = 1000 // 3 + 1
    assert counts.sum() == 1000 and counts.max() <= per and counts.min() >= 1000 - 2 * per
    np.testing.assert_array_equal(idx, uniform_label_sample(labels, 1000, seed=1))
    assert not np.array_equal(idx, uniform_label_sample(labels, 1000, seed=2))
    small = np.flatnonzero(labels == 7)
    assert set(idx[labels[idx] == 7]) <= set(small)
    del rng


def test_bad_features_named():
    x = np.ones((5, 4))
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"row 3, column 2"):
        pca_whiten_l2(x, 2)
    with pytest.raises(ValueError, match="n_components=9"):
        pca_whiten_l2(np.ones((5, 4)), 9)
    with pytest.raises(ValueError, match="k=7"):
        kmeans(np.zeros((5, 2)), 7)
