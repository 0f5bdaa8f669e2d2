"""The condensed form of RDMs: the one home of every square <-> condensed conversion.

An RDM is a square ``(n, n)`` array, symmetric with a zero diagonal; its condensed form is the
strict upper triangle in row-major order (``np.triu_indices(n, 1)``, the order of
:func:`scipy.spatial.distance.squareform`), a vector of ``n_pairs = n (n - 1) / 2`` entries.

Raw conversions (no value checks, any leading axes, dtype kept)
    :func:`condensed_index_pairs`, :func:`pair_index`, :func:`n_conditions_from_pairs`,
    :func:`rdm_to_vector`, :func:`vector_to_rdm`.
Validated conversions (float64, finite, symmetric, zero diagonal, at least 3 items)
    :func:`check_square_rdm`, :func:`condensed`, :func:`as_condensed`, :func:`as_square`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = [
    "SYMMETRY_RTOL",
    "as_condensed",
    "as_square",
    "check_square_rdm",
    "condensed",
    "condensed_index_pairs",
    "is_square_rdm",
    "n_conditions_from_pairs",
    "pair_index",
    "rdm_to_vector",
    "vector_to_rdm",
]

#: Relative tolerance (to the largest absolute entry) for symmetry and a zero diagonal.
SYMMETRY_RTOL = 1e-10


# --------------------------------------------------------------------------------------------
# Indices
# --------------------------------------------------------------------------------------------
def condensed_index_pairs(n_conditions: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row and column indices of the condensed order.

    Parameters
    ----------
    n_conditions : int
        Number of conditions (items) ``n``.

    Returns
    -------
    rows, cols : ndarray ``(n (n - 1) / 2,)`` of intp
        ``np.triu_indices(n, 1)``: strict upper triangle, row-major.
    """
    return np.triu_indices(int(n_conditions), 1)


def pair_index(n_conditions: int, i: ArrayLike, j: ArrayLike) -> NDArray[np.int64]:
    """Condensed index of the pairs ``(i, j)``, ``i != j`` (either order).

    Parameters
    ----------
    n_conditions : int
        Number of conditions ``n``.
    i, j : int arrays of the same shape
        Condition indices in ``range(n)``.

    Returns
    -------
    ndarray of int64, the shape of ``i``
        Position of each pair in :func:`condensed_index_pairs` order.
    """
    a = np.minimum(i, j).astype(np.int64)
    b = np.maximum(i, j).astype(np.int64)
    n = n_conditions
    return n * a - a * (a + 1) // 2 + (b - a - 1)


def n_conditions_from_pairs(n_pairs: int, name: str = "condensed RDM") -> int:
    """Number of conditions ``n`` such that ``n (n - 1) / 2 == n_pairs``.

    Parameters
    ----------
    n_pairs : int
        Length of a condensed vector.
    name : str
        Used in the error message.

    Returns
    -------
    int
        ``n >= 2``.

    Raises
    ------
    ValueError
        If ``n_pairs`` is not a triangular number ``n (n - 1) / 2`` with ``n >= 2``.
    """
    n_pairs = int(n_pairs)
    n = int(round((1 + math.sqrt(1 + 8 * n_pairs)) / 2)) if n_pairs >= 0 else 0
    if n < 2 or n * (n - 1) // 2 != n_pairs:
        raise ValueError(
            f"{name} has length {n_pairs}, which is not n (n - 1) / 2 for any integer n >= 2 "
            "(not a condensed RDM)"
        )
    return n


# --------------------------------------------------------------------------------------------
# Raw conversions
# --------------------------------------------------------------------------------------------
def rdm_to_vector(rdm: ArrayLike) -> NDArray:
    """Strict upper triangle, row-major, of one RDM ``(n, n)`` or a stack ``(..., n, n)``.

    Only the shape is checked; the dtype is kept.

    Parameters
    ----------
    rdm : array ``(..., n, n)``

    Returns
    -------
    ndarray ``(..., n (n - 1) / 2)``

    Raises
    ------
    ValueError
        If the last two axes are not square.
    """
    a = np.asarray(rdm)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"RDM must have shape (..., n, n); got shape {a.shape}")
    iu, ju = condensed_index_pairs(a.shape[-1])
    return a[..., iu, ju]


def vector_to_rdm(vec: ArrayLike, dtype: DTypeLike | None = None) -> NDArray:
    """Inverse of :func:`rdm_to_vector`: symmetric ``(..., n, n)`` with a zero diagonal.

    Parameters
    ----------
    vec : array ``(..., n_pairs)``
        Condensed vector(s).
    dtype : dtype, optional
        Of the result; by default the input's if it is floating, else float64.

    Returns
    -------
    ndarray ``(..., n, n)``
    """
    v = np.asarray(vec)
    if v.ndim < 1:
        raise ValueError(f"condensed RDM must have at least one axis; got shape {v.shape}")
    n = n_conditions_from_pairs(v.shape[-1])
    if dtype is None:
        dtype = v.dtype if v.dtype.kind == "f" else np.float64
    out = np.zeros(v.shape[:-1] + (n, n), dtype=dtype)
    iu, ju = condensed_index_pairs(n)
    out[..., iu, ju] = v
    out[..., ju, iu] = v
    return out


# --------------------------------------------------------------------------------------------
# Validated conversions
# --------------------------------------------------------------------------------------------
def is_square_rdm(a: np.ndarray) -> bool:
    """True when ``a`` looks like one full RDM: square, symmetric, zero diagonal
    (``numpy.allclose`` tolerances); used to tell one RDM from a stack of condensed vectors."""
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        return False
    return bool(np.allclose(a, a.T) and np.allclose(np.diag(a), 0.0))


def check_square_rdm(
    rdm: np.ndarray,
    name: str = "rdm",
    *,
    stacked: bool = False,
    symmetric: bool = True,
    min_items: int = 3,
) -> np.ndarray:
    """Check a square RDM (or a stack of them) and return it unchanged.

    Parameters
    ----------
    rdm : ndarray ``(n, n)``, or ``(..., n, n)`` with ``stacked``
    name : str
        Used in error messages.
    stacked : bool
        Accept leading axes.
    symmetric : bool
        Also require symmetry and a zero diagonal (relative tolerance :data:`SYMMETRY_RTOL`);
        otherwise only the shape, the size and finiteness are checked.
    min_items : int
        Smallest ``n`` accepted.

    Returns
    -------
    ndarray
        ``rdm``.

    Raises
    ------
    ValueError
        Naming ``name`` and the first offending entry.
    """
    if (rdm.ndim < 2 if stacked else rdm.ndim != 2) or rdm.shape[-1] != rdm.shape[-2]:
        raise ValueError(f"{name} must be a square (N, N) RDM, got shape {rdm.shape}")
    if rdm.shape[-1] < min_items:
        raise ValueError(f"{name} must have at least {min_items} items, got shape {rdm.shape}")
    if not np.isfinite(rdm).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(rdm))[0])
        raise ValueError(f"{name} contains non-finite values (first at {bad}: {rdm[bad]!r})")
    if not symmetric or rdm.size == 0:
        return rdm
    tol = SYMMETRY_RTOL * max(float(np.abs(rdm).max()), 1.0)
    asym = np.abs(rdm - np.swapaxes(rdm, -1, -2))
    if asym.max() > tol:
        *lead, i, j = np.unravel_index(int(np.argmax(asym)), asym.shape)
        at = "".join(f"{k}, " for k in lead)
        raise ValueError(
            f"{name} is not symmetric: {name}[{at}{i}, {j}] = {rdm[(*lead, i, j)]!r} but "
            f"{name}[{at}{j}, {i}] = {rdm[(*lead, j, i)]!r}"
        )
    diag = np.abs(np.diagonal(rdm, axis1=-2, axis2=-1))
    if diag.max() > tol:
        *lead, i = np.unravel_index(int(np.argmax(diag)), diag.shape)
        at = "".join(f"{k}, " for k in lead)
        raise ValueError(
            f"{name} must have a zero diagonal: {name}[{at}{i}, {i}] = {rdm[(*lead, i, i)]!r}"
        )
    return rdm


def _as_float_array(a: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(a).__name__}") from exc


def condensed(rdm: ArrayLike, name: str = "rdm") -> NDArray[np.float64]:
    """Condensed form of a validated square RDM.

    Parameters
    ----------
    rdm : array_like ``(N, N)``
        Symmetric, finite, zero-diagonal dissimilarity matrix.
    name : str
        Used in error messages.

    Returns
    -------
    ndarray ``(N (N - 1) / 2,)`` of float64
        Strict upper triangle in row-major order (same as ``squareform``), contiguous.

    Raises
    ------
    ValueError
        If ``rdm`` is not square, has fewer than 3 items, is not finite, not symmetric or has a
        non-zero diagonal.
    """
    arr = _as_float_array(rdm, name)
    check_square_rdm(arr, name)
    return np.ascontiguousarray(rdm_to_vector(arr))


def as_condensed(a: ArrayLike, name: str = "rdm") -> NDArray[np.float64]:
    """Validate a square RDM or a condensed vector and return the condensed vector.

    Parameters
    ----------
    a : array_like ``(N, N)`` or ``(M,)``
    name : str
        Used in error messages.

    Returns
    -------
    ndarray ``(M,)`` of float64, contiguous

    Raises
    ------
    ValueError
        As :func:`condensed` for a square input; for a vector if its length is not
        ``N (N - 1) / 2`` with ``N >= 3`` or it is not finite.
    """
    arr = _as_float_array(a, name)
    if arr.ndim == 2:
        return condensed(arr, name)
    if arr.ndim == 1:
        n_conditions_from_pairs(arr.size, name)
        if arr.size < 3:
            raise ValueError(f"{name} must have at least 3 items (3 pairs), got {arr.size} pairs")
        if not np.isfinite(arr).all():
            k = int(np.argmax(~np.isfinite(arr)))
            raise ValueError(f"{name} contains non-finite values (first at [{k}]: {arr[k]!r})")
        return np.ascontiguousarray(arr)
    raise ValueError(f"{name} must be a square (N, N) RDM or a condensed vector, got {arr.shape}")


def as_square(a: ArrayLike, name: str = "rdm") -> NDArray[np.float64]:
    """Validate a square RDM or a condensed vector and return the symmetric ``(N, N)`` matrix.

    Parameters
    ----------
    a : array_like ``(N, N)`` or ``(M,)``
    name : str
        Used in error messages.

    Returns
    -------
    ndarray ``(N, N)`` of float64
        Upper triangle mirrored, zero diagonal.
    """
    return vector_to_rdm(as_condensed(a, name))
