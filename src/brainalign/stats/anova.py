"""Group statistics over per-subject comparison statistics (pingouin).

Two modes for the post-hoc tests:

``corrected`` (default)
    Paired t-tests (subjects are the same in every condition and layer), Holm-corrected
    within each comparison.
``faithful``
    As the original analysis code: independent-samples Student t-tests, uncorrected
    (``scipy.stats.ttest_ind`` defaults), although the subjects are paired.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pingouin as pg

__all__ = ["POSTHOC_MODES", "rm_anova", "posthoc_tests"]

POSTHOC_MODES = ("corrected", "faithful")


def _check_table(df: pd.DataFrame, conditions: Sequence[str]) -> pd.DataFrame:
    need = {"subject", "condition", "layer", "layer_index", "value"}
    missing = need - set(df.columns)
    if missing:
        raise ValueError(f"comparison table lacks column(s) {sorted(missing)}")
    sub = df[df["condition"].isin(conditions)]
    for c in conditions:
        if c not in set(sub["condition"]):
            raise ValueError(
                f"condition {c!r} has no results; available: {sorted(set(df['condition']))}"
            )
    counts = sub.groupby(["condition", "layer"])["subject"].nunique()
    if counts.nunique() != 1:
        raise ValueError(
            "every condition and layer needs the same subjects for a repeated-measures design"
        )
    if sub["value"].isna().any():
        raise ValueError("comparison values contain NaN")
    return sub


def rm_anova(df: pd.DataFrame, conditions: Sequence[str]) -> pd.DataFrame:
    """Repeated-measures ANOVA, condition × layer, both within subjects.

    Parameters
    ----------
    df : DataFrame
        Long table with columns ``subject, condition, layer, layer_index, value`` (one row
        per subject, condition and layer) for one region.
    conditions : sequence of str
        The conditions to compare (two in the paper's design).

    Returns
    -------
    DataFrame
        One row per effect (``condition``, ``layer``, ``condition * layer``) with columns
        ``source, ddof1, ddof2, F, p, p_gg, eps, ng2``.
    """
    sub = _check_table(df, conditions)
    aov = pg.rm_anova(
        data=sub,
        dv="value",
        within=["condition", "layer"],
        subject="subject",
        correction=True,
        effsize="ng2",
    )
    out = pd.DataFrame(
        {
            "source": aov["Source"],
            "ddof1": aov["ddof1"].astype(float),
            "ddof2": aov["ddof2"].astype(float),
            "F": aov["F"].astype(float),
            "p": aov["p_unc"].astype(float) if "p_unc" in aov else aov["p-unc"].astype(float),
            "p_gg": _col(aov, ("p_GG_corr", "p-GG-corr")),
            "eps": _col(aov, ("eps",)),
            "ng2": _col(aov, ("ng2",)),
        }
    )
    return out.reset_index(drop=True)


def _col(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.Series:
    for n in names:
        if n in frame:
            return frame[n].astype(float)
    return pd.Series(np.nan, index=frame.index)


def _ttest(x: np.ndarray, y: np.ndarray, paired: bool) -> tuple[float, float, float]:
    res = pg.ttest(x, y, paired=paired, correction=False, alternative="two-sided")
    return (
        float(res["T"].iloc[0]),
        float(res["dof"].iloc[0]),
        float(res["p_val"].iloc[0] if "p_val" in res else res["p-val"].iloc[0]),
    )


def posthoc_tests(
    df: pd.DataFrame, conditions: Sequence[str], mode: str = "corrected", alpha: float = 0.05
) -> pd.DataFrame:
    """Post-hoc t-tests: per layer between the conditions, and first vs last layer within each.

    Parameters
    ----------
    df : DataFrame
        As for :func:`rm_anova`.
    conditions : sequence of str
        Exactly two conditions.
    mode : {"corrected", "faithful"}
        See the module docstring.
    alpha : float
        Threshold for the ``significant`` column (on ``p_corrected``).

    Returns
    -------
    DataFrame
        Columns ``test, layer, condition_a, condition_b, paired, t, dof, p, p_corrected,
        correction, significant``. ``test`` is ``between_conditions`` (one row per layer) or
        ``first_vs_last`` (one row per condition; condition_a == condition_b).
    """
    if mode not in POSTHOC_MODES:
        raise ValueError(f"unknown post-hoc mode {mode!r}; choose one of {list(POSTHOC_MODES)}")
    if len(conditions) != 2:
        raise ValueError(f"post-hoc tests compare exactly two conditions, got {list(conditions)}")
    sub = _check_table(df, conditions)
    paired = mode == "corrected"
    wide = sub.pivot_table(
        index="subject", columns=["condition", "layer_index"], values="value", aggfunc="first"
    ).sort_index()
    layers = (
        sub[["layer_index", "layer"]]
        .drop_duplicates()
        .sort_values("layer_index")
        .itertuples(index=False)
    )
    layers = list(layers)
    rows = []
    a, b = conditions
    for li, lname in layers:
        t, dof, p = _ttest(wide[(a, li)].to_numpy(), wide[(b, li)].to_numpy(), paired)
        rows.append(("between_conditions", lname, a, b, t, dof, p))
    first, last = layers[0], layers[-1]
    for c in conditions:
        t, dof, p = _ttest(wide[(c, first[0])].to_numpy(), wide[(c, last[0])].to_numpy(), paired)
        rows.append(("first_vs_last", f"{first[1]}-{last[1]}", c, c, t, dof, p))
    out = pd.DataFrame(
        rows, columns=["test", "layer", "condition_a", "condition_b", "t", "dof", "p"]
    )
    out.insert(4, "paired", paired)
    if mode == "corrected":
        _, out["p_corrected"] = pg.multicomp(out["p"].to_numpy(), method="holm")
        out["correction"] = "holm"
    else:
        out["p_corrected"] = out["p"]
        out["correction"] = "none"
    out["significant"] = out["p_corrected"] < alpha
    return out
