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

from brainalign.data.base import file_error
from brainalign.io.files import atomic_path
from brainalign.rsa.condensed import check_square_rdm, rdm_to_vector

__all__ = [
    "check_model_rdm_size",
    "write_model_rdms",
    "find_model_rdm_files",
    "iter_searchlight_rdms",
    "load_label_image",
    "load_mat_rdm",
    "mat_rdm_shape",
    "load_model_rdms",
    "load_roi_labels",
    "load_roi_rdms",
    "load_searchlight_rdms",
    "load_volumes",
    "check_same_grid",
    "searchlight_dir",
]


def _check_square(a: np.ndarray, what: str) -> np.ndarray:
    """Square ``(..., n, n)`` and finite (the original files are not checked for symmetry)."""
    return check_square_rdm(a, what, stacked=True, symmetric=False, min_items=0)


def load_mat_rdm(path: str | os.PathLike, key: str = "rdm") -> np.ndarray:
    """One RDM (or a stack) from a MATLAB v5 ``.mat`` file (``scipy.io.loadmat``).

    Raises
    ------
    DataFileError
        Naming the file when it is truncated, corrupt or not a MATLAB v5 file.
    """
    from scipy.io import loadmat

    try:
        d = loadmat(path)
    except Exception as err:  # noqa: BLE001 - scipy raises many kinds; re-raised with the path
        raise file_error(path, "MATLAB v5 file", err) from err
    if key not in d:
        keys = sorted(k for k in d if not k.startswith("__"))
        raise ValueError(f"{path}: no key {key!r} (keys: {keys})")
    return _check_square(np.asarray(d[key], dtype=np.float64), f"{path}[{key}]")


def mat_rdm_shape(path: str | os.PathLike, key: str = "rdm") -> tuple[int, ...] | None:
    """Shape of variable ``key`` of a MATLAB v5 file, read from its header (``whosmat``).

    Returns
    -------
    tuple of int or None
        None when the file has no variable ``key``.

    Raises
    ------
    DataFileError
        Naming the file when it is truncated, corrupt or not a MATLAB v5 file.
    """
    from scipy.io import whosmat

    try:
        found = {name: shape for name, shape, _ in whosmat(path)}
    except Exception as err:  # noqa: BLE001 - scipy raises many kinds; re-raised with the path
        raise file_error(path, "MATLAB v5 file", err) from err
    return tuple(found[key]) if key in found else None


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
    n_conditions: int | None = None,
) -> dict[str, np.ndarray]:
    """Predictor matrices ``{task: (n_pairs, n_layers)}`` from ``RDM_taskonomy_bonner50``-style
    files (original ``get_taskonomy_RDMs_all_blocks_lt``).

    Parameters
    ----------
    directory : path-like
    tasks : sequence of str
    layers : sequence of str
    key : str
        Variable holding the square RDM.
    n_conditions : int, optional
        Conditions of the brain RDMs the models will meet; every file must be that size.

    Raises
    ------
    ValueError
        Naming the first file whose size differs from ``n_conditions`` (or, without it, from the
        first file read), with both sizes.
    """
    files = find_model_rdm_files(directory, tasks, layers)
    out = {}
    first: Path | None = None
    for task in tasks:
        cols = []
        for layer in layers:
            rdm = load_mat_rdm(files[task][layer], key)
            if n_conditions is None and first is None:
                first, n_conditions = files[task][layer], rdm.shape[-1]
            check_model_rdm_size(files[task][layer], rdm.shape[-1], n_conditions, first)
            cols.append(rdm_to_vector(rdm))
        out[task] = np.stack(cols, axis=1)
    return out


def check_model_rdm_size(
    path: str | os.PathLike, n: int, expected: int | None, reference: str | os.PathLike | None
) -> None:
    """A model RDM file of ``n`` conditions must have ``expected`` (the brain RDMs', or those of
    the ``reference`` model file when given).

    Raises
    ------
    ValueError
        ``<file>: model RDM of 50 conditions (50 x 50); the brain RDMs have 40 conditions ...``.
    """
    if expected is None or n == expected:
        return
    other = (
        f"the first model file {Path(reference).name} has {expected} conditions"
        if reference is not None
        else f"the brain RDMs have {expected} conditions"
    )
    raise ValueError(
        f"{path}: model RDM of {n} conditions ({n} x {n}); {other}; model RDMs must be RDMs of "
        "the study's conditions, in the same order"
    )


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
    try:
        A = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as err:  # truncated header or data
        raise file_error(path, "NumPy .npy file", err) from err
    if A.ndim != 4 or A.shape[2] != A.shape[3]:
        raise ValueError(f"{path}: expected (n_subjects, n_blocks, n, n); got {A.shape}")
    for b0 in range(0, A.shape[1], int(chunk_size)):
        b1 = min(A.shape[1], b0 + int(chunk_size))
        block = np.asarray(A[:, b0:b1], dtype=np.float64)
        yield slice(b0, b1), rdm_to_vector(block)


def load_searchlight_rdms(path: str | os.PathLike) -> np.ndarray:
    """All of ``all_sub_slrdms.npy`` condensed: ``(n_subjects, n_blocks, n_pairs)``."""
    return np.concatenate([r for _, r in iter_searchlight_rdms(path)], axis=1)


def _nifti(path: str | os.PathLike, dtype: type | None = np.float32):
    """``(image, array)`` of a NIfTI file (``dtype`` None: as stored); errors name the file."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
        arr = np.asarray(img.dataobj, dtype=dtype)
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 - nibabel/gzip/zlib raise many kinds
        raise file_error(path, "NIfTI image", err) from err
    return img, arr


def _affine_text(aff: np.ndarray) -> str:
    """The 3 x 4 voxel-to-world part of an affine on one line, MATLAB style."""
    rows = np.asarray(aff, dtype=np.float64)[:3]
    return "[" + "; ".join(" ".join(f"{v:.6g}" for v in row) for row in rows) + "]"


def check_same_grid(
    path: str | os.PathLike,
    img,
    ref_path: str | os.PathLike,
    ref_img,
    what: str = "grid",
    dims: int = 3,
) -> None:
    """``img`` must lie on the grid of ``ref_img``: same first ``dims`` dimensions, same affine.

    Parameters
    ----------
    path, ref_path : path-like
        Files of the two images (named in the message).
    img, ref_img : nibabel images
    what : str
        What ``ref_img`` is, e.g. ``"the first subject"``.
    dims : int
        Leading dimensions compared (3: the spatial grid; 4 also compares the conditions).

    Raises
    ------
    ValueError
        Naming ``path`` and the property that differs (shape or affine), with both values.
    """
    shape, ref_shape = tuple(img.shape[:dims]), tuple(ref_img.shape[:dims])
    if shape != ref_shape:
        if dims == 4 and shape[:3] == ref_shape[:3]:
            raise ValueError(
                f"{path}: {shape[3]} conditions (4th dimension); {what} ({ref_path}) has "
                f"{ref_shape[3]}"
            )
        raise ValueError(
            f"{path}: grid shape {shape[:3]} differs from {what}'s {ref_shape[:3]} ({ref_path})"
        )
    if not np.allclose(img.affine, ref_img.affine, atol=1e-4):
        raise ValueError(
            f"{path}: affine (voxel-to-world) {_affine_text(img.affine)} differs from {what}'s "
            f"{_affine_text(ref_img.affine)} ({ref_path}); same shape {shape[:3]}, so the voxels "
            "lie at different places: resample the images onto one grid"
        )


def load_volumes(paths: Sequence[str | os.PathLike], mask_path: str | os.PathLike | None = None):
    """Subject 4-D NIfTI volumes (float32) and the mask image; checks grids agree.

    Returns
    -------
    volumes : list of arrays ``(X, Y, Z, n_conditions)``
    mask_img : nibabel image (the given mask, or all voxels finite in every subject)

    Raises
    ------
    ValueError
        Naming the file: not 4-D, a grid shape, number of conditions or affine that differs from
        the first subject's (both values given), or a mask on another grid.
    DataFileError
        Naming a file that is truncated or corrupt.
    """
    import nibabel as nib

    vols, first, first_path = [], None, None
    for p in paths:
        img, arr = _nifti(p)
        if img.ndim != 4:
            raise ValueError(f"{p}: expected a 4-D (x, y, z, condition) image; got {img.shape}")
        if first is None:
            first, first_path = img, p
        else:
            check_same_grid(p, img, first_path, first, "the first subject", dims=4)
        vols.append(arr)
    if not vols:
        raise ValueError("no subject volumes given")
    if mask_path is not None:
        mimg, _ = _nifti(mask_path)  # reads the data too: a truncated mask stops here
        check_same_grid(mask_path, mimg, first_path, first, "the first subject")
    else:
        m = np.all([np.all(np.isfinite(v), axis=3) for v in vols], axis=0)
        mimg = nib.Nifti1Image(m.astype(np.int8), first.affine)
    return vols, mimg


def load_label_image(
    path: str | os.PathLike, like=None, like_path: str | os.PathLike = "the data"
) -> np.ndarray:
    """Integer labels of an atlas NIfTI, checked against the grid of ``like`` when given.

    Parameters
    ----------
    path : path-like
    like : nibabel image, optional
        Image on the grid the atlas must share (e.g. the mask of :func:`load_volumes`).
    like_path : path-like
        Named in the message.

    Returns
    -------
    ndarray of int, shape (X, Y, Z)
    """
    img, arr = _nifti(path, dtype=None)
    if like is not None:
        check_same_grid(path, img, like_path, like, "the subjects' grid")
    return arr.astype(int)
