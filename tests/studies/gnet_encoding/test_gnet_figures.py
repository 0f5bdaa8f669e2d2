"""GNet encoding figures: each plot function on small synthetic tables of the table contract."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

from brainalign.studies.gnet_encoding import figures as F  # noqa: E402

ROIS = ["V1", "V2", "V3", "hV4"]
SUBJECTS = ["subj01", "subj02"]
GROUPS = {"layerwise": ["c3", "c4a", "c4b", "c5a", "c5b", "c6a", "c6b"],
          "bipartite": ["fmap0", "fmap1"]}  # fmt: skip


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _accuracy(rng, models=("gnet8j", "gnet8r", "ridge"), n_vox=5):
    rows = []
    for s in SUBJECTS:
        for roi in reversed(ROIS):  # table order differs from the plotting order
            for v in range(n_vox):
                for m in models:
                    r = rng.uniform(-0.1, 0.6)
                    rows.append({"subject": s, "roi": roi, "voxel": v, "model": m, "r": r,
                                 "r2": r * r, "ceiling": 30.0})  # fmt: skip
    return pd.DataFrame(rows)


def _transfer(rng, subjects=("all", *SUBJECTS)):
    rows = [{"subject": s, "source": a, "target": b, "value": 0.0 if a == b else rng.normal(0, .04)}
            for s in subjects for a in ROIS[::-1] for b in ROIS]  # fmt: skip
    return pd.DataFrame(rows)


def _tuning(rng):
    rows = [{"subject": s, "partition": p, "roi": roi, "group": g, "n_used": 10,
             "unique_percent": rng.uniform(0, 20), "shared_percent": rng.uniform(20, 80)}
            for s in ("all", *SUBJECTS) for p, gs in GROUPS.items() for roi in ROIS
            for g in gs[::-1]]  # fmt: skip
    return pd.DataFrame(rows)


def _summary(rng, models=("gnet8j", "gnet8r", "ridge")):
    rows = [{"subject": s, "roi": roi, "model": m, "mean_r2_percent": rng.uniform(1, 10),
             "ceiling_percent": {"V1": 40.0, "V2": 35.0, "V3": 30.0, "hV4": 20.0}[roi] + k}
            for k, s in enumerate(("all", *SUBJECTS)) for roi in ROIS for m in models]  # fmt: skip
    return pd.DataFrame(rows)


def _history(rng):
    rows = []
    for m in ("gnet8j", "gnet8r_V1", "gnet8r_V2", "transfer_V1"):
        best = int(rng.integers(0, 6))
        for e in range(6):
            for s in SUBJECTS:
                rows.append({"model": m, "epoch": e, "subject": s, "train_loss": 1.0,
                             "holdout_loss": 1.0, "holdout_median_r": 0.1,
                             "joint_median_r": 0.05 * e + (0.01 if s == "subj02" else 0.0),
                             "best": e == best})  # fmt: skip
    return pd.DataFrame(rows)


def test_model_scatter_one_collection_per_roi():
    acc = _accuracy(np.random.default_rng(0))
    fig = F.plot_model_scatter(acc)
    assert isinstance(fig, plt.Figure)
    (ax,) = fig.axes
    cols = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(cols) == len(ROIS)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [lab.split()[0] for lab in labels] == ROIS
    wide = acc.pivot_table(index=["subject", "roi", "voxel"], columns="model", values="r")
    v1 = wide.xs("V1", level="roi")
    want = np.column_stack([(v1["gnet8j"] + v1["gnet8r"]) / 2, v1["gnet8j"] - v1["gnet8r"]])
    np.testing.assert_allclose(np.sort(cols[0].get_offsets(), axis=0), np.sort(want, axis=0))
    pct = 100 * float(((wide["gnet8j"] - wide["gnet8r"]) > 0).mean())
    assert f"{pct:.1f}% favour gnet8j" in ax.get_title()


def test_model_scatter_roi_subset_and_missing_model():
    acc = _accuracy(np.random.default_rng(1))
    fig = F.plot_model_scatter(acc[acc["roi"].isin(["V3", "V1"])])
    assert len(fig.axes[0].collections) == 2
    fig = F.plot_model_scatter(acc[acc["model"] != "gnet8r"])
    assert isinstance(fig, plt.Figure) and not fig.axes[0].collections


@pytest.mark.parametrize("subject", ["all", "subj02"])
def test_transfer_matrix_image(subject):
    tr = _transfer(np.random.default_rng(2))
    fig = F.plot_transfer_matrix(tr, subject, pd.Series({"alpha": 0.31, "alpha_se": 0.05}))
    ax = fig.axes[0]
    (im,) = [a for a in ax.get_images() if isinstance(a, AxesImage)]
    want = (tr[tr["subject"] == subject].pivot(index="source", columns="target", values="value")
            .reindex(index=ROIS, columns=ROIS).to_numpy())  # fmt: skip
    np.testing.assert_allclose(np.asarray(im.get_array()), want)
    assert im.get_clim() == (-0.05, 0.05)
    assert im.get_cmap().name == "seismic"
    assert [t.get_text() for t in ax.get_yticklabels()] == ROIS
    assert [t.get_text() for t in ax.get_xticklabels()] == ROIS
    assert len(ax.texts) == 16 and ax.texts[1].get_text() == f"{want[0, 1]:.3f}"
    assert "α = 0.31 ± 0.05" in ax.get_title() and subject in ax.get_title()


def test_transfer_matrix_without_alpha_or_rows():
    tr = _transfer(np.random.default_rng(3), subjects=("all",))
    fig = F.plot_transfer_matrix(tr[(tr["source"] != "hV4") & (tr["target"] != "hV4")], "all", None)
    assert np.asarray(fig.axes[0].get_images()[0].get_array()).shape == (3, 3)
    assert "α" not in fig.axes[0].get_title()
    fig = F.plot_transfer_matrix(tr, "subj01")
    assert isinstance(fig, plt.Figure) and not fig.axes[0].get_images()


@pytest.mark.parametrize("partition", ["layerwise", "bipartite"])
def test_tuning_bar_heights(partition):
    tun = _tuning(np.random.default_rng(4))
    fig = F.plot_tuning(tun, partition)
    axes = [ax for ax in fig.axes]
    assert [ax.get_title() for ax in axes] == ROIS
    for ax, roi in zip(axes, ROIS, strict=True):
        unique, shared = [c for c in ax.containers if isinstance(c, BarContainer)]
        sel = tun[(tun["subject"] == "all") & (tun["partition"] == partition) & (tun["roi"] == roi)]
        sel = sel.set_index("group").loc[GROUPS[partition]]
        np.testing.assert_allclose([b.get_height() for b in unique], sel["unique_percent"])
        np.testing.assert_allclose([b.get_height() for b in shared], sel["shared_percent"])
        assert [t.get_text() for t in ax.get_xticklabels()] == GROUPS[partition]


def test_preferred_layers_stacks():
    rng = np.random.default_rng(6)
    tun = _tuning(rng)
    lw = tun["partition"] == "layerwise"
    share = rng.dirichlet(np.ones(7), size=lw.sum() // 7) * 100  # per (subject, roi) block
    tun.loc[lw, "preferred_percent"] = share.ravel()
    fig = F.plot_preferred_layers(tun)
    (ax,) = fig.axes
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == GROUPS["layerwise"]
    sel = tun[(tun["subject"] == "all") & lw].pivot(index="roi", columns="group",
                                                    values="preferred_percent")  # fmt: skip
    sel = sel.loc[ROIS, GROUPS["layerwise"]]
    heights = np.array([[r.get_height() for r in b] for b in bars]).T
    np.testing.assert_allclose(heights, sel.to_numpy())
    np.testing.assert_allclose([r.get_y() for r in bars[3]], sel.iloc[:, :3].sum(axis=1))
    depth = (sel.to_numpy() * np.arange(7)).sum(axis=1) / sel.sum(axis=1).to_numpy()
    # the nearest group, halfway the earlier
    nearest = [GROUPS["layerwise"][min(range(7), key=lambda g: (abs(g - d), g))] for d in depth]
    assert [t.get_text() for t in ax.texts] == [
        f"{d:.2f}\n{g}" for d, g in zip(depth, nearest, strict=True)
    ]
    assert [t.get_text() for t in ax.get_xticklabels()] == ROIS
    fig = F.plot_preferred_layers(tun.drop(columns="preferred_percent"))
    assert not fig.axes[0].containers


def test_tuning_missing_partition():
    tun = _tuning(np.random.default_rng(5))
    fig = F.plot_tuning(tun[tun["partition"] == "layerwise"], "bipartite")
    assert isinstance(fig, plt.Figure) and not fig.axes[0].containers


def test_accuracy_vs_ceiling_bars_and_points():
    summ = _summary(np.random.default_rng(6))
    fig = F.plot_accuracy_vs_ceiling(summ)
    (ax,) = fig.axes
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == ["gnet8j", "gnet8r", "ridge", "ceiling"]
    pooled = summ[summ["subject"] == "all"]
    for b, model in zip(bars[:3], ["gnet8j", "gnet8r", "ridge"], strict=True):
        want = pooled[pooled["model"] == model].set_index("roi").loc[ROIS, "mean_r2_percent"]
        np.testing.assert_allclose([p.get_height() for p in b], want)
    np.testing.assert_allclose([p.get_height() for p in bars[3]], [40.0, 35.0, 30.0, 20.0])
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points) == 4 and all(len(c.get_offsets()) == 2 * len(ROIS) for c in points)
    ceiling_pts = np.sort(points[3].get_offsets()[:, 1])
    np.testing.assert_allclose(ceiling_pts, np.sort([c + k for k in (1, 2)
                                                     for c in (40, 35, 30, 20)]))  # fmt: skip
    assert [t.get_text() for t in ax.get_xticklabels()] == ROIS


def test_accuracy_vs_ceiling_without_ridge_and_rois():
    summ = _summary(np.random.default_rng(7), models=("gnet8r", "gnet8j"))
    fig = F.plot_accuracy_vs_ceiling(summ[summ["roi"].isin(["V2", "V1"])])
    ax = fig.axes[0]
    assert [b.get_label() for b in ax.containers] == ["gnet8j", "gnet8r", "ceiling"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["V1", "V2"]


def test_training_curves_lines_and_best():
    hist = _history(np.random.default_rng(8))
    fig = F.plot_training_curves(hist)
    (ax,) = fig.axes
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines) == ["gnet8j", "gnet8r_V1", "gnet8r_V2", "transfer_V1"]
    assert lines["transfer_V1"].get_linestyle() == "--"
    np.testing.assert_allclose(lines["gnet8j"].get_ydata(), 0.05 * np.arange(6) + 0.005)
    stars = [c for c in ax.collections if isinstance(c, PathCollection)]
    for model, c in zip(lines, stars, strict=True):
        best = hist[(hist["model"] == model) & hist["best"]]["epoch"].unique()
        np.testing.assert_allclose(c.get_offsets()[:, 0], best)


def test_training_curves_prefers_pooled_rows_and_text_bools():
    hist = _history(np.random.default_rng(9))
    pooled = hist[hist["subject"] == "subj01"].assign(subject="all", joint_median_r=0.5)
    hist = pd.concat([hist, pooled]).assign(best=lambda d: d["best"].map(str))
    ax = F.plot_training_curves(hist).axes[0]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), 0.5)
    assert all(len(c.get_offsets()) == 1 for c in ax.collections)
    assert isinstance(F.plot_training_curves(hist.iloc[:0]), plt.Figure)
