"""Benjamini–Hochberg false discovery rate, as Dwivedi et al. (2021) applied it.

``statsmodels`` ``fdrcorrection`` (α = 0.05) within each ROI / searchlight across models and across
model pairs; in the searchlight maps a second BH across searchlights (only those above the lower
noise ceiling).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.condensed import condensed_index_pairs

__all__ = [
    "fdr_bh",
    "fdr_pairwise",
    "fdr_two_level",
    "permutations_for_share",
    "selective_adjust",
]


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
    iu, ju = condensed_index_pairs(K)
    _, adj = fdr_bh(P[..., iu, ju], alpha=alpha, axis=-1)
    P[..., iu, ju] = adj
    P[..., ju, iu] = adj
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


def selective_adjust(
    p_follow: ArrayLike, p_select: ArrayLike, keep: ArrayLike, alpha: float = 0.05
) -> np.ndarray:
    """Follow-up tests inside selected families (Benjamini & Bogomolov 2014).

    Of the ``m`` kept families (e.g. searchlights), those whose FDR-adjusted selection p-value is
    ``<= alpha`` are selected (``R`` of them); a selected family's follow-up hypothesis (e.g. "the
    winning group beats every other") is then tested at level ``alpha R / m``, which controls the
    expected share of false follow-up claims among the selected families at ``alpha``.

    Parameters
    ----------
    p_follow : array ``(n,)``
        Raw follow-up p-value of each family (e.g. the largest pairwise p of the winner).
    p_select : array ``(n,)``
        FDR-adjusted p-value that selects the family.
    keep : bool array ``(n,)``
        The ``m`` families of the selection step.
    alpha : float

    Returns
    -------
    ndarray ``(n,)``
        ``min(1, p_follow m / R)`` for the selected families, NaN elsewhere; ``<= alpha`` is the
        decision.
    """
    pf = np.asarray(p_follow, dtype=np.float64)
    ps = np.asarray(p_select, dtype=np.float64)
    k = np.asarray(keep, dtype=bool)
    if pf.shape != ps.shape or k.shape != pf.shape or pf.ndim != 1:
        raise ValueError(
            f"shapes disagree: p_follow {pf.shape}, p_select {ps.shape}, keep {k.shape}"
        )
    selected = k & np.isfinite(ps) & (ps <= alpha) & np.isfinite(pf)
    out = np.full(pf.shape, np.nan)
    m, r = int(k.sum()), int(selected.sum())
    if r:
        out[selected] = np.minimum(1.0, pf[selected] * m / r)
    return out


def permutations_for_share(alpha: float, share: float) -> int:
    """Fewest permutations with which a signal covering ``share`` of a BH-FDR family can pass.

    With ``n`` permutations the smallest p-value is ``1 / (n + 1)``; ``k = share m`` tests at that
    p pass Benjamini-Hochberg over ``m`` tests when ``1 / (n + 1) <= alpha share``, so
    ``n = ceil(1 / (alpha share)) - 1`` (independent of ``m``).
    """
    a, f = float(alpha), float(share)
    if not (0 < a < 1 and 0 < f <= 1):
        raise ValueError(f"need 0 < alpha < 1 and 0 < share <= 1; got alpha={alpha}, share={share}")
    return max(1, math.ceil(1.0 / (a * f) - 1e-9) - 1)
