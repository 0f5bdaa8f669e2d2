"""Representational similarity matrices (RSMs): cosine similarity of embeddings, class
grouping, and the comparison of two RSMs, faithful and corrected.

The decoding-thoughts study (theairbend3r/decoding-thoughts, ``src/ml/rsa.py``) builds
``(n_items, n_items)`` cosine-similarity matrices of latent embeddings (items grouped by class)
and ``(C, C)`` matrices of the cosine similarity of the class-mean embeddings
(``get_latent_emb_per_class(agg_class=True)`` averages the embeddings of each class first).

Faithful comparison
    :func:`compare_full_matrices`: Pearson r over the **full flattened matrices**, as the
    original's ``np.corrcoef(stim_rsm.flatten(), fmri_rsm.flatten())[0, 1]``.  The diagonal
    (all ones for both) and the duplicated lower triangle inflate r and make it
    un-testable.
Corrected comparison
    :func:`compare_rsms`: the strict upper triangle only, the core statistic
    (:func:`brainalign.rsa.compare.compare_rdms`), a one-sided Mantel permutation p
    (:func:`brainalign.rsa.mantel.mantel_test`, items permuted) and a bootstrap confidence
    interval over items.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import kendalltau

from brainalign.rsa.compare import METHODS, centred_pearson, centred_spearman, check_method
from brainalign.rsa.condensed import condensed, condensed_index_pairs, pair_index
from brainalign.rsa.mantel import mantel_test
from brainalign.rsa.rdm import validate_rdm

__all__ = [
    "RSM_ATOL",
    "class_mean_matrix",
    "class_mean_rsm",
    "compare_full_matrices",
    "compare_rsms",
    "cosine_rsm",
    "rsm_to_condensed_rdm",
    "sort_by_class",
]

#: Absolute tolerance for the symmetry of an RSM (float32 sources round).
RSM_ATOL = 1e-6


# --------------------------------------------------------------------------------------------
# RSMs
# --------------------------------------------------------------------------------------------
def _cosine(x: NDArray[np.float64], what: str) -> NDArray[np.float64]:
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"{what} {int(zero[0])} has zero norm; its cosine similarity is undefined"
            + (f" (all zero-norm {what}s: {zero.tolist()[:10]})" if zero.size > 1 else "")
        )
    xn = x / norms[:, None]
    s = xn @ xn.T
    s = np.clip(0.5 * (s + s.T), -1.0, 1.0)
    np.fill_diagonal(s, 1.0)
    return s


def _as_embeddings(x: ArrayLike, name: str) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must be 2-D (n_items, n_features), got shape {a.shape}")
    if not np.isfinite(a).all():
        row = int(np.argwhere(~np.isfinite(a))[0, 0])
        raise ValueError(f"{name} contains NaN or inf (first in row {row})")
    return a


def cosine_rsm(X: ArrayLike) -> NDArray[np.float64]:
    """Cosine similarity of every pair of items.

    Equal (to rounding) to ``sklearn.metrics.pairwise.cosine_similarity(X)`` and to the
    original's ``torch.nn.functional.cosine_similarity`` over all pairs.

    Parameters
    ----------
    X : array_like, shape (n_items, n_features)
        One embedding per row; cast to float64.

    Returns
    -------
    ndarray, shape (n_items, n_items), float64
        Exactly symmetric, clipped to [-1, 1], diagonal exactly 1.

    Raises
    ------
    ValueError
        For a non-2-D or non-finite input, or a row of zero norm (naming its index).
    """
    return _cosine(_as_embeddings(X, "X"), "row")


def sort_by_class(labels: ArrayLike, class_order: Sequence | None = None) -> NDArray[np.intp]:
    """Item order that groups items by class (the original's RSM layout).

    Parameters
    ----------
    labels : array_like, shape (n_items,)
        Class label of each item (any hashable, comparable values).
    class_order : sequence, optional
        The classes in the order wanted (the original: animal, artifact, geological
        formation); by default the sorted distinct labels.

    Returns
    -------
    ndarray, shape (n_items,), intp
        ``order`` such that ``labels[order]`` runs through ``class_order``; items of one class
        keep their original order (stable).

    Raises
    ------
    ValueError
        If a label is not in ``class_order`` or ``class_order`` repeats a class.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError(f"labels must be 1-D (n_items,), got shape {lab.shape}")
    order = list(np.unique(lab)) if class_order is None else list(class_order)
    if len(set(order)) != len(order):
        raise ValueError(f"class_order repeats a class: {order!r}")
    known = set(order)
    missing = [v for v in np.unique(lab) if v not in known]
    if missing:
        raise ValueError(
            f"label(s) {[getattr(v, 'item', lambda v=v: v)() for v in missing][:10]!r} "
            f"not in class_order {order!r}"
        )
    idx = [np.flatnonzero(lab == c) for c in order]
    return np.concatenate(idx).astype(np.intp) if idx else np.zeros(0, dtype=np.intp)


def _one_hot(labels: ArrayLike, n_items: int, n_classes: int) -> NDArray[np.float64]:
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != n_items:
        raise ValueError(f"labels must have shape ({n_items},), got {lab.shape}")
    if lab.size and not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(
            f"labels must be integer class indices 0..{n_classes - 1}, got {lab.dtype}"
        )
    bad = np.flatnonzero((lab < 0) | (lab >= n_classes))
    if bad.size:
        raise ValueError(
            f"labels[{int(bad[0])}] = {lab[bad[0]]} is outside 0..{n_classes - 1} "
            f"(n_classes={n_classes})"
        )
    counts = np.bincount(lab, minlength=n_classes)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(f"class(es) {empty.tolist()} have no items")
    onehot = np.zeros((n_items, n_classes))
    onehot[np.arange(n_items), lab] = 1.0
    return onehot


def class_mean_rsm(X: ArrayLike, labels: ArrayLike, n_classes: int) -> NDArray[np.float64]:
    """Cosine similarity of the class-mean embeddings (the original's 3 x 3 RSM).

    As ``calculate_rsm(agg_class=True)`` of the original: the embeddings of each class are
    averaged, then the cosine similarity of the ``C`` mean embeddings is taken.

    Parameters
    ----------
    X : array_like, shape (n_items, n_features)
    labels : array_like of int, shape (n_items,)
        Class index ``0..n_classes - 1`` of each item; every class needs an item.
    n_classes : int

    Returns
    -------
    ndarray, shape (n_classes, n_classes), float64
        Diagonal exactly 1.

    Raises
    ------
    ValueError
        For invalid labels, an empty class, or a class mean of zero norm (naming the class).
    """
    x = _as_embeddings(X, "X")
    onehot = _one_hot(labels, x.shape[0], int(n_classes))
    means = (onehot.T @ x) / onehot.sum(axis=0)[:, None]
    return _cosine(means, "class")


def class_mean_matrix(
    rsm: ArrayLike, labels: ArrayLike, n_classes: int, *, include_diagonal: bool = False
) -> NDArray[np.float64]:
    """Mean similarity between the items of two classes (a block average of the RSM).

    Not the original's class RSM (that is :func:`class_mean_rsm`); an alternative summary of
    the item RSM.

    Parameters
    ----------
    rsm : array_like, shape (n_items, n_items)
    labels : array_like of int, shape (n_items,)
        Class index ``0..n_classes - 1`` of each item; every class needs an item.
    n_classes : int
    include_diagonal : bool
        Include each item's similarity with itself (``rsm[i, i]``, 1 for cosine) in the
        diagonal blocks.  Default False: a diagonal block averages the pairs of *distinct*
        items of the class (``nan`` for a class of one item).

    Returns
    -------
    ndarray, shape (n_classes, n_classes), float64
        ``out[a, b]`` = mean of ``rsm[i, j]`` over items ``i`` of class ``a`` and ``j`` of
        class ``b``.
    """
    r = np.asarray(rsm, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1]:
        raise ValueError(f"rsm must be square (n_items, n_items), got shape {r.shape}")
    onehot = _one_hot(labels, r.shape[0], int(n_classes))
    sums = onehot.T @ r @ onehot
    n_per = onehot.sum(axis=0)
    counts = np.outer(n_per, n_per)
    if not include_diagonal:
        sums -= np.diag(onehot.T @ np.diag(r))
        counts -= np.diag(n_per)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------
def compare_full_matrices(a: ArrayLike, b: ArrayLike) -> float:
    """The faithful comparison: Pearson r over the full flattened matrices.

    ``np.corrcoef(a.flatten(), b.flatten())[0, 1]``: diagonal and both triangles included, as
    the original.  Use :func:`compare_rsms` for the corrected comparison.

    Parameters
    ----------
    a, b : array_like, shape (n, n)

    Returns
    -------
    float
        ``nan`` if either matrix is constant.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"a and b must be 2-D of equal shape, got {x.shape} and {y.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.corrcoef(x.flatten(), y.flatten())[0, 1])


def rsm_to_condensed_rdm(rsm: ArrayLike, name: str = "rsm") -> NDArray[np.float64]:
    """Condensed dissimilarities ``1 - rsm`` of the strict upper triangle.

    The Mantel test takes RDMs (symmetric, zero diagonal): ``1 - similarity`` is one, and every
    rank or Pearson statistic of two such vectors equals that of the similarities themselves
    (both reverse order alike).

    Parameters
    ----------
    rsm : array_like, shape (n, n)
        Symmetric (to ``1e-6``) finite similarity matrix, ``n >= 3``; its diagonal is ignored.
    name : str
        Used in error messages.

    Returns
    -------
    ndarray, shape (n (n - 1) / 2,), float64
        In :mod:`brainalign.rsa.condensed` order.
    """
    s = np.asarray(rsm, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) similarity matrix, got {s.shape}")
    d = 1.0 - s
    np.fill_diagonal(d, 0.0)
    return condensed(validate_rdm(d, f"{name} (1 - similarity)", atol=RSM_ATOL), name)


def _paired_statistic(x: NDArray[np.float64], y: NDArray[np.float64], method: str) -> float:
    """``method`` of two paired vectors of any length (bootstrap samples hold repeated pairs).

    Same values as :func:`brainalign.rsa.compare.compare_rdms` on condensed vectors.
    """
    if method in ("spearman", "pearson"):
        centre = centred_spearman if method == "spearman" else centred_pearson
        cx, cy = centre(x), centre(y)
        sxx, syy = float(np.dot(cx, cx)), float(np.dot(cy, cy))
        if sxx == 0.0 or syy == 0.0:
            return float("nan")
        return min(1.0, max(-1.0, float(np.dot(cx, cy)) / math.sqrt(sxx * syy)))
    tau_b = float(kendalltau(x, y).statistic)
    if method == "tau_b" or math.isnan(tau_b):
        return tau_b
    m = x.size
    tot = m * (m - 1) // 2
    ties = [
        int((c * (c - 1) // 2).sum()) for c in (np.unique(v, return_counts=True)[1] for v in (x, y))
    ]
    return tau_b * math.sqrt(float(tot - ties[0]) * float(tot - ties[1])) / tot


def _bootstrap_pair_indices(
    n_items: int, n_bootstrap: int, rng: np.random.Generator
) -> Iterator[NDArray[np.int64]]:
    """Condensed indices of each bootstrap sample: ``n`` items drawn with replacement, every
    pair of drawn items except an item paired with its own copy (not observed)."""
    iu, ju = condensed_index_pairs(n_items)
    for _ in range(n_bootstrap):
        sel = rng.integers(n_items, size=n_items)
        a, b = sel[iu], sel[ju]
        keep = a != b
        yield pair_index(n_items, a[keep], b[keep])


def _check_count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def compare_rsms(
    a: ArrayLike,
    b: ArrayLike,
    *,
    method: str = "spearman",
    n_permutations: int = 10000,
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> dict[str, float | int]:
    """The corrected comparison of two similarity matrices of the same items.

    * **statistic**: ``method`` between the strict upper triangles (k = 1), the core's
      :func:`brainalign.rsa.compare.compare_rdms` (diagonal and duplicate triangle left out).
    * **p**: one-sided (``"greater"``) Mantel test, :func:`brainalign.rsa.mantel.mantel_test`
      with ``x = 1 - a`` (items of ``a`` permuted, rows and columns together), ``y = 1 - b``,
      ``permutations=n_permutations``, ``seed=seed``; the condensed RDMs ``1 - similarity``
      (:func:`rsm_to_condensed_rdm`) give the same statistic as the similarities.
    * **ci_low, ci_high**: percentile bootstrap interval over items: ``n_items`` items drawn with
      replacement (``np.random.default_rng([seed, 1])``), the statistic recomputed over every
      pair of drawn items except pairs of an item with its own copy.

    Parameters
    ----------
    a, b : array_like, shape (n_items, n_items)
        Similarity matrices (e.g. :func:`cosine_rsm`), symmetric, ``n_items >= 3``; the
        diagonals are ignored.
    method : {"spearman", "pearson", "tau_a", "tau_b"}
    n_permutations : int
        Mantel permutations (0: ``p`` is ``nan``).
    n_bootstrap : int
        Bootstrap samples (0: no interval, ``ci_low`` and ``ci_high`` are ``nan``).
    seed : int
        Non-negative.
    ci : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    dict
        ``statistic`` (float), ``p`` (float), ``ci_low`` (float), ``ci_high`` (float),
        ``n_items`` (int).

    Raises
    ------
    ValueError
        For matrices that are not square, symmetric, finite, of equal size, or an invalid
        method, count, seed or ``ci``.
    """
    check_method(method, METHODS)
    n_perm = _check_count(n_permutations, "n_permutations")
    n_boot = _check_count(n_bootstrap, "n_bootstrap")
    _check_count(seed, "seed")
    if not 0.0 < float(ci) < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")
    va = rsm_to_condensed_rdm(a, "a")
    vb = rsm_to_condensed_rdm(b, "b")
    if va.size != vb.size:
        raise ValueError(
            f"a and b differ in size: {np.shape(a)} vs {np.shape(b)} (need the same items)"
        )
    n = np.shape(a)[0]
    res = mantel_test(va, vb, method, n_perm, "greater", int(seed))
    lo = hi = float("nan")
    if n_boot:
        rng = np.random.default_rng([int(seed), 1])
        draws = np.array(
            [
                _paired_statistic(va[k], vb[k], method)
                for k in _bootstrap_pair_indices(n, n_boot, rng)
            ]
        )
        if np.isfinite(draws).any():
            alpha = (1.0 - float(ci)) / 2.0
            lo, hi = (float(q) for q in np.nanquantile(draws, [alpha, 1.0 - alpha]))
    return {
        "statistic": float(res.statistic),
        "p": float(res.pvalue),
        "ci_low": lo,
        "ci_high": hi,
        "n_items": int(n),
    }
