"""NIfTI output: images are written atomically (:mod:`brainalign.io.files`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from brainalign.io.files import atomic_path

__all__ = ["save_nifti", "voxels_image"]


def save_nifti(img, path: str | os.PathLike) -> Path:
    """Write atomically (:func:`brainalign.io.files.atomic_path`)."""
    import nibabel as nib

    p = Path(path)
    suffix = ".nii.gz" if p.name.endswith(".nii.gz") else p.suffix
    with atomic_path(p, suffix=suffix) as tmp:
        nib.save(img, tmp)
    return p


def voxels_image(values: ArrayLike, voxel_index: ArrayLike, ref_img, fill=0, dtype=np.float32):
    """A NIfTI image in ``ref_img``'s grid with one value per listed voxel.

    Parameters
    ----------
    values : array_like (n_voxels,)
    voxel_index : array_like (n_voxels,) int
        Flat C-order indices into ``ref_img``'s first three axes (``np.flatnonzero(mask)``).
    ref_img : nibabel image
        Shape and affine of the output.
    fill : scalar
        Value of every other voxel.
    dtype : numpy dtype
        Data type of the image.

    Returns
    -------
    nibabel.Nifti1Image
    """
    import nibabel as nib

    shape = tuple(int(s) for s in ref_img.shape[:3])
    v = np.asarray(values)
    idx = np.asarray(voxel_index, dtype=np.int64)
    if v.shape != idx.shape or v.ndim != 1:
        raise ValueError(f"values {v.shape} and voxel_index {idx.shape} must be equal 1-D shapes")
    size = int(np.prod(shape))
    bad = idx[(idx < 0) | (idx >= size)]
    if bad.size:
        raise ValueError(f"voxel index {int(bad[0])} is outside the {shape} grid")
    vol = np.full(size, fill, dtype=dtype)
    vol[idx] = v.astype(dtype)
    return nib.Nifti1Image(vol.reshape(shape), ref_img.affine)
