"""DeepCluster's clustering step (Caron et al. 2018), device-agnostic and seeded.

Each DeepCluster epoch computes the network's features of the whole training set, clusters them
and trains on the cluster indices as pseudo-labels. The clustering step of the original
(``facebookresearch/deepcluster:clustering.py``):

1. **PCA-whitening** to 256 dimensions (faiss ``PCAMatrix(d, 256, eigen_power=-0.5)``: centre,
   project on the leading eigenvectors of the covariance, divide each component by the square
   root of its eigenvalue), then **L2-normalisation** of every row
   (:func:`pca_whiten_l2`);
2. **k-means** (faiss, 20 Lloyd iterations, k = 10,000 on ImageNet) (:func:`kmeans`);
3. **uniform sampling over clusters** for the next epoch's training set, so that huge clusters do
   not dominate (``UnifLabelSampler``: ``N // n_nonempty + 1`` images per non-empty cluster,
   drawn with replacement where a cluster is smaller, shuffled, cut to ``N``)
   (:func:`uniform_label_sample`).

Differences from the original, on purpose: the original ran faiss on the GPU without a seed (so
no two runs agree); here k-means is plain Lloyd in torch (CPU or GPU, float32 distances, float64
centroid sums) seeded from the config, with faiss's rule for empty clusters (split a cluster
chosen with probability proportional to its size). scikit-learn's ``PCA(whiten=True)``,
``normalize`` and ``KMeans`` are the test oracles. The agreement between consecutive
assignments (and with true categories, where known) is scikit-learn's normalised mutual
information (:func:`nmi`), as in the paper.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from brainalign.networks.device import pick_device

__all__ = [
    "pca_whiten_l2",
    "kmeans",
    "cluster_features",
    "uniform_label_sample",
    "nmi",
    "chance_nmi",
]

_EPS = 1.0 / 1024.0  # faiss's perturbation of a split centroid


def pca_whiten_l2(
    features: ArrayLike, n_components: int = 256, eps: float = 1e-12
) -> NDArray[np.float32]:
    """PCA-whitened, L2-normalised features (DeepCluster's ``preprocess_features``).

    Parameters
    ----------
    features : (N, D) array
        One row per image.
    n_components : int
        Dimensions kept (256 in DeepCluster); at most ``min(N, D)``.
    eps : float
        Floor on the eigenvalues before the ``-1/2`` power (constant directions).

    Returns
    -------
    (N, n_components) float32
        Rows of unit L2 norm. Component signs are those of ``numpy.linalg.eigh`` (the
        clustering does not depend on them). With fewer images than dimensions the
        eigenproblem is solved on the (N, N) Gram matrix (the same components).

    Raises
    ------
    ValueError
        If ``features`` is not 2-D, holds NaN or infinity, or ``n_components`` is out of range.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (images x dimensions), got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"features hold NaN or infinity (row {bad[0]}, column {bad[1]})")
    n, d = x.shape
    if not 1 <= n_components <= min(n, d):
        raise ValueError(f"n_components={n_components} must lie in [1, min(N, D) = {min(n, d)}]")
    x = x - x.mean(axis=0)
    if n >= d:
        evals, evecs = np.linalg.eigh(x.T @ x / n)
        top = np.argsort(evals)[::-1][:n_components]
        proj = x @ evecs[:, top] / np.sqrt(np.maximum(evals[top], eps))
    else:
        # fewer images than dimensions: the covariance's non-zero eigenvalues are those of the
        # (N, N) Gram matrix x x^T / n, and x v_i = sqrt(n lambda_i) u_i (no D x D problem)
        evals, u = np.linalg.eigh(x @ x.T / n)
        top = np.argsort(evals)[::-1][:n_components]
        lam = np.maximum(evals[top], 0.0)
        proj = u[:, top] * (np.sqrt(n * lam) / np.sqrt(np.maximum(lam, eps)))
    norms = np.linalg.norm(proj, axis=1, keepdims=True)
    return (proj / np.maximum(norms, eps)).astype(np.float32)


def kmeans(
    x: ArrayLike,
    k: int,
    *,
    n_iter: int = 20,
    seed: int = 0,
    init: ArrayLike | None = None,
    device: str | torch.device = "cpu",
    chunk: int = 65536,
) -> tuple[NDArray[np.int64], NDArray[np.float32], float]:
    """Lloyd's k-means with faiss's initialisation and empty-cluster rule, seeded.

    Parameters
    ----------
    x : (N, d) array
        Points (DeepCluster: :func:`pca_whiten_l2` output).
    k : int
        Number of clusters, ``1 <= k <= N``.
    n_iter : int
        Lloyd iterations (faiss's default in DeepCluster: 20).
    seed : int
        Seeds the initial centroids (``k`` distinct points drawn uniformly, as faiss) and the
        empty-cluster splits.
    init : (k, d) array, optional
        Initial centroids instead of the draw.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, or ``"auto"``.
    chunk : int
        Points per distance block (memory ``chunk * k`` floats).

    Returns
    -------
    labels : (N,) int64
        Cluster of each point after the last iteration's assignment.
    centroids : (k, d) float32
        Means of the clusters of ``labels``.
    inertia : float
        Sum of squared distances of the points to their centroids.
    """
    pts = np.ascontiguousarray(x, dtype=np.float32)
    if pts.ndim != 2 or not np.isfinite(pts).all():
        raise ValueError(f"x must be a finite 2-D array, got shape {pts.shape}")
    n = pts.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must lie in [1, N = {n}]")
    rng = np.random.default_rng(seed)
    dev = pick_device(str(device))
    xt = torch.from_numpy(pts).to(dev)
    if init is None:
        cent = xt[torch.from_numpy(np.sort(rng.choice(n, k, replace=False))).to(dev)].clone()
    else:
        cent = torch.as_tensor(np.asarray(init, dtype=np.float32), device=dev).clone()
        if cent.shape != (k, pts.shape[1]):
            raise ValueError(f"init must have shape {(k, pts.shape[1])}, got {tuple(cent.shape)}")
    labels = _assign(xt, cent, chunk)[0]
    for _ in range(n_iter):
        cent = _update(xt, labels, k, cent, rng)
        labels = _assign(xt, cent, chunk)[0]
    cent = _update(xt, labels, k, cent, rng)
    inertia = float(_assign(xt, cent, chunk)[1].sum())
    return labels.cpu().numpy().astype(np.int64), cent.cpu().numpy(), inertia


def _assign(xt: torch.Tensor, cent: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid (lowest index on ties) and squared distance of every point."""
    c2 = (cent.double() ** 2).sum(1)
    labels, dists = [], []
    for start in range(0, xt.shape[0], chunk):
        blk = xt[start : start + chunk].double()
        d = (blk**2).sum(1, keepdim=True) - 2.0 * blk @ cent.double().T + c2
        best = torch.argmin(d, dim=1)
        labels.append(best)
        dists.append(d.gather(1, best[:, None])[:, 0].clamp_min(0.0))
    return torch.cat(labels), torch.cat(dists)


def _update(
    xt: torch.Tensor, labels: torch.Tensor, k: int, old: torch.Tensor, rng: np.random.Generator
) -> torch.Tensor:
    """Cluster means (float64 sums); empty clusters split a big one as faiss does."""
    sums = torch.zeros((k, xt.shape[1]), dtype=torch.float64, device=xt.device)
    sums.index_add_(0, labels, xt.double())
    counts = torch.bincount(labels, minlength=k).double()
    cent = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1.0)[:, None], old.double())
    sizes = counts.cpu().numpy().copy()
    for empty in np.flatnonzero(sizes == 0):
        # faiss: pick a cluster with probability (size - 1) / (N - k), copy it, perturb the
        # two copies in opposite directions (alternating per dimension), share its points
        weights = np.maximum(sizes - 1.0, 0.0)
        big = int(rng.choice(k, p=weights / weights.sum()))
        cent[empty] = cent[big] * (1.0 + _EPS)
        cent[big] = cent[big] * (1.0 - _EPS)
        cent[empty, 1::2] *= (1.0 - _EPS) / (1.0 + _EPS)
        cent[big, 1::2] *= (1.0 + _EPS) / (1.0 - _EPS)
        sizes[empty] = sizes[big] // 2
        sizes[big] -= sizes[empty]
    return cent.float()


def cluster_features(
    features: ArrayLike,
    k: int,
    *,
    n_components: int = 256,
    n_iter: int = 20,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> NDArray[np.int64]:
    """DeepCluster's pseudo-labels: :func:`pca_whiten_l2` then :func:`kmeans`.

    Parameters
    ----------
    features : (N, D) array
    k : int
    n_components : int
        Capped at ``min(N, D)``.
    n_iter, seed, device
        See :func:`kmeans`.

    Returns
    -------
    (N,) int64
        Cluster index of every image.
    """
    x = np.asarray(features)
    d = min(n_components, *x.shape) if x.ndim == 2 else n_components
    return kmeans(pca_whiten_l2(x, d), k, n_iter=n_iter, seed=seed, device=device)[0]


def uniform_label_sample(labels: ArrayLike, n: int, seed: int = 0) -> NDArray[np.int64]:
    """Indices of a training epoch drawn uniformly over clusters (``UnifLabelSampler``).

    Parameters
    ----------
    labels : (N,) int array
        Pseudo-label of every image.
    n : int
        Number of indices returned (DeepCluster: ``N``).
    seed : int

    Returns
    -------
    (n,) int64
        ``n // n_nonempty + 1`` images of every non-empty cluster (with replacement where the
        cluster is smaller), shuffled, the first ``n``.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {lab.shape}")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(lab == c) for c in np.unique(lab)]
    per = n // len(groups) + 1
    picks = [rng.choice(g, per, replace=g.size < per) for g in groups]
    out = np.concatenate(picks)
    rng.shuffle(out)
    return out[:n].astype(np.int64)


def nmi(a: ArrayLike, b: ArrayLike) -> float:
    """Normalised mutual information of two labelings (scikit-learn, arithmetic mean)."""
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(np.asarray(a), np.asarray(b)))


def chance_nmi(a: ArrayLike, b: ArrayLike, n_permutations: int = 50, seed: int = 0) -> float:
    """NMI of ``a`` with ``b`` expected by chance: the mean over random relabelings of ``a``.

    NMI is biased upwards for many clusters and few items (it is not 0 for independent
    labelings); this is the level an NMI must exceed to show shared structure.
    """
    rng = np.random.default_rng(seed)
    a = np.asarray(a)
    return float(np.mean([nmi(rng.permutation(a), b) for _ in range(n_permutations)]))
