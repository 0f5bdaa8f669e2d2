"""Permutation p-values, BH-FDR and bootstrap against direct references."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr, spearmanr
from statsmodels.stats.multitest import fdrcorrection

from brainalign.rsa.noise_ceiling import ceiling_mask
from brainalign.rsa.noise_ceiling import noise_ceiling_condensed as noise_ceiling
from brainalign.rsa.ols import DesignBases, clip_negative
from brainalign.rsa.partition import PartitionPlan, vpart2
from brainalign.stats.bootstrap import bootstrap_conditions
from brainalign.stats.fdr import fdr_bh, fdr_pairwise, fdr_two_level
from brainalign.stats.permutation import (
    condensed_permutation,
    iter_permutation_indices,
    permutation_indices,
    permutation_test,
    permutation_test_bases,
    subset_condensed_index,
)
from brainalign.studies.dwivedi2021.analysis import analyse_models, partition_statistic
from brainalign.studies.dwivedi2021.roi import subject_level_models


def _vec(rng, n, d=6):
    return pdist(rng.standard_normal((n, d)), "correlation")


def test_condensed_permutation_matches_matrix_relabelling():
    rng = np.random.default_rng(0)
    n = 9
    R = squareform(_vec(rng, n))
    perm = rng.permutation(n)
    idx = condensed_permutation(perm)
    np.testing.assert_array_equal(squareform(R)[idx], squareform(R[perm][:, perm]))
    sel = np.array([4, 1, 7, 2])
    np.testing.assert_array_equal(
        squareform(R)[subset_condensed_index(sel, n)], squareform(R[sel][:, sel])
    )
    with pytest.raises(ValueError, match="permutation"):
        condensed_permutation([0, 0, 1])


def test_permutation_indices_are_seeded_and_batch_independent():
    a = permutation_indices(45, 37, scheme="labels", seed=5)
    b = np.concatenate(list(iter_permutation_indices(45, 37, seed=5, batch_size=4)))
    np.testing.assert_array_equal(a, b)
    c = permutation_indices(45, 37, scheme="entries", seed=5)
    assert not np.array_equal(a, c)
    # entries scheme reproduces np.random.default_rng(seed).permutation(n_pairs)
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(c[0], rng.permutation(45))
    with pytest.raises(ValueError, match="'rows'"):
        permutation_indices(45, 3, scheme="rows")


@pytest.mark.parametrize("scheme", ["labels", "entries"])
def test_permutation_test_matches_direct_loop(scheme):
    rng = np.random.default_rng(1)
    n = 12
    models = {f"m{k}": np.stack([_vec(rng, n), _vec(rng, n)], axis=1) for k in range(3)}
    y = models["m1"][:, 0] + 0.8 * _vec(rng, n)
    db = DesignBases(models)

    def stat(Y):
        return clip_negative(db.adjusted_r2(Y.reshape(-1, Y.shape[-1]))).reshape(
            Y.shape[:-1] + (3,)
        )

    N = 199
    res = permutation_test(y, stat, n_permutations=N, scheme=scheme, seed=3, pairwise=True)
    # direct loop with the same permutations
    idx = permutation_indices(y.size, N, scheme=scheme, seed=3)
    obs = stat(y)
    cnt = np.zeros(3)
    cd = np.zeros((3, 3))
    dt = obs[:, None] - obs[None, :]
    for k in range(N):
        s = stat(y[idx[k]])
        cnt += s >= obs
        d = s[:, None] - s[None, :]
        cd += np.where(dt >= 0, d >= dt, d <= dt)
    np.testing.assert_array_equal(res.p, (cnt + 1) / (N + 1))
    exp = (cd + 1) / (N + 1)
    np.fill_diagonal(exp, 1.0)
    np.testing.assert_array_equal(res.p_diff, exp)
    assert res.p[1] == pytest.approx(1 / (N + 1))  # planted model is significant
    # stacks: every row gets the same permutation
    res2 = permutation_test(np.stack([y, y]), stat, n_permutations=N, scheme=scheme, seed=3)
    np.testing.assert_array_equal(res2.p[0], res.p)
    np.testing.assert_array_equal(res2.p[1], res.p)


def test_label_null_is_uniform():
    """Under the label null the p-values are (discretely) uniform."""
    rng = np.random.default_rng(7)
    n = 10
    X = _vec(rng, n)[:, None]
    db = DesignBases({"m": X})
    ps = []
    for k in range(60):
        y = _vec(rng, n)
        r = permutation_test(
            y,
            lambda Y: db.r2(Y.reshape(-1, 45)).reshape(Y.shape[:-1] + (1,)),
            n_permutations=99,
            seed=k,
        )
        ps.append(r.p[0])
    ps = np.array(ps)
    assert 0.3 < ps.mean() < 0.7
    assert np.mean(ps <= 0.05) < 0.2


def test_fdr_matches_statsmodels():
    rng = np.random.default_rng(4)
    P = rng.uniform(size=(5, 40)) ** 3
    rej, adj = fdr_bh(P, alpha=0.05, axis=1)
    for r in range(5):
        rr, aa = fdrcorrection(P[r], alpha=0.05)
        np.testing.assert_array_equal(rej[r], rr)
        np.testing.assert_allclose(adj[r], aa, rtol=1e-12)
    # along axis 0 and with a mask
    m = rng.uniform(size=40) > 0.3
    rej0, adj0 = fdr_bh(P[0], mask=m)
    rr, aa = fdrcorrection(P[0][m])
    np.testing.assert_allclose(adj0[m], aa)
    assert np.all(np.isnan(adj0[~m])) and not rej0[~m].any()
    with pytest.raises(ValueError, match="1.5"):
        fdr_bh([0.1, 1.5])


def test_fdr_pairwise_and_two_level():
    rng = np.random.default_rng(5)
    K = 4
    pd_ = rng.uniform(size=(3, K, K))
    out = fdr_pairwise(pd_)
    iu = np.triu_indices(K, 1)
    for s in range(3):
        _, aa = fdrcorrection(pd_[s][iu])
        np.testing.assert_allclose(out[s][iu], aa)
        np.testing.assert_allclose(out[s].T[iu], aa)
    P = rng.uniform(size=(30, K)) ** 2
    keep = rng.uniform(size=30) > 0.4
    within, across = fdr_two_level(P, keep=keep)
    for s in range(30):
        np.testing.assert_allclose(within[s], fdrcorrection(P[s])[1])
    for k in range(K):
        np.testing.assert_allclose(across[keep, k], fdrcorrection(within[keep, k])[1])
        assert np.all(np.isnan(across[~keep, k]))


def test_bootstrap_matches_direct_loop():
    rng = np.random.default_rng(6)
    n = 12
    sets = {"a": _vec(rng, n)[:, None], "b": _vec(rng, n)[:, None]}
    y = sets["a"][:, 0] + _vec(rng, n)

    def stat(ys, S):
        return vpart2(ys, S["a"], S["b"])["unique"]

    draws = bootstrap_conditions(y, sets, stat, n_bootstrap=25, ratio=0.9, seed=9)
    assert draws.shape == (25, 2)
    rng2 = np.random.default_rng(9)
    R = squareform(y)
    for k in range(25):
        sel = rng2.choice(n, size=10, replace=False)
        ys = squareform(R[sel][:, sel], checks=False)
        Sa = squareform(squareform(sets["a"][:, 0])[sel][:, sel], checks=False)[:, None]
        Sb = squareform(squareform(sets["b"][:, 0])[sel][:, sel], checks=False)[:, None]
        np.testing.assert_allclose(draws[k], vpart2(ys, Sa, Sb)["unique"], rtol=1e-12)
    again = bootstrap_conditions(y, sets, stat, n_bootstrap=25, ratio=0.9, seed=9)
    np.testing.assert_array_equal(draws, again)


# ---- noise ceilings (brainalign.rsa.noise_ceiling) ----


@pytest.mark.parametrize("statistic", ["spearman", "pearson"])
def test_noise_ceiling_equals_direct_loop(statistic):
    rng = np.random.default_rng(0)
    S, L, P = 5, 7, 66
    common = rng.standard_normal((L, P))
    R = common[None] + rng.standard_normal((S, L, P))
    R[0, 0, :10] = R[0, 0, 0]  # ties
    lo, up = noise_ceiling(R, statistic=statistic)
    f = spearmanr if statistic == "spearman" else pearsonr
    for j in range(L):
        lnc = unc = 0.0
        for s in range(S):
            others = np.mean(np.delete(R[:, j], s, axis=0), axis=0)
            lnc += f(R[s, j], others)[0]
            unc += f(R[s, j], np.mean(R[:, j], axis=0))[0]
        assert lo[j] == pytest.approx(lnc / S, rel=1e-10)
        assert up[j] == pytest.approx(unc / S, rel=1e-10)
    assert np.all(up >= lo)


def test_ceiling_mask_and_errors():
    np.testing.assert_array_equal(ceiling_mask([0.1, 0.033, 0.01, np.nan]), [1, 1, 0, 0])
    with pytest.raises(ValueError, match="kendall"):
        noise_ceiling(np.zeros((3, 10)), statistic="kendall")
    with pytest.raises(ValueError, match="2 subjects"):
        noise_ceiling(np.zeros((1, 10)))


@pytest.mark.parametrize("scheme", ["labels", "entries"])
def test_permuting_bases_equals_permuting_brain(scheme):
    rng = np.random.default_rng(8)
    n = 11
    sets = {g: np.stack([_vec(rng, n), _vec(rng, n)], axis=1) for g in ("a", "b", "c")}
    Y = np.stack([sets["a"][:, 0] + _vec(rng, n), _vec(rng, n), sets["c"].sum(1) + _vec(rng, n)])
    plan = PartitionPlan(sets)

    def stat_y(Yp):
        flat = Yp.reshape(-1, Yp.shape[-1])
        return plan(flat)["unique"].reshape(Yp.shape[:-1] + (3,))

    slow = permutation_test(Y, stat_y, n_permutations=150, scheme=scheme, seed=4, pairwise=True)
    fast = permutation_test_bases(
        Y,
        plan.bases,
        partition_statistic(plan),
        n_permutations=150,
        scheme=scheme,
        seed=4,
        pairwise=True,
        max_elements=200,
    )
    np.testing.assert_allclose(fast.observed, slow.observed, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(fast.p, slow.p)
    np.testing.assert_array_equal(fast.p_diff, slow.p_diff)
    out = analyse_models(
        Y[0], sets, analysis="partition", n_permutations=150, scheme=scheme, seed=4
    )
    np.testing.assert_array_equal(out["result"].p, slow.p[0])
    np.testing.assert_allclose(out["total"], plan(Y[0])["total"])
    ind = analyse_models(Y, sets, analysis="individual", n_permutations=50, seed=1)
    db = DesignBases(sets)
    np.testing.assert_allclose(ind["statistic"], clip_negative(db.adjusted_r2(Y)), rtol=1e-12)
    with pytest.raises(ValueError, match="'both'"):
        analyse_models(Y, sets, analysis="both")


def test_subject_level_models_match_scipy():
    from scipy.stats import ttest_1samp

    rng = np.random.default_rng(12)
    n = 9
    models = {"a": _vec(rng, n)[:, None], "b": np.stack([_vec(rng, n), _vec(rng, n)], 1)}
    R = np.stack([models["a"][:, 0] + 0.5 * _vec(rng, n) for _ in range(5)])
    df = subject_level_models({"roi": R}, models, mode="faithful")
    per = df[df["statistic"] == "r2adj_clipped"]
    db = DesignBases(models)
    np.testing.assert_allclose(
        per.pivot(index="subject", columns="model", values="value")[["a", "b"]].to_numpy(),
        clip_negative(db.adjusted_r2(R)),
    )
    test = df[df["statistic"] == "mean_r2adj_clipped"].set_index("model")
    vals = clip_negative(db.adjusted_r2(R))
    assert test.loc["a", "p"] == pytest.approx(ttest_1samp(vals[:, 0], 0.0).pvalue)
    assert test.loc["a", "p"] < 0.01
