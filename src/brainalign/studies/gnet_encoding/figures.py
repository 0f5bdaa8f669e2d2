"""Figures of the GNet encoding study (St-Yves et al. 2022, matplotlib/seaborn), from its tables.

Every function takes the study's tidy tables (``tables/*.csv``, see the study's table contract)
and returns a matplotlib Figure; saving (formats, provenance) is the rule script's job. Missing
pieces degrade gracefully: a model or ROI absent from a table is left out, and a figure with
nothing to draw says so in its single panel.

- :func:`plot_model_scatter`: GNet8j − GNet8r against their mean r, per voxel, one colour per ROI.
- :func:`plot_transfer_matrix`: the cross-ROI transfer matrix with its asymmetry index α.
- :func:`plot_tuning`: unique and shared % variance of each readout feature group per ROI.
- :func:`plot_preferred_layers`: the share of each ROI's voxels preferring each layer group.
- :func:`plot_accuracy_vs_ceiling`: mean r² % per model beside the NSD noise ceiling per ROI.
- :func:`plot_training_curves`: joint holdout median r per epoch, best epoch marked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from brainalign.studies.gnet_encoding.names import JOINT, PER_ROI, RIDGE  # noqa: E402
from brainalign.studies.gnet_encoding.tuning import nearest_group  # noqa: E402

__all__ = [
    "CLIM",
    "GROUP_ORDER",
    "ROI_ORDER",
    "plot_accuracy_vs_ceiling",
    "plot_model_scatter",
    "plot_preferred_layers",
    "plot_training_curves",
    "plot_transfer_matrix",
    "plot_tuning",
    "transfer_frame",
]

#: ROIs in the paper's order (V1 → hV4); other ROIs follow in their table order.
ROI_ORDER = ("V1", "V2", "V3", "hV4")
#: Feature groups of each tuning partition, in readout order.
GROUP_ORDER = {
    "layerwise": ("c3", "c4a", "c4b", "c5a", "c5b", "c6a", "c6b"),
    "bipartite": ("fmap0", "fmap1"),
}
#: Colour limit of the transfer matrices (± Δr).
CLIM = 0.05
_MODEL_ORDER = (JOINT, PER_ROI, RIDGE)


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    """Unique ``values``: those in ``order`` first (in that order), then the rest as met."""
    present = list(dict.fromkeys(values))
    return [v for v in order if v in present] + [v for v in present if v not in order]


def _empty(title: str, message: str) -> plt.Figure:
    """A one-panel figure that says there is nothing to draw."""
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=8, transform=ax.transAxes)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return fig


def _pct(mask: pd.Series) -> float:
    return 100.0 * float(mask.mean()) if len(mask) else float("nan")


def plot_model_scatter(
    accuracy: pd.DataFrame, model_a: str = JOINT, model_b: str = PER_ROI
) -> plt.Figure:
    """Voxel-wise difference of two models against their mean accuracy (Bland–Altman style).

    Parameters
    ----------
    accuracy : DataFrame
        ``tables/accuracy.csv``: subject, roi, voxel, model, r, ... (one row per voxel × model).
    model_a, model_b : str
        The models compared (default ``gnet8j`` − ``gnet8r``); voxels are pooled over subjects.

    Returns
    -------
    matplotlib Figure
        One axes with one scatter collection per ROI (order V1, V2, V3, hV4, then others); the
        legend gives each ROI's voxel count and % favouring ``model_a``, the title the pooled %
        of voxels favouring each model.
    """
    title = f"{model_a} vs {model_b}"
    sub = accuracy[accuracy["model"].isin([model_a, model_b])]
    wide = sub.pivot_table(index=["subject", "roi", "voxel"], columns="model", values="r",
                           aggfunc="first").reset_index()  # fmt: skip
    if model_a not in wide or model_b not in wide:
        return _empty(title, f"no voxels with both {model_a} and {model_b}")
    wide = wide.dropna(subset=[model_a, model_b])
    wide["diff"] = wide[model_a] - wide[model_b]
    wide["mean"] = (wide[model_a] + wide[model_b]) / 2
    rois = _ordered(wide["roi"], ROI_ORDER)
    palette = dict(zip(rois, sns.color_palette("tab10", max(4, len(rois))), strict=False))
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for roi in rois:
        g = wide[wide["roi"] == roi]
        ax.scatter(g["mean"], g["diff"], s=4, alpha=0.5, color=palette[roi], linewidths=0,
                   label=f"{roi} (n={len(g)}, {_pct(g['diff'] > 0):.0f}% {model_a})")  # fmt: skip
    ax.axhline(0, color="k", lw=0.6)
    ax.set(xlabel=f"mean r ({model_a}, {model_b})", ylabel=f"r({model_a}) − r({model_b})")
    ax.set_title(f"{title}: {_pct(wide['diff'] > 0):.1f}% favour {model_a}, "
                 f"{_pct(wide['diff'] < 0):.1f}% favour {model_b} (n={len(wide)})",
                 fontsize=9)  # fmt: skip
    if rois:
        ax.legend(fontsize=7, frameon=False, markerscale=3)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def _alpha_text(alpha_row: Mapping[str, float] | pd.Series | None) -> str:
    if alpha_row is None or "alpha" not in alpha_row:
        return ""
    alpha, se = float(alpha_row["alpha"]), float(alpha_row.get("alpha_se", np.nan))
    return f": α = {alpha:.2f} ± {se:.2f}"


def transfer_frame(transfer: pd.DataFrame, subject: str) -> pd.DataFrame:
    """The transfer matrix of ``subject`` (index source, columns target, ROI order)."""
    sub = transfer[transfer["subject"] == subject]
    m = sub.pivot_table(index="source", columns="target", values="value", aggfunc="first")
    rois = _ordered(list(sub["source"]) + list(sub["target"]), ROI_ORDER)
    return m.reindex(index=rois, columns=rois)


def plot_transfer_matrix(
    transfer: pd.DataFrame,
    subject: str,
    alpha_row: Mapping[str, float] | pd.Series | None = None,
) -> plt.Figure:
    """The cross-ROI transfer matrix of one subject (or ``all``), values annotated.

    Parameters
    ----------
    transfer : DataFrame
        ``tables/transfer.csv``: subject, source, target, value (mean Δr of the frozen source
        encoder on the target's voxels relative to the native model).
    subject : str
        ``subjAA`` or ``all``.
    alpha_row : mapping or Series, optional
        The subject's row of ``tables/asymmetry.csv`` (``alpha``, ``alpha_se``), shown in the
        title.

    Returns
    -------
    matplotlib Figure
        An image of the matrix (rows source, columns target, ROI order), ``seismic`` colour map
        limited to ±0.05, each entry written in its cell.
    """
    m = transfer_frame(transfer, subject)
    title = f"transfer, {subject}{_alpha_text(alpha_row)}"
    if m.empty:
        return _empty(title, f"no transfer rows for {subject}")
    fig, ax = plt.subplots(figsize=(4.6, 4))
    values = m.to_numpy(dtype=float)
    im = ax.imshow(values, cmap="seismic", vmin=-CLIM, vmax=CLIM, interpolation="nearest")
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7,
                    color="w" if abs(v) > 0.6 * CLIM else "k")  # fmt: skip
    ax.set_xticks(range(len(m.columns)), m.columns)
    ax.set_yticks(range(len(m.index)), m.index)
    ax.set(xlabel="target ROI (voxels)", ylabel="source ROI (frozen encoder)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8, label="r(transfer) − r(native)")
    fig.tight_layout()
    return fig


def plot_tuning(tuning: pd.DataFrame, partition: str, subject: str = "all") -> plt.Figure:
    """Unique and shared (inclusion) % variance of each feature group, one panel per ROI.

    Parameters
    ----------
    tuning : DataFrame
        ``tables/tuning.csv``: subject, partition, roi, group, unique_percent, shared_percent, ...
    partition : str
        ``layerwise`` (c3 … c6b) or ``bipartite`` (fmap0, fmap1).
    subject : str
        Rows drawn (default the pooled ``all``).

    Returns
    -------
    matplotlib Figure
        Per ROI an axes with two bar containers, unique % then shared %, one bar per group in
        readout order.
    """
    sub = tuning[(tuning["subject"] == subject) & (tuning["partition"] == partition)]
    title = f"{partition} tuning, {subject}"
    if sub.empty:
        return _empty(title, f"no {partition} tuning rows for {subject}")
    rois = _ordered(sub["roi"], ROI_ORDER)
    groups = _ordered(sub["group"], GROUP_ORDER.get(partition, ()))
    fig, axes = plt.subplots(1, len(rois), figsize=(max(3.0, 0.5 * len(groups) + 1.2) * len(rois),
                             3.4), sharey=True, squeeze=False)  # fmt: skip
    x = np.arange(len(groups))
    for ax, roi in zip(axes[0], rois, strict=True):
        g = sub[sub["roi"] == roi].set_index("group").reindex(groups)
        ax.bar(x - 0.2, g["unique_percent"], 0.4, color="tab:blue", label="unique %")
        ax.bar(x + 0.2, g["shared_percent"], 0.4, color="tab:orange", label="shared %")
        ax.set_xticks(x, groups, rotation=45 if len(groups) > 3 else 0, fontsize=7)
        ax.set_title(roi, fontsize=9)
    axes[0, 0].set_ylabel("% of explained variance")
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_preferred_layers(tuning: pd.DataFrame, subject: str = "all") -> plt.Figure:
    """Which layer group each ROI's voxels prefer: stacked % of voxels per ROI.

    Parameters
    ----------
    tuning : DataFrame
        ``tables/tuning.csv``: subject, partition, roi, group, preferred_percent, ...
    subject : str
        Rows drawn (default the pooled ``all``).

    Returns
    -------
    matplotlib Figure
        One axes, ROIs along x; one bar container per layerwise group (c3 first, stacked
        upwards, early = dark), heights ``preferred_percent``; above each stack the ROI's
        layer assignment, the mean preferred group (c3 = 0 … c6b = 6), and the group nearest
        to it.
    """
    sub = tuning[(tuning["subject"] == subject) & (tuning["partition"] == "layerwise")]
    title = f"preferred layer group per voxel, {subject}"
    if sub.empty or "preferred_percent" not in sub:
        return _empty(title, f"no layerwise preferred-group rows for {subject}")
    rois = _ordered(sub["roi"], ROI_ORDER)
    groups = _ordered(sub["group"], GROUP_ORDER["layerwise"])
    wide = sub.pivot_table(index="roi", columns="group", values="preferred_percent",
                           aggfunc="first").reindex(index=rois, columns=groups)  # fmt: skip
    wide = wide.fillna(0.0)
    colours = sns.color_palette("viridis", len(groups))
    fig, ax = plt.subplots(figsize=(1.1 * len(rois) + 2.6, 3.6))
    x = np.arange(len(rois))
    bottom = np.zeros(len(rois))
    for k, group in enumerate(groups):
        ax.bar(x, wide[group], 0.7, bottom=bottom, color=colours[k], label=group)
        bottom += wide[group].to_numpy()
    depth = (wide.to_numpy() * np.arange(len(groups))).sum(axis=1) / np.where(
        bottom > 0, bottom, np.nan
    )
    for xi, top, d in zip(x, bottom, depth, strict=True):
        # the layer assignment and its nearest group (tables/tuning_assignment.csv)
        label = f"{d:.2f}\n{nearest_group(d, groups)}" if np.isfinite(d) else ""
        ax.text(xi, top + 1.5, label, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, rois)
    ax.set(ylabel="% of voxels (r > threshold)", ylim=(0, 120))
    ax.set_yticks(np.arange(0, 101, 20))
    ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    ax.set_title(f"{title}\n(layer assignment: mean group index, c3 = 0)", fontsize=9)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def _bar_values(summary: pd.DataFrame, models: Sequence[str], rois: Sequence[str]) -> pd.DataFrame:
    """Per subject × roi: mean_r2_percent of each model and the ceiling (mean over models)."""
    wide = summary.pivot_table(index=["subject", "roi"], columns="model",
                               values="mean_r2_percent", aggfunc="first")  # fmt: skip
    wide = wide.reindex(columns=list(models))
    wide["ceiling"] = summary.groupby(["subject", "roi"])["ceiling_percent"].mean()
    return wide[wide.index.get_level_values("roi").isin(rois)]


def plot_accuracy_vs_ceiling(summary: pd.DataFrame) -> plt.Figure:
    """Mean r² (% variance) of each model beside the NSD noise ceiling, per ROI.

    Parameters
    ----------
    summary : DataFrame
        ``tables/accuracy_summary.csv``: subject (incl. ``all``), roi, model, mean_r2_percent,
        ceiling_percent, ...

    Returns
    -------
    matplotlib Figure
        One axes, ROIs along x; per ROI one bar per model (gnet8j, gnet8r, ridge, then others)
        and one for the ceiling, from the pooled ``all`` rows (one bar container each, in that
        order), with the subjects' values as black points.
    """
    rois = _ordered([r for r in summary["roi"] if r != "all"], ROI_ORDER)
    models = _ordered(summary["model"], _MODEL_ORDER)
    if not rois or not models:
        return _empty("accuracy vs noise ceiling", "no summary rows")
    wide = _bar_values(summary, models, rois)
    bars = [*models, "ceiling"]
    palette = dict(zip(models, sns.color_palette("tab10", len(models)), strict=True))
    palette["ceiling"] = (0.75, 0.75, 0.75)
    width = 0.8 / len(bars)
    x = np.arange(len(rois))
    pooled = wide.xs("all", level="subject").reindex(rois) if "all" in wide.index else None
    per_subject = wide.drop(index="all", level="subject", errors="ignore")
    fig, ax = plt.subplots(figsize=(1.6 * len(rois) + 2.4, 3.8))
    for k, name in enumerate(bars):
        pos = x + (k - (len(bars) - 1) / 2) * width
        if pooled is not None:
            ax.bar(pos, pooled[name], width, color=palette[name], label=name)
        pts = per_subject[name].unstack("roi").reindex(columns=rois)
        ax.scatter(np.tile(pos, len(pts)), pts.to_numpy().ravel(), s=6, color="k", zorder=3)
    ax.set_xticks(x, rois)
    ax.set(ylabel="% variance (mean r² or noise ceiling)")
    ax.set_title("accuracy vs single-trial noise ceiling (bars: pooled, points: subjects)",
                 fontsize=9)  # fmt: skip
    if pooled is not None:
        ax.legend(fontsize=7, frameon=False)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def _as_bool(values: pd.Series) -> pd.Series:
    """``best`` as booleans whether it was read as bool or as text."""
    return values.astype(str).str.strip().str.lower().isin(["true", "1", "1.0"])


def _curves(history: pd.DataFrame) -> pd.DataFrame:
    """Per model × epoch: joint_median_r (the pooled ``all`` rows when a model has them, else
    the mean over subjects) and whether any row marks the epoch best."""
    h = history.assign(best=_as_bool(history["best"]))
    has_all = h.groupby("model")["subject"].transform(lambda s: (s == "all").any())
    h = h[~has_all | (h["subject"] == "all")]
    return h.groupby(["model", "epoch"], sort=False).agg(
        joint_median_r=("joint_median_r", "mean"), best=("best", "any")
    )


def plot_training_curves(history: pd.DataFrame) -> plt.Figure:
    """Joint holdout median r per epoch for every trained model, best epoch marked.

    Parameters
    ----------
    history : DataFrame
        ``tables/training_history.csv``: model, epoch, subject, joint_median_r, best, ...

    Returns
    -------
    matplotlib Figure
        One axes with one line per model (gnet8j first, then gnet8r_<roi> in ROI order, then
        the rest, e.g. transfer models dashed) and per model one star scatter at its best
        epoch(s).
    """
    if history.empty:
        return _empty("training curves", "no training history")
    curves = _curves(history)
    models = _ordered(curves.index.get_level_values("model"),
                      [JOINT, *(f"{PER_ROI}_{r}" for r in ROI_ORDER)])  # fmt: skip
    colors = sns.color_palette("tab20" if len(models) > 10 else "tab10", max(3, len(models)))
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, color in zip(models, colors, strict=False):
        c = curves.loc[model].sort_index()
        ls = "-" if model.startswith((JOINT, PER_ROI)) else "--"
        ax.plot(c.index, c["joint_median_r"], ls, color=color, lw=1.2, label=model)
        best = c[c["best"]]
        ax.scatter(best.index, best["joint_median_r"], marker="*", s=60, color=color, zorder=3)
    ax.set(xlabel="epoch", ylabel="joint holdout median r")
    ax.set_title("training curves (★ = epoch kept)", fontsize=9)
    ax.legend(fontsize=6, frameon=False, ncol=2 if len(models) > 6 else 1)
    sns.despine(fig)
    fig.tight_layout()
    return fig
