"""Dwivedi et al. (2021): the functional-maps analyses of ROI and searchlight RDMs.

The drivers of the paper's statistics (``library/significance_testing.py`` and the ROI /
searchlight scripts of ``cvai-roig-lab/dnn2brain-function``), built on the core:

* individual models: clipped adjusted R² of each model's layer RDMs
  (:func:`brainalign.rsa.ols.clip_negative`), permutation p-values
  (:func:`brainalign.stats.permutation.permutation_test_bases`), BH across models;
* variance partitioning among the top-3 models or the model groups
  (:mod:`brainalign.rsa.partition`), with pairwise-difference p-values;
* searchlight maps: tests on the searchlights above the lower noise ceiling and one BH-FDR over
  the family of raw p-values (``mode="corrected"``) or the original's two-level FDR
  (``mode="faithful"``, :func:`brainalign.stats.fdr.fdr_two_level`).

The ROI drivers are in :mod:`brainalign.studies.dwivedi2021.roi`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.ols import DesignBases, clip_negative, total_ss
from brainalign.rsa.partition import PartitionPlan, unique_r2_draws
from brainalign.stats.bootstrap import bootstrap_difference_p_many
from brainalign.stats.fdr import fdr_bh, fdr_pairwise, fdr_two_level, selective_adjust
from brainalign.stats.permutation import (
    PermutationResult,
    Seed,
    permutation_test_bases,
)

__all__ = [
    "MODES",
    "analyse_models",
    "check_mode",
    "group_rdms",
    "individual_statistic",
    "partition_statistic",
    "searchlight_tests",
]

#: ``statistics.mode``: ``corrected`` (valid under the null, default) or ``faithful`` (the
#: original code's procedures); README "Faithful and corrected variants".
MODES = ("corrected", "faithful")


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`, else ``ValueError``."""
    if mode not in MODES:
        raise ValueError(f"unknown statistics mode {mode!r}; use 'corrected' or 'faithful'")
    return mode


# --------------------------------------------------------------------------------------------
# The paper's two analyses on one or many brain RDMs
# --------------------------------------------------------------------------------------------
def individual_statistic(
    bases: DesignBases, *, clip: bool = True
) -> Callable[[np.ndarray], np.ndarray]:
    """R² -> clipped adjusted R² per model (the original ``multiple_regression_rsa``), or the
    unclipped adjusted R² with ``clip=False``."""

    def f(r2: np.ndarray) -> np.ndarray:
        adj = bases.adjust(r2)
        return clip_negative(adj) if clip else adj

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
    clip: bool = True,
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
    clip : bool
        ``individual`` only: clip negative adjusted R² at 0 (the original) or not.

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
        stat = individual_statistic(bases, clip=clip)
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


def _bootstrap_seed(seed: Seed) -> Seed:
    """The bootstrap's own stream, distinct from the permutations drawn from ``seed``."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng([int(seed), 1])


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
    mode: str = "corrected",
) -> dict[str, np.ndarray | list[str]]:
    """The paper's searchlight statistics, corrected or with the original's corrections.

    Statistics are computed for every searchlight with a valid RDM; permutation p-values only for
    the searchlights kept by the noise ceiling (``lower >= nc_threshold``; others are NaN), since
    only those enter the FDR and the map.  Every kept searchlight sees the same permutations (as
    the original).

    ``mode="corrected"``: one BH-FDR over the whole family of raw p-values (kept searchlights x
    models/groups); for ``partition`` the winner's pairwise p-value is the largest *raw* p of its
    differences, BH-corrected once across kept searchlights.  ``mode="faithful"``: the original's
    BH within each searchlight, then a second BH on those adjusted p-values across searchlights
    (per model), and the pairwise p-values BH-corrected within the searchlight before the BH
    across searchlights.

    Returns
    -------
    dict with
        ``names``; ``keep`` ``(n,)``; ``statistic`` ``(n, K)`` (clipped adj. R² or unique adj. R²);
        ``p`` raw, ``p_within`` (BH across the K within a searchlight), ``p_across`` (the
        p-values the map uses: one BH over the family, or ``p_within`` BH-corrected again across
        kept searchlights per model with ``mode="faithful"``); ``labels`` ``(n,)`` (index of
        the best model/group, -1 = not significant); for ``partition`` also ``total``,
        ``p_diff`` (raw, or BH within searchlight with ``mode="faithful"``), ``p_diff_max`` and
        ``p_diff_max_across``.
    """
    from brainalign.maps import best_group_labels, best_model_labels, max_pairwise_p

    if analysis not in ("individual", "partition"):
        raise ValueError(f"unknown analysis {analysis!r}; use 'individual' or 'partition'")
    faithful = check_mode(mode) == "faithful"
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
            pairwise=plan is not None and faithful, max_elements=max_elements,
        )  # fmt: skip
        p[keep] = res.p
        if plan is not None and faithful:
            p_diff[keep] = fdr_pairwise(res.p_diff, alpha=alpha)
        elif plan is not None:
            # the partition refitted on each bootstrap draw of conditions (as entry weights)
            p_diff[keep] = bootstrap_difference_p_many(
                Y[keep], model_sets, partial(unique_r2_draws, dtype=dtype),
                n_bootstrap=n_permutations, seed=_bootstrap_seed(seed),
            )  # fmt: skip
    p_within, p_across = fdr_two_level(np.where(keep[:, None], p, np.nan), keep=keep, alpha=alpha)
    if not faithful:
        _, p_across = fdr_bh(p, alpha=alpha, axis=None, mask=keep[:, None])
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
        if faithful:
            _, dmax_across = fdr_bh(dmax, alpha=alpha, axis=None, mask=keep)
        else:
            dmax_across = selective_adjust(dmax, p_across[np.arange(n), best], keep, alpha)
        out.update(
            total=total,
            p_diff=p_diff,
            p_diff_max=dmax,
            p_diff_max_across=dmax_across,
            labels=best_group_labels(statistic, p_across, dmax_across, keep, alpha),
        )
    return out


# --------------------------------------------------------------------------------------------
# Model groups
# --------------------------------------------------------------------------------------------
def group_rdms(
    model_sets: Mapping[str, ArrayLike],
    groups: Mapping[str, str],
    order: Sequence[str] | None = None,
    *,
    mode: str = "corrected",
) -> dict[str, np.ndarray]:
    """Group predictors; models without a listed group (e.g. ``random``) are left out.

    ``mode="corrected"``: the member models' layer RDMs side by side, as joint predictors of the
    group (``(n_pairs, sum of the members' layers)``), so a group explains what any member
    explains.  ``mode="faithful"``: per layer the mean of the member models' layer RDMs (the
    original ``get_grouped_rdms``; members must have the same number of layers), one averaged
    predictor per layer, which can miss what a single member explains.
    """
    faithful = check_mode(mode) == "faithful"
    members: dict[str, list[np.ndarray]] = {}
    for m, X in model_sets.items():
        g = groups.get(m)
        if g is None:
            continue
        Xa = np.asarray(X, dtype=np.float64)
        members.setdefault(g, []).append(Xa[:, None] if Xa.ndim == 1 else Xa)
    keys = list(order) if order is not None else sorted(members)
    out = {}
    for g in keys:
        if g not in members:
            raise ValueError(f"group {g!r} has no model")
        shapes = {x.shape for x in members[g]}
        if faithful and len(shapes) != 1:
            raise ValueError(f"models of group {g!r} have different layer shapes {sorted(shapes)}")
        if len({sh[0] for sh in shapes}) != 1:
            raise ValueError(f"models of group {g!r} have different RDM sizes {sorted(shapes)}")
        out[g] = np.mean(members[g], axis=0) if faithful else np.concatenate(members[g], axis=1)
    return out
