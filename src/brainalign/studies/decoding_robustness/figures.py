"""Figures of the decoding-robustness study (matplotlib/seaborn), from its tidy tables.

Every function returns a Figure; save it with :func:`brainalign.maps.figures.save_figure`.
Training seeds are shown as points around the mean (the spread across training runs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = [
    "plot_accuracy_vs_blur",
    "plot_accuracy_drop",
    "plot_rsm_items",
    "plot_rsm_classes",
    "plot_similarity",
    "plot_similarity_vs_robustness",
    "plot_confusion",
    "plot_blur_examples",
]

_CMAP = "mako"  # the original's heatmaps


def _palette(names: Sequence[str]) -> dict[str, tuple]:
    colours = sns.color_palette("tab10", max(3, len(names)))
    return dict(zip(names, colours, strict=False))


def plot_accuracy_vs_blur(accuracy: pd.DataFrame) -> plt.Figure:
    """Test accuracy per blur level, one line per network (mean over training seeds, seeds as
    points), the decoder's accuracy and the chance level as horizontal references."""
    fig, ax = plt.subplots(figsize=(6, 4))
    nets = accuracy[accuracy["network"] != "decoder"]
    pal = _palette(list(dict.fromkeys(nets["network"])))
    for net, g in nets.groupby("network", sort=False):
        mean = g.groupby("blur_level")["accuracy"].mean()
        ax.plot(mean.index, 100 * mean.values, "-o", color=pal[net], label=net)
        ax.scatter(g["blur_level"], 100 * g["accuracy"], color=pal[net], s=8, alpha=0.5)
    dec = accuracy[accuracy["network"] == "decoder"]
    if len(dec):
        ax.axhline(100 * dec["accuracy"].mean(), color="k", ls="--", label="fMRI decoder")
    ax.axhline(100 * accuracy["chance"].iloc[0], color="grey", ls=":", label="majority class")
    ax.set(xlabel="blur level b", ylabel="test accuracy (%)", title="Accuracy under blur")
    ax.legend(fontsize=7, frameon=False)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_accuracy_drop(drops: pd.DataFrame) -> plt.Figure:
    """Accuracy drop (lowest minus highest blur level, percentage points) per network."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    order = list(dict.fromkeys(drops["network"]))
    sns.barplot(drops, x="network", y="accuracy_drop", order=order, errorbar=None,
                color="0.8", ax=ax)  # fmt: skip
    sns.stripplot(drops, x="network", y="accuracy_drop", order=order, color="k", size=4, ax=ax)
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="", ylabel="accuracy drop (points)", title="Robustness to blur")
    ax.tick_params(axis="x", rotation=30)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_rsm_items(rsms: Mapping[str, np.ndarray], labels_sorted: np.ndarray,
                   class_names: Sequence[str]) -> plt.Figure:  # fmt: skip
    """Item × item cosine RSMs (class-sorted test items), one panel per embedding."""
    n = len(rsms)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    bounds = np.flatnonzero(np.diff(labels_sorted)) + 0.5
    for ax, (name, rsm) in zip(axes.ravel(), rsms.items(), strict=False):
        im = ax.imshow(rsm, cmap=_CMAP, vmin=-1, vmax=1, interpolation="nearest")
        for b in bounds:
            ax.axhline(b, color="w", lw=0.6)
            ax.axvline(b, color="w", lw=0.6)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="cosine similarity")
    fig.suptitle("RSMs of the test items (" + " | ".join(class_names) + ")", fontsize=9)
    return fig


def plot_rsm_classes(class_rsm: pd.DataFrame) -> plt.Figure:
    """The 3×3 class-mean RSMs (cosine of the class-mean embeddings), first training seed."""
    first = class_rsm[class_rsm["training_seed"] == class_rsm["training_seed"].min()]
    names = list(dict.fromkeys(first["network"]))
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        m = first[first["network"] == name].pivot(index="class_a", columns="class_b",
                                                  values="value")  # fmt: skip
        order = list(dict.fromkeys(first["class_a"]))
        sns.heatmap(m.loc[order, order], vmin=-1, vmax=1, cmap=_CMAP, annot=True, fmt=".2f",
                    cbar=False, square=True, ax=ax, annot_kws={"fontsize": 7})  # fmt: skip
        ax.set(title=name, xlabel="", ylabel="")
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def plot_similarity(similarity: pd.DataFrame, variant: str) -> plt.Figure:
    """RSM similarity with the decoder per network: bars (mean over seeds), seeds as points,
    the bootstrap CI of each seed (corrected variant)."""
    sub = similarity[similarity["variant"] == variant]
    order = list(dict.fromkeys(sub["network"]))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    sns.barplot(sub, x="network", y="value", order=order, errorbar=None, color="0.8", ax=ax)
    for i, net in enumerate(order):
        g = sub[sub["network"] == net]
        x = i + np.linspace(-0.15, 0.15, len(g)) if len(g) > 1 else np.full(1, float(i))
        ax.scatter(x, g["value"], color="k", s=10, zorder=3)
        if g["ci_low"].notna().any():
            ax.vlines(x, g["ci_low"], g["ci_high"], color="k", lw=1)
    ax.axhline(0, color="k", lw=0.8)
    stat = sub["statistic"].iloc[0] if len(sub) else ""
    ax.set(xlabel="", ylabel=f"similarity with decoder RSM\n({stat})",
           title=f"RSM similarity ({variant})")  # fmt: skip
    ax.tick_params(axis="x", rotation=30)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_similarity_vs_robustness(similarity: pd.DataFrame, drops: pd.DataFrame,
                                  question: pd.DataFrame, variant: str) -> plt.Figure:  # fmt: skip
    """The study's question: RSM similarity against accuracy drop, one point per network and
    training seed, with the correlation and its CI in the title."""
    sim = similarity[similarity["variant"] == variant]
    m = sim.merge(drops, on=["network", "training_seed"])
    pal = _palette(list(dict.fromkeys(m["network"])))
    fig, ax = plt.subplots(figsize=(5, 4))
    for net, g in m.groupby("network", sort=False):
        ax.scatter(g["value"], g["accuracy_drop"], color=pal[net], label=net)
    q = question.iloc[0]
    ax.set(xlabel=f"similarity with decoder RSM ({variant})", ylabel="accuracy drop (points)",
           title=f"r = {q['value']:.2f} [{q['ci_low']:.2f}, {q['ci_high']:.2f}], "
           f"n = {int(q['n_points'])}")  # fmt: skip
    ax.legend(fontsize=7, frameon=False)
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_confusion(confusion: pd.DataFrame) -> plt.Figure:
    """Confusion matrices (first training seed, lowest blur level), decoder first."""
    first = confusion[confusion["training_seed"] == confusion["training_seed"].min()]
    names = list(dict.fromkeys(first["network"]))
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.9), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        g = first[first["network"] == name]
        order = list(dict.fromkeys(g["true_class"]))
        m = g.pivot(index="true_class", columns="predicted_class", values="count")
        sns.heatmap(m.loc[order, order], annot=True, fmt="d", cmap=_CMAP, cbar=False,
                    square=True, ax=ax, annot_kws={"fontsize": 7})  # fmt: skip
        ax.set(title=name, xlabel="predicted", ylabel="true")
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def plot_blur_examples(examples: Mapping[int, np.ndarray], title: str) -> plt.Figure:
    """A grid of example test images (rows) at every blur level (columns)."""
    levels = list(examples)
    n = examples[levels[0]].shape[0]
    fig, axes = plt.subplots(n, len(levels), figsize=(1.6 * len(levels), 1.6 * n),
                             squeeze=False)  # fmt: skip
    for j, level in enumerate(levels):
        for i in range(n):
            axes[i, j].imshow(examples[level][i], cmap="gray", vmin=0, vmax=255)
            axes[i, j].axis("off")
        axes[0, j].set_title(f"b = {level}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
