"""Figures of Truzzi & Cusack (2020) (matplotlib/seaborn).

Layouts follow the paper: mean ± SEM of the comparison statistic per layer, trained networks solid
and untrained dashed, the noise-ceiling band computed from the data (the original hard-coded
0.31–0.38), and '*' where a post-hoc test is significant.  Save them with
:func:`brainalign.maps.figures.save_figure`.
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
    "plot_training_curves",
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


def plot_training_curves(table: pd.DataFrame, context: str = "paper") -> plt.Figure:
    """Per-epoch training curves of the networks the workflow trained.

    Parameters
    ----------
    table : DataFrame
        ``tables/training.csv``: network, epoch, statistic, value (statistics ``loss``,
        ``top1``/``top5`` for supervised training, ``nmi_true``/``nmi_previous``/``nmi_chance``
        for DeepCluster).
    context : str
        seaborn plotting context.

    Returns
    -------
    matplotlib Figure
        Three panels: training loss; validation top-1 (solid) and top-5 (dotted) accuracy;
        DeepCluster's NMI with the true categories (solid), with the previous epoch's
        clusters (dashed) and its chance level (grey).
    """
    sns.set_theme(context=context, style="ticks")
    wide = table.pivot_table(index=["network", "epoch"], columns="statistic", values="value")
    nets = list(dict.fromkeys(table["network"]))
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for i, net in enumerate(nets):
        h = wide.loc[net].sort_index()
        colour = _colour(net, i)
        axes[0].plot(h.index, h["loss"], "-o", ms=3, color=colour, label=net)
        if "top1" in h and h["top1"].notna().any():
            axes[1].plot(h.index, h["top1"], "-o", ms=3, color=colour, label=f"{net} top-1")
            axes[1].plot(h.index, h["top5"], ":", color=colour, label=f"{net} top-5")
        if "nmi_true" in h and h["nmi_true"].notna().any():
            axes[2].plot(
                h.index, h["nmi_true"], "-o", ms=3, color=colour, label=f"{net} vs categories"
            )
            axes[2].plot(
                h.index, h["nmi_previous"], "--", color=colour, label=f"{net} vs previous epoch"
            )
            axes[2].plot(
                h.index, h["nmi_chance"], "-", color="0.6", lw=1, label="chance (vs categories)"
            )
    axes[0].set(xlabel="epoch", ylabel="training loss", title="loss")
    axes[1].set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1.02), title="supervised")
    axes[2].set(xlabel="epoch", ylabel="NMI", ylim=(0, 1.02), title="DeepCluster clusters")
    for ax in axes:
        if ax.lines:
            ax.legend(fontsize="x-small", frameon=False)
        else:
            ax.text(0.5, 0.5, "none trained", ha="center", va="center", transform=ax.transAxes)
    sns.despine(fig)
    fig.tight_layout()
    return fig
