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

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .regression import n_conditions_from_pairs

__all__ = [
    "PERMUTATION_SCHEMES",
    "PermutationResult",
    "bootstrap_conditions",
    "condensed_permutation",
    "fdr_bh",
    "fdr_pairwise",
    "fdr_two_level",
    "iter_permutation_indices",
    "p_from_counts",
    "permutation_indices",
    "permutation_test",
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
