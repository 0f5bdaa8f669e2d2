"""Figures of the mouse RSA study (matplotlib/seaborn), from its tidy tables.

Layer profiles as the original's point plots: per model the median over model seeds with the
seeds' range, the split-half noise ceiling as median (dashed) ± SD (grey band), the pixel
baseline as a dotted line; raw tau-a and noise-corrected values side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = ["plot_brain_rdms", "plot_grid", "plot_layer_profiles"]


def _profile(ax, table: pd.DataFrame, column: str, ceiling: pd.Series | None,
             pixel: float | None, palette: Mapping[str, tuple]) -> None:  # fmt: skip
    offset = 0
    ticks, labels = [], []
    for model, g in table.groupby("model", sort=False):
        stats = g.groupby(["layer_index", "layer"], sort=True)[column].agg(["median", "min", "max"])
        x = offset + np.arange(len(stats))
        ax.errorbar(x, stats["median"], yerr=[stats["median"] - stats["min"],
                                                stats["max"] - stats["median"]],
                    fmt="-o", ms=3, color=palette[model], label=model)  # fmt: skip
        ticks += list(x)
        labels += [layer for _, layer in stats.index]
        offset += len(stats) + 1
    if ceiling is not None and len(ceiling):
        med, sd = float(np.median(ceiling)), float(np.std(ceiling, ddof=1))
        ax.axhspan(med - sd, med + sd, color="0.85", zorder=0)
        ax.axhline(med, color="0.4", ls="--", lw=1, label="noise ceiling")
    if pixel is not None:
        ax.axhline(pixel, color="k", ls=":", lw=1, label="pixels")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(ticks, labels, rotation=90, fontsize=6)


def plot_layer_profiles(
    comparison: pd.DataFrame, ceiling: pd.Series, *, title: str, variant: str
) -> plt.Figure:
    """One area × depth × stimulus: raw tau-a (left) and noise-corrected (right) per layer."""
    models = [m for m in dict.fromkeys(comparison["model"]) if m != "pixel"]
    pal = dict(zip(models, sns.color_palette("tab10", max(3, len(models))), strict=False))
    nets = comparison[comparison["model"] != "pixel"]
    pix = comparison[comparison["model"] == "pixel"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    _profile(axes[0], nets, "value", ceiling, float(pix["value"].mean()) if len(pix) else None,
             pal)  # fmt: skip
    _profile(axes[1], nets, "value_nc", None,
             float(pix["value_nc"].mean()) if len(pix) else None, pal)  # fmt: skip
    axes[0].set(ylabel="Kendall tau-a with brain RDMs", title="raw")
    axes[1].set(ylabel="tau-a / median noise ceiling", title=f"noise-corrected ({variant})")
    axes[0].legend(fontsize=6, frameon=False)
    fig.suptitle(title, fontsize=9)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_grid(comparison: pd.DataFrame, ceilings: pd.DataFrame, stimulus: str,
              areas: Sequence[str], depths: Sequence[int]) -> plt.Figure:  # fmt: skip
    """All areas (columns) × depths (rows) of one stimulus, raw tau-a per layer."""
    fig, axes = plt.subplots(len(depths), len(areas), figsize=(3.2 * len(areas),
                             2.6 * len(depths)), sharey=True, squeeze=False)  # fmt: skip
    models = [m for m in dict.fromkeys(comparison["model"]) if m != "pixel"]
    pal = dict(zip(models, sns.color_palette("tab10", max(3, len(models))), strict=False))
    for i, depth in enumerate(depths):
        for j, area in enumerate(areas):
            sel = (comparison["area"] == area) & (comparison["depth"] == depth)
            c = comparison[sel & (comparison["stimulus"] == stimulus)]
            cs = ceilings[(ceilings["area"] == area) & (ceilings["depth"] == depth)
                          & (ceilings["stimulus"] == stimulus)]["value"]  # fmt: skip
            pix = c[c["model"] == "pixel"]["value"]
            _profile(axes[i, j], c[c["model"] != "pixel"], "value", cs,
                     float(pix.mean()) if len(pix) else None, pal)  # fmt: skip
            axes[i, j].set_title(f"{area}, {depth} um", fontsize=8)
    axes[0, 0].legend(fontsize=5, frameon=False)
    fig.suptitle(f"{stimulus}: tau-a per layer", fontsize=9)
    fig.tight_layout()
    return fig


def plot_brain_rdms(rdms: Mapping[str, np.ndarray], title: str) -> plt.Figure:
    """All-trial brain RDMs (square) as heatmaps, one panel each."""
    n = len(rdms)
    cols = min(n, 5)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.5 * rows), squeeze=False)
    for ax, (name, rdm) in zip(axes.ravel(), rdms.items(), strict=False):
        im = ax.imshow(rdm, cmap="viridis", interpolation="nearest")
        ax.set_title(name, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="1 - Pearson r")
    fig.suptitle(title, fontsize=9)
    return fig
