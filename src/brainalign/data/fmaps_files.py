"""Readers for the original study's files (Dwivedi et al. 2021, ``data.zip``) and for volumes.

Original layout (``methods.md`` §2.1, inferred from ``library/rdm_loader.py``)::

    data/RDM_taskonomy_bonner50/*{block4,encoder_output}.mat  key 'rdm' (50, 50); task: substring
    data/kastner_ROIs_RDMs_pearson/<roi>.mat                   key 'subject_rdm' (S, 50, 50)
    data/ROIfiles_Labeling.txt                                 CSV with columns roi, id
    data/sl_rad=1__max_blk_edge=2/all_sub_slrdms.npy           (S, n_blocks, 50, 50)
    data/mask.nii                                              brain mask

All RDMs are returned condensed (strict upper triangle, row-major). Tables go through the one
writer, :func:`brainalign.io.write_table`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from brainalign.io.files import atomic_path
from brainalign.rsa.condensed import check_square_rdm, rdm_to_vector

__all__ = [
    "write_model_rdms",
    "find_model_rdm_files",
    "iter_searchlight_rdms",
    "load_mat_rdm",
    "load_model_rdms",
    "load_roi_labels",
    "load_roi_rdms",
    "load_searchlight_rdms",
    "load_volumes",
    "searchlight_dir",
]


def _check_square(a: np.ndarray, what: str) -> np.ndarray:
    """Square ``(..., n, n)`` and finite (the original files are not checked for symmetry)."""
    return check_square_rdm(a, what, stacked=True, symmetric=False, min_items=0)


def load_mat_rdm(path: str | os.PathLike, key: str = "rdm") -> np.ndarray:
    """One RDM (or a stack) from a MATLAB v5 ``.mat`` file (``scipy.io.loadmat``)."""
    from scipy.io import loadmat

    d = loadmat(path)
    if key not in d:
        keys = sorted(k for k in d if not k.startswith("__"))
        raise ValueError(f"{path}: no key {key!r} (keys: {keys})")
    return _check_square(np.asarray(d[key], dtype=np.float64), f"{path}[{key}]")


def find_model_rdm_files(
    directory: str | os.PathLike, tasks: Sequence[str], layers: Sequence[str]
) -> dict[str, dict[str, Path]]:
    """``{task: {layer: path}}`` as the original: files ``*<layer>.mat``, task by substring.

    Raises
    ------
    ValueError
        If a task matches no file or more than one file for a layer.
    """
    out: dict[str, dict[str, Path]] = {t: {} for t in tasks}
    for layer in layers:
        paths = sorted(glob.glob(os.path.join(str(directory), f"*{layer}.mat")))
        for task in tasks:
            hits = [p for p in paths if task in os.path.basename(p)]
            if len(hits) > 1:  # prefer an exact '{task}_{layer}.mat'
                exact = [p for p in hits if os.path.basename(p) == f"{task}_{layer}.mat"]
                hits = exact if len(exact) == 1 else hits
            if len(hits) != 1:
                raise ValueError(
                    f"task {task!r}, layer {layer!r}: {len(hits)} matching files in {directory}"
                )
            out[task][layer] = Path(hits[0])
    return out


def write_model_rdms(
    directory: str | os.PathLike,
    model: str,
    rdms: Mapping[str, np.ndarray],
    layers: Sequence[str],
    key: str = "rdm",
) -> list[Path]:
    """Write ``{model}_{layer}.mat`` files (key ``rdm``, the original layout) for ``layers``.

    Parameters
    ----------
    directory : path
        Output folder (created).
    model : str
        Model (task or network condition) name.
    rdms : mapping of str to ndarray, shape (n, n)
        Square RDM of every available layer.
    layers : sequence of str
        Layers to write, in order.

    Returns
    -------
    list of Path
        The files written (each renamed into place when complete).

    Raises
    ------
    ValueError
        If a layer is not in ``rdms`` or an RDM is not square.
    """
    from scipy.io import savemat

    missing = [layer for layer in layers if layer not in rdms]
    if missing:
        raise ValueError(f"model {model!r}: layers {missing} not available; it has {list(rdms)}")
    written = []
    for layer in layers:
        rdm = _check_square(np.asarray(rdms[layer], dtype=np.float64), f"{model} {layer}")
        dst = Path(directory) / f"{model}_{layer}.mat"
        with atomic_path(dst) as tmp:
            savemat(tmp, {key: rdm})
        written.append(dst)
    return written


def load_model_rdms(
    directory: str | os.PathLike,
    tasks: Sequence[str],
    layers: Sequence[str] = ("block4", "encoder_output"),
    key: str = "rdm",
) -> dict[str, np.ndarray]:
    """Predictor matrices ``{task: (n_pairs, n_layers)}`` from ``RDM_taskonomy_bonner50``-style
    files (original ``get_taskonomy_RDMs_all_blocks_lt``)."""
    files = find_model_rdm_files(directory, tasks, layers)
    out = {}
    n_pairs = None
    for task in tasks:
        cols = [rdm_to_vector(load_mat_rdm(files[task][layer], key)) for layer in layers]
        X = np.stack(cols, axis=1)
        if n_pairs is None:
            n_pairs = X.shape[0]
        elif X.shape[0] != n_pairs:
            raise ValueError(f"task {task!r}: {X.shape[0]} pairs; others have {n_pairs}")
        out[task] = X
    return out


def load_roi_rdms(
    directory: str | os.PathLike, rois: Sequence[str], key: str = "subject_rdm"
) -> dict[str, np.ndarray]:
    """``{roi: (n_subjects, n_pairs)}`` from ``kastner_ROIs_RDMs_pearson/<roi>.mat``."""
    out = {}
    for roi in rois:
        p = Path(directory) / f"{roi}.mat"
        if not p.exists():
            raise ValueError(f"ROI {roi!r}: file {p} not found")
        R = load_mat_rdm(p, key)
        if R.ndim == 2:
            R = R[None]
        if R.ndim != 3:
            raise ValueError(f"ROI {roi!r}: {key} must be (S, n, n); got {R.shape}")
        out[roi] = rdm_to_vector(R)
    return out


def load_roi_labels(path: str | os.PathLike):
    """``ROIfiles_Labeling.txt``: CSV with columns ``roi`` and ``id``."""
    import pandas as pd

    df = pd.read_csv(path)
    missing = {"roi", "id"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    return df


def searchlight_dir(data_dir: str | os.PathLike, sl_rad: int = 1, max_blk_edge: int = 2) -> Path:
    """``<data>/sl_rad=<r>__max_blk_edge=<e>`` (original naming)."""
    return Path(data_dir) / f"sl_rad={int(sl_rad)}__max_blk_edge={int(max_blk_edge)}"


def iter_searchlight_rdms(
    path: str | os.PathLike, chunk_size: int = 4096
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(block_slice, rdms)`` with ``rdms`` ``(n_subjects, n_in_chunk, n_pairs)`` float64
    from ``all_sub_slrdms.npy`` ``(S, n_blocks, n, n)`` (memory-mapped, chunk by chunk)."""
    A = np.load(path, mmap_mode="r")
    if A.ndim != 4 or A.shape[2] != A.shape[3]:
        raise ValueError(f"{path}: expected (n_subjects, n_blocks, n, n); got {A.shape}")
    for b0 in range(0, A.shape[1], int(chunk_size)):
        b1 = min(A.shape[1], b0 + int(chunk_size))
        block = np.asarray(A[:, b0:b1], dtype=np.float64)
        yield slice(b0, b1), rdm_to_vector(block)


def load_searchlight_rdms(path: str | os.PathLike) -> np.ndarray:
    """All of ``all_sub_slrdms.npy`` condensed: ``(n_subjects, n_blocks, n_pairs)``."""
    return np.concatenate([r for _, r in iter_searchlight_rdms(path)], axis=1)


def load_volumes(paths: Sequence[str | os.PathLike], mask_path: str | os.PathLike | None = None):
    """Subject 4-D NIfTI volumes (float32) and the mask image; checks grids agree.

    Returns
    -------
    volumes : list of arrays ``(X, Y, Z, n_conditions)``
    mask_img : nibabel image (the given mask, or all voxels finite in every subject)
    """
    import nibabel as nib

    vols, aff, shape = [], None, None
    for p in paths:
        img = nib.load(str(p))
        if img.ndim != 4:
            raise ValueError(f"{p}: expected a 4-D (x, y, z, condition) image; got {img.shape}")
        if aff is None:
            aff, shape = img.affine, img.shape
        elif img.shape != shape or not np.allclose(img.affine, aff, atol=1e-4):
            raise ValueError(f"{p}: grid {img.shape} differs from the first subject {shape}")
        vols.append(np.asarray(img.dataobj, dtype=np.float32))
    if not vols:
        raise ValueError("no subject volumes given")
    if mask_path is not None:
        mimg = nib.load(str(mask_path))
        if mimg.shape[:3] != shape[:3] or not np.allclose(mimg.affine, aff, atol=1e-4):
            raise ValueError(f"{mask_path}: mask grid {mimg.shape} differs from the data {shape}")
    else:
        m = np.all([np.all(np.isfinite(v), axis=3) for v in vols], axis=0)
        mimg = nib.Nifti1Image(m.astype(np.int8), aff)
    return vols, mimg
