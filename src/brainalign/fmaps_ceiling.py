"""Noise ceilings of ROI and searchlight RDMs (Dwivedi et al. 2021, ``searchlight_utils.py``).

For ``S`` subjects with RDMs ``r_1 .. r_S`` (condensed vectors):

* lower ceiling ``= mean_s stat(r_s, mean of the other subjects)``;
* upper ceiling ``= mean_s stat(r_s, mean of all subjects)``;

with ``stat`` = Spearman correlation (the original) or Pearson.  Searchlights whose lower ceiling
is below a threshold (original: 0.033) are excluded from the maps.

All functions are vectorised over any leading axes between the subject axis and the pair axis,
e.g. ``(n_subjects, n_searchlights, n_pairs)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

__all__ = ["CEILING_STATISTICS", "noise_ceiling", "ceiling_mask", "rowwise_corr"]

CEILING_STATISTICS = ("spearman", "pearson")


def rowwise_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation along the last axis (NaN where a row is constant)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ac = a - a.mean(axis=-1, keepdims=True)
    bc = b - b.mean(axis=-1, keepdims=True)
    num = np.einsum("...i,...i->...", ac, bc)
    den = np.sqrt(np.einsum("...i,...i->...", ac, ac) * np.einsum("...i,...i->...", bc, bc))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _prep(x: np.ndarray, statistic: str) -> np.ndarray:
    return rankdata(x, axis=-1) if statistic == "spearman" else x


def noise_ceiling(
    rdms: ArrayLike, *, statistic: str = "spearman", per_subject: bool = False
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper noise ceilings.

    Parameters
    ----------
    rdms : array ``(n_subjects, ..., n_pairs)``
        Condensed subject RDMs (at least 2 subjects).
    statistic : {"spearman", "pearson"}
    per_subject : bool
        Also return the per-subject values ``(n_subjects, ...)``.

    Returns
    -------
    lower, upper : arrays ``(...)``
        (and ``lower_per_subject, upper_per_subject`` if requested).
    """
    if statistic not in CEILING_STATISTICS:
        raise ValueError(f"unknown ceiling statistic {statistic!r}; use {CEILING_STATISTICS}")
    R = np.asarray(rdms, dtype=np.float64)
    if R.ndim < 2:
        raise ValueError(f"rdms must have shape (n_subjects, ..., n_pairs); got {R.shape}")
    S = R.shape[0]
    if S < 2:
        raise ValueError(f"noise ceilings need at least 2 subjects; got {S}")
    if not np.all(np.isfinite(R)):
        raise ValueError("rdms contain NaN or infinite values")
    total = R.sum(axis=0)
    mean_all = _prep(total / S, statistic)
    lo = np.empty(R.shape[:-1])
    up = np.empty(R.shape[:-1])
    for s in range(S):
        rs = _prep(R[s], statistic)
        others = _prep((total - R[s]) / (S - 1), statistic)
        lo[s] = rowwise_corr(rs, others)
        up[s] = rowwise_corr(rs, mean_all)
    if per_subject:
        return lo.mean(axis=0), up.mean(axis=0), lo, up
    return lo.mean(axis=0), up.mean(axis=0)


def ceiling_mask(lower: ArrayLike, threshold: float = 0.033) -> np.ndarray:
    """Searchlights kept for the maps: lower ceiling ``>= threshold`` (NaN -> excluded)."""
    lo = np.asarray(lower, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(lo, nan=-np.inf) >= float(threshold)
