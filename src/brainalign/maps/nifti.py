"""NIfTI output: images are written atomically (:mod:`brainalign.io.files`)."""

from __future__ import annotations

import os
from pathlib import Path

from brainalign.io.files import atomic_path

__all__ = ["save_nifti"]


def save_nifti(img, path: str | os.PathLike) -> Path:
    """Write atomically (:func:`brainalign.io.files.atomic_path`)."""
    import nibabel as nib

    p = Path(path)
    suffix = ".nii.gz" if p.name.endswith(".nii.gz") else p.suffix
    with atomic_path(p, suffix=suffix) as tmp:
        nib.save(img, tmp)
    return p
