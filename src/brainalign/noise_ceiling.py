"""Noise ceilings of a group of subject RDMs (leave-one-subject-out)."""

from __future__ import annotations

import numpy as np

from brainalign.compare import compare_rdms

__all__ = ["noise_ceiling"]


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
        Comparison statistic (see :func:`brainalign.compare.compare_rdms`).

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
