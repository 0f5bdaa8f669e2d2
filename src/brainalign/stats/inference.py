"""Permutation p-values, Benjamini–Hochberg FDR and condition bootstraps for RDM regressions.

Dwivedi et al. (2021), ``library/significance_testing.py``:

* p-values from permutations, ``p = (count(stat_perm >= stat_true) + 1) / (N + 1)`` (one-sided);
  for the difference between two models a two-directional count on the sign of the true difference;
* Benjamini–Hochberg (``statsmodels`` ``fdrcorrection``, α = 0.05) within each ROI / searchlight
  across models and across model pairs; in the searchlight maps a second BH across searchlights
  (only those above the lower noise ceiling);
* error bars: bootstrap of 90 % of the conditions drawn *without* replacement, SD with ``ddof=1``.

Two permutation schemes (see ``methods.md`` §2.2):

``"labels"`` (default)
    permute the condition labels: rows and columns of the brain RDM together. This respects the
    dependence between RDM entries that share a condition, so it is the valid null.
``"entries"``
    the original code's ``np.random.permutation(n_pairs)`` of the vectorised RDM (faithful, but RDM
    entries are not exchangeable).

All random draws take ``seed: int | np.random.Generator``; the same seed gives bit-identical output,
independent of batch sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.regression import (
    DesignBases,
    PartitionPlan,
    clip_negative,
    n_conditions_from_pairs,
    variance_partition_gram,
)

__all__ = [
    "PERMUTATION_SCHEMES",
    "analyse_models",
    "PermutationResult",
    "bootstrap_conditions",
    "condensed_permutation",
    "fdr_bh",
    "fdr_pairwise",
    "fdr_two_level",
    "group_rdms",
    "roi_analysis",
    "searchlight_tests",
    "subject_level_models",
    "iter_permutation_indices",
    "p_from_counts",
    "permutation_indices",
    "permutation_test",
    "permutation_test_bases",
    "subset_condensed_index",
]

PERMUTATION_SCHEMES = ("labels", "entries")

Seed = int | np.random.Generator


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int or a numpy Generator; got {seed!r}")
    return np.random.default_rng(int(seed))


def _check_scheme(scheme: str) -> str:
    if scheme not in PERMUTATION_SCHEMES:
        raise ValueError(f"unknown permutation scheme {scheme!r}; use one of {PERMUTATION_SCHEMES}")
    return scheme


# --------------------------------------------------------------------------------------------
# Permutation indices
# --------------------------------------------------------------------------------------------
def _pair_index(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Condensed index of pairs (i, j), i != j, in the strict-upper-triangle row-major order."""
    a = np.minimum(i, j).astype(np.int64)
    b = np.maximum(i, j).astype(np.int64)
    return n * a - a * (a + 1) // 2 + (b - a - 1)


def condensed_permutation(perm: ArrayLike) -> np.ndarray:
    """Index ``idx`` such that ``vec[idx] == rdm_to_vector(R[perm][:, perm])``.

    ``vec = rdm_to_vector(R)`` is the condensed form of the RDM ``R``.

    Parameters
    ----------
    perm : array ``(n,)``
        A permutation of ``range(n)`` (relabelling of the conditions).
    """
    perm = np.asarray(perm)
    n = perm.shape[0]
    if perm.ndim != 1 or not np.array_equal(np.sort(perm), np.arange(n)):
        raise ValueError(f"perm must be a permutation of range({n}); got {perm!r}")
    iu, ju = np.triu_indices(n, 1)
    return _pair_index(n, perm[iu], perm[ju])


def subset_condensed_index(idx: ArrayLike, n_conditions: int) -> np.ndarray:
    """Condensed indices of the sub-RDM on conditions ``idx`` (kept in the given order)."""
    idx = np.asarray(idx)
    if idx.ndim != 1 or idx.size < 2:
        raise ValueError(f"need at least 2 condition indices; got {idx!r}")
    if idx.min() < 0 or idx.max() >= n_conditions or np.unique(idx).size != idx.size:
        raise ValueError(f"condition indices {idx!r} invalid for n_conditions={n_conditions}")
    iu, ju = np.triu_indices(idx.size, 1)
    return _pair_index(n_conditions, idx[iu], idx[ju])


def iter_permutation_indices(
    n_pairs: int,
    n_permutations: int,
    *,
    scheme: str = "labels",
    seed: Seed = 0,
    batch_size: int = 256,
) -> Iterator[np.ndarray]:
    """Yield ``(b, n_pairs)`` index batches; permutation ``k`` is the same for every batch size."""
    _check_scheme(scheme)
    if int(n_permutations) < 1:
        raise ValueError(f"n_permutations must be >= 1; got {n_permutations}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    n = n_conditions_from_pairs(n_pairs)
    rng = _rng(seed)
    dtype = np.int32 if n_pairs < 2**31 else np.int64
    done = 0
    while done < n_permutations:
        b = min(int(batch_size), int(n_permutations) - done)
        out = np.empty((b, n_pairs), dtype=dtype)
        for k in range(b):
            if scheme == "labels":
                out[k] = condensed_permutation(rng.permutation(n))
            else:
                out[k] = rng.permutation(n_pairs)
        done += b
        yield out


def permutation_indices(
    n_pairs: int, n_permutations: int, *, scheme: str = "labels", seed: Seed = 0
) -> np.ndarray:
    """All permutation indices at once, ``(n_permutations, n_pairs)``."""
    return np.concatenate(
        list(iter_permutation_indices(n_pairs, n_permutations, scheme=scheme, seed=seed))
    )


def p_from_counts(count: ArrayLike, n_permutations: int) -> np.ndarray:
    """``(count + 1) / (N + 1)``."""
    return (np.asarray(count, dtype=np.float64) + 1.0) / (int(n_permutations) + 1.0)


# --------------------------------------------------------------------------------------------
# Permutation test
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PermutationResult:
    """Observed statistic and permutation p-values.

    Attributes
    ----------
    observed : ndarray ``(..., K)``
    p : ndarray ``(..., K)``
        One-sided ``(count(perm >= observed) + 1) / (N + 1)``.
    p_diff : ndarray ``(..., K, K)`` or None
        ``p_diff[..., i, j]``: difference ``stat_i - stat_j``, counted in the direction of the
        observed difference (original ``count_diff``); diagonal = 1.
    n_permutations : int
    scheme : str
    """

    observed: np.ndarray
    p: np.ndarray
    p_diff: np.ndarray | None
    n_permutations: int
    scheme: str


def permutation_test(
    y: ArrayLike,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    n_permutations: int = 10_000,
    scheme: str = "labels",
    seed: Seed = 0,
    pairwise: bool = False,
    batch_size: int | None = None,
    max_elements: int = 2**24,
) -> PermutationResult:
    """Permutation test of a statistic of a brain RDM (or a stack of them).

    Parameters
    ----------
    y : array ``(..., n_pairs)``
        Condensed brain RDM(s), e.g. one ROI ``(n_pairs,)`` or all searchlights
        ``(n_centres, n_pairs)``.  Every RDM in the stack receives the *same* permutation (as the
        original, which permutes all searchlights together).
    statistic : callable
        Maps ``(..., n_pairs)`` to ``(..., K)``; it must act on the last axis only.
    n_permutations, scheme, seed
        See the module docstring.
    pairwise : bool
        Also compute p-values of the pairwise differences.
    batch_size : int, optional
        Permutations evaluated together; by default as many as keep the permuted stack below
        ``max_elements`` values.

    Returns
    -------
    PermutationResult
    """
    _check_scheme(scheme)
    Y = np.asarray(y)
    if Y.ndim < 1 or Y.shape[-1] < 1:
        raise ValueError(f"y must have shape (..., n_pairs); got {Y.shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("y contains NaN or infinite values; drop those RDMs first")
    n_pairs = Y.shape[-1]
    observed = np.asarray(statistic(Y), dtype=np.float64)
    if observed.shape[:-1] != Y.shape[:-1]:
        raise ValueError(
            f"statistic returned shape {observed.shape}; expected {Y.shape[:-1]} + (K,)"
        )
    K = observed.shape[-1]
    lead = int(np.prod(Y.shape[:-1], dtype=np.int64))
    if batch_size is None:
        batch_size = max(1, int(max_elements // max(1, lead * n_pairs)))
    count = np.zeros(observed.shape, dtype=np.int64)
    if pairwise:
        d_true = observed[..., :, None] - observed[..., None, :]
        count_d = np.zeros(d_true.shape, dtype=np.int64)
        pos = d_true >= 0
    for idx in iter_permutation_indices(
        n_pairs, n_permutations, scheme=scheme, seed=seed, batch_size=batch_size
    ):
        Yp = Y[..., idx]  # (..., b, n_pairs)
        sp = np.asarray(statistic(Yp), dtype=np.float64)  # (..., b, K)
        sp = np.moveaxis(sp, -2, 0)  # (b, ..., K)
        count += (sp >= observed).sum(axis=0)
        if pairwise:
            for s in sp:
                d = s[..., :, None] - s[..., None, :]
                count_d += np.where(pos, d >= d_true, d <= d_true)
    p = p_from_counts(count, n_permutations)
    p_diff = None
    if pairwise:
        p_diff = p_from_counts(count_d, n_permutations)
        eye = np.eye(K, dtype=bool)
        p_diff[..., eye] = 1.0
    return PermutationResult(observed, p, p_diff, int(n_permutations), scheme)


# --------------------------------------------------------------------------------------------
# FDR
# --------------------------------------------------------------------------------------------
def fdr_bh(
    p: ArrayLike,
    *,
    alpha: float = 0.05,
    axis: int | None = -1,
    mask: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg step-up correction (as ``statsmodels.stats.multitest.fdrcorrection``).

    Parameters
    ----------
    p : array
        p-values in [0, 1]; NaN entries are not tested (adjusted value NaN, not rejected).
    alpha : float
        FDR level for ``reject``.
    axis : int or None
        Axis along which the family runs (``None``: the whole array is one family).
    mask : bool array, optional
        Only entries where ``mask`` is True are tested (e.g. searchlights above the noise ceiling);
        the others get NaN.

    Returns
    -------
    reject : bool array, same shape as ``p``
    p_adjusted : float array, same shape as ``p``
    """
    if not 0 < float(alpha) < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    P = np.array(p, dtype=np.float64)
    if np.any((P < 0) | (P > 1)):
        bad = P[(P < 0) | (P > 1)][0]
        raise ValueError(f"p-values must lie in [0, 1]; got {bad}")
    if mask is not None:
        m = np.broadcast_to(np.asarray(mask, dtype=bool), P.shape)
        P = np.where(m, P, np.nan)
    if axis is None:
        flat = P.reshape(1, -1)
        rej, adj = _bh_rows(flat, alpha)
        return rej.reshape(P.shape), adj.reshape(P.shape)
    Pm = np.moveaxis(P, axis, -1)
    shp = Pm.shape
    rej, adj = _bh_rows(Pm.reshape(-1, shp[-1]), alpha)
    return (
        np.moveaxis(rej.reshape(shp), -1, axis),
        np.moveaxis(adj.reshape(shp), -1, axis),
    )


def _bh_rows(P: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    rej = np.zeros(P.shape, dtype=bool)
    adj = np.full(P.shape, np.nan)
    for r in range(P.shape[0]):
        row = P[r]
        ok = np.flatnonzero(~np.isnan(row))
        m = ok.size
        if m == 0:
            continue
        pv = row[ok]
        order = np.argsort(pv, kind="mergesort")
        ps = pv[order]
        ecdf = np.arange(1, m + 1) / m
        below = ps <= ecdf * alpha
        rr = np.zeros(m, dtype=bool)
        if below.any():
            rr[: np.flatnonzero(below).max() + 1] = True
        a = np.minimum.accumulate((ps / ecdf)[::-1])[::-1]
        a = np.minimum(a, 1.0)
        out_a = np.empty(m)
        out_r = np.empty(m, dtype=bool)
        out_a[order] = a
        out_r[order] = rr
        adj[r, ok] = out_a
        rej[r, ok] = out_r
    return rej, adj


def fdr_pairwise(p_diff: ArrayLike, *, alpha: float = 0.05) -> np.ndarray:
    """BH over the upper triangle of ``(..., K, K)`` pairwise p-values, then symmetrised
    (the original's treatment of ``p_values_diff``); the diagonal stays as given."""
    P = np.array(p_diff, dtype=np.float64)
    if P.ndim < 2 or P.shape[-1] != P.shape[-2]:
        raise ValueError(f"p_diff must have shape (..., K, K); got {P.shape}")
    K = P.shape[-1]
    if K < 2:
        return P
    iu = np.triu_indices(K, 1)
    upper = P[..., iu[0], iu[1]]
    _, adj = fdr_bh(upper, alpha=alpha, axis=-1)
    P[..., iu[0], iu[1]] = adj
    P[..., iu[1], iu[0]] = adj
    return P


def fdr_two_level(
    p: ArrayLike,
    *,
    keep: ArrayLike | None = None,
    alpha: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """Original searchlight correction: BH across models within each searchlight, then a second
    BH across searchlights (only those with ``keep``, e.g. lower noise ceiling above threshold) per
    model.

    Parameters
    ----------
    p : array ``(n_searchlights, K)``
    keep : bool array ``(n_searchlights,)``, optional

    Returns
    -------
    p_within : ``(n_searchlights, K)`` after the first correction
    p_across : ``(n_searchlights, K)`` after both (NaN where not ``keep``)
    """
    P = np.asarray(p, dtype=np.float64)
    if P.ndim != 2:
        raise ValueError(f"p must have shape (n_searchlights, K); got {P.shape}")
    _, within = fdr_bh(P, alpha=alpha, axis=1)
    m = None if keep is None else np.asarray(keep, dtype=bool)[:, None]
    if m is not None and m.shape[0] != P.shape[0]:
        raise ValueError(f"keep has {m.shape[0]} entries; p has {P.shape[0]} searchlights")
    _, across = fdr_bh(within, alpha=alpha, axis=0, mask=m)
    return within, across


# --------------------------------------------------------------------------------------------
# Bootstrap over conditions
# --------------------------------------------------------------------------------------------
def bootstrap_conditions(
    y: ArrayLike,
    model_sets: Mapping[str, ArrayLike],
    statistic: Callable[[np.ndarray, dict[str, np.ndarray]], ArrayLike],
    *,
    n_bootstrap: int = 10_000,
    ratio: float = 0.9,
    seed: Seed = 0,
) -> np.ndarray:
    """Statistic on random subsets of conditions drawn without replacement (the original's
    ``get_errobars_bootstrap_stimuli``; 45 of 50 conditions with ``ratio=0.9``).

    Parameters
    ----------
    y : array ``(n_pairs,)``
        Condensed brain RDM.
    model_sets : mapping name -> array ``(n_pairs, p)``
        Predictors (layer RDMs) of every model / group.
    statistic : callable
        ``statistic(y_sub, {name: X_sub})`` -> array; evaluated once per draw.
    n_bootstrap : int
    ratio : float
        Fraction of conditions kept, ``int(ratio * n_conditions)``.

    Returns
    -------
    ndarray ``(n_bootstrap, ...)``
        The draws; their ``std(axis=0, ddof=1)`` is the original's error bar.
    """
    Y = np.asarray(y, dtype=np.float64)
    if Y.ndim != 1:
        raise ValueError(f"y must be one condensed RDM (n_pairs,); got {Y.shape}")
    n = n_conditions_from_pairs(Y.shape[0])
    k = int(float(ratio) * n)
    if not 0 < float(ratio) <= 1 or k < 3:
        raise ValueError(f"ratio={ratio} keeps {k} of {n} conditions; need at least 3")
    if int(n_bootstrap) < 2:
        raise ValueError(f"n_bootstrap must be >= 2; got {n_bootstrap}")
    sets = {}
    for name, X in model_sets.items():
        Xa = np.asarray(X, dtype=np.float64)
        if Xa.ndim == 1:
            Xa = Xa[:, None]
        if Xa.shape[0] != Y.shape[0]:
            raise ValueError(f"model set {name!r} has {Xa.shape[0]} rows; y has {Y.shape[0]}")
        sets[name] = Xa
    rng = _rng(seed)
    draws = []
    for _ in range(int(n_bootstrap)):
        sel = rng.choice(n, size=k, replace=False)
        ci = subset_condensed_index(sel, n)
        draws.append(np.asarray(statistic(Y[ci], {m: X[ci] for m, X in sets.items()})))
    return np.stack(draws)


# --------------------------------------------------------------------------------------------
# Fast permutations for many RDMs: permute the model bases instead of the brain RDMs
# --------------------------------------------------------------------------------------------
def permutation_test_bases(
    y: ArrayLike,
    bases: DesignBases,
    stat_from_r2: Callable[[np.ndarray], np.ndarray],
    *,
    n_permutations: int = 10_000,
    scheme: str = "labels",
    seed: Seed = 0,
    pairwise: bool = False,
    max_elements: int = 2**24,
) -> PermutationResult:
    """Same result as :func:`permutation_test` for statistics that are functions of R².

    ``⟨y[σ], q⟩ = ⟨y, q[σ⁻¹]⟩`` and the total sum of squares does not change under a permutation,
    so permuting the brain RDM entries by ``σ`` equals permuting the rows of the orthonormal model
    bases by ``σ⁻¹``; a batch of permutations is then one matrix product
    ``Y @ [Q_σ1 | Q_σ2 | ...]``.  Use it for searchlights (``y`` of shape ``(n_centres, n_pairs)``).

    Parameters
    ----------
    y : array ``(n, n_pairs)`` or ``(n_pairs,)``
    bases : DesignBases
        The designs whose R² feed the statistic.
    stat_from_r2 : callable
        ``(..., n_designs)`` R² -> ``(..., K)`` statistic.
    """
    _check_scheme(scheme)
    Y = np.asarray(y)
    single = Y.ndim == 1
    if single:
        Y = Y[None, :]
    if Y.ndim != 2 or Y.shape[1] != bases.n_pairs:
        raise ValueError(f"y must be (n, {bases.n_pairs}); got {np.asarray(y).shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("y contains NaN or infinite values; drop those RDMs first")
    Yd = Y.astype(bases.dtype, copy=False)
    ss_tot = _total_ss(Y)
    n_q = bases.Q.shape[1]

    def stat_of(ss: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(stat_from_r2(ss / ss_tot[:, None]), dtype=np.float64)

    observed = stat_of(bases.ss_reg(Yd))
    count = np.zeros(observed.shape, dtype=np.int64)
    if pairwise:
        d_true = observed[..., :, None] - observed[..., None, :]
        count_d = np.zeros(d_true.shape, dtype=np.int64)
        pos = d_true >= 0
    batch = max(1, int(max_elements // max(1, Y.shape[0] * max(1, n_q))))
    for idx in iter_permutation_indices(
        bases.n_pairs, n_permutations, scheme=scheme, seed=seed, batch_size=batch
    ):
        inv = np.argsort(idx, axis=1)
        Qcat = np.concatenate([bases.Q[inv[b]] for b in range(inv.shape[0])], axis=1)
        proj = (Yd @ Qcat).astype(np.float64)
        proj *= proj
        for b in range(inv.shape[0]):
            seg = proj[:, b * n_q : (b + 1) * n_q]
            ss = np.zeros((Y.shape[0], len(bases.bases)))
            for k in range(len(bases.bases)):
                lo, hi = bases._edges[k], bases._edges[k + 1]
                if hi > lo:
                    ss[:, k] = seg[:, lo:hi].sum(axis=1)
            s = stat_of(ss)
            count += s >= observed
            if pairwise:
                d = s[..., :, None] - s[..., None, :]
                count_d += np.where(pos, d >= d_true, d <= d_true)
    p = p_from_counts(count, n_permutations)
    p_diff = None
    if pairwise:
        p_diff = p_from_counts(count_d, n_permutations)
        eye = np.eye(observed.shape[-1], dtype=bool)
        p_diff[..., eye] = 1.0
    if single:
        observed, p = observed[0], p[0]
        p_diff = None if p_diff is None else p_diff[0]
    return PermutationResult(observed, p, p_diff, int(n_permutations), scheme)


def _total_ss(Y: np.ndarray) -> np.ndarray:
    Y64 = Y.astype(np.float64, copy=False)
    d = Y64 - Y64.mean(axis=1, keepdims=True)
    return np.einsum("ij,ij->i", d, d)


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
    from brainalign.maps.brainmaps import best_group_labels, best_model_labels, max_pairwise_p

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
        r2 = ss / _total_ss(Yv)[:, None]
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
    base = seed if isinstance(seed, (int, np.integer)) else int(_rng(seed).integers(2**63))
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
):
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
):
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
