"""Figures of the network-vs-brain study (matplotlib/seaborn).

Layouts follow Truzzi & Cusack (2020): mean ± SEM of the comparison statistic per layer,
trained networks solid and untrained dashed, the noise-ceiling band computed from the data
(the original hard-coded 0.31–0.38), and '*' where a post-hoc test is significant.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = [
    "NETWORK_COLOURS",
    "plot_layer_profiles",
    "plot_profile_panels",
    "plot_rdm_grid",
    "plot_rdm",
    "save_figure",
]

#: Colours of the original figures (xkcd names) by network.
NETWORK_COLOURS = {
    "alexnet": "xkcd:leaf green",
    "deepcluster": "xkcd:denim blue",
    "modified_alexnet": "xkcd:burgundy",
}
_FALLBACK = sns.color_palette("tab10")


def _colour(network: str, i: int) -> object:
    return NETWORK_COLOURS.get(network, _FALLBACK[i % len(_FALLBACK)])


def plot_layer_profiles(
    ax: plt.Axes,
    table: pd.DataFrame,
    conditions: Sequence[str],
    ceiling: tuple[float, float] | None = None,
    posthoc: pd.DataFrame | None = None,
    ylabel: str = "Kendall tau",
    ylim: tuple[float, float] | None = None,
) -> plt.Axes:
    """Draw mean ± SEM per layer for each condition on ``ax``.

    Parameters
    ----------
    ax : matplotlib Axes
    table : DataFrame
        Columns ``condition, network, training, layer, layer_index, subject, value`` for one
        region.
    conditions : sequence of str
        Conditions to draw, in legend order.
    ceiling : (lower, upper), optional
        Noise-ceiling band drawn in grey.
    posthoc : DataFrame, optional
        Rows of :func:`brainalign.stats.anova.posthoc_tests` for these conditions; a '*' marks
        layers where ``significant`` is true for ``between_conditions``.
    """
    if ceiling is not None:
        ax.axhspan(ceiling[0], ceiling[1], color="0.85", zorder=0, label="noise ceiling")
    nets = list(dict.fromkeys(table.loc[table["condition"].isin(conditions), "network"]))
    tops = []
    for cond in conditions:
        sub = table[table["condition"] == cond]
        if sub.empty:
            continue
        g = sub.groupby("layer_index")["value"]
        mean, sem = g.mean(), g.sem(ddof=1)
        net, training = sub["network"].iloc[0], sub["training"].iloc[0]
        ax.errorbar(
            mean.index,
            mean.values,
            yerr=sem.values,
            color=_colour(net, nets.index(net)),
            linestyle="-" if training == "trained" else "--",
            marker="o",
            ms=4,
            capsize=3,
            label=f"{net} ({training})",
        )
        tops.append((mean + sem).to_numpy())
    layer_names = table[["layer_index", "layer"]].drop_duplicates().sort_values("layer_index")
    ax.set_xticks(layer_names["layer_index"], layer_names["layer"])
    if posthoc is not None and len(tops):
        top = np.nanmax(np.vstack(tops), axis=0)
        sig = posthoc[(posthoc["test"] == "between_conditions") & posthoc["significant"]]
        idx = dict(zip(layer_names["layer"], layer_names["layer_index"], strict=True))
        for lname in sig["layer"]:
            i = idx[lname]
            ax.text(
                i,
                top[list(layer_names["layer_index"]).index(i)] * 1.04 + 0.005,
                "*",
                ha="center",
                va="bottom",
                fontsize=14,
            )
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(frameon=False, fontsize=8)
    sns.despine(ax=ax)
    return ax


def plot_profile_panels(
    table: pd.DataFrame,
    panels: Sequence[tuple[str, Sequence[str]]],
    ceiling: tuple[float, float] | None,
    posthoc: pd.DataFrame | None,
    ylabel: str,
    title: str,
    context: str = "paper",
    ylim: tuple[float, float] | None = None,
) -> plt.Figure:
    """One panel per ``(panel_title, conditions)`` side by side, sharing the y axis."""
    sns.set_theme(context=context, style="ticks")
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels), 3.6), sharey=True, squeeze=False
    )
    for ax, (ptitle, conds) in zip(axes[0], panels, strict=True):
        ph = None
        if posthoc is not None and len(conds) == 2:
            pair = posthoc[["condition_a", "condition_b"]].apply(frozenset, axis=1)
            ph = posthoc[(pair == frozenset(conds)) & (posthoc["test"] == "between_conditions")]
        plot_layer_profiles(ax, table, conds, ceiling, ph, ylabel, ylim)
        ax.set_title(ptitle)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_rdm(
    ax: plt.Axes,
    rdm: np.ndarray,
    title: str,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "Blues_r",
) -> plt.Axes:
    """Heatmap of one RDM (the original used ``Blues_r``); limits default to the 1st and 99th
    percentiles of the off-diagonal values."""
    off = rdm[~np.eye(rdm.shape[0], dtype=bool)]
    vmin = np.percentile(off, 1) if vmin is None else vmin
    vmax = np.percentile(off, 99) if vmax is None else vmax
    im = ax.imshow(rdm, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", rasterized=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.colorbar(im, ax=ax, shrink=0.6)
    ax.set_title(title, fontsize=9)
    return ax


def plot_rdm_grid(
    rdms: Sequence[np.ndarray], titles: Sequence[str], suptitle: str, ncols: int = 4
) -> plt.Figure:
    """A grid of RDM heatmaps (e.g. the 7 layers of one network)."""
    n = len(rdms)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, rdm, t in zip(axes.ravel(), rdms, titles, strict=False):
        plot_rdm(ax, rdm, t)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, paths, provenance: dict | None = None) -> None:
    """Save ``fig`` to every path (format from the suffix) atomically, then close it.

    Metadata that would change between runs (creation dates) is stripped, so the same data
    gives the same bytes. ``provenance`` (see :mod:`brainalign.pipeline.provenance`) is stored as JSON
    in the file's metadata (PNG ``Description``, PDF ``Subject``, SVG ``Description``).
    """
    import json
    from pathlib import Path

    from brainalign.io.files import atomic_path

    text = json.dumps(provenance, sort_keys=True, default=str) if provenance else None
    for path in [paths] if isinstance(paths, str | Path) else list(paths):
        fmt = Path(path).suffix.lstrip(".")
        meta: dict = {
            "png": {"Software": None},
            "pdf": {"CreationDate": None, "Producer": None},
            "svg": {"Date": None},
        }.get(fmt, {})
        if text is not None:
            meta[{"png": "Description", "pdf": "Subject", "svg": "Description"}[fmt]] = text
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, metadata=meta)
    plt.close(fig)
