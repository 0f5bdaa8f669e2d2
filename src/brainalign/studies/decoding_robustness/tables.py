"""The study's tables: accuracy under blur (with binomial CIs), accuracy drop, confusion
matrices, and the question (RSM similarity vs accuracy drop across networks).

Pure functions over arrays and tidy frames (numpy, pandas, scipy); the rule scripts read the
inputs, call these and write the tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "accuracy_rows",
    "accuracy_drop",
    "confusion_matrix",
    "confusion_rows",
    "robustness_question",
]


def accuracy_rows(
    network: str,
    training_seed: int,
    blur: str,
    predictions: Mapping[int, ArrayLike],
    y: ArrayLike,
    *,
    ci: float = 0.95,
) -> pd.DataFrame:
    """One row per blur level: ``network, training_seed, blur, blur_level, n_items, correct,
    accuracy, ci_low, ci_high, chance``.

    The CI is the exact (Clopper-Pearson) binomial interval over the test items; ``chance`` is
    the share of the most frequent test class (the best accuracy without looking at the input).

    Parameters
    ----------
    predictions : mapping level -> array ``(n_items,)``
        Predicted class ids of the test items at each blur level.
    y : array ``(n_items,)``
        True class ids.
    """
    from scipy.stats import binomtest

    yt = np.asarray(y)
    chance = np.bincount(yt).max() / yt.size
    rows = []
    for level, pred in predictions.items():
        correct = int(np.sum(np.asarray(pred) == yt))
        interval = binomtest(correct, yt.size).proportion_ci(ci, method="exact")
        rows.append(
            {"network": network, "training_seed": int(training_seed), "blur": blur,
             "blur_level": int(level), "n_items": int(yt.size), "correct": correct,
             "accuracy": correct / yt.size, "ci_low": interval.low, "ci_high": interval.high,
             "chance": chance}
        )  # fmt: skip
    return pd.DataFrame(rows)


def accuracy_drop(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Accuracy at the lowest blur level minus the highest, per network and training seed
    (percentage points, as the original's "accuracy drop")."""
    rows = []
    for (net, seed, blur), g in accuracy.groupby(["network", "training_seed", "blur"], sort=False):
        g = g.sort_values("blur_level")
        first, last = g.iloc[0], g.iloc[-1]
        rows.append(
            {"network": net, "training_seed": int(seed), "blur": blur,
             "level_low": int(first["blur_level"]), "level_high": int(last["blur_level"]),
             "accuracy_low": first["accuracy"], "accuracy_high": last["accuracy"],
             "accuracy_drop": 100.0 * (first["accuracy"] - last["accuracy"])}
        )  # fmt: skip
    return pd.DataFrame(rows)


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int = 3) -> np.ndarray:
    """Counts of (true, predicted) class pairs, ``(n_classes, n_classes)``, rows = true class."""
    t, p = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if t.shape != p.shape:
        raise ValueError(f"labels of shapes {t.shape} and {p.shape}")
    counts = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(counts, (t, p), 1)
    return counts


def confusion_rows(
    network: str, training_seed: int, y: ArrayLike, pred: ArrayLike, class_names: Sequence[str]
) -> pd.DataFrame:
    """Long confusion matrix: ``network, training_seed, true_class, predicted_class, count``."""
    k = len(class_names)
    counts = confusion_matrix(np.asarray(y), np.asarray(pred), k)
    t, p = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    return pd.DataFrame(
        {"network": network, "training_seed": int(training_seed),
         "true_class": [class_names[i] for i in t.ravel()],
         "predicted_class": [class_names[j] for j in p.ravel()], "count": counts.ravel()}
    )  # fmt: skip


def robustness_question(
    similarity: pd.DataFrame, drops: pd.DataFrame, *, variant: str = "corrected", ci: float = 0.95
) -> pd.DataFrame:
    """Are networks more similar to the brain also more robust? Pearson r across the networks
    (one point per network and training seed) between RSM similarity and accuracy drop, with its
    Fisher-z CI (NaN with fewer than 4 points).

    Returns
    -------
    DataFrame with one row: ``variant, statistic, n_points, value, p, ci_low, ci_high``.
    """
    from scipy.stats import pearsonr

    sim = similarity[similarity["variant"] == variant][["network", "training_seed", "value"]]
    merged = sim.merge(drops[["network", "training_seed", "accuracy_drop"]],
                       on=["network", "training_seed"])  # fmt: skip
    n = len(merged)
    r = p = lo = hi = np.nan
    if n >= 3 and merged["value"].std() > 0 and merged["accuracy_drop"].std() > 0:
        res = pearsonr(merged["value"], merged["accuracy_drop"])
        r, p = float(res.statistic), float(res.pvalue)
        if n >= 4:
            c = res.confidence_interval(confidence_level=ci)
            lo, hi = float(c.low), float(c.high)
    return pd.DataFrame(
        [{"variant": variant, "statistic": "pearson_similarity_vs_accuracy_drop",
          "n_points": n, "value": r, "p": p, "ci_low": lo, "ci_high": hi}]
    )  # fmt: skip
