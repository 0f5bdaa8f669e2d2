"""Representational dissimilarity matrices: computation and validation.

All RDMs are square ``(n_items, n_items)`` float64 arrays, symmetric with a zero diagonal.
Condensed vectors are the strict upper triangle in row-major order (``np.triu_indices(n, 1)``),
the order of :func:`scipy.spatial.distance.squareform`.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist, squareform

__all__ = [
    "RDM_METRICS",
    "compute_rdm",
    "validate_rdm",
    "validate_rdm_stack",
    "symmetrize_upper",
]

#: Dissimilarity metrics accepted by :func:`compute_rdm`.
RDM_METRICS = ("correlation", "cosine", "euclidean", "spearman")


def compute_rdm(features: np.ndarray, metric: str = "correlation") -> np.ndarray:
    """Compute the RDM of a set of activation patterns.

    Parameters
    ----------
    features : ndarray, shape (n_items, n_features)
        One pattern per row (stimulus). Cast to float64 before any arithmetic, because
        float32 changes the rank order of near-equal dissimilarities.
    metric : {"correlation", "cosine", "euclidean", "spearman"}
        ``"correlation"`` is 1 − Pearson r between patterns (``pdist(..., "correlation")``),
        ``"spearman"`` is 1 − Spearman rho.

    Returns
    -------
    rdm : ndarray, shape (n_items, n_items)
        Symmetric float64 matrix with an exact zero diagonal.

    Raises
    ------
    ValueError
        For a non-2-D input, non-finite values, an unknown metric, or (correlation-type
        metrics) a pattern with zero variance, naming the offending item.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (n_items, n_features), got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 items to build an RDM, got {x.shape[0]}")
    if not np.all(np.isfinite(x)):
        bad = np.unique(np.nonzero(~np.isfinite(x))[0])
        raise ValueError(f"features contain NaN or inf for item(s) {bad.tolist()[:10]}")
    if metric not in RDM_METRICS:
        raise ValueError(f"unknown RDM metric {metric!r}; choose one of {list(RDM_METRICS)}")
    if metric in ("correlation", "spearman"):
        if metric == "spearman":
            from scipy.stats import rankdata

            x = rankdata(x, axis=1)
        xc = x - x.mean(axis=1, keepdims=True)
        norms = np.sqrt(np.einsum("ij,ij->i", xc, xc))
        flat = np.nonzero(norms == 0)[0]
        if flat.size:
            raise ValueError(
                f"item(s) {flat.tolist()[:10]} have constant patterns (zero variance); "
                f"their {metric} distance is undefined"
            )
        xn = xc / norms[:, None]
        rdm = 1.0 - xn @ xn.T
    else:
        rdm = squareform(pdist(x, metric=metric))
    rdm = 0.5 * (rdm + rdm.T)
    np.fill_diagonal(rdm, 0.0)
    return rdm


def symmetrize_upper(rdm: np.ndarray) -> np.ndarray:
    """Rebuild a symmetric, hollow RDM from the upper triangle of ``rdm``.

    Equivalent to the original study's ``squareform(squareform(rdm, checks=False))``.

    Parameters
    ----------
    rdm : ndarray, shape (n, n)

    Returns
    -------
    ndarray, shape (n, n)
    """
    a = np.asarray(rdm, dtype=np.float64)
    upper = np.triu(a, 1)
    return upper + upper.T


def validate_rdm(
    rdm: np.ndarray, name: str = "RDM", n_items: int | None = None, atol: float = 1e-6
) -> np.ndarray:
    """Check that ``rdm`` is a finite, square, symmetric matrix with a zero diagonal.

    Parameters
    ----------
    rdm : array_like, shape (n, n)
    name : str
        Used in error messages (e.g. ``"IT subject 3"``).
    n_items : int, optional
        Expected size.
    atol : float
        Absolute tolerance for symmetry and the diagonal (float32 sources round).

    Returns
    -------
    ndarray, shape (n, n)
        The RDM as float64, exactly symmetric (upper triangle mirrored) and hollow.

    Raises
    ------
    ValueError
        Naming ``name`` and what is wrong.
    """
    a = np.asarray(rdm, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {a.shape}")
    if n_items is not None and a.shape[0] != n_items:
        raise ValueError(
            f"{name}: expected {n_items}×{n_items} (one row per image), "
            f"got {a.shape[0]}×{a.shape[1]}"
        )
    if not np.all(np.isfinite(a)):
        i, j = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name}: contains NaN or inf (first at row {i}, column {j})")
    asym = np.abs(a - a.T)
    if asym.max() > atol:
        i, j = np.unravel_index(np.argmax(asym), a.shape)
        raise ValueError(
            f"{name}: not symmetric (entry [{i},{j}]={a[i, j]:.6g} but [{j},{i}]={a[j, i]:.6g})"
        )
    diag = np.abs(np.diag(a))
    if diag.max() > atol:
        i = int(np.argmax(diag))
        raise ValueError(f"{name}: diagonal is not zero (entry [{i},{i}]={a[i, i]:.6g})")
    return symmetrize_upper(a)


def validate_rdm_stack(
    rdms: np.ndarray, name: str = "RDMs", n_items: int | None = None, atol: float = 1e-6
) -> np.ndarray:
    """Validate a stack of RDMs, one per subject.

    Parameters
    ----------
    rdms : array_like, shape (n_subjects, n, n)
    name : str
        Prefix for error messages; each subject is named ``"{name} subject {k}"`` (1-based).
    n_items : int, optional
    atol : float

    Returns
    -------
    ndarray, shape (n_subjects, n, n), float64
    """
    a = np.asarray(rdms, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"{name}: expected (n_subjects, n_items, n_items), got shape {a.shape}")
    if a.shape[0] < 1:
        raise ValueError(f"{name}: no subjects")
    return np.stack(
        [validate_rdm(r, f"{name} subject {k + 1}", n_items, atol) for k, r in enumerate(a)]
    )
