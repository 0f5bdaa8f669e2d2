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


#: Bytes of the float64 work buffer the correlation Gram is accumulated through (one block of
#: columns, centred, stays in cache while BLAS multiplies it); independent of the thread count,
#: so results do not depend on it.
_BLOCK_BYTES = 6 << 20

#: Columns sampled per row for the shift that stands in for the mean during accumulation.
_SHIFT_SAMPLES = 256


def compute_rdm(features: np.ndarray, metric: str = "correlation") -> np.ndarray:
    """Compute the RDM of a set of activation patterns.

    Parameters
    ----------
    features : ndarray, shape (n_items, n_features)
        One pattern per row (stimulus). float32 (e.g. network activations) is read as is,
        other dtypes are cast to float64; every sum is accumulated in float64, because float32
        changes the rank order of near-equal dissimilarities.
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

    Notes
    -----
    Correlation-type RDMs read the features once, in blocks of columns: each block is shifted
    by a per-row estimate of the mean and cast to float64 in a cache-sized buffer, its Gram
    matrix (BLAS ``syrk``) and row sums accumulated in float64, and the exact centring applied
    to the ``n × n`` result (``G − S Sᵀ / p``); features that fit in one block are centred on
    their exact mean instead. No float64 copy of a large layer is made (``1 − np.corrcoef``
    makes one, then a mean pass and an in-place centring before the same ``syrk``), so it is
    at least as fast, with far less memory. ``r = c_ij / sqrt(c_ii c_jj)`` (as ``pdist``) is
    exactly symmetric. The condensed entries have the same ranks as the float64
    ``1 − np.corrcoef(x)``, and exact ties (duplicated or power-of-two rescaled patterns,
    verified on the rows, whatever order the CPU's BLAS kernel summed in) stay ties with a
    zero distance between them, as in float64 ``pdist`` (``np.corrcoef``'s
    ``c_ij / s_i / s_j`` splits them by an ulp): ``tests/core/test_rdm_exact.py``,
    ``benchmarks/bench_rdm.py``.
    """
    x = np.asarray(features)
    if x.dtype.char not in "fd" or not x.dtype.isnative:  # float32 and float64 are read as is
        x = x.astype(np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (n_items, n_features), got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 items to build an RDM, got {x.shape[0]}")
    if metric not in RDM_METRICS:
        _check_finite(x)
        raise ValueError(f"unknown RDM metric {metric!r}; choose one of {list(RDM_METRICS)}")
    if metric not in ("correlation", "spearman"):
        _check_finite(x)
        return _hollow_symmetric(squareform(pdist(x.astype(np.float64, copy=False), metric)))
    if metric == "spearman":
        from scipy.stats import rankdata

        _check_finite(x)
        x = rankdata(x, axis=1)
    with np.errstate(all="ignore"):  # non-finite input is found and named from the sums
        return _correlation_rdm(x, metric)


def _check_finite(x: np.ndarray) -> None:
    if not np.all(np.isfinite(x)):
        bad = np.unique(np.nonzero(~np.isfinite(x))[0])
        raise ValueError(f"features contain NaN or inf for item(s) {bad.tolist()[:10]}")


def _correlation_rdm(x: np.ndarray, metric: str) -> np.ndarray:
    """1 − Pearson r of the rows of a float32/float64 ``x``, accumulated in float64."""
    n, p = x.shape
    if p == 0:
        raise ValueError("features have no columns (n_features = 0)")
    width = max(256, _BLOCK_BYTES // (8 * n))
    if p <= width:
        # One block: centre a float64 copy on the exact mean (what np.corrcoef does).
        b = x.astype(np.float64)  # a copy; float32 -> float64 is exact
        shift = np.add.reduce(b, axis=1)
        shift /= p
        b -= shift[:, None]
        cov = np.matmul(b, b.T)  # numpy calls BLAS syrk for b @ b.T
    else:
        cov, sums, shift = _shifted_gram(x, width)
        cov -= np.outer(sums, sums) / p
    var = cov.diagonal()  # a view: read before cov is scaled
    # One test for the usual case: finite, not constant (a constant row centres to ~0, not
    # always exactly: its mean is rounded) and var_i var_j neither overflows nor underflows.
    # (dot(var, var) bounds max var², dot(shift, shift) max shift²; all tests False for NaN.)
    if np.dot(var, var) < 1e300 and np.minimum.reduce(var) > max(
        1e-150, (p * 1e-24) * np.dot(shift, shift)
    ):
        scale = var * var[:, None]
        np.sqrt(scale, out=scale)
    else:
        scale = _checked_scale(x, var, shift, metric)
    # r = cov / sqrt(var_i var_j), as scipy's pdist: symmetric in i and j. Duplicated (or
    # power-of-two rescaled) patterns give r = 1 and shared distances only where BLAS sums their
    # entries alike; _tie_rescaled_rows makes their ties exact on any CPU.
    cov /= scale
    np.clip(cov, -1.0, 1.0, out=cov)
    np.subtract(1.0, cov, out=cov)
    _tie_rescaled_rows(x, cov)
    # Exactly symmetric by construction: numpy's b @ b.T mirrors BLAS syrk's triangle (its
    # non-BLAS loop computes both triangles in the same order), and every later step is
    # symmetric in i and j.
    cov.reshape(-1)[:: n + 1] = 0.0  # cov is C-contiguous: reshape is a view
    return cov


def _tie_rescaled_rows(x: np.ndarray, dist: np.ndarray) -> None:
    """Make rows that are power-of-two multiples of each other exact ties, in place.

    Whether BLAS computes ``c_ij`` and ``2 c_ik`` (row k = 2 × row j) with bit-identical sums
    depends on the CPU's kernel and on where the rows fall in its tiles, so duplicated or
    power-of-two rescaled patterns can miss ``r = 1`` or their shared distances by an ulp.
    Candidates (``d_ij < 1e-9``) are verified exactly on the rows (equal mantissas, one
    exponent offset); every verified member then takes the distances of the group's first
    row, and the group's own distances are 0, as ``pdist`` gives them.
    """
    n = dist.shape[0]
    close = dist < 1e-9
    # The diagonal (r_ii = 1, up to rounding where var_i var_j would overflow) is always close;
    # no other candidate is the usual case: one pass over the matrix, nothing to do
    if np.count_nonzero(close) - np.count_nonzero(close.reshape(-1)[:: n + 1]) == 0:
        return
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    i, j = np.nonzero(np.triu(close, 1))
    same = [k for k in range(i.size) if _power_of_two_multiple(x[i[k]], x[j[k]])]
    if not same:
        return
    links = coo_matrix((np.ones(len(same)), (i[same], j[same])), shape=(n, n))
    _, labels = connected_components(links, directed=False)
    for label in np.unique(labels):
        group = np.flatnonzero(labels == label)  # sorted: group[0] is the first row
        if group.size > 1:
            dist[group[1:], :] = dist[group[0], :]
            dist[:, group[1:]] = dist[:, group[[0]]]
            dist[np.ix_(group, group)] = 0.0


def _power_of_two_multiple(u: np.ndarray, v: np.ndarray) -> bool:
    """Whether ``v == u · 2**k`` exactly for one integer k (zeros where ``u`` is 0)."""
    mu, eu = np.frexp(u)
    mv, ev = np.frexp(v)
    if not np.array_equal(mu, mv):
        return False
    nz = mu != 0
    if not nz.any():
        return True
    shift = ev[nz] - eu[nz]
    return bool(np.all(shift == shift[0]))


def _shifted_gram(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gram matrix and row sums of ``x - shift`` (float64), one cache-sized block at a time.

    ``shift`` is the mean of a sample of each row's columns. Any shift gives the centred Gram
    exactly, ``sum_k (x_ik - m_i)(x_jk - m_j) = G_ij - S_i S_j / p``; one near the mean keeps
    the correction small, so the subtraction loses nothing, and the features are read once.
    """
    n, p = x.shape
    shift = x[:, :: max(1, p // _SHIFT_SAMPLES)].mean(axis=1, dtype=np.float64)
    col = shift[:, None]
    buf = np.empty((n, width))
    gram = np.empty((n, n))
    part = np.empty((n, n))
    sums = np.zeros(n)
    for start in range(0, p, width):
        stop = min(p, start + width)
        b = buf[:, : stop - start]
        if x.dtype == np.float64:
            np.subtract(x[:, start:stop], col, out=b)
        else:
            np.copyto(b, x[:, start:stop])  # float32 -> float64 is exact
            b -= col
        sums += np.add.reduce(b, axis=1)
        np.matmul(b, b.T, out=part if start else gram)  # numpy calls BLAS syrk for b @ b.T
        if start:
            gram += part
    return gram, sums, shift


def _checked_scale(x: np.ndarray, var: np.ndarray, shift: np.ndarray, metric: str) -> np.ndarray:
    """``sqrt(var_i var_j)`` after the checks the fast test could not pass, naming the rows."""
    if not np.all(np.isfinite(var)):
        _check_finite(x)
        raise ValueError("features are too large: their squares overflow float64")
    suspect = var <= (x.shape[1] * 1e-24) * np.square(shift)
    flat = [i for i in np.flatnonzero(suspect).tolist() if var[i] <= 0 or _constant(x[i])]
    if flat:
        raise ValueError(
            f"item(s) {flat[:10]} have constant patterns (zero variance); "
            f"their {metric} distance is undefined"
        )
    if 1e-150 < var.min() and var.max() < 1e150:
        scale = var * var[:, None]
        return np.sqrt(scale, out=scale)
    sd = np.sqrt(var)  # var_i var_j would overflow or underflow
    return sd * sd[:, None]


def _constant(row: np.ndarray) -> bool:
    return bool(np.all(row == row[0]))


def _hollow_symmetric(rdm: np.ndarray) -> np.ndarray:
    """The upper triangle of ``rdm`` mirrored below it, with a zero diagonal (exactly)."""
    out = np.triu(rdm, 1)
    out += out.T
    return out


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
