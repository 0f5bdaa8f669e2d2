"""GNet analyses (methods §4.3): stats.encoding, transfer matrix and α, tuning, ridge fwRF."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from brainalign.stats import compare_models, explainable_fraction, roi_summary, voxel_accuracy
from brainalign.studies.gnet_encoding.ridge_baseline import (
    LAMBDAS,
    fit_fwrf_ridge,
    pool_features,
    predict_fwrf_ridge,
    prf_grid,
)
from brainalign.studies.gnet_encoding.transfer import asymmetry_index, transfer_matrix
from brainalign.studies.gnet_encoding.tuning import (
    TuningResult,
    layer_assignment,
    layer_groups,
    preferred_groups,
    preferred_layer_codes,
    tuning_accuracy,
    variance_partition_tuning,
)


def test_voxel_accuracy_matches_corrcoef():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(2, 50, 6))
    target[:, 0] = 1.0
    r, r2 = voxel_accuracy(pred, target)
    want = [np.corrcoef(pred[:, k], target[:, k])[0, 1] for k in range(1, 6)]
    assert np.isnan(r[0])
    np.testing.assert_allclose(r[1:], want, rtol=1e-12)
    np.testing.assert_allclose(r2[1:], np.square(want), rtol=1e-12)


def test_explainable_fraction():
    out = explainable_fraction([0.1, 0.05, 0.1], [20.0, 10.0, 0.0])
    np.testing.assert_allclose(out[:2], [50.0, 50.0])
    assert np.isnan(out[2])


def test_roi_summary_against_numpy():
    rng = np.random.default_rng(1)
    r = rng.uniform(-0.1, 0.5, 40)
    rois = np.repeat(["V1", "V2"], 20)
    table = roi_summary(r, rois, threshold=0.055)
    assert list(table["roi"]) == ["V1", "V2"]
    for roi, row in table.set_index("roi").iterrows():
        x = r[(rois == roi) & (r > 0.055)]
        assert row["n_voxels"] == 20 and row["n_used"] == x.size
        assert row["median"] == pytest.approx(np.median(x))
        assert row["mean"] == pytest.approx(x.mean())
        assert row["weighted_mean"] == pytest.approx(np.average(x, weights=x**2))


def test_compare_models():
    a = np.array([0.3, 0.1, 0.2, np.nan, 0.4])
    b = np.array([0.2, 0.2, 0.2, 0.1, 0.1])
    out = compare_models(a, b)
    assert out["n"] == 4
    np.testing.assert_allclose(out["difference"], [0.1, -0.1, 0.0, 0.3])
    np.testing.assert_allclose(out["mean"], [0.25, 0.15, 0.2, 0.25])
    assert out["percent_a"] == pytest.approx(50.0) and out["percent_b"] == pytest.approx(25.0)


def test_transfer_matrix_toy():
    native = {"V1": np.array([0.5, 0.4]), "V2": np.array([0.3, 0.3, 0.6])}
    moved = {("V1", "V2"): np.array([0.2, 0.3, 0.4]), ("V2", "V1"): np.array([0.4, 0.4])}
    m = transfer_matrix(native, moved)
    assert list(m.index) == ["V1", "V2"] and m.index.name == "source"
    np.testing.assert_allclose(m.to_numpy(), [[0.0, -0.1], [-0.05, 0.0]])


def _hand_slope(x, y):
    a = (x * y).sum() / (x * x).sum()
    se = np.sqrt(((y - a * x) ** 2).sum() / (x.size - 1) / (x * x).sum())
    return a, se


def _alpha(u, d):
    return (u - d) / (abs(u) + abs(d))


def test_asymmetry_index_planted():
    rng = np.random.default_rng(2)
    i, j = np.indices((4, 4))
    m = np.where(i > j, -0.02 * (i - j), -0.005 * (j - i)) + rng.normal(0, 0.002, (4, 4))
    np.fill_diagonal(m, 0.0)
    alpha, se = asymmetry_index(pd.DataFrame(m))
    up, s_up = _hand_slope((i - j)[i > j].astype(float), m[i > j])
    dn, s_dn = _hand_slope((j - i)[i < j].astype(float), m[i < j])
    assert alpha == pytest.approx(_alpha(up, dn), rel=1e-6)
    assert alpha < 0 and up == pytest.approx(-0.02, abs=0.003)
    h = 1e-7
    g_up = (_alpha(up + h, dn) - _alpha(up - h, dn)) / (2 * h)
    g_dn = (_alpha(up, dn + h) - _alpha(up, dn - h)) / (2 * h)
    assert se == pytest.approx(np.hypot(g_up * s_up, g_dn * s_dn), rel=1e-4)


def test_layer_groups():
    groups = layer_groups()
    layer = groups["layerwise"]
    assert list(layer) == ["c3", "c4a", "c4b", "c5a", "c5b", "c6a", "c6b"]
    assert np.array_equal(np.concatenate(list(layer.values())), np.arange(512))
    assert [len(v) for v in groups["bipartite"].values()] == [256, 256]


def _toy_tuning(k=3, n=200, v=8, seed=3):
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(n, 512))
    groups = layer_groups()["layerwise"]
    idx = list(groups.values())[k]
    w = rng.normal(0, 0.02, (512, v))
    w[idx] = rng.normal(0, 1, (idx.size, v))
    target = feats[:, idx] @ w[idx] + rng.normal(0, 3.0, (n, v))
    return (lambda mask: (feats * mask) @ w), target, groups


def test_tuning_signal_group_wins():
    predict, target, groups = _toy_tuning(k=3)
    res = tuning_accuracy(predict, target, groups, n_boot=16, seed=7)
    inc = res.inclusion.mean(axis=1)
    exc = res.exclusion.mean(axis=1)
    assert np.argmax(inc) == 3 and np.argmin(exc) == 3
    assert (res.total_se > 0).all()
    again = tuning_accuracy(predict, target, groups, n_boot=16, seed=7)
    np.testing.assert_array_equal(again.inclusion_se, res.inclusion_se)
    rois = np.repeat(["V1", "V2"], 4)
    table = variance_partition_tuning(res, rois)
    c5a = table[table["group"] == "c5a"]
    assert (c5a["unique_percent"] > 50).all()
    others = table[table["group"] != "c5a"]
    assert (others["unique_percent"] < c5a["unique_percent"].min()).all()
    # every voxel's preferred group is the planted one
    assert (c5a["preferred_percent"] == 100).all() and (c5a["n_preferred"] == 4).all()
    assert (others["n_preferred"] == 0).all()


def _hand_result():
    # 3 groups x 6 voxels; voxel 2 ties (earlier group wins), voxel 4 below the threshold,
    # voxel 5 has no finite inclusion accuracy
    inc = np.array([[0.3, 0.1, 0.2, 0.0, 0.9, np.nan],
                    [0.1, 0.4, 0.2, 0.1, 0.0, np.nan],
                    [0.0, 0.2, 0.1, 0.5, 0.0, np.nan]])  # fmt: skip
    total = np.array([0.4, 0.5, 0.3, 0.6, 0.05, 0.2])
    z = np.zeros_like(inc)
    return TuningResult(("a", "b", "c"), total, z[0], inc, z, z, z)


def test_preferred_groups_by_hand():
    res = _hand_result()
    np.testing.assert_array_equal(preferred_groups(res), [0, 1, 0, 2, 0, -1])
    np.testing.assert_array_equal(preferred_groups(res, 0.055), [0, 1, 0, 2, -1, -1])
    table = variance_partition_tuning(res, np.array(["V1", "V1", "V1", "hV4", "hV4", "hV4"]))
    got = table.set_index(["roi", "group"])
    # V1: voxels 0-2 prefer a, b, a; hV4: voxel 3 prefers c (4 is below 0.055, 5 has no r)
    want = {("V1", "a"): 2, ("V1", "b"): 1, ("V1", "c"): 0,
            ("hV4", "a"): 0, ("hV4", "b"): 0, ("hV4", "c"): 1}  # fmt: skip
    assert got["n_preferred"].to_dict() == want
    np.testing.assert_allclose(got.loc["V1", "preferred_percent"], [200 / 3, 100 / 3, 0])
    np.testing.assert_allclose(got.loc["hV4", "preferred_percent"], [0, 0, 100])


def test_layer_assignment_by_hand():
    groups = ["c3", "c4a", "c4b", "c5a"]
    best = np.array([0, 1, 0, -1, 2, 3, 1, 1, -1, 0])
    rois = np.array(["V1"] * 4 + ["hV4"] * 4 + ["V2"] * 2)
    got = layer_assignment(best, rois, groups, n_permutations=999, seed=0).set_index("roi")
    assert list(got.index) == ["V1", "hV4", "V2"]  # order of first occurrence
    # V1: 0, 1, 0 (the -1 is not analysed); hV4: 2, 3, 1, 1; V2: 0 (and a -1)
    np.testing.assert_array_equal(got["n_voxels"], [3, 4, 1])
    np.testing.assert_allclose(got["mean_layer"], [1 / 3, 7 / 4, 0.0])
    np.testing.assert_allclose(got.loc["hV4", "mean_layer_se"], np.std([2, 3, 1, 1], ddof=1) / 2)
    assert np.isnan(got.loc["V2", "mean_layer_se"])
    # nearest group: 1/3 -> c3, 7/4 -> c4b
    assert list(got["assigned_group"]) == ["c3", "c4b", "c3"]
    np.testing.assert_allclose(got["difference"], [0.0, 7 / 4 - 1 / 3, -1 / 3])
    assert np.isnan(got.loc["V1", "p_later"]) and np.isnan(got.loc["V2", "p_later"])  # 1 voxel
    # exact test (35 relabellings of 3 + 4 voxels < 999): the share of relabellings whose
    # hV4 mean minus V1 mean is at least the observed one, counted by hand
    from itertools import combinations

    pooled = [0, 1, 0, 2, 3, 1, 1]
    obs = 7 / 4 - 1 / 3
    diffs = []
    for hv4 in combinations(range(7), 4):
        v1 = [pooled[i] for i in range(7) if i not in hv4]
        diffs.append(np.mean([pooled[i] for i in hv4]) - np.mean(v1))
    want = np.mean(np.array(diffs) >= obs - 1e-12)
    np.testing.assert_allclose(got.loc["hV4", "p_later"], want)
    # a given hierarchy order, V2 the reference: hV4 (not listed) and V9 (no voxels) left out
    ordered = layer_assignment(best, rois, groups, order=["V2", "V1", "V9"], n_permutations=9)
    assert list(ordered["roi"]) == ["V2", "V1"] and set(ordered["reference"]) == {"V2"}
    np.testing.assert_allclose(ordered["difference"], [0.0, 1 / 3])
    # halfway between two groups: the earlier one
    half = layer_assignment(np.array([0, 1]), np.array(["V1", "V1"]), groups)
    assert half["assigned_group"].item() == "c3"


def test_layer_assignment_errors():
    with pytest.raises(ValueError, match="outside the 2 groups"):
        layer_assignment(np.array([0, 2]), np.array(["V1", "V1"]), ["a", "b"])
    with pytest.raises(ValueError, match="must be equal 1-D"):
        layer_assignment(np.array([0, 1]), np.array(["V1"]), ["a", "b"])
    with pytest.raises(ValueError, match=r"none of the ROIs \['hV4'\] has voxels"):
        layer_assignment(np.array([0, 1]), np.array(["V1", "V1"]), ["a", "b"], order=["hV4"])


def test_layer_assignment_test_power_and_null():
    """The one-sided test of a later assignment: planted later layers are found, and on
    simulated nulls (both areas' voxels drawn from one distribution of preferred groups,
    skewed as in the embedded study) it rejects at about alpha (at most: the layer indices tie,
    which makes the permutation test slightly conservative, 0.034 at 0.05 in 1,000 nulls)."""
    rng = np.random.default_rng(11)
    groups = [f"g{k}" for k in range(7)]
    probs = np.array([0.38, 0.33, 0.14, 0.07, 0.03, 0.02, 0.03])
    rois = np.array(["V1"] * 60 + ["hV4"] * 45)
    later = np.concatenate([rng.choice(7, 60, p=probs), rng.choice(7, 45, p=probs[::-1])])
    got = layer_assignment(later, rois, groups, n_permutations=999, seed=1)
    assert got["p_later"].iloc[1] < 0.01
    n_sim, alpha = 400, 0.05
    p = [
        layer_assignment(rng.choice(7, 105, p=probs), rois, groups, n_permutations=199, seed=s)[
            "p_later"
        ].iloc[1]
        for s in range(n_sim)
    ]
    rate = np.mean(np.array(p) <= alpha)
    # binomial(400, 0.05): SD 0.011; within 3 SD
    assert 0.05 - 0.033 <= rate <= 0.05 + 0.033, rate


def test_preferred_layer_codes():
    res = _hand_result()
    rows = []
    for g, name in enumerate(res.groups):
        rows.append(pd.DataFrame({"subject": "subj01", "voxel": [5, 0, 1, 2, 3, 4],
                                  "partition": "layerwise", "group": name,
                                  "total": res.total, "inclusion": res.inclusion[g]}))  # fmt: skip
    voxels = pd.concat(rows)
    for col in ("total_se", "inclusion_se", "exclusion", "exclusion_se"):
        voxels[col] = 0.0
    codes = preferred_layer_codes(voxels, "subj01", 8, threshold=0.055)
    # table rows 0..5 sit at voxels 5, 0, 1, 2, 3, 4 with preferred groups a, b, a, c, -, -
    np.testing.assert_array_equal(codes, [2, 1, 3, 0, 0, 1, 0, 0])
    assert codes.dtype == np.int16
    with pytest.raises(ValueError, match="no layerwise rows for subject 'subj02'"):
        preferred_layer_codes(voxels, "subj02", 8, threshold=0.055)
    with pytest.raises(ValueError, match="voxel 5 of 'subj01' is outside its 4 voxels"):
        preferred_layer_codes(voxels, "subj01", 4, threshold=0.055)


def test_ridge_equals_sklearn_fixed_prf():
    rng = np.random.default_rng(4)
    fmaps = [rng.normal(size=(80, 3, 8, 8)), rng.normal(size=(80, 2, 4, 4))]
    y = rng.normal(size=(80, 5))
    prf = [0.1, -0.1, 0.2]
    fit = fit_fwrf_ridge(fmaps, y, lambdas=[LAMBDAS[0] / 100], prfs=[prf])
    z = pool_features(fmaps, prf)
    z = (z - z.mean(0)) / z.std(0)
    sk = Ridge(alpha=LAMBDAS[0] / 100).fit(z, y)
    np.testing.assert_allclose(fit.coefs, sk.coef_.T, atol=1e-10)
    np.testing.assert_allclose(fit.intercept, sk.intercept_, atol=1e-10)
    np.testing.assert_allclose(predict_fwrf_ridge(fit, fmaps), sk.predict(z), atol=1e-10)


def test_ridge_rows_equal_materialised_trials():
    """Maps once per image + a trial -> image index == the per-trial maps (float32 too)."""
    rng = np.random.default_rng(6)
    maps = [rng.normal(size=(30, 3, 8, 8)).astype(np.float32), rng.normal(size=(30, 2, 4, 4))]
    rows = rng.integers(0, 30, 90)
    y = rng.normal(size=(90, 4))
    kw = {"lambdas": [1.0, 10.0], "prfs": prf_grid(n_sigmas=2, min_spacing=3.0)}
    a = fit_fwrf_ridge(maps, y, rows=rows, **kw)
    b = fit_fwrf_ridge([m[rows] for m in maps], y, **kw)
    np.testing.assert_array_equal(a.prf_index, b.prf_index)
    np.testing.assert_allclose(a.coefs, b.coefs, rtol=1e-9, atol=1e-12)
    new = rng.integers(0, 30, 20)
    np.testing.assert_allclose(
        predict_fwrf_ridge(a, maps, rows=new), predict_fwrf_ridge(b, [m[new] for m in maps])
    )


def test_ridge_recovers_planted_prf():
    rng = np.random.default_rng(5)
    grid = prf_grid(sigmas=[0.1, 0.2, 0.35], min_spacing=2.0, aperture=0.8)
    planted = 5
    fmaps = [rng.normal(size=(300, 4, 12, 12))]
    z = pool_features(fmaps, grid[planted])
    z = (z - z.mean(0)) / z.std(0)
    y = z @ rng.normal(size=(4, 6)) + rng.normal(0, 0.5, (300, 6))
    fit = fit_fwrf_ridge(fmaps, y, lambdas=[0.1, 10.0, 1000.0], prfs=grid, holdout=0.2)
    assert (fit.prf_index == planted).all()
    assert (fit.lambdas < 1000).all()
    assert len(prf_grid()) > 100 and prf_grid()[:, 2].min() == pytest.approx(0.03)


def test_alexnet_maps_conv12_equal_the_full_network():
    """conv1 and conv2 alone come from the prefilter's modules: equal to the maps of the
    whole seeded torchvision AlexNet (which deeper layers still use)."""
    import torch

    from brainalign.networks.architectures import build_network
    from brainalign.networks.gnet import GNET8J_MEAN
    from brainalign.studies.gnet_encoding.models import alexnet_maps

    images = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    conv1, conv2 = alexnet_maps(images, ["conv1", "conv2"], seed=7, batch_size=2)
    *_, conv3 = alexnet_maps(images, ["conv1", "conv3"], seed=7)
    net = build_network("alexnet", "untrained", seed=7).eval()
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255.0
    x = x - torch.tensor(GNET8J_MEAN).view(1, 3, 1, 1)
    want = {}
    with torch.no_grad():
        for i, module in enumerate(net.features.children()):
            x = module(x)
            want[i] = x.numpy().copy()
    np.testing.assert_array_equal(conv1, want[1])
    np.testing.assert_array_equal(conv2, want[4])
    np.testing.assert_array_equal(conv3, want[7])
