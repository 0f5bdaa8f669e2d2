"""Figures of Dwivedi et al. (2021): the ROI bar charts (Fig. 2b and Fig. 3b).

The functional brain maps themselves are drawn by the core (:mod:`brainalign.maps.surface`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from brainalign.maps.colours import GREY

__all__ = ["plot_roi_grouped", "plot_roi_top3"]

_DPI = 110  # resolution of the original bar charts


def _grid(n: int) -> tuple[int, int]:
    cols = int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def _bars(ax, labels, vals, sds, cols, p, pdiff, alpha, title):
    x = np.arange(len(vals))
    ax.bar(x, vals, yerr=sds, color=cols, capsize=3, edgecolor="black", linewidth=0.5)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.axhline(0, color="black", linewidth=0.5)
    top = np.nanmax(np.asarray(vals) + np.nan_to_num(np.asarray(sds))) if len(vals) else 0
    top = max(float(top), 1e-3)
    for i in range(len(vals)):
        if np.isfinite(p[i]) and p[i] < alpha:
            ax.text(x[i], vals[i] + np.nan_to_num(sds[i]) + 0.02 * top, "*", ha="center")
    level = 1.15 * top
    for i in range(len(vals)):
        for j in range(i + 1, len(vals)):
            if pdiff is not None and np.isfinite(pdiff[i, j]) and pdiff[i, j] < alpha:
                ax.plot([x[i], x[i], x[j], x[j]], [level, level * 1.03, level * 1.03, level],
                        color="black", linewidth=0.6)  # fmt: skip
                ax.text((x[i] + x[j]) / 2, level * 1.04, "*", ha="center", fontsize=8)
                level *= 1.12
    ax.set_ylim(min(0.0, float(np.nanmin(vals)) * 1.2), level * 1.1)
    ax.tick_params(axis="y", labelsize=7)


def _roi_figure(
    table,
    out_path: str | os.PathLike,
    *,
    item_col: str,
    colours: Mapping[str, tuple],
    pairs,
    alpha: float,
    suptitle: str,
    roi_order: Sequence[str] | None,
) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from brainalign.maps.figures import save_figure

    rois = list(roi_order) if roi_order is not None else list(dict.fromkeys(table["roi"]))
    nr, nc = _grid(len(rois))
    fig, axes = plt.subplots(nr, nc, figsize=(3.0 * nc, 2.8 * nr), squeeze=False)
    for a, roi in zip(axes.ravel(), rois, strict=False):
        sub = table[table["roi"] == roi].sort_values("rank")
        items = list(sub[item_col])
        pdiff = None
        if pairs is not None:
            ps = pairs[pairs["roi"] == roi]
            pdiff = np.full((len(items), len(items)), np.nan)
            for _, r in ps.iterrows():
                if r["item_1"] in items and r["item_2"] in items:
                    i, j = items.index(r["item_1"]), items.index(r["item_2"])
                    pdiff[i, j] = pdiff[j, i] = r["p_fdr"]
        total = float(sub["total_r2adj"].iloc[0]) if len(sub) else np.nan
        _bars(
            a, items, sub["unique_r2adj"].to_numpy(),
            sub["se" if "se" in sub else "sd"].to_numpy(),
            [colours.get(i, GREY) for i in items], sub["p_fdr"].to_numpy(), pdiff, alpha,
            f"{roi} (R²adj = {total:.2f})",
        )  # fmt: skip
    for a in axes.ravel()[len(rois) :]:
        a.axis("off")
    fig.suptitle(suptitle, fontsize=11)
    fig.supylabel("unique variance (adj. R²)", fontsize=9)
    fig.tight_layout()
    (out,) = save_figure(fig, out_path, dpi=_DPI)
    return out


def plot_roi_top3(
    table,
    out_path: str | os.PathLike,
    *,
    colours: Mapping[str, tuple],
    pairs=None,
    alpha: float = 0.05,
    roi_order: Sequence[str] | None = None,
) -> Path:
    """Fig. 2b: per ROI the unique variance of the top-3 models (bars ± error: bootstrap SE, or the
    original's subsample SD), '*' for FDR p < alpha against zero and for pairwise differences;
    title = total adj. R².

    ``table`` columns: roi, model, rank, unique_r2adj, se (or the original's sd), p_fdr,
    total_r2adj; ``pairs``: roi, item_1, item_2, p_fdr.
    """
    return _roi_figure(
        table, out_path, item_col="model", colours=colours, pairs=pairs, alpha=alpha,
        suptitle="Top-3 models per ROI: unique variance", roi_order=roi_order,
    )  # fmt: skip


def plot_roi_grouped(
    table,
    out_path: str | os.PathLike,
    *,
    colours: Mapping[str, tuple],
    pairs=None,
    alpha: float = 0.05,
    roi_order: Sequence[str] | None = None,
) -> Path:
    """Fig. 3b: per ROI the unique variance of each model group (same columns as
    :func:`plot_roi_top3`, with ``group`` instead of ``model``)."""
    return _roi_figure(
        table, out_path, item_col="group", colours=colours, pairs=pairs, alpha=alpha,
        suptitle="Model groups per ROI: unique variance", roi_order=roi_order,
    )  # fmt: skip
