"""Issue 11: the corrected statistics hold under the null; the faithful ones are the original's.

Null-calibration tests simulate studies with no effect (brain RDMs with condition row effects,
independent of the models) and check the false-positive rate against alpha within Monte-Carlo
error; the faithful variants are checked against the original's procedures.
"""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import binom, norm

from brainalign.io import write_table
from brainalign.rsa.condensed import condensed_index_pairs
from brainalign.rsa.partition import PartitionPlan, variance_partition_gram
from brainalign.stats.bootstrap import bootstrap_conditions, bootstrap_difference_p
from brainalign.stats.fdr import (
    fdr_bh,
    fdr_pairwise,
    fdr_two_level,
    permutations_for_share,
    selective_adjust,
)
from brainalign.stats.permutation import permutation_test_bases
from brainalign.studies.dwivedi2021.analysis import (
    check_mode,
    group_rdms,
    partition_statistic,
    searchlight_tests,
)
from brainalign.studies.dwivedi2021.roi import rank_models, roi_analysis, subject_level_models

ALPHA = 0.05


def _vec(rng, n, d=5):
    return pdist(rng.standard_normal((n, d)), "correlation")


def _null_rdms(rng, n_rdms, n_conditions, row_sd=1.0):
    """Brain RDMs with no model effect: noise plus condition row effects r_i + r_j."""
    iu, ju = condensed_index_pairs(n_conditions)
    r = row_sd * rng.standard_normal((n_rdms, n_conditions))
    return rng.standard_normal((n_rdms, iu.size)) + r[:, iu] + r[:, ju]


def _upper(n, alpha=ALPHA, q=0.999):
    """Upper Monte-Carlo bound of a false-positive count under rate ``alpha``."""
    return binom.ppf(q, n, alpha)


def test_mode_is_checked():
    assert check_mode("faithful") == "faithful"
    with pytest.raises(ValueError, match="'corrected' or 'faithful'"):
        check_mode("strict")


# ---- item 7: subject labels ------------------------------------------------------------------
def test_subject_labels_are_integers(tmp_path):
    rng = np.random.default_rng(0)
    models = {"a": _vec(rng, 8)[:, None], "b": _vec(rng, 8)[:, None]}
    df = subject_level_models({"roi": np.stack([_vec(rng, 8) for _ in range(3)])}, models)
    assert str(df["subject"].dtype) == "Int64"
    assert list(df["subject"].dropna().unique()) == [1, 2, 3]
    write_table(df, tmp_path / "t.csv")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[1].split(",")[1] == "1" and ".0" not in lines[1].split(",")[1]


# ---- item 6: one BH over the searchlight family ----------------------------------------------
def _sl_data(seed, n=30, n_conditions=10):
    rng = np.random.default_rng(seed)
    sets = {m: _vec(rng, n_conditions)[:, None] for m in ("a", "b", "c")}
    Y = _null_rdms(rng, n, n_conditions)
    return Y, np.full(n, 0.5), sets


@pytest.mark.parametrize("analysis", ["individual", "partition"])
def test_searchlight_fdr_faithful_two_level_corrected_one_family(analysis):
    Y, lo, sets = _sl_data(1)
    lo[:4] = 0.0  # dropped by the noise ceiling
    Y[6:12] += 4 * sets["a"][:, 0]
    kw = dict(analysis=analysis, n_permutations=999, seed=3)
    f = searchlight_tests(Y, lo, sets, mode="faithful", **kw)
    c = searchlight_tests(Y, lo, sets, **kw)
    np.testing.assert_array_equal(f["p"], c["p"])
    keep = f["keep"]
    _, two = fdr_two_level(np.where(keep[:, None], f["p"], np.nan), keep=keep)
    np.testing.assert_array_equal(f["p_across"], two)
    _, one = fdr_bh(np.where(keep[:, None], c["p"], np.nan), axis=None)
    np.testing.assert_array_equal(c["p_across"], one)
    assert np.all(np.isnan(c["p_across"][~keep]))
    if analysis == "partition":
        # faithful: the permutation counts, BH within the searchlight, then BH across
        plan = PartitionPlan(sets)
        perm = permutation_test_bases(Y[keep], plan.bases, partition_statistic(plan),
                                      n_permutations=999, seed=3, pairwise=True)  # fmt: skip
        np.testing.assert_array_equal(f["p_diff"][keep], fdr_pairwise(perm.p_diff))
        _, across = fdr_bh(f["p_diff_max"], axis=None, mask=keep)
        np.testing.assert_array_equal(f["p_diff_max_across"], across)
        # corrected: the bootstrap over conditions, tested in the selected searchlights
        sel = keep & (c["p_across"][np.arange(len(keep)), np.argmax(c["statistic"], 1)] <= ALPHA)
        m, r = keep.sum(), sel.sum()
        np.testing.assert_allclose(
            c["p_diff_max_across"][sel], np.minimum(1, c["p_diff_max"][sel] * m / r)
        )
        assert np.all(np.isnan(c["p_diff_max_across"][~sel]))
        # 10 conditions: the bootstrap has little power, but never labels the wrong group
        assert (f["labels"][6:12] == 0).all() and np.isin(c["labels"][6:12], (-1, 0)).all()
    else:
        assert (c["labels"][6:12] >= 0).all()


def test_permutations_for_share_lets_that_share_pass():
    """The 'auto' count: a block of share x m tests at the smallest p passes BH; one fewer
    permutation and it does not."""
    for alpha, share, m in ((0.05, 0.01, 5000), (0.05, 0.1, 300), (0.01, 0.02, 1000)):
        n = permutations_for_share(alpha, share)
        k = int(round(share * m))
        for count, passes in ((n, True), (n - 1, False)):
            P = np.ones(m)
            P[:k] = 1 / (count + 1)
            assert (fdr_bh(P, alpha=alpha)[1][:k] <= alpha).all() == passes, (alpha, share, count)
    assert permutations_for_share(0.05, 0.01) == 1999


def test_selective_adjust():
    keep = np.array([True, True, True, True, False])
    p_sel = np.array([0.01, 0.2, 0.04, 0.03, 0.0])
    p_fol = np.array([0.02, 0.001, 0.5, np.nan, 0.0])
    out = selective_adjust(p_fol, p_sel, keep)
    # selected: 0, 2 (3 has no follow-up p) -> R = 2 of m = 4 kept
    np.testing.assert_allclose(out, [0.04, np.nan, 1.0, np.nan, np.nan])


@pytest.mark.slow
def test_grouped_map_winner_null_calibration():
    """Two groups contribute equally to every searchlight (strongly, so the winner's unique
    variance is significant): each searchlight labelled 'winner beats the others' is a false
    claim. Corrected (bootstrap, selective level): their share of the selected searchlights stays
    within Monte-Carlo error of alpha; the faithful permutation counts label most of them."""
    n_sl, n_studies, n_cond = 20, 25, 14
    false = {"corrected": 0, "faithful": 0}
    selected = 0
    for s in range(n_studies):
        rng = np.random.default_rng([91, s])
        F = rng.standard_normal((n_cond, 6))
        sets = {"a": pdist(F[:, :3])[:, None], "b": pdist(F[:, 3:])[:, None]}
        Y = np.stack([_equal_contributors_given(rng, sets, n_cond) for _ in range(n_sl)])
        for mode in false:
            res = searchlight_tests(Y, np.ones(n_sl), sets, analysis="partition",
                                    n_permutations=199, seed=s, mode=mode)  # fmt: skip
            false[mode] += int((res["labels"] >= 0).sum())
            if mode == "corrected":
                best = np.argmax(res["statistic"], 1)
                selected += int((res["p_across"][np.arange(n_sl), best] <= ALPHA).sum())
    print(f"false 'beats' labels of {selected} selected: {false}")
    assert selected > 0.5 * n_sl * n_studies
    assert false["corrected"] <= _upper(selected)
    assert false["faithful"] > 3 * false["corrected"] + 10


@pytest.mark.slow
def test_searchlight_corrected_null_calibration():
    """Complete null, 8 searchlights x 2 models, row effects: the chance of any significant
    searchlight (FWER = FDR under the complete null) is within Monte-Carlo error of alpha."""
    n_studies, hits = 300, 0
    for s in range(n_studies):
        rng = np.random.default_rng(1000 + s)
        sets = {m: _vec(rng, 9)[:, None] for m in ("a", "b")}
        Y = _null_rdms(rng, 8, 9)
        res = searchlight_tests(Y, np.ones(8), sets, n_permutations=399, seed=s)
        hits += bool((res["labels"] >= 0).any())
    rate = hits / n_studies
    print(f"searchlight corrected FWER under the null: {rate:.3f}")
    assert hits <= _upper(n_studies)


def test_one_family_bh_controls_fdr():
    """Mixed null/non-null p-values over searchlights x models (an effect for model 0 in 20 % of
    searchlights): the FDP of the declarations averaged over studies stays below alpha with one BH
    over the family (the faithful two-level procedure has no such guarantee: its second BH runs
    on adjusted p-values, per model)."""
    rng = np.random.default_rng(5)
    n, K, reps = 400, 3, 200
    fdp = {"corrected": [], "faithful": []}
    for _ in range(reps):
        signal = np.zeros((n, K), bool)
        signal[: n // 5, 0] = True
        P = norm.sf(rng.standard_normal((n, K)) + 2.5 * signal)
        for mode in fdp:
            if mode == "faithful":
                rej = fdr_two_level(P)[1] <= ALPHA
            else:
                rej = fdr_bh(P, axis=None)[1] <= ALPHA
            fdp[mode].append((rej & ~signal).sum() / max(1, rej.sum()))
    mean = {m: float(np.mean(v)) for m, v in fdp.items()}
    print("mean FDP:", mean)
    se = np.std(fdp["corrected"]) / np.sqrt(reps)
    assert mean["corrected"] <= ALPHA + 3 * se


# ---- item 4: ranking on the unclipped adjusted R², ties explicit -----------------------------
def test_rank_models_faithful_and_corrected():
    v = np.array([0.0, 0.2, 0.0, 0.2, -0.1])
    rank, top = rank_models(v, 3, mode="faithful")
    np.testing.assert_array_equal(rank, [3, 1, 4, 2, 5])
    np.testing.assert_array_equal(top, [1, 3, 0])
    rank, top = rank_models(v, 3, mode="corrected")
    np.testing.assert_array_equal(rank, [3, 1, 3, 1, 5])
    np.testing.assert_array_equal(top, [1, 3, 0, 2])  # both models tied at rank 3 enter
    rank, top = rank_models([0.1, -0.3, -0.2], 2)
    np.testing.assert_array_equal(top, [0, 2])


def test_roi_top_models_on_unclipped_values():
    """Under the null most clipped values are 0: the faithful top 3 is the list order, the
    corrected one the best unclipped adjusted R²."""
    rng = np.random.default_rng(2)
    n = 10
    models = {f"m{i}": _vec(rng, n)[:, None] for i in range(6)}
    groups = {m: "g1" if i < 3 else "g2" for i, m in enumerate(models)}
    R = {"r": _null_rdms(rng, 4, n)}
    kw = dict(n_permutations=20, n_bootstrap=5, seed=1)
    c = roi_analysis(R, models, groups, **kw)
    f = roi_analysis(R, models, groups, mode="faithful", **kw)
    ind = c["individual"]
    assert set(ind["statistic"]) == {"r2adj"} and (ind["value"] < 0).any()
    best = ind.sort_values("value", ascending=False)["model"].head(3).tolist()
    assert c["top3"]["model"].tolist() == best
    fi = f["individual"]
    assert set(fi["statistic"]) == {"r2adj_clipped"} and (fi["value"] >= 0).all()
    order = fi.sort_values(["value", "rank"], ascending=[False, True])["model"].head(3).tolist()
    assert f["top3"]["model"].tolist() == order
    # p-values of positive statistics are the same either way
    pos = ind["value"].to_numpy() > 0
    np.testing.assert_array_equal(ind["p"].to_numpy()[pos], fi["p"].to_numpy()[pos])


# ---- item 3: bootstrap standard errors -------------------------------------------------------
def test_bootstrap_with_replacement_drops_self_pairs():
    rng = np.random.default_rng(3)
    n = 9
    y = _vec(rng, n)
    sizes = []

    def stat(ys, S):
        sizes.append(ys.size)
        return np.array([ys.mean()])

    d = bootstrap_conditions(y, {"a": _vec(rng, n)}, stat, n_bootstrap=30, seed=4, replace=True)
    assert d.shape == (30, 1) and max(sizes) < n * (n - 1) // 2
    again = bootstrap_conditions(y, {"a": _vec(rng, n)}, stat, n_bootstrap=30, seed=4,
                                 replace=True)  # fmt: skip
    np.testing.assert_array_equal(d, again)


@pytest.mark.slow
def test_bootstrap_se_matches_sampling_sd():
    """Draw new condition sets from one population: the SD of the unique adj. R² across studies
    is matched by the mean bootstrap SE (with replacement), not by the original's subsample SD."""
    rng = np.random.default_rng(7)
    n, studies, B = 20, 150, 100
    stat_of = lambda ys, S: variance_partition_gram(ys, S)["unique"]  # noqa: E731
    vals, se, sd = [], [], []
    for s in range(studies):
        feats = rng.standard_normal((n, 6))
        a = pdist(feats[:, :3], "euclidean")
        b = pdist(feats[:, 3:], "euclidean")
        y = a + 0.5 * b + 1.5 * pdist(rng.standard_normal((n, 4)), "euclidean")
        sets = {"a": a[:, None], "b": b[:, None]}
        vals.append(stat_of(y, sets))
        se.append(bootstrap_conditions(y, sets, stat_of, n_bootstrap=B, seed=s,
                                       replace=True).std(0, ddof=1))  # fmt: skip
        sd.append(bootstrap_conditions(y, sets, stat_of, n_bootstrap=B, seed=s,
                                       ratio=0.9).std(0, ddof=1))  # fmt: skip
    true_sd = np.std(vals, axis=0, ddof=1)
    ratio_se = np.mean(se, axis=0) / true_sd
    ratio_sd = np.mean(sd, axis=0) / true_sd
    print("bootstrap SE / sampling SD:", ratio_se, "subsample SD / sampling SD:", ratio_sd)
    assert np.all((ratio_se > 0.75) & (ratio_se < 1.5))
    assert np.all(ratio_sd < 0.5)


def test_roi_error_bar_columns():
    rng = np.random.default_rng(4)
    n = 9
    models = {f"m{i}": _vec(rng, n)[:, None] for i in range(4)}
    groups = {m: "g1" if i < 2 else "g2" for i, m in enumerate(models)}
    R = {"r": np.stack([models["m0"][:, 0] + _vec(rng, n) for _ in range(3)])}
    kw = dict(n_permutations=10, n_bootstrap=8, seed=2)
    c = roi_analysis(R, models, groups, **kw)
    f = roi_analysis(R, models, groups, mode="faithful", **kw)
    for key in ("top3", "grouped"):
        assert "se" in c[key] and "sd" not in c[key]
        assert "sd" in f[key] and "se" not in f[key]
        assert np.all(np.isfinite(c[key]["se"])) and np.all(c[key]["se"] > 0)
    assert c["grouped"]["group"].tolist() == f["grouped"]["group"].tolist() == ["g1", "g2"]
    assert list(group_rdms(models, groups)) == ["g1", "g2"]


# ---- item 1: subject-level inference ---------------------------------------------------------
def _subject_null_study(rng, n_subjects, n_conditions=9):
    """Subject RDMs with shared and individual condition row effects, no model effect."""
    iu, ju = condensed_index_pairs(n_conditions)
    shared = rng.standard_normal(n_conditions)
    R = _null_rdms(rng, n_subjects, n_conditions) + (shared[iu] + shared[ju])[None]
    models = {"a": _vec(rng, n_conditions)[:, None], "b": _vec(rng, n_conditions)[:, None]}
    return {"roi": R}, models


@pytest.mark.parametrize("n_subjects", [16, 32])
def test_subject_level_corrected_null_calibration(n_subjects):
    """No effect: the corrected test of model ``a`` rejects at rate alpha (Monte-Carlo bounds);
    the faithful t-test on clipped values is printed for comparison."""
    n_studies = 300
    hits = {"corrected": 0, "faithful": 0}
    for s in range(n_studies):
        rng = np.random.default_rng([n_subjects, s])
        rois, models = _subject_null_study(rng, n_subjects)
        for mode in hits:
            df = subject_level_models(rois, models, mode=mode, n_permutations=99, seed=s)
            test = df[df["subject"].isna()].set_index("model")
            hits[mode] += bool(test.loc["a", "p"] <= ALPHA)
    rates = {m: h / n_studies for m, h in hits.items()}
    print(f"{n_subjects} subjects, false-positive rate:", rates)
    assert binom.ppf(0.0005, n_studies, ALPHA) <= hits["corrected"] <= _upper(n_studies)


def test_subject_level_corrected_finds_an_effect_and_faithful_is_the_t_test():
    rng = np.random.default_rng(9)
    n = 9
    models = {"a": _vec(rng, n)[:, None], "b": _vec(rng, n)[:, None]}
    R = np.stack([models["a"][:, 0] + 0.5 * _vec(rng, n) for _ in range(6)])
    c = subject_level_models({"roi": R}, models, n_permutations=199, seed=1)
    test = c[c["subject"].isna()].set_index("model")
    assert set(c["statistic"]) == {"r2adj", "mean_r2adj"}
    assert test.loc["a", "p"] == pytest.approx(1 / 200) and test["t"].isna().all()
    per = c[c["subject"].notna()].pivot(index="subject", columns="model", values="value")
    assert test.loc["a", "value"] == pytest.approx(per["a"].mean())
    again = subject_level_models({"roi": R}, models, n_permutations=199, seed=1)
    pd.testing.assert_frame_equal(c, again)
    f = subject_level_models({"roi": R}, models, mode="faithful")
    assert set(f["statistic"]) == {"r2adj_clipped", "mean_r2adj_clipped"}
    assert f["t"].notna().sum() == 2


# ---- item 5: model groups as joint predictors ------------------------------------------------
def test_group_rdms_joint_and_averaged():
    rng = np.random.default_rng(10)
    n = 8
    models = {m: np.stack([_vec(rng, n), _vec(rng, n)], 1) for m in ("a", "b", "c", "d")}
    groups = {"a": "g1", "b": "g1", "c": "g2"}  # d has no group
    f = group_rdms(models, groups, mode="faithful")
    np.testing.assert_array_equal(f["g1"], (models["a"] + models["b"]) / 2)
    c = group_rdms(models, groups)
    np.testing.assert_array_equal(c["g1"], np.concatenate([models["a"], models["b"]], 1))
    np.testing.assert_array_equal(c["g2"], models["c"])
    models["c"] = models["c"][:, :1]
    groups["c"] = "g1"
    assert group_rdms(models, groups)["g1"].shape[1] == 5
    with pytest.raises(ValueError, match="different layer shapes"):
        group_rdms(models, groups, mode="faithful")


def test_joint_group_keeps_a_members_effect():
    """A brain RDM driven by one member of a group: the joint predictors explain it fully, the
    averaged RDM only partly."""
    rng = np.random.default_rng(11)
    n = 12
    models = {m: _vec(rng, n)[:, None] for m in ("a", "b", "c", "d")}
    groups = {"a": "g1", "b": "g1", "c": "g2", "d": "g2"}
    y = models["a"][:, 0] + 0.05 * _vec(rng, n)
    uc = variance_partition_gram(y, group_rdms(models, groups))["unique"]
    uf = variance_partition_gram(y, group_rdms(models, groups, mode="faithful"))["unique"]
    assert uc[0] > 0.9 and uc[0] > uf[0] + 0.2


@pytest.mark.slow
def test_joint_group_null_calibration():
    """No effect (row effects only): the permutation p of each group's unique variance with the
    members as joint predictors rejects at rate alpha."""
    n_studies, hits = 300, 0
    for s in range(n_studies):
        rng = np.random.default_rng([55, s])
        models = {m: _vec(rng, 9)[:, None] for m in ("a", "b", "c", "d")}
        sets = group_rdms(models, {"a": "g1", "b": "g1", "c": "g2", "d": "g2"})
        res = searchlight_tests(_null_rdms(rng, 1, 9), np.ones(1), sets, analysis="partition",
                                n_permutations=99, seed=s)  # fmt: skip
        hits += bool(res["p"][0, 0] <= ALPHA)
    print(f"joint groups, false-positive rate: {hits / n_studies:.3f}")
    assert binom.ppf(0.0005, n_studies, ALPHA) <= hits <= _upper(n_studies)


# ---- item 2: pairwise differences of unique variance -----------------------------------------
def _equal_contributors(rng, n):
    """Conditions drawn from one population; two models contribute equally to the brain RDM."""
    F = rng.standard_normal((n, 6))
    a, b = pdist(F[:, :3]), pdist(F[:, 3:])
    iu, ju = condensed_index_pairs(n)
    r = 0.5 * rng.standard_normal(n)
    y = a + b + 1.5 * pdist(rng.standard_normal((n, 4))) + r[iu] + r[ju]
    return y, {"a": a[:, None], "b": b[:, None]}


def _equal_contributors_given(rng, sets, n):
    """A brain RDM to which the two given predictors contribute equally, with row effects."""
    iu, ju = condensed_index_pairs(n)
    r = 0.5 * rng.standard_normal(n)
    noise = 1.0 * pdist(rng.standard_normal((n, 4)))
    return sets["a"][:, 0] + sets["b"][:, 0] + noise + r[iu] + r[ju]


def _boot_p(y, sets, n_bootstrap, seed):
    draws = bootstrap_conditions(
        y, sets, lambda ys, S: variance_partition_gram(ys, S)["unique"], n_bootstrap=n_bootstrap,
        seed=seed, replace=True,
    )  # fmt: skip
    return bootstrap_difference_p(draws)


def test_bootstrap_difference_p_and_roi_pairs():
    d = np.array([[0.3, 0.1], [0.2, 0.25], [0.4, 0.0], [0.1, 0.1]])
    P = bootstrap_difference_p(d)
    # d* = a - b: 0.2, -0.05, 0.4, 0 -> #<=0 = 2, #>=0 = 3 -> 2 min(3/5, 4/5)
    np.testing.assert_allclose(P, [[1, 1], [1, 1]])
    np.testing.assert_allclose(
        bootstrap_difference_p(np.array([[1.0, 0]] * 9)), [[1, 0.2], [0.2, 1]]
    )
    rng = np.random.default_rng(12)
    n = 10
    models = {f"m{i}": _vec(rng, n)[:, None] for i in range(4)}
    groups = {m: "g1" if i < 2 else "g2" for i, m in enumerate(models)}
    R = {"r": np.stack([models["m0"][:, 0] + _vec(rng, n) for _ in range(3)])}
    c = roi_analysis(R, models, groups, n_permutations=10, n_bootstrap=30, seed=2)
    pairs = c["top3_pairs"]
    assert len(pairs) == 3 and np.all((pairs["p"] > 0) & (pairs["p"] <= 1))
    assert np.all(pairs["p_fdr"] >= pairs["p"])


@pytest.mark.slow
def test_pairwise_differences_null_calibration():
    """Two equal contributors (ROI pairwise bars): the corrected bootstrap test declares them
    different at rate <= alpha (Monte-Carlo bound); the faithful permutation count is printed for
    comparison."""
    from brainalign.rsa.partition import PartitionPlan
    from brainalign.stats.permutation import permutation_test_bases
    from brainalign.studies.dwivedi2021.analysis import partition_statistic

    n_studies, hits, hits_f = 200, 0, 0
    for s in range(n_studies):
        rng = np.random.default_rng([77, s])
        y, sets = _equal_contributors(rng, 14)
        hits += bool(_boot_p(y, sets, 199, s)[0, 1] <= ALPHA)
        plan = PartitionPlan(sets)
        res = permutation_test_bases(y, plan.bases, partition_statistic(plan), n_permutations=99,
                                     seed=s, pairwise=True)  # fmt: skip
        hits_f += bool(res.p_diff[0, 1] <= ALPHA)
    print(
        f"equal contributors declared different: corrected {hits / n_studies:.3f}, "
        f"faithful {hits_f / n_studies:.3f}"
    )
    assert hits <= _upper(n_studies)


def test_auto_permutations_and_share_warning(caplog):
    from brainalign.pipeline.config import validate_config
    from brainalign.studies.dwivedi2021 import complete_config

    cfg = validate_config({"dwivedi2021": {}})
    assert cfg["dwivedi2021"]["statistics"]["n_permutations"] == "auto"
    complete_config(cfg)
    assert cfg["dwivedi2021"]["statistics"]["n_permutations"] == 1999
    cfg = validate_config({"dwivedi2021": {"statistics": {"n_permutations": 500}}})
    with caplog.at_level("WARNING"):
        complete_config(cfg)
    assert "detectable_share = 0.01" in caplog.text and "use 1999" in caplog.text
    assert cfg["dwivedi2021"]["statistics"]["n_permutations"] == 500
