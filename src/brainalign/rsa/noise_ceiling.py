"""Noise ceilings of a group of subject RDMs: every kind the studies use, in one place.

:func:`noise_ceiling` works on square RDMs with any statistic of
:func:`brainalign.rsa.compare.compare_rdms` and returns per-subject bounds (Truzzi & Cusack 2020).
:func:`noise_ceiling_condensed` is the vectorised form for condensed RDMs of many ROIs or
searchlights at once (Dwivedi et al. 2021, ``searchlight_utils.py``):

For ``S`` subjects with RDMs ``r_1 .. r_S`` (condensed vectors):

* lower ceiling ``= mean_s stat(r_s, mean of the other subjects)``;
* upper ceiling ``= mean_s stat(r_s, mean of all subjects)``;

with ``stat`` = Spearman correlation (the original) or Pearson.  Searchlights whose lower ceiling
is below a threshold (original: 0.033) are excluded from the maps.

:func:`split_half_ceiling` is the split-half ceiling of repeated trials (Crijnen 2024, mouse
visual areas), raw and Spearman–Brown-corrected.

:func:`ncsnr_noise_ceiling` is NSD's per-voxel noise ceiling from the noise-ceiling SNR
(Allen et al. 2022), in percent of variance explainable for responses averaged over n trials.

All functions are vectorised over any leading axes between the subject axis and the pair axis,
e.g. ``(n_subjects, n_searchlights, n_pairs)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

from brainalign.rsa.compare import compare_rdms
from brainalign.rsa.trials import half_rdm_pairs

__all__ = [
    "CEILING_STATISTICS",
    "spearman_brown",
    "split_half_ceiling",
    "ceiling_mask",
    "noise_ceiling",
    "noise_ceiling_condensed",
    "rank_rows",
    "rowwise_corr",
    "ncsnr_noise_ceiling",
]


def noise_ceiling(rdms: np.ndarray, method: str = "tau_b") -> tuple[np.ndarray, np.ndarray]:
    """Per-subject lower and upper noise-ceiling bounds.

    Lower bound for subject *k*: the statistic between subject *k*'s RDM and the mean RDM of
    the other subjects. Upper bound: the statistic between subject *k*'s RDM and the mean RDM
    of all subjects (which includes *k*). The group ceiling is the mean over subjects; no model
    can be expected to exceed the upper bound.

    Parameters
    ----------
    rdms : ndarray, shape (n_subjects, n_items, n_items)
    method : str
        Comparison statistic (see :func:`brainalign.rsa.compare.compare_rdms`).

    Returns
    -------
    lower, upper : ndarray, shape (n_subjects,)
    """
    rdms = np.asarray(rdms, dtype=np.float64)
    if rdms.ndim != 3 or rdms.shape[0] < 2:
        raise ValueError(f"need at least 2 subject RDMs (n_subjects, n, n), got shape {rdms.shape}")
    s = rdms.shape[0]
    total = rdms.sum(axis=0)
    mean_all = total / s
    lower = np.empty(s)
    upper = np.empty(s)
    for k in range(s):
        lower[k] = compare_rdms(rdms[k], (total - rdms[k]) / (s - 1), method)
        upper[k] = compare_rdms(rdms[k], mean_all, method)
    return lower, upper


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


def rank_rows(x: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (as ``scipy.stats.rankdata``), fast when there are no ties.

    Rows without ties are ranked with one ``argsort``; rows with ties go through ``rankdata``.
    """
    x = np.asarray(x, dtype=np.float64)
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    order = np.argsort(x2, axis=-1)
    ranks = np.empty(x2.shape, dtype=np.float64)
    ranks[np.arange(x2.shape[0])[:, None], order] = np.arange(1, x2.shape[1] + 1, dtype=np.float64)
    srt = np.sort(x2, axis=-1)
    ties = np.any(srt[:, 1:] == srt[:, :-1], axis=-1)
    if ties.any():
        ranks[ties] = rankdata(x2[ties], axis=-1)
    return ranks.reshape(lead + (x.shape[-1],))


def _prep(x: np.ndarray, statistic: str) -> np.ndarray:
    return rank_rows(x) if statistic == "spearman" else x


def noise_ceiling_condensed(
    rdms: ArrayLike,
    *,
    statistic: str = "spearman",
    per_subject: bool = False,
    n_jobs: int = 1,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper noise ceilings.

    Parameters
    ----------
    rdms : array ``(n_subjects, ..., n_pairs)``
        Condensed subject RDMs (at least 2 subjects).
    statistic : {"spearman", "pearson"}
    per_subject : bool
        Also return the per-subject values ``(n_subjects, ...)``.
    n_jobs : int
        Threads for the rankings.

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

    def one(s: int) -> tuple[np.ndarray, np.ndarray]:
        rs = _prep(R[s], statistic)
        others = _prep((total - R[s]) / (S - 1), statistic)
        return rowwise_corr(rs, others), rowwise_corr(rs, mean_all)

    mean_all = _prep(total / S, statistic)
    if int(n_jobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=int(n_jobs)) as ex:
            res = list(ex.map(one, range(S)))
    else:
        res = [one(s) for s in range(S)]
    lo = np.stack([r[0] for r in res])
    up = np.stack([r[1] for r in res])
    if per_subject:
        return lo.mean(axis=0), up.mean(axis=0), lo, up
    return lo.mean(axis=0), up.mean(axis=0)


def ceiling_mask(lower: ArrayLike, threshold: float = 0.033) -> np.ndarray:
    """Searchlights kept for the maps: lower ceiling ``>= threshold`` (NaN -> excluded)."""
    lo = np.asarray(lower, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(lo, nan=-np.inf) >= float(threshold)


def spearman_brown(r: ArrayLike) -> np.ndarray:
    """Spearman–Brown prophecy for doubling the data: ``2 r / (1 + r)``."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * r / (1 + r)


def split_half_ceiling(
    responses: ArrayLike,
    n_splits: int = 100,
    seed: int | np.random.Generator = 0,
    *,
    method: str = "tau_a",
    batch: int = 25,
) -> dict[str, np.ndarray]:
    """Split-half noise ceiling (Crijnen 2024): per split, ``method`` between the RDMs (1 −
    Pearson) of two disjoint random halves of the trials (``n_trials // 2`` each).

    Parameters
    ----------
    responses : array ``(n_trials, n_conditions, n_units)``
    n_splits : int
    seed : int or Generator
    method : str
        Comparison statistic (:func:`brainalign.rsa.compare.compare_rdms`); the original tau-a.

    Returns
    -------
    dict with ``split`` ``(n_splits,)`` (the raw values, the original's ceiling, no correction)
    and ``spearman_brown`` ``(n_splits,)`` (each value corrected to the full trial count).
    """
    a, b = half_rdm_pairs(responses, n_splits, seed, batch=batch)
    values = np.array([compare_rdms(a[k], b[k], method) for k in range(a.shape[0])])
    return {"split": values, "spearman_brown": spearman_brown(values)}


def ncsnr_noise_ceiling(ncsnr: ArrayLike, n_trials: int = 1) -> np.ndarray:
    """NSD noise ceiling from the noise-ceiling SNR: ``NC = 100 · ncsnr² / (ncsnr² + 1/n)``.

    ``ncsnr`` is the SD of the signal over the SD of the trial noise (``ncsnr.nii.gz``), so a
    response averaged over ``n`` trials has noise variance ``1/n`` per unit signal variance and
    ``NC`` is the percentage of its variance that a perfect model can explain (Allen et al. 2022,
    Nat Neurosci 25:116-126, "Noise ceiling"). ``n = 1`` is the ceiling of single-trial
    prediction, as GNet's validation (methods §4.3); ``n = 3`` that of the 3-trial average.

    Parameters
    ----------
    ncsnr : array_like, any shape
        Non-negative (NaN is passed through).
    n_trials : int
        Trials averaged, >= 1.

    Returns
    -------
    ndarray, the shape of ``ncsnr``, float64
        Percent of variance, in [0, 100).
    """
    snr = np.asarray(ncsnr, dtype=np.float64)
    if int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials must be an integer >= 1, got {n_trials}")
    if (snr < 0).any():
        raise ValueError("ncsnr must be >= 0 (it is a ratio of standard deviations)")
    signal = snr**2
    return 100.0 * signal / (signal + 1.0 / n_trials)
