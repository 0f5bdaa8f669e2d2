"""Correlation RDMs of layer activations: same ranks as the float64 ``1 - np.corrcoef``.

``compute_rdm`` accumulates a shifted Gram matrix block by block instead of centring a float64
copy (``benchmarks/bench_rdm.py`` times it); these tests pin that the condensed entries keep
exactly the ranks, ties included, of the float64 reference on realistic activations.
"""

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import rankdata

from brainalign.rsa import rdm as rdm_module
from brainalign.rsa.rdm import compute_rdm

N = 92


def reference(x: np.ndarray) -> np.ndarray:
    """The float64 reference: 1 - np.corrcoef of the features cast to float64."""
    return 1 - np.corrcoef(np.asarray(x, dtype=np.float64))


def condensed(a: np.ndarray) -> np.ndarray:
    return a[np.triu_indices(a.shape[0], 1)]


def assert_same_ranks(got: np.ndarray, ref: np.ndarray, atol: float = 1e-13) -> None:
    assert got.dtype == np.float64
    assert np.array_equal(got, got.T) and not np.any(np.diag(got))
    g, r = condensed(got), condensed(ref)
    np.testing.assert_allclose(g, r, rtol=0, atol=atol)
    assert np.array_equal(rankdata(g), rankdata(r))


def relu_layer(rng, channels: int, spatial: int = 1, n: int = N) -> np.ndarray:
    """Channel-major float32 ReLU activations: image structure, channel biases, many zeros."""
    p = channels * spatial
    x = rng.standard_normal((n, 10), dtype=np.float32) @ rng.standard_normal(
        (10, p), dtype=np.float32
    )
    x += 1.5 * rng.standard_normal((n, p), dtype=np.float32)
    x += np.repeat(rng.normal(-0.5, 2.0, channels).astype(np.float32), spatial)
    return np.maximum(x, 0.0)


@pytest.mark.parametrize(
    ("channels", "spatial"),
    [(64, 1), (384, 1), (4096, 1), (96, 13 * 13), (48, 27 * 27)],
    ids=["conv1-mean", "conv3-mean", "fc", "conv5-none", "conv2-none"],
)
def test_layer_rdm_ranks_equal_float64_corrcoef(channels, spatial):
    x = relu_layer(np.random.default_rng(channels + spatial), channels, spatial)
    assert (x == 0).mean() > 0.3  # ReLU zeros
    assert_same_ranks(compute_rdm(x), reference(x))


def test_blocked_accumulation_matches_one_block(monkeypatch):
    x = relu_layer(np.random.default_rng(5), 96, 121)  # 11,616 features
    one = compute_rdm(x)
    monkeypatch.setattr(rdm_module, "_BLOCK_BYTES", 8 * N * 1000)  # 12 blocks, a ragged last
    blocks = compute_rdm(x)
    assert_same_ranks(blocks, reference(x))
    np.testing.assert_allclose(blocks, one, rtol=0, atol=1e-14)
    assert np.array_equal(rankdata(condensed(blocks)), rankdata(condensed(one)))


@pytest.mark.parametrize("block_bytes", [None, 8 * N * 700])
def test_exact_ties_are_kept(monkeypatch, block_bytes):
    """Duplicated and power-of-two rescaled images: their exact ties survive.

    ``np.corrcoef`` normalises ``c_ij / s_i / s_j``, so its upper triangle splits such ties by
    an ulp (``d(5, 20)`` and ``d(20, 40)`` differ although rows 5 and 40 are equal); scipy's
    float64 ``pdist(x, "correlation")`` (``1 - uv / sqrt(uu vv)``, one pair at a time) keeps
    them and is the reference for ties.
    """
    if block_bytes:
        monkeypatch.setattr(rdm_module, "_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(7)
    x = relu_layer(rng, 64, 49)
    x[17] = x[5]
    x[40] = x[5]
    x[30] = 2 * x[8]  # exact in float32: the same correlations, bit for bit
    x[61] = 0.25 * x[8]
    got = compute_rdm(x)
    np.testing.assert_allclose(condensed(got), condensed(reference(x)), rtol=0, atol=1e-13)
    tie_ref = pdist(x.astype(np.float64), "correlation")
    n_ties = tie_ref.size - np.unique(tie_ref).size
    assert n_ties > 300  # 6 zero distances, and every other image ties 3 ways twice
    assert np.array_equal(rankdata(condensed(got)), rankdata(tie_ref))
    assert np.all(condensed(got)[[idx(5, 17), idx(5, 40), idx(8, 30), idx(30, 61)]] == 0)
    others = np.setdiff1d(np.arange(N), [5, 17, 40, 8, 30, 61])
    assert np.array_equal(got[5, others], got[40, others])
    assert np.array_equal(got[8, others], got[61, others])


def idx(i: int, j: int) -> int:
    """Position of pair (i, j), i < j, in the condensed vector."""
    return N * i - i * (i + 1) // 2 + (j - i - 1)


def test_float64_input_with_large_offset_and_spearman():
    rng = np.random.default_rng(3)
    x = relu_layer(rng, 512, 1).astype(np.float64) + 1e4  # big mean, small spread
    assert_same_ranks(compute_rdm(x), reference(x), atol=1e-10)
    ranks = rankdata(x, axis=1)
    assert_same_ranks(compute_rdm(x, "spearman"), reference(ranks), atol=1e-12)


def test_any_layout_and_dtype():
    x = relu_layer(np.random.default_rng(9), 300, 1)
    ref = reference(x)
    for variant in (np.asfortranarray(x), x.astype(np.float64), np.repeat(x, 2, axis=1)[:, ::2]):
        assert_same_ranks(compute_rdm(variant), ref)
    ints = np.random.default_rng(1).integers(0, 50, (N, 200))
    assert_same_ranks(compute_rdm(ints), reference(ints))


def test_same_bits_for_one_and_two_blas_threads(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(rdm_module, "_BLOCK_BYTES", 8 * N * 2000)
    x = relu_layer(np.random.default_rng(11), 96, 100)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        one = compute_rdm(x)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        two = compute_rdm(x)
    assert np.array_equal(one, two)


@pytest.mark.parametrize("block_bytes", [None, 8 * N * 500])
def test_constant_patterns_raise_and_near_constant_do_not(monkeypatch, block_bytes):
    if block_bytes:
        monkeypatch.setattr(rdm_module, "_BLOCK_BYTES", block_bytes)
    x = relu_layer(np.random.default_rng(2), 40, 49)  # 1,960 features
    x[3] = 0.0  # a dead image: every unit silent
    x[50] = np.float32(0.1)  # constant, not exactly representable: its mean rounds
    with pytest.raises(ValueError, match=r"item\(s\) \[3, 50\] have constant patterns"):
        compute_rdm(x)
    x[3] = x[4]
    x[50, 1000] = np.nextafter(np.float32(0.1), np.float32(1))  # one unit one ulp higher
    got = compute_rdm(x)
    assert np.all(np.isfinite(got))
    assert_same_ranks(got, reference(x), atol=1e-6)


@pytest.mark.parametrize("block_bytes", [None, 8 * N * 500])
def test_non_finite_rows_are_named(monkeypatch, block_bytes):
    if block_bytes:
        monkeypatch.setattr(rdm_module, "_BLOCK_BYTES", block_bytes)
    x = relu_layer(np.random.default_rng(4), 30, 49)
    x[6, 1200] = np.inf
    x[9, 7] = np.nan
    x[12, [3, 4]] = [np.inf, -np.inf]
    with pytest.raises(ValueError, match=r"NaN or inf for item\(s\) \[6, 9, 12\]"):
        compute_rdm(x)
    big = np.full((4, 10), 1e200) * np.arange(1, 11)
    with pytest.raises(ValueError, match="overflow float64"):
        compute_rdm(big)


def test_tiny_and_huge_scales():
    x = relu_layer(np.random.default_rng(8), 200, 1).astype(np.float64)
    ref = reference(x)
    for factor in (1e-100, 1e-80, 1e80, 1e150):  # var_i var_j out of range
        assert_same_ranks(compute_rdm(x * factor), ref, atol=1e-12)


def test_rescaled_rows_are_tied_whatever_blas_sums():
    """The tie repair does not rely on BLAS: distances of rows that are power-of-two multiples,
    split by an ulp here on purpose (as some CPUs' kernels do), become exact ties; a row that
    differs by one ulp in one feature is not tied to its near twin."""
    rng = np.random.default_rng(3)
    x = relu_layer(rng, 32, 4, n=12)
    x[7] = 4 * x[2]
    x[9] = x[2]
    x[11] = x[4]
    x[11, 5] = np.nextafter(x[11, 5], np.float32(np.inf))
    d = 1 - np.corrcoef(x.astype(np.float64))
    d = (d + d.T) / 2  # corrcoef itself is not exactly symmetric
    ulp = np.spacing(d)
    d[7, :] += ulp[7, :]  # row 7's sums split off by an ulp
    d[:, 7] = d[7, :]
    d[2, 9] = d[9, 2] = 1e-15
    np.fill_diagonal(d, 0.0)
    rdm_module._tie_rescaled_rows(x, d)
    for member in (7, 9):
        others = np.setdiff1d(np.arange(12), [2, 7, 9])
        assert np.array_equal(d[member, others], d[2, others])
        assert d[member, 2] == 0.0 and d[2, member] == 0.0
    assert np.array_equal(d, d.T)
    assert d[4, 11] > 0 and not np.array_equal(d[11], d[4])
