"""Searchlight neighbourhoods over the voxels of a mask, and the data layout the kernels read.

Neighbourhoods
    * spheres: every mask voxel is a centre; its neighbourhood is the mask voxels within
      ``radius`` voxels (Euclidean, in voxel units);
    * Brainiak-style blocks (Dwivedi et al. 2021, ``searchlight_utils.get_blocks``): blocks start
      every ``max_blk_edge`` voxels; a block's neighbourhood is its outer cube of
      ``max_blk_edge + 2 * sl_rad`` voxels per side (mask voxels only); a block is kept when its
      inner part touches the mask; results go back to the volume with the original ``blocks2sl``;
    * labels (ROI atlases): one neighbourhood per label id.

Data preparation
    :func:`prepare_volume` standardises the data per condition over the mask (this leaves every
    within-neighbourhood correlation unchanged) to keep float32 sums well conditioned, and appends
    a column of ones so voxel counts and sums ride along in the kernels' Gram matrices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Neighbourhoods",
    "block_neighbourhoods",
    "blocks_to_volume",
    "centres_to_volume",
    "label_neighbourhoods",
    "prepare_volume",
    "sphere_neighbourhoods",
    "sphere_offsets",
]

_KB = 8  # data columns are padded to a multiple of this


# --------------------------------------------------------------------------------------------
# Neighbourhoods
# --------------------------------------------------------------------------------------------
def sphere_offsets(radius: float) -> np.ndarray:
    """Integer offsets ``(k, 3)`` with ``dx² + dy² + dz² <= radius²`` (C order)."""
    radius = float(radius)
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f"radius must be a finite number >= 0; got {radius}")
    r = int(np.floor(radius))
    g = np.arange(-r, r + 1)
    d = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    return d[(d**2).sum(axis=1) <= radius**2 + 1e-9]


def _check_mask(mask: ArrayLike) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 3:
        raise ValueError(f"mask must be 3-D; got shape {m.shape}")
    m = m.astype(bool)
    if not m.any():
        raise ValueError("mask is empty")
    return m


@dataclass(frozen=True)
class Neighbourhoods:
    """Searchlight neighbourhoods over the voxels of a mask.

    Attributes
    ----------
    kind : {"sphere", "block"}
    shape : tuple
        Volume shape.
    voxels : ndarray ``(n_voxels, 3)``
        Mask voxels in C order; data rows follow this order.
    centres : ndarray ``(n_centres, 3)``
        Sphere centres, or block corners (lowest voxel of the outer cube) for blocks.
    indptr, indices : ndarrays
        CSR lists of each neighbourhood's rows into ``voxels``.
    radius : float
        Sphere radius / ``sl_rad`` for blocks.
    block_shape : ndarray ``(n_centres, 3)`` or None
        Outer-block size of each block (clipped at the volume edge), as the original.
    max_blk_edge : int or None
    """

    kind: str
    shape: tuple[int, int, int]
    voxels: np.ndarray
    centres: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    radius: float
    block_shape: np.ndarray | None = None
    max_blk_edge: int | None = None
    centre_rows: np.ndarray | None = field(default=None)

    @property
    def n_centres(self) -> int:
        """Number of searchlights."""
        return int(self.centres.shape[0])

    def sizes(self) -> np.ndarray:
        """Number of mask voxels in each neighbourhood."""
        return np.diff(self.indptr)


def _row_grid(mask: np.ndarray, pad: int) -> np.ndarray:
    grid = np.full(tuple(s + 2 * pad for s in mask.shape), -1, dtype=np.int32)
    inner = grid[pad : pad + mask.shape[0], pad : pad + mask.shape[1], pad : pad + mask.shape[2]]
    inner[mask] = np.arange(int(mask.sum()), dtype=np.int32)
    return grid


def sphere_neighbourhoods(
    mask: ArrayLike, radius: float, centres: ArrayLike | None = None
) -> Neighbourhoods:
    """Spheres of ``radius`` voxels around every mask voxel (or the given ``centres``).

    Parameters
    ----------
    mask : bool array ``(X, Y, Z)``
    radius : float
        In voxels.
    centres : int array ``(n, 3)``, optional
        Default: all mask voxels, in C order.
    """
    m = _check_mask(mask)
    voxels = np.argwhere(m)
    offs = sphere_offsets(radius)
    pad = int(np.abs(offs).max()) if offs.size else 0
    grid = _row_grid(m, pad)
    if centres is None:
        c = voxels
        centre_rows = np.arange(voxels.shape[0])
    else:
        c = np.asarray(centres, dtype=np.int64)
        if c.ndim != 2 or c.shape[1] != 3:
            raise ValueError(f"centres must have shape (n, 3); got {c.shape}")
        inside = np.all((c >= 0) & (c < np.array(m.shape)), axis=1)
        if not inside.all():
            raise ValueError(f"centre {c[~inside][0].tolist()} lies outside the volume {m.shape}")
        centre_rows = grid[c[:, 0] + pad, c[:, 1] + pad, c[:, 2] + pad]
    nb = grid[
        c[:, None, 0] + offs[None, :, 0] + pad,
        c[:, None, 1] + offs[None, :, 1] + pad,
        c[:, None, 2] + offs[None, :, 2] + pad,
    ]
    keep = nb >= 0
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64)
    indices = nb[keep].astype(np.int32)
    return Neighbourhoods(
        "sphere", m.shape, voxels, c, indptr, indices, float(radius), centre_rows=centre_rows
    )


def block_neighbourhoods(mask: ArrayLike, sl_rad: int = 1, max_blk_edge: int = 2) -> Neighbourhoods:
    """Brainiak-style blocks of the original (``get_blocks(mask, sl_rad, max_blk_edge)``).

    A block starts every ``max_blk_edge`` voxels along each axis; its outer cube has
    ``max_blk_edge + 2 sl_rad`` voxels per side (clipped at the volume edge); it is kept if
    ``mask[i+sl_rad : i+shape-sl_rad, ...]`` has any voxel.  The neighbourhood is the mask voxels
    of the outer cube (the original used every voxel of the cube; outside-mask voxels carry no
    data here).
    """
    m = _check_mask(mask)
    sl_rad = int(sl_rad)
    max_blk_edge = int(max_blk_edge)
    if sl_rad < 0 or max_blk_edge < 1:
        raise ValueError(f"need sl_rad >= 0 and max_blk_edge >= 1; got {sl_rad}, {max_blk_edge}")
    voxels = np.argwhere(m)
    grid = _row_grid(m, 0)
    outer = max_blk_edge + 2 * sl_rad
    corners, shapes, members = [], [], []
    X, Y, Z = m.shape
    for i in range(0, X, max_blk_edge):
        for j in range(0, Y, max_blk_edge):
            for k in range(0, Z, max_blk_edge):
                sub = grid[i : i + outer, j : j + outer, k : k + outer]
                bs = sub.shape
                inner = m[
                    i + sl_rad : i + bs[0] - sl_rad,
                    j + sl_rad : j + bs[1] - sl_rad,
                    k + sl_rad : k + bs[2] - sl_rad,
                ]
                if inner.any():
                    corners.append((i, j, k))
                    shapes.append(bs)
                    rows = sub[sub >= 0]
                    members.append(rows.astype(np.int32))
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in members])]).astype(np.int64)
    indices = np.concatenate(members).astype(np.int32) if members else np.zeros(0, dtype=np.int32)
    return Neighbourhoods(
        "block",
        m.shape,
        voxels,
        np.asarray(corners, dtype=np.int64).reshape(-1, 3),
        indptr,
        indices,
        float(sl_rad),
        block_shape=np.asarray(shapes, dtype=np.int64).reshape(-1, 3),
        max_blk_edge=max_blk_edge,
    )


def blocks_to_volume(values: ArrayLike, nbh: Neighbourhoods, fill: float = np.nan) -> np.ndarray:
    """Write one value per block back into the volume (the original ``blocks2sl``).

    Block ``b`` with corner ``pt`` and outer shape ``sz`` fills
    ``[pt + sl_rad, pt + sl_rad + sz)`` along each axis, later blocks overwriting earlier ones
    (so each value ends up on the block's inner voxels except at the last block of a row).
    """
    if nbh.kind != "block" or nbh.block_shape is None:
        raise ValueError(f"blocks_to_volume needs block neighbourhoods; got kind {nbh.kind!r}")
    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] != nbh.n_centres:
        raise ValueError(f"got {v.shape[0]} values for {nbh.n_centres} blocks")
    out = np.full(nbh.shape + v.shape[1:], fill, dtype=np.float64)
    r = int(nbh.radius)
    for b in range(nbh.n_centres):
        pt, sz = nbh.centres[b], nbh.block_shape[b]
        out[
            pt[0] + r : pt[0] + r + sz[0],
            pt[1] + r : pt[1] + r + sz[1],
            pt[2] + r : pt[2] + r + sz[2],
        ] = v[b]
    return out


def centres_to_volume(values: ArrayLike, nbh: Neighbourhoods, fill: float = np.nan) -> np.ndarray:
    """Volume ``nbh.shape (+ trailing axes)`` with each centre's value at its voxel (spheres) or
    written back with :func:`blocks_to_volume` (blocks)."""
    if nbh.kind == "block":
        return blocks_to_volume(values, nbh, fill)
    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] != nbh.n_centres:
        raise ValueError(f"got {v.shape[0]} values for {nbh.n_centres} centres")
    out = np.full(nbh.shape + v.shape[1:], fill, dtype=np.float64)
    c = nbh.centres
    out[c[:, 0], c[:, 1], c[:, 2]] = v
    return out


# --------------------------------------------------------------------------------------------
# ROI atlases
# --------------------------------------------------------------------------------------------
def label_neighbourhoods(
    mask: ArrayLike, labels: ArrayLike, ids: ArrayLike | None = None
) -> Neighbourhoods:
    """One neighbourhood per label id (an ROI atlas): its voxels inside the mask.

    ``centres`` holds each ROI's first voxel (for bookkeeping only).
    """
    m = _check_mask(mask)
    lab = np.asarray(labels)
    if lab.shape != m.shape:
        raise ValueError(f"labels have shape {lab.shape}; mask has {m.shape}")
    lm = lab[m]
    if ids is None:
        ids = np.unique(lm[lm > 0])
    ids = np.asarray(ids)
    members, centres = [], []
    voxels = np.argwhere(m)
    for i in ids:
        rows = np.flatnonzero(lm == i)
        if rows.size == 0:
            raise ValueError(f"ROI id {i} has no voxel inside the mask")
        members.append(rows.astype(np.int32))
        centres.append(voxels[rows[0]])
    indptr = np.concatenate([[0], np.cumsum([r.size for r in members])]).astype(np.int64)
    return Neighbourhoods(
        "roi",
        m.shape,
        voxels,
        np.asarray(centres, dtype=np.int64).reshape(-1, 3),
        indptr,
        np.concatenate(members),
        0.0,
    )


# --------------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------------
def prepare_volume(
    data: ArrayLike, mask: ArrayLike, dtype: type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Masked, per-condition standardised data ``(n_voxels, n_cond + 1 (+ pad))`` for the kernels.

    The extra column is 1 (voxel counts and sums ride along in the Gram matrix); columns are padded
    with zeros to a multiple of 8.  Standardising each condition over the whole mask leaves every
    within-neighbourhood correlation unchanged.

    Returns
    -------
    rows : ndarray ``(n_voxels, n_cols)``
    mask : bool ndarray
    """
    m = _check_mask(mask)
    d = np.asarray(data)
    if d.ndim != 4 or d.shape[:3] != m.shape:
        raise ValueError(
            f"data must be 4-D (x, y, z, condition) matching mask {m.shape}; got {d.shape}"
        )
    n_cond = d.shape[3]
    if n_cond < 3:
        raise ValueError(f"need at least 3 conditions; got {n_cond}")
    n_cols = int(np.ceil((n_cond + 1) / _KB) * _KB)
    rows = np.empty((int(m.sum()), n_cols), dtype=dtype)
    if d.dtype not in (np.float32, np.float64):
        d = d.astype(np.float64)
    flat = np.ascontiguousarray(d).reshape(-1, n_cond)
    from brainalign.searchlight._standardise import standardise

    if not standardise(flat, np.flatnonzero(m), rows):
        _standardise_numpy(d, m, rows)
    return rows, m


def _standardise_numpy(d: np.ndarray, m: np.ndarray, rows: np.ndarray) -> None:
    """The NumPy path of :func:`prepare_volume`: names a non-finite value, else standardises
    (used when the compiled sums overflow)."""
    n_cond = d.shape[3]
    X = d[m]
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(d) & m[..., None])[0]
        raise ValueError(
            f"data contain NaN/inf inside the mask, e.g. at voxel/condition {bad.tolist()}"
        )
    mu = X.mean(axis=0, dtype=np.float64)
    sd = X.std(axis=0, dtype=np.float64)
    sd[sd == 0] = 1.0
    rows[:] = 0.0
    step = 1 << 16  # centre and scale in float64, a slab of voxels at a time
    for v0 in range(0, X.shape[0], step):
        rows[v0 : v0 + step, :n_cond] = (X[v0 : v0 + step] - mu) / sd
    rows[:, n_cond] = 1.0
