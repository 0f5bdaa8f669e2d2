"""Tests for brainalign.rsa.mantel against independent oracles.

Oracles: scipy.stats.kendalltau (tau-b), rsatoolbox (tau-a), scipy spearmanr/pearsonr, and
skbio.stats.distance.mantel fed the same permutations (same seeded Generator).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats as ss
from rsatoolbox.rdm.compare import compare_kendall_tau_a
from scipy.spatial.distance import pdist, squareform
from skbio.stats.distance import mantel as skbio_mantel

from brainalign.rsa import _kernels
from brainalign.rsa.compare import (
    kendall_fixed,
    kendall_mode,
    kendall_permuted,
    kendall_s,
)
from brainalign.rsa.condensed import condensed
from brainalign.rsa.mantel import (
    MantelResult,
    draw_permutations,
    mantel_many,
    mantel_test,
    partial_mantel_test,
    permutation_statistics,
)


def _rdm(rng: np.random.Generator, n: int, decimals: int | None = None, latent=None):
    feats = rng.normal(size=(n, 8))
    if latent is not None:
        feats = feats + latent
    d = squareform(pdist(feats, metric="correlation"))
    return d if decimals is None else np.round(d, decimals)


def _permuted(d: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Condensed form of d with rows and columns permuted by p (as scikit-bio does)."""
    return condensed(d[np.ix_(p, p)])


# decimals (x, y): no ties, ties on the permuted side only, on the fixed side only, both sides
TIES = {
    "no_ties": (None, None),
    "ties_x": (1, None),
    "ties_y": (None, 1),
    "ties_both": (1, 1),
}


@pytest.fixture(params=list(TIES), ids=list(TIES))
def xy(request):
    rng = np.random.default_rng(list(TIES).index(request.param) + 100)
    dx, dy = TIES[request.param]
    latent = rng.normal(size=(24, 8))
    return _rdm(rng, 24, dx, latent), _rdm(rng, 24, dy, latent)


# ----------------------------------------------------------------------------- permutations


def test_draw_permutations_is_skbio_sequence():
    """Row k is the k-th rng.permutation(N) call: the permutations skbio's mantel draws."""
    perms = draw_permutations(17, 300, 42)
    rng = np.random.default_rng(42)
    expected = np.array([rng.permutation(17) for _ in range(300)])
    np.testing.assert_array_equal(perms, expected)
    assert perms.shape == (300, 17)
    assert np.issubdtype(perms.dtype, np.integer)
    np.testing.assert_array_equal(np.sort(perms, axis=1), np.tile(np.arange(17), (300, 1)))


def test_draw_permutations_seed_behaviour():
    np.testing.assert_array_equal(draw_permutations(10, 50, 3), draw_permutations(10, 50, 3))
    assert not np.array_equal(draw_permutations(10, 50, 3), draw_permutations(10, 50, 4))
    gen = np.random.default_rng(3)
    first = draw_permutations(10, 50, gen)
    second = draw_permutations(10, 50, gen)  # the Generator advances
    np.testing.assert_array_equal(first, draw_permutations(10, 50, 3))
    assert not np.array_equal(first, second)
    assert draw_permutations(5, 0, 1).shape == (0, 5)


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 5, 1), "n_items"), ((5, -1, 1), "n_permutations"), ((5, 5, "a"), "seed")],
)
def test_draw_permutations_errors(args, match):
    with pytest.raises(ValueError, match=match):
        draw_permutations(*args)


# ----------------------------------------------------------------------------- exactness


def test_every_tau_b_equals_scipy(xy):
    x, y = xy
    perms = draw_permutations(x.shape[0], 300, 9)
    obs, null = permutation_statistics(x, y, "tau_b", perms)
    vy = condensed(y)
    assert abs(obs - ss.kendalltau(condensed(x), vy).statistic) <= 1e-12
    expected = np.array([ss.kendalltau(_permuted(x, p), vy).statistic for p in perms])
    np.testing.assert_allclose(null, expected, rtol=0, atol=1e-12)


def test_every_tau_a_equals_rsatoolbox(xy):
    x, y = xy
    perms = draw_permutations(x.shape[0], 300, 10)
    obs, null = permutation_statistics(x, y, "tau_a", perms)
    vy = condensed(y)[None, :]
    assert abs(obs - compare_kendall_tau_a(condensed(x)[None, :], vy)[0, 0]) <= 1e-12
    xs = np.array([_permuted(x, p) for p in perms])
    expected = compare_kendall_tau_a(xs, vy)[:, 0]
    np.testing.assert_allclose(null, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_every_correlation_equals_scipy(xy, method):
    x, y = xy
    f = ss.spearmanr if method == "spearman" else ss.pearsonr
    perms = draw_permutations(x.shape[0], 200, 11)
    obs, null = permutation_statistics(x, y, method, perms)
    vy = condensed(y)
    assert abs(obs - f(condensed(x), vy).statistic) <= 1e-12
    expected = np.array([f(_permuted(x, p), vy).statistic for p in perms])
    np.testing.assert_allclose(null, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_kendall_pvalue_equals_skbio(xy, alternative):
    x, y = xy
    n_perm = 199
    ours = mantel_test(x, y, "tau_b", n_perm, alternative, seed=5)
    # the same permutations, passed explicitly
    explicit = mantel_test(x, y, "tau_b", draw_permutations(24, n_perm, 5), alternative)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stat, p, _ = skbio_mantel(
            x, y, method="kendalltau", permutations=n_perm, alternative=alternative, seed=5
        )
    assert abs(ours.statistic - stat) <= 1e-12
    assert ours.pvalue == p
    assert explicit == ours
    assert ours == MantelResult(ours.statistic, p, n_perm, "tau_b", alternative)


def test_tau_a_and_tau_b_give_identical_pvalues(xy):
    x, y = xy
    a = mantel_test(x, y, "tau_a", 400, seed=1)
    b = mantel_test(x, y, "tau_b", 400, seed=1)
    assert a.pvalue == b.pvalue
    assert abs(a.statistic) <= abs(b.statistic)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_correlation_pvalue_equals_skbio(xy, method):
    x, y = xy
    ours = mantel_test(x, y, method, 999, "two-sided", seed=8)
    stat, p, _ = skbio_mantel(x, y, method=method, permutations=999, seed=8)
    assert abs(ours.statistic - stat) <= 1e-12
    assert ours.pvalue == p


def test_study_sized_test_equals_skbio():
    """92 items / 4,186 pairs as in the study, correlation-distance RDMs."""
    rng = np.random.default_rng(12)
    latent = rng.normal(size=(92, 8)) * 1.5
    x, y = _rdm(rng, 92, None, latent), _rdm(rng, 92, None, latent)
    ours = mantel_test(x, y, "tau_b", 200, seed=2)
    stat, p, n = skbio_mantel(x, y, method="kendalltau", permutations=200, seed=2)
    assert n == 92
    assert abs(ours.statistic - stat) <= 1e-12
    assert ours.pvalue == p
    assert ours.pvalue < 0.05  # there is real shared structure


def _light_ties(v: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Copy k values onto k others: a few exact duplicates, as float32 storage produces."""
    v = v.copy()
    idx = rng.choice(v.size, 2 * k, replace=False)
    v[idx[:k]] = v[idx[k:]]
    return v


LIGHT = {"light_x": (6, 0), "light_y": (0, 9), "light_both": (6, 9)}


@pytest.mark.parametrize("case", list(LIGHT))
def test_light_ties_every_tau_equals_scipy(case):
    """A few duplicates (the exact tie-correction path of the kernel)."""
    rng = np.random.default_rng(list(LIGHT).index(case) + 50)
    n = 26
    kx, ky = LIGHT[case]
    vx = _light_ties(condensed(_rdm(rng, n)), kx, rng)
    vy = _light_ties(condensed(_rdm(rng, n)), ky, rng)
    fixed, perm = kendall_fixed(vx, n), kendall_permuted(vy, n)
    assert kendall_mode(vx.size, fixed, perm) == _kernels.MODE_CORRECTED
    perms = draw_permutations(n, 300, 12)
    obs, null = permutation_statistics(vx, vy, "tau_b", perms)
    x = squareform(vx)
    assert abs(obs - ss.kendalltau(vx, vy).statistic) <= 1e-12
    expected = np.array([ss.kendalltau(_permuted(x, p), vy).statistic for p in perms])
    np.testing.assert_allclose(null, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("ties", ["none", "light", "heavy"])
def test_all_kernel_modes_agree(ties):
    """Every exact mode of the Kendall kernel gives the same S, equal to scipy's."""
    rng = np.random.default_rng(60)
    n = 22
    vx, vy = condensed(_rdm(rng, n)), condensed(_rdm(rng, n))
    if ties == "light":
        vx, vy = _light_ties(vx, 4, rng), _light_ties(vy, 5, rng)
    elif ties == "heavy":
        vx, vy = np.round(vx, 1), np.round(vy, 1)
    fixed, perm = kendall_fixed(vx, n), kendall_permuted(vy, n)
    perms = draw_permutations(n, 200, 13)
    tot = vx.size * (vx.size - 1) // 2
    scale = np.sqrt(tot - fixed.ties) * np.sqrt(tot - perm.ties)
    x = squareform(vx)
    inv = np.argsort(perms, axis=1)  # kendall_s(invert=True) permutes x by p
    expected = np.array([ss.kendalltau(_permuted(x, p), vy).statistic for p in perms]) * scale
    modes = [_kernels.MODE_CORRECTED, _kernels.MODE_GROUPED, _kernels.MODE_FENWICK]
    if ties == "none":
        modes.append(_kernels.MODE_FAST)
    for mode in modes:
        s = kendall_s(fixed, [perm], perms, True, force_mode=mode)[0]
        np.testing.assert_allclose(s, expected, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(kendall_s(fixed, [perm], inv, False, force_mode=mode)[0], s)


LARGE_MODES = {
    "none": (_kernels.MODE_FAST, _kernels.MODE_CORRECTED, _kernels.MODE_GROUPED),
    "light": (_kernels.MODE_CORRECTED, _kernels.MODE_GROUPED),
    "heavy": (_kernels.MODE_GROUPED,),
}


@pytest.mark.parametrize("n", [300, 1000])
@pytest.mark.parametrize("ties", list(LARGE_MODES))
def test_large_rdms_bit_equal_to_scipy_in_every_mode(n, ties):
    """N = 300 (44,850 pairs: 4-level structure) and 1000 (499,500: 5 levels), with and
    without ties: every permuted tau is bit-equal to ``scipy.stats.kendalltau`` and every
    applicable kernel mode (the Fenwick fallback included) gives the same S."""
    rng = np.random.default_rng(n + 3 * len(ties))
    x, y = _rdm(rng, n), _rdm(rng, n, latent=0.0)
    vx, vy = condensed(x), condensed(y)
    if ties == "light":
        vx, vy = _light_ties(vx, 40, rng), _light_ties(vy, 25, rng)
    elif ties == "heavy":
        vx, vy = np.round(vx, 2), np.round(vy, 3)
    fixed, perm = kendall_fixed(vx, n), kendall_permuted(vy, n)
    assert vx.size > (1 << 14)  # beyond the 3-level structure
    assert kendall_mode(vx.size, fixed, perm) == LARGE_MODES[ties][0]
    perms = draw_permutations(n, 3, 9)
    obs, null = permutation_statistics(vx, vy, "tau_b", perms)
    assert obs == ss.kendalltau(vx, vy).statistic
    xs = squareform(vx)
    expected = np.array([ss.kendalltau(_permuted(xs, p), vy).statistic for p in perms])
    np.testing.assert_array_equal(null, expected)
    s_default = kendall_s(fixed, [perm], perms, True)[0]
    for mode in (*LARGE_MODES[ties], _kernels.MODE_FENWICK):
        np.testing.assert_array_equal(kendall_s(fixed, [perm], perms, True, force_mode=mode)[0],
                                      s_default)  # fmt: skip


# ----------------------------------------------------------------------------- many / threads


@pytest.mark.parametrize("method", ["tau_b", "tau_a", "spearman", "pearson"])
def test_mantel_many_equals_mantel_test(method):
    rng = np.random.default_rng(20)
    latent = rng.normal(size=(18, 8)) * 0.5
    x = _rdm(rng, 18, 1, latent)
    ys = np.stack([_rdm(rng, 18, None if s % 2 else 1, latent) for s in range(5)])
    perms = draw_permutations(18, 300, 3)
    stats, pvals = mantel_many(x, ys, method, perms)
    assert stats.shape == pvals.shape == (5,)
    for s in range(5):
        r = mantel_test(x, ys[s], method, perms)
        assert r.statistic == stats[s]
        assert r.pvalue == pvals[s]
    # an int seed draws the same permutations; condensed input gives the same result
    s2, p2 = mantel_many(condensed(x), [condensed(y) for y in ys], method, 300, seed=3)
    np.testing.assert_array_equal(s2, stats)
    np.testing.assert_array_equal(p2, pvals)


@pytest.mark.parametrize("method", ["tau_b", "tau_a", "spearman", "pearson"])
def test_one_and_two_threads_identical(method):
    rng = np.random.default_rng(21)
    x = _rdm(rng, 30, 1)
    ys = np.stack([_rdm(rng, 30) for _ in range(3)])
    kw = {"method": method, "permutations": 1001, "seed": 4}
    s1, p1 = mantel_many(x, ys, n_jobs=1, **kw)
    s2, p2 = mantel_many(x, ys, n_jobs=2, **kw)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(p1, p2)
    o1, n1 = permutation_statistics(x, ys[0], n_jobs=1, **kw)
    o2, n2 = permutation_statistics(x, ys[0], n_jobs=2, **kw)
    assert o1 == o2
    np.testing.assert_array_equal(n1, n2)
    if method in ("spearman", "pearson"):
        a = partial_mantel_test(x, ys[0], ys[1], n_jobs=1, **kw)
        b = partial_mantel_test(x, ys[0], ys[1], n_jobs=2, **kw)
        assert a == b


# ----------------------------------------------------------------------------- partial Mantel


def _partial_oracle(x, y, z, method, perms):
    corr = ss.spearmanr if method == "spearman" else ss.pearsonr

    def stat(vx, vy, vz):
        rxy, rxz, ryz = corr(vx, vy)[0], corr(vx, vz)[0], corr(vy, vz)[0]
        return (rxy - rxz * ryz) / np.sqrt((1 - rxz**2) * (1 - ryz**2))

    vy, vz = condensed(y), condensed(z)
    obs = stat(condensed(x), vy, vz)
    null = np.array([stat(_permuted(x, p), vy, vz) for p in perms])
    return obs, (np.sum(np.abs(null) >= np.abs(obs)) + 1) / (len(perms) + 1)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_partial_mantel_equals_direct_computation(method):
    rng = np.random.default_rng(30)
    n = 20
    shared = rng.normal(size=(n, 8))
    x = _rdm(rng, n, 1, shared)  # ties on x for the Spearman ranks
    y = _rdm(rng, n, None, shared)
    z = _rdm(rng, n, None, 0.5 * shared)
    perms = draw_permutations(n, 400, 6)
    res = partial_mantel_test(x, y, z, method, perms)
    obs, p = _partial_oracle(x, y, z, method, perms)
    assert abs(res.statistic - obs) <= 1e-12
    assert res.pvalue == p
    assert res.method == method and res.n_permutations == 400


def test_partial_mantel_removes_confound():
    """x and y both derive from z only: the plain test is significant, the partial one not."""
    rng = np.random.default_rng(31)
    n = 30
    zf = rng.normal(size=(n, 8))
    z = squareform(pdist(zf))
    x = squareform(pdist(zf + 0.6 * rng.normal(size=zf.shape)))
    y = squareform(pdist(zf + 0.6 * rng.normal(size=zf.shape)))
    assert mantel_test(x, y, "spearman", 999, seed=1).pvalue < 0.01
    assert partial_mantel_test(x, y, z, "spearman", 999, seed=1).pvalue > 0.05


# ----------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("method", ["tau_b", "spearman"])
def test_null_calibration(method):
    """Under a true null the rejection rate at alpha = 0.05 is within [0.03, 0.07]."""
    rng = np.random.default_rng(2024)
    n_sim, n = 1500, 10
    rejections = 0
    for _ in range(n_sim):
        x = squareform(pdist(rng.normal(size=(n, 3))))
        y = squareform(pdist(rng.normal(size=(n, 3))))
        rejections += mantel_test(x, y, method, 199, seed=rng).pvalue <= 0.05
    rate = rejections / n_sim
    assert 0.03 <= rate <= 0.07, rate


# ----------------------------------------------------------------------------- edge cases


def test_constant_rdm_gives_nan():
    rng = np.random.default_rng(40)
    x = _rdm(rng, 8)
    const = np.ones((8, 8)) - np.eye(8)
    for method in ["tau_b", "tau_a", "spearman", "pearson"]:
        r = mantel_test(x, const, method, 50)
        assert np.isnan(r.statistic) and np.isnan(r.pvalue)


def test_zero_permutations():
    rng = np.random.default_rng(41)
    x, y = _rdm(rng, 8), _rdm(rng, 8)
    r = mantel_test(x, y, permutations=0)
    assert np.isfinite(r.statistic) and np.isnan(r.pvalue) and r.n_permutations == 0


def test_invalid_arguments_raise():
    rng = np.random.default_rng(42)
    x, y = _rdm(rng, 8), _rdm(rng, 8)
    with pytest.raises(ValueError, match="'kendall'"):
        mantel_test(x, y, method="kendall")
    with pytest.raises(ValueError, match="'bigger'"):
        mantel_test(x, y, alternative="bigger")
    with pytest.raises(ValueError, match="'tau_b'"):
        partial_mantel_test(x, y, y, method="tau_b")
    with pytest.raises(ValueError, match=r"\(P, 8\).*\(5, 7\)"):
        mantel_test(x, y, permutations=np.zeros((5, 7), dtype=int))
    bad = draw_permutations(8, 5, 0)
    bad[3, 0] = bad[3, 1]
    with pytest.raises(ValueError, match=r"permutations\[3\]"):
        mantel_test(x, y, permutations=bad)
    with pytest.raises(ValueError, match="ys\\[1\\] has 36 pairs but x has 28"):
        mantel_many(x, [y, _rdm(rng, 9)])
    y_nan = y.copy()
    y_nan[0, 1] = y_nan[1, 0] = np.nan
    with pytest.raises(ValueError, match="y contains non-finite"):
        mantel_test(x, y_nan)
    x_asym = x.copy()
    x_asym[0, 1] += 1.0
    with pytest.raises(ValueError, match="x is not symmetric"):
        mantel_test(x_asym, y)
    with pytest.raises(ValueError, match="n_jobs"):
        mantel_test(x, y, n_jobs=0)


@pytest.mark.parametrize("n", [40, 200])
def test_mixed_modes_in_one_call_equal_separate_calls(n):
    """Permuted RDMs of every tie kind in one kernel call (shared gather indices, permutations
    processed in pairs, an odd count so the last one is alone) give the S of separate calls."""
    rng = np.random.default_rng(n)
    vx = condensed(_rdm(rng, n))
    vys = [condensed(_rdm(rng, n)) for _ in range(4)]
    vys[1] = _light_ties(vys[1], 7, rng)
    vys[2] = np.round(vys[2], 2)
    fixed = kendall_fixed(vx, n)
    sides = [kendall_permuted(v, n) for v in vys]
    perms = draw_permutations(n, 71, 4)
    together = kendall_s(fixed, sides, perms, True)
    modes = {kendall_mode(vx.size, fixed, p) for p in sides}
    assert {_kernels.MODE_FAST, _kernels.MODE_CORRECTED, _kernels.MODE_GROUPED} <= modes
    for k, side in enumerate(sides):
        np.testing.assert_array_equal(together[k], kendall_s(fixed, [side], perms, True)[0])
        single = np.stack([kendall_s(fixed, [side], perms[i : i + 1], True)[0] for i in (0, 70)])
        np.testing.assert_array_equal(single[:, 0], together[k, [0, 70]])
