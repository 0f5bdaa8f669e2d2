"""Dwivedi et al. (2021): the functional-maps analyses of ROI and searchlight RDMs.

The drivers of the paper's statistics (``library/significance_testing.py`` and the ROI /
searchlight scripts of ``cvai-roig-lab/dnn2brain-function``), built on the core:

* individual models: clipped adjusted R² of each model's layer RDMs
  (:func:`brainalign.rsa.ols.clip_negative`), permutation p-values
  (:func:`brainalign.stats.permutation.permutation_test_bases`), BH across models;
* variance partitioning among the top-3 models or the model groups
  (:mod:`brainalign.rsa.partition`), with pairwise-difference p-values and bootstrap error bars
  (:func:`brainalign.stats.bootstrap.bootstrap_conditions`);
* searchlight maps: tests on the searchlights above the lower noise ceiling and the original's
  two-level FDR (:func:`brainalign.stats.fdr.fdr_two_level`);
* per-subject fits with a one-sample t-test (the original ``--stats t-test`` mode).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.ols import DesignBases, clip_negative, total_ss
from brainalign.rsa.partition import PartitionPlan, variance_partition_gram
from brainalign.stats.bootstrap import bootstrap_conditions
from brainalign.stats.fdr import fdr_bh, fdr_pairwise, fdr_two_level
from brainalign.stats.permutation import (
    PermutationResult,
    Seed,
    permutation_test_bases,
    rng_from_seed,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "analyse_models",
    "group_rdms",
    "individual_statistic",
    "partition_statistic",
    "roi_analysis",
    "searchlight_tests",
    "subject_level_models",
]


# --------------------------------------------------------------------------------------------
# The paper's two analyses on one or many brain RDMs
# --------------------------------------------------------------------------------------------
def individual_statistic(bases: DesignBases) -> Callable[[np.ndarray], np.ndarray]:
    """R² -> clipped adjusted R² per model (the original ``multiple_regression_rsa``)."""

    def f(r2: np.ndarray) -> np.ndarray:
        return clip_negative(bases.adjust(r2))

    return f


def partition_statistic(plan: PartitionPlan) -> Callable[[np.ndarray], np.ndarray]:
    """R² -> unique (adjusted) R² of each set (``vpart2``/``vpart3``/``vpart_general``)."""

    def f(r2: np.ndarray) -> np.ndarray:
        return plan.from_r2(r2)["unique"]

    return f


def analyse_models(
    y: ArrayLike,
    model_sets: Mapping[str, ArrayLike],
    *,
    analysis: str = "individual",
    n_permutations: int = 10_000,
    scheme: str = "labels",
    seed: Seed = 0,
    pairwise: bool = True,
    dtype: type = np.float64,
) -> dict[str, np.ndarray | PermutationResult | list[str]]:
    """Statistics and permutation p-values of the paper's analyses.

    Parameters
    ----------
    y : array ``(n_pairs,)`` or ``(n, n_pairs)``
        Subject-averaged brain RDM(s) (ROI or searchlights).
    model_sets : mapping name -> ``(n_pairs, p)``
        Layer RDMs of each model (``analysis="individual"``) or of each group
        (``analysis="partition"``).
    analysis : {"individual", "partition"}
        ``individual``: clipped adjusted R² of each model; ``partition``: unique adjusted R² of
        each set from variance partitioning.

    Returns
    -------
    dict
        ``names``, ``statistic`` (..., K), ``result`` (:class:`PermutationResult`), and for
        ``partition`` also ``total`` and ``shared`` (and ``shared_labels``).
    """
    if analysis not in ("individual", "partition"):
        raise ValueError(f"unknown analysis {analysis!r}; use 'individual' or 'partition'")
    names = list(model_sets)
    if analysis == "individual":
        bases = DesignBases(model_sets, dtype=dtype)
        stat = individual_statistic(bases)
        extra: dict = {}
    else:
        plan = PartitionPlan(model_sets, dtype=dtype)
        bases = plan.bases
        stat = partition_statistic(plan)
        full = plan(np.asarray(y))
        extra = {
            "total": full["total"],
            "shared": full["shared"],
            "shared_labels": list(full["shared_labels"]),
        }
    res = permutation_test_bases(
        y,
        bases,
        stat,
        n_permutations=n_permutations,
        scheme=scheme,
        seed=seed,
        pairwise=pairwise,
    )
    return {"names": names, "statistic": res.observed, "result": res, **extra}


# --------------------------------------------------------------------------------------------
# Searchlight maps: permutation tests on the kept searchlights and the two-level FDR
# --------------------------------------------------------------------------------------------
def searchlight_tests(
    mean_rdms: ArrayLike,
    lower_ceiling: ArrayLike,
    model_sets: Mapping[str, ArrayLike],
    *,
    analysis: str = "individual",
    nc_threshold: float = 0.033,
    n_permutations: int = 10_000,
    scheme: str = "labels",
    seed: Seed = 0,
    alpha: float = 0.05,
    dtype: type = np.float32,
    max_elements: int = 2**24,
) -> dict[str, np.ndarray | list[str]]:
    """The paper's searchlight statistics with the original's corrections.

    Statistics are computed for every searchlight with a valid RDM; permutation p-values only for
    the searchlights kept by the noise ceiling (``lower >= nc_threshold``; others are NaN), since
    only those enter the second FDR and the map.  Every kept searchlight sees the same
    permutations (as the original).

    Returns
    -------
    dict with
        ``names``; ``keep`` ``(n,)``; ``statistic`` ``(n, K)`` (clipped adj. R² or unique adj. R²);
        ``p`` raw, ``p_within`` (BH across the K within a searchlight), ``p_across`` (then BH
        across kept searchlights, per model); ``labels`` ``(n,)`` (index of the best model/group,
        -1 = not significant); for ``partition`` also ``total``, ``p_diff`` (BH within
        searchlight), ``p_diff_max`` and ``p_diff_max_across``.
    """
    from brainalign.maps import best_group_labels, best_model_labels, max_pairwise_p

    if analysis not in ("individual", "partition"):
        raise ValueError(f"unknown analysis {analysis!r}; use 'individual' or 'partition'")
    Y = np.asarray(mean_rdms)
    lo = np.asarray(lower_ceiling, dtype=np.float64)
    if Y.ndim != 2 or lo.shape != (Y.shape[0],):
        raise ValueError(
            f"mean_rdms (n, n_pairs) and lower (n,) expected; got {Y.shape}, {lo.shape}"
        )
    valid = np.all(np.isfinite(Y), axis=1)
    keep = valid & (np.nan_to_num(lo, nan=-np.inf) >= float(nc_threshold))
    names = list(model_sets)
    K = len(names)
    n = Y.shape[0]
    if analysis == "individual":
        bases = DesignBases(model_sets, dtype=dtype)
        stat_fn = individual_statistic(bases)
        plan = None
    else:
        plan = PartitionPlan(model_sets, dtype=dtype)
        bases = plan.bases
        stat_fn = partition_statistic(plan)
    statistic = np.full((n, K), np.nan)
    total = np.full(n, np.nan)
    Yv = Y[valid]
    if Yv.shape[0]:
        ss = bases.ss_reg(Yv)
        r2 = ss / total_ss(Yv)[:, None]
        statistic[valid] = stat_fn(r2)
        if plan is not None:
            total[valid] = plan.from_r2(r2)["total"]
    p = np.full((n, K), np.nan)
    p_diff = np.full((n, K, K), np.nan) if plan is not None else None
    if keep.any():
        res = permutation_test_bases(
            Y[keep], bases, stat_fn, n_permutations=n_permutations, scheme=scheme, seed=seed,
            pairwise=plan is not None, max_elements=max_elements,
        )  # fmt: skip
        p[keep] = res.p
        if plan is not None:
            p_diff[keep] = fdr_pairwise(res.p_diff, alpha=alpha)
    p_within, p_across = fdr_two_level(np.where(keep[:, None], p, np.nan), keep=keep, alpha=alpha)
    out: dict = {
        "names": names,
        "keep": keep,
        "valid": valid,
        "statistic": statistic,
        "p": p,
        "p_within": p_within,
        "p_across": p_across,
    }
    if plan is None:
        out["labels"] = best_model_labels(statistic, p_across, keep, alpha)
    else:
        best = np.argmax(np.where(np.isfinite(statistic), statistic, -np.inf), axis=1)
        dmax = np.full(n, np.nan)
        dmax[keep] = max_pairwise_p(p_diff[keep], best[keep])
        _, dmax_across = fdr_bh(dmax, alpha=alpha, axis=None, mask=keep)
        out.update(
            total=total,
            p_diff=p_diff,
            p_diff_max=dmax,
            p_diff_max_across=dmax_across,
            labels=best_group_labels(statistic, p_across, dmax_across, keep, alpha),
        )
    return out


# --------------------------------------------------------------------------------------------
# ROI analyses (Fig. 2: top-3 models; Fig. 3b: model groups)
# --------------------------------------------------------------------------------------------
def group_rdms(
    model_sets: Mapping[str, ArrayLike],
    groups: Mapping[str, str],
    order: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Group predictors: per layer the mean of the member models' layer RDMs (original
    ``get_grouped_rdms``); models without a listed group (e.g. ``random``) are left out."""
    members: dict[str, list[np.ndarray]] = {}
    for m, X in model_sets.items():
        g = groups.get(m)
        if g is None:
            continue
        members.setdefault(g, []).append(np.asarray(X, dtype=np.float64))
    keys = list(order) if order is not None else sorted(members)
    out = {}
    for g in keys:
        if g not in members:
            raise ValueError(f"group {g!r} has no model")
        shapes = {x.shape for x in members[g]}
        if len(shapes) != 1:
            raise ValueError(f"models of group {g!r} have different layer shapes {sorted(shapes)}")
        out[g] = np.mean(members[g], axis=0)
    return out


def _roi_seed(seed: Seed, *keys: int) -> np.random.Generator:
    base = seed if isinstance(seed, (int, np.integer)) else int(rng_from_seed(seed).integers(2**63))
    return np.random.default_rng([int(base), *keys])


def roi_analysis(
    roi_rdms: Mapping[str, ArrayLike],
    model_sets: Mapping[str, ArrayLike],
    groups: Mapping[str, str],
    *,
    group_order: Sequence[str] | None = None,
    top_k: int = 3,
    n_permutations: int = 10_000,
    n_bootstrap: int = 10_000,
    bootstrap_ratio: float = 0.9,
    scheme: str = "labels",
    seed: Seed = 0,
    alpha: float = 0.05,
    ceiling_statistic: str = "spearman",
) -> dict[str, pd.DataFrame]:
    """Fig. 2 and Fig. 3b analyses on ROI RDMs (subject-averaged, as the original default).

    Parameters
    ----------
    roi_rdms : mapping roi -> ``(n_subjects, n_pairs)``
    model_sets : mapping model -> ``(n_pairs, n_layers)``
    groups : mapping model -> group

    Returns
    -------
    dict of pandas DataFrames
        ``individual`` (roi, model, group, statistic=r2adj_clipped, value, rank, p, p_fdr),
        ``top3`` and ``grouped`` (roi, model/group, rank, unique_r2adj, sd, p, p_fdr,
        total_r2adj), ``top3_pairs`` and ``grouped_pairs`` (roi, item_1, item_2,
        value = difference of the unique adj. R², p, p_fdr),
        ``ceiling`` (roi, lower, upper).
    """
    import pandas as pd

    from brainalign.rsa.noise_ceiling import noise_ceiling_condensed as noise_ceiling

    gsets = group_rdms(model_sets, groups, group_order)
    rows_ind, rows_top, rows_grp, pairs_top, pairs_grp, rows_nc = [], [], [], [], [], []
    for ri, (roi, R) in enumerate(roi_rdms.items()):
        R = np.asarray(R, dtype=np.float64)
        if R.ndim != 2 or not np.all(np.isfinite(R)):
            raise ValueError(
                f"ROI {roi!r}: RDMs must be finite (n_subjects, n_pairs); got {R.shape}"
            )
        y = R.mean(axis=0)
        lo, up = noise_ceiling(R, statistic=ceiling_statistic)
        rows_nc.append({"roi": roi, "lower": float(lo), "upper": float(up)})
        ind = analyse_models(
            y, model_sets, analysis="individual", n_permutations=n_permutations, scheme=scheme,
            seed=_roi_seed(seed, ri, 0), pairwise=False,
        )  # fmt: skip
        stat = ind["statistic"]
        _, pf = fdr_bh(ind["result"].p, alpha=alpha)
        order = np.argsort(-stat, kind="mergesort")
        rank = np.empty(len(order), dtype=int)
        rank[order] = np.arange(1, len(order) + 1)
        for k, m in enumerate(ind["names"]):
            rows_ind.append({
                "roi": roi, "model": m, "group": groups.get(m, "none"),
                "statistic": "r2adj_clipped", "value": stat[k], "rank": int(rank[k]),
                "p": ind["result"].p[k], "p_fdr": pf[k],
            })  # fmt: skip
        top = [ind["names"][i] for i in order[: min(top_k, len(order))]]
        for kind, sets, rows, pairs, code in (
            ("top", {m: model_sets[m] for m in top}, rows_top, pairs_top, 1),
            ("grouped", gsets, rows_grp, pairs_grp, 2),
        ):
            if len(sets) < 2:
                continue
            res = analyse_models(
                y, sets, analysis="partition", n_permutations=n_permutations, scheme=scheme,
                seed=_roi_seed(seed, ri, code), pairwise=True,
            )  # fmt: skip
            draws = bootstrap_conditions(
                y, sets, lambda ys, S: variance_partition_gram(ys, S)["unique"],
                n_bootstrap=n_bootstrap, ratio=bootstrap_ratio, seed=_roi_seed(seed, ri, code + 10),
            )  # fmt: skip
            sd = draws.std(axis=0, ddof=1)
            pr = res["result"]
            _, pf_u = fdr_bh(pr.p, alpha=alpha)
            pd_c = fdr_pairwise(pr.p_diff, alpha=alpha)
            names = res["names"]
            col = "model" if kind == "top" else "group"
            for k, nm in enumerate(names):
                rows.append({
                    "roi": roi, col: nm, "rank": k + 1, "unique_r2adj": res["statistic"][k],
                    "sd": sd[k], "p": pr.p[k], "p_fdr": pf_u[k], "total_r2adj": float(res["total"]),
                })  # fmt: skip
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    pairs.append({
                        "roi": roi, "item_1": names[i], "item_2": names[j],
                        "value": res["statistic"][i] - res["statistic"][j],
                        "p": pr.p_diff[i, j], "p_fdr": pd_c[i, j],
                    })  # fmt: skip
    return {
        "individual": pd.DataFrame(rows_ind),
        "top3": pd.DataFrame(rows_top),
        "top3_pairs": pd.DataFrame(pairs_top),
        "grouped": pd.DataFrame(rows_grp),
        "grouped_pairs": pd.DataFrame(pairs_grp),
        "ceiling": pd.DataFrame(rows_nc),
    }


def subject_level_models(
    roi_rdms: Mapping[str, ArrayLike],
    model_sets: Mapping[str, ArrayLike],
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per-subject fits (the original ``--stats t-test`` mode, ROI part).

    For every ROI and subject the clipped adjusted R² of each model on that subject's RDM; then
    per ROI and model a two-sided one-sample t-test of the subject values against 0
    (``scipy.stats.ttest_1samp``), BH-corrected across models within the ROI.

    Returns
    -------
    pandas.DataFrame
        roi, subject, model, statistic (``r2adj_clipped`` per subject; ``mean_r2adj_clipped``
        with ``t``, ``p``, ``p_fdr`` for the test rows), value.
    """
    import pandas as pd
    from scipy.stats import ttest_1samp

    db = DesignBases(model_sets)
    names = list(model_sets)
    rows = []
    for roi, R in roi_rdms.items():
        R = np.asarray(R, dtype=np.float64)
        if R.ndim != 2 or R.shape[0] < 2 or not np.all(np.isfinite(R)):
            raise ValueError(f"ROI {roi!r}: need finite (n_subjects >= 2, n_pairs); got {R.shape}")
        vals = clip_negative(db.adjusted_r2(R))  # (S, K)
        for s in range(R.shape[0]):
            for k, m in enumerate(names):
                rows.append({"roi": roi, "subject": s + 1, "model": m,
                             "statistic": "r2adj_clipped", "value": vals[s, k]})  # fmt: skip
        with np.errstate(invalid="ignore", divide="ignore"):
            t, p = ttest_1samp(vals, 0.0, axis=0)
        p = np.where(np.isfinite(p), p, 1.0)
        _, pf = fdr_bh(p, alpha=alpha)
        for k, m in enumerate(names):
            rows.append({"roi": roi, "subject": np.nan, "model": m,
                         "statistic": "mean_r2adj_clipped", "value": vals[:, k].mean(),
                         "t": t[k], "p": p[k], "p_fdr": pf[k]})  # fmt: skip
    return pd.DataFrame(rows)
