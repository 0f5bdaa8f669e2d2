"""Dwivedi et al. (2021): the ROI analyses (Fig. 2: top-3 models; Fig. 3b: model groups).

``mode="corrected"`` (default) and ``mode="faithful"`` (the original code) differ in
(README "Faithful and corrected variants"):

* ranking of the individual models: on the unclipped adjusted R², tied models sharing the best
  (lowest) rank and all models tied at rank ``top_k`` entering the partitioning (corrected), or on
  the clipped adjusted R² with ties (all models at 0) broken by list order (faithful);
* error bars: the bootstrap standard error over conditions drawn *with* replacement, column
  ``se`` (corrected), or the SD over subsamples of ``bootstrap_ratio`` of the conditions drawn
  without replacement, column ``sd`` (faithful);
* model groups: the members' layer RDMs as joint predictors (corrected) or their average per
  layer (faithful), :func:`brainalign.studies.dwivedi2021.analysis.group_rdms`;
* pairwise differences of unique variance (the ``*`` between bars): two-sided bootstrap
  p-values over conditions drawn with replacement (corrected; the same draws as the error bars),
  or permutation counts in the direction of the observed difference (faithful; permuting
  conditions removes both contributions, so equal contributors are declared different);
* per-subject inference: a condition-label permutation test of the subjects' mean unclipped
  adjusted R² (corrected), or a t-test of the clipped values against 0 (faithful).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.ols import DesignBases, clip_negative
from brainalign.rsa.partition import variance_partition_gram
from brainalign.stats.bootstrap import bootstrap_conditions, bootstrap_difference_p
from brainalign.stats.fdr import fdr_bh, fdr_pairwise
from brainalign.stats.permutation import Seed, permutation_test_bases, rng_from_seed
from brainalign.studies.dwivedi2021.analysis import analyse_models, check_mode, group_rdms

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["rank_models", "roi_analysis", "subject_level_models"]


def _roi_seed(seed: Seed, *keys: int) -> np.random.Generator:
    base = seed if isinstance(seed, (int, np.integer)) else int(rng_from_seed(seed).integers(2**63))
    return np.random.default_rng([int(base), *keys])


def rank_models(
    values: ArrayLike, top_k: int, *, mode: str = "corrected"
) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (1 = best) of the models' statistics and the indices of the top models.

    ``mode="faithful"``: a stable sort, ties broken by list order, exactly ``top_k`` models.
    ``mode="corrected"``: tied values share the lowest rank of the tie (``min`` ranking) and every
    model ranked ``<= top_k`` is a top model (more than ``top_k`` only when models tie at the
    boundary); the top models come in rank order, ties in list order.

    Returns
    -------
    rank : int array ``(K,)``
    top : int array, indices of the top models, best first
    """
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(-v, kind="mergesort")
    rank = np.empty(v.size, dtype=int)
    rank[order] = np.arange(1, v.size + 1)
    if check_mode(mode) == "faithful":
        return rank, order[: min(int(top_k), v.size)]
    from scipy.stats import rankdata

    rank = rankdata(-v, method="min").astype(int)
    return rank, np.array([i for i in order if rank[i] <= int(top_k)], dtype=int)


def _partition_rows(y, sets, *, kind, roi, ri, mode, n_permutations, n_bootstrap,
                    bootstrap_ratio, scheme, seed, alpha):  # fmt: skip
    """Rows (items and pairs) of one variance partitioning of one ROI."""
    code = 1 if kind == "top" else 2
    res = analyse_models(
        y, sets, analysis="partition", n_permutations=n_permutations, scheme=scheme,
        seed=_roi_seed(seed, ri, code), pairwise=True,
    )  # fmt: skip
    faithful = mode == "faithful"
    draws = bootstrap_conditions(
        y, sets, lambda ys, S: variance_partition_gram(ys, S)["unique"],
        n_bootstrap=n_bootstrap, ratio=bootstrap_ratio, seed=_roi_seed(seed, ri, code + 10),
        replace=not faithful,
    )  # fmt: skip
    err = draws.std(axis=0, ddof=1)
    err_col = "sd" if faithful else "se"
    pr = res["result"]
    _, pf_u = fdr_bh(pr.p, alpha=alpha)
    # pairwise differences: permutation counts (faithful) or the bootstrap over conditions
    p_diff = pr.p_diff if faithful else bootstrap_difference_p(draws)
    pd_c = fdr_pairwise(p_diff, alpha=alpha)
    names = res["names"]
    col = "model" if kind == "top" else "group"
    rows = [
        {"roi": roi, col: nm, "rank": k + 1, "unique_r2adj": res["statistic"][k],
         err_col: err[k], "p": pr.p[k], "p_fdr": pf_u[k], "total_r2adj": float(res["total"])}
        for k, nm in enumerate(names)
    ]  # fmt: skip
    pairs = [
        {"roi": roi, "item_1": names[i], "item_2": names[j],
         "value": res["statistic"][i] - res["statistic"][j],
         "p": p_diff[i, j], "p_fdr": pd_c[i, j]}
        for i in range(len(names)) for j in range(i + 1, len(names))
    ]  # fmt: skip
    return rows, pairs


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
    mode: str = "corrected",
) -> dict[str, pd.DataFrame]:
    """Fig. 2 and Fig. 3b analyses on ROI RDMs (subject-averaged, as the original default).

    Parameters
    ----------
    roi_rdms : mapping roi -> ``(n_subjects, n_pairs)``
    model_sets : mapping model -> ``(n_pairs, n_layers)``
    groups : mapping model -> group
    mode : {"corrected", "faithful"}
        See the module docstring.

    Returns
    -------
    dict of pandas DataFrames
        ``individual`` (roi, model, group, statistic = ``r2adj`` (corrected) or
        ``r2adj_clipped`` (faithful), value, rank, p, p_fdr), ``top3`` and ``grouped`` (roi,
        model/group, rank, unique_r2adj, ``se`` or ``sd``, p, p_fdr, total_r2adj), ``top3_pairs``
        and ``grouped_pairs`` (roi, item_1, item_2, value = difference of the unique adj. R², p,
        p_fdr), ``ceiling`` (roi, lower, upper).
    """
    import pandas as pd

    from brainalign.rsa.noise_ceiling import noise_ceiling_condensed as noise_ceiling

    faithful = check_mode(mode) == "faithful"
    gsets = group_rdms(model_sets, groups, group_order, mode=mode)
    out: dict[str, list] = {k: [] for k in ("individual", "top3", "top3_pairs", "grouped",
                                            "grouped_pairs", "ceiling")}  # fmt: skip
    opts = dict(mode=mode, n_permutations=n_permutations, n_bootstrap=n_bootstrap,
                bootstrap_ratio=bootstrap_ratio, scheme=scheme, seed=seed, alpha=alpha)  # fmt: skip
    for ri, (roi, R) in enumerate(roi_rdms.items()):
        R = np.asarray(R, dtype=np.float64)
        if R.ndim != 2 or not np.all(np.isfinite(R)):
            raise ValueError(
                f"ROI {roi!r}: RDMs must be finite (n_subjects, n_pairs); got {R.shape}"
            )
        y = R.mean(axis=0)
        lo, up = noise_ceiling(R, statistic=ceiling_statistic)
        out["ceiling"].append({"roi": roi, "lower": float(lo), "upper": float(up)})
        ind = analyse_models(
            y, model_sets, analysis="individual", n_permutations=n_permutations, scheme=scheme,
            seed=_roi_seed(seed, ri, 0), pairwise=False, clip=faithful,
        )  # fmt: skip
        stat = ind["statistic"]
        _, pf = fdr_bh(ind["result"].p, alpha=alpha)
        rank, top = rank_models(stat, top_k, mode=mode)
        for k, m in enumerate(ind["names"]):
            out["individual"].append({
                "roi": roi, "model": m, "group": groups.get(m, "none"),
                "statistic": "r2adj_clipped" if faithful else "r2adj", "value": stat[k],
                "rank": int(rank[k]), "p": ind["result"].p[k], "p_fdr": pf[k],
            })  # fmt: skip
        for kind, sets, key in (
            ("top", {ind["names"][i]: model_sets[ind["names"][i]] for i in top}, "top3"),
            ("grouped", gsets, "grouped"),
        ):
            if len(sets) < 2:
                continue
            rows, pairs = _partition_rows(y, sets, kind=kind, roi=roi, ri=ri, **opts)
            out[key] += rows
            out[f"{key}_pairs"] += pairs
    return {k: pd.DataFrame(v) for k, v in out.items()}


def _group_mean_statistic(bases: DesignBases):
    """R² of all subjects ``(S, K)`` -> their mean unclipped adjusted R², repeated per subject
    (so every row of :func:`permutation_test_bases` counts the group statistic)."""

    def f(r2: np.ndarray) -> np.ndarray:
        adj = bases.adjust(r2)
        return np.broadcast_to(adj.mean(axis=0, keepdims=True), adj.shape)

    return f


def _subject_test(R, db, *, faithful, n_permutations, scheme, seed):
    """Per-subject values ``(S, K)``, group statistic, t (NaN when corrected) and p ``(K,)``."""
    if faithful:
        from scipy.stats import ttest_1samp

        vals = clip_negative(db.adjusted_r2(R))
        with np.errstate(invalid="ignore", divide="ignore"):
            t, p = ttest_1samp(vals, 0.0, axis=0)
        return vals, vals.mean(axis=0), t, np.where(np.isfinite(p), p, 1.0)
    vals = db.adjusted_r2(R)
    res = permutation_test_bases(
        R, db, _group_mean_statistic(db), n_permutations=n_permutations, scheme=scheme, seed=seed
    )
    return vals, res.observed[0], np.full(vals.shape[1], np.nan), res.p[0]


def subject_level_models(
    roi_rdms: Mapping[str, ArrayLike],
    model_sets: Mapping[str, ArrayLike],
    *,
    alpha: float = 0.05,
    mode: str = "corrected",
    n_permutations: int = 10_000,
    scheme: str = "labels",
    seed: Seed = 0,
) -> pd.DataFrame:
    """Per-subject fits and a group test per ROI and model (the original ``--stats t-test`` mode,
    ROI part), BH-corrected across models within the ROI.

    ``mode="faithful"``: each subject's clipped adjusted R²; a two-sided one-sample t-test of the
    subject values against 0 (``scipy.stats.ttest_1samp``; the clipped values are positive
    whenever not 0, so the test rejects far too often under the null).
    ``mode="corrected"``: each subject's unclipped adjusted R²; the p-value of their mean from
    ``n_permutations`` permutations of the condition labels (the same relabelling for every
    subject), one-sided as the original's permutation tests, exact under the null of no relation
    between models and brain RDMs (even with condition row effects, which bias adjusted R²).

    Returns
    -------
    pandas.DataFrame
        roi, subject (integer labels 1, 2, ...; missing on the test rows), model, statistic
        (``r2adj_clipped``/``r2adj`` per subject; ``mean_r2adj_clipped``/``mean_r2adj`` with
        ``t`` (faithful only), ``p``, ``p_fdr`` for the test rows), value.
    """
    import pandas as pd

    faithful = check_mode(mode) == "faithful"
    name = "r2adj_clipped" if faithful else "r2adj"
    db = DesignBases(model_sets)
    names = list(model_sets)
    rows = []
    for ri, (roi, R) in enumerate(roi_rdms.items()):
        R = np.asarray(R, dtype=np.float64)
        if R.ndim != 2 or R.shape[0] < 2 or not np.all(np.isfinite(R)):
            raise ValueError(f"ROI {roi!r}: need finite (n_subjects >= 2, n_pairs); got {R.shape}")
        vals, mean, t, p = _subject_test(
            R, db, faithful=faithful, n_permutations=n_permutations, scheme=scheme,
            seed=_roi_seed(seed, ri, 3),
        )  # fmt: skip
        for s in range(R.shape[0]):
            for k, m in enumerate(names):
                rows.append({"roi": roi, "subject": s + 1, "model": m,
                             "statistic": name, "value": vals[s, k]})  # fmt: skip
        _, pf = fdr_bh(p, alpha=alpha)
        for k, m in enumerate(names):
            rows.append({"roi": roi, "subject": None, "model": m,
                         "statistic": f"mean_{name}", "value": mean[k],
                         "t": t[k], "p": p[k], "p_fdr": pf[k]})  # fmt: skip
    df = pd.DataFrame(rows)
    df["subject"] = df["subject"].astype("Int64")
    return df
