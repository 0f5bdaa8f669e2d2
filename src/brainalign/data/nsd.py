"""Natural Scenes Dataset (NSD; Allen et al. 2022) readers for the GNet encoding study.

Files (relative to the NSD root; ``resources/registry.yaml`` group ``nsd``; :data:`FILES`)::

    nsddata/experiments/nsd/nsd_expdesign.mat        MATLAB v5, ALL 1-BASED:
        masterordering (1, 30000)   trial -> position in the subject's 10,000-image list
        subjectim      (8, 10000)   the subject's list -> 73k image id
        sharedix       (1, 1000)    73k ids of the shared-1000 images
    nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5     imgBrick (73000, 425, 425, 3) uint8, index =
                                                     0-based 73k id
    nsddata_betas/ppdata/subjAA/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_sessionNN.nii.gz
                                                     int16 (X, Y, Z, 750); % signal change × 300
    nsddata/ppdata/subjAA/func1pt8mm/roi/prf-visualrois.nii.gz, Kastner2015.nii.gz
                                                     (X, Y, Z) integer labels (-1 / 0 = none)
    nsddata_betas/ppdata/subjAA/func1pt8mm/betas_fithrf_GLMdenoise_RR/ncsnr.nii.gz
                                                     (X, Y, Z) noise-ceiling SNR

Conventions here (all 0-based): ``NSDDesign.masterordering[t]`` is the position of trial ``t``'s
image in the subject's list, ``subjectim[s - 1, k]`` the 73k id of list position ``k`` of subject
``s`` (subjects are numbered 1..8, as in the file names), ``sharedix`` the 73k ids of the shared
images. Trial ``t`` of subject ``s`` shows ``subjectim[s - 1, masterordering[t]]``, i.e.
``subjectim_file[s-1, masterordering_file[t]-1] - 1``. List positions below ``len(sharedix)``
(1-based ``masterordering <= 1000``) are the shared-1000 images: the validation set of St-Yves et
al. (methods §4.1), all other trials train, single trials (not averaged). Session ``NN`` holds
trials ``(NN-1)·750 .. NN·750 - 1``. NSD needs a signed data-access agreement (not redistributed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainalign.data.base import DataFileError, file_error

__all__ = [
    "BETA_SCALE",
    "FILES",
    "ROI_GROUPS",
    "ROI_NAMES",
    "TRIALS_PER_SESSION",
    "NSDDesign",
    "NSDRois",
    "nsd_paths",
    "read_betas",
    "read_betas_session",
    "read_expdesign",
    "read_ncsnr",
    "read_roi_labels",
    "read_stimuli",
    "split_trials",
    "trial_images",
]

#: int16 betas are % signal change times this (NSD manual).
BETA_SCALE = 300.0
#: Trials per scan session in the real data.
TRIALS_PER_SESSION = 750
#: ROI groups (methods §4.1): name -> labels of prf-visualrois / Kastner2015 (v and d halves).
ROI_GROUPS = {"V1": (1, 2), "V2": (3, 4), "V3": (5, 6), "hV4": (7,)}
#: Group names; group id ``i + 1`` in :attr:`NSDRois.group` is ``ROI_NAMES[i]``.
ROI_NAMES = tuple(ROI_GROUPS)
#: Relative path templates (``{subject:02d}``, ``{session:02d}``).
FILES = {
    "expdesign": "nsddata/experiments/nsd/nsd_expdesign.mat",
    "stimuli": "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5",
    "betas": "nsddata_betas/ppdata/subj{subject:02d}/func1pt8mm/betas_fithrf_GLMdenoise_RR/"
    "betas_session{session:02d}.nii.gz",
    "ncsnr": "nsddata_betas/ppdata/subj{subject:02d}/func1pt8mm/betas_fithrf_GLMdenoise_RR/"
    "ncsnr.nii.gz",
    "prf_visualrois": "nsddata/ppdata/subj{subject:02d}/func1pt8mm/roi/prf-visualrois.nii.gz",
    "kastner": "nsddata/ppdata/subj{subject:02d}/func1pt8mm/roi/Kastner2015.nii.gz",
}
_DESIGN_KEYS = ("masterordering", "subjectim", "sharedix")


@dataclass(frozen=True, eq=False)
class NSDDesign:
    """``nsd_expdesign.mat`` converted to 0-based indices.

    Attributes
    ----------
    masterordering : ndarray, shape (n_trials,), int64
        Position of each trial's image in the subject's list (file value - 1).
    subjectim : ndarray, shape (n_subjects, n_list), int64
        0-based 73k image id of each list position (file value - 1).
    sharedix : ndarray, shape (n_shared,), int64
        0-based 73k ids of the shared images (file value - 1).
    path : pathlib.Path
        The file read.
    """

    masterordering: np.ndarray
    subjectim: np.ndarray
    sharedix: np.ndarray
    path: Path

    @property
    def n_subjects(self) -> int:
        return int(self.subjectim.shape[0])

    @property
    def n_shared(self) -> int:
        return int(self.sharedix.shape[0])


@dataclass(frozen=True, eq=False)
class NSDRois:
    """ROI labels of one subject's func1pt8mm grid.

    Attributes
    ----------
    labels : ndarray, shape (X, Y, Z), int64
        prf-visualrois labels where they are > 0, else the Kastner2015 labels; <= 0 -> 0.
    group : ndarray, shape (X, Y, Z), int64
        0 = none, ``i + 1`` = ``ROI_NAMES[i]`` (V1, V2, V3, hV4).
    mask : ndarray, shape (X, Y, Z), bool
        ``group > 0`` (and inside the brain mask when one was given).
    """

    labels: np.ndarray
    group: np.ndarray
    mask: np.ndarray

    def voxel_groups(self) -> np.ndarray:
        """Group id of each masked voxel, shape (n_voxels,), in ``mask``'s C order."""
        return self.group[self.mask]


def nsd_paths(root: str | os.PathLike, subject: int, sessions=()) -> dict[str, Path]:
    """Paths of a subject's files under the NSD ``root``.

    Returns
    -------
    dict of str to pathlib.Path
        The keys of :data:`FILES` except ``betas``, plus ``betas_sessionNN`` per session.
    """
    root = Path(root)
    out = {k: root / v.format(subject=subject) for k, v in FILES.items() if k != "betas"}
    for s in sessions:
        out[f"betas_session{s:02d}"] = root / FILES["betas"].format(subject=subject, session=s)
    return out


def _bad(path: Path, key: str, problem: str) -> DataFileError:
    return DataFileError(f"{path}: key '{key}' {problem}")


def _require(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"NSD file missing: {path}. NSD needs a signed data-access agreement "
            "(https://naturalscenesdataset.org); copy the file from s3://natural-scenes-dataset/"
        )
    return path


def _integers(path: Path, key: str, value: np.ndarray, lo: int, hi: int | None) -> np.ndarray:
    """A 1-based integer array checked to lie in lo..hi, as int64."""
    if value.dtype.kind not in "fiu" or value.size == 0:
        raise _bad(path, key, f"should be a non-empty numeric array, got {value.dtype}")
    if value.dtype.kind == "f" and not (
        np.isfinite(value).all() and (value == np.round(value)).all()
    ):
        raise _bad(path, key, "should hold whole numbers (found fractions, NaN or infinity)")
    ints = value.astype(np.int64)
    bad = (ints < lo) if hi is None else (ints < lo) | (ints > hi)
    if bad.any():
        first = int(ints[bad].ravel()[0])
        upper = "" if hi is None else f"..{hi}"
        raise _bad(
            path, key, f"has {int(bad.sum())} values outside {lo}{upper} (1-based), e.g. {first}"
        )
    return ints


def _vector(path: Path, key: str, value: np.ndarray) -> np.ndarray:
    if value.ndim != 2 or 1 not in value.shape:
        raise _bad(path, key, f"should be a (1, n) row vector, got shape {value.shape}")
    return value.ravel()


def read_expdesign(path: str | os.PathLike, n_images: int | None = 73000) -> NSDDesign:
    """Read ``nsd_expdesign.mat`` (MATLAB v5) and convert its 1-based indices to 0-based.

    Parameters
    ----------
    path : path-like
    n_images : int or None
        Size of the image pool (73000; the simulator's is smaller); ``subjectim`` and
        ``sharedix`` must lie in 1..n_images. None: no upper check.

    Returns
    -------
    NSDDesign
        masterordering (n_trials,), subjectim (n_subjects, n_list), sharedix (n_shared,), 0-based.

    Raises
    ------
    DataFileError
        Unreadable file, missing key, wrong shape or out-of-range index (names file and key).
    """
    from scipy.io import loadmat

    path = _require(path)
    try:
        mat = loadmat(path)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise file_error(path, "MATLAB v5 file", exc) from exc
    for key in _DESIGN_KEYS:
        if key not in mat:
            keys = sorted(k for k in mat if not k.startswith("__"))
            raise _bad(path, key, f"is missing (the file has {keys})")
    subjectim = np.asarray(mat["subjectim"])
    if subjectim.ndim != 2:
        raise _bad(path, "subjectim", f"should be (n_subjects, n_list), got {subjectim.shape}")
    subjectim = _integers(path, "subjectim", subjectim, 1, n_images)
    n_list = subjectim.shape[1]
    order = _integers(
        path, "masterordering", _vector(path, "masterordering", mat["masterordering"]), 1, n_list
    )
    shared = _integers(path, "sharedix", _vector(path, "sharedix", mat["sharedix"]), 1, n_images)
    if shared.size > n_list:
        raise _bad(
            path, "sharedix", f"has {shared.size} images, more than the {n_list} per subject"
        )
    return NSDDesign(order - 1, subjectim - 1, shared - 1, path)


def trial_images(
    design: NSDDesign, subject: int, n_trials: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The image of each trial of one subject and whether it is a shared-1000 image.

    Parameters
    ----------
    design : NSDDesign
    subject : int
        1-based subject number (1..8).
    n_trials : int, optional
        The first ``n_trials`` trials (sessions completed × 750); default all.

    Returns
    -------
    image_ids : ndarray, shape (n_trials,), int64
        0-based 73k id: ``subjectim[subject - 1, masterordering[t]]`` (0-based arrays).
    is_shared : ndarray, shape (n_trials,), bool
        ``masterordering[t] < n_shared`` (the file's ``masterordering <= 1000``).
    """
    if not 1 <= subject <= design.n_subjects:
        raise ValueError(f"subject must be in 1..{design.n_subjects}, got {subject}")
    total = design.masterordering.shape[0]
    n = total if n_trials is None else int(n_trials)
    if not 0 <= n <= total:
        raise ValueError(
            f"n_trials must be in 0..{total} ({design.path}: masterordering), got {n_trials}"
        )
    order = design.masterordering[:n]
    return design.subjectim[subject - 1, order], order < design.n_shared


def split_trials(is_shared, holdout_fraction: float = 0.0) -> dict[str, np.ndarray]:
    """Shared-1000 trials -> validation, the rest -> training (single trials, methods §4.1).

    Parameters
    ----------
    is_shared : array_like, shape (n_trials,), bool
    holdout_fraction : float
        Share of the training trials, the LAST ones in trial order (not random, as the
        original), moved to ``holdout`` for early stopping; 0 = none.

    Returns
    -------
    dict with ``train``, ``holdout``, ``validation``: increasing trial indices, int64.
    """
    shared = np.asarray(is_shared)
    if shared.dtype != bool or shared.ndim != 1:
        raise ValueError(f"is_shared must be a 1-D bool array, got {shared.dtype} {shared.shape}")
    if not 0.0 <= holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {holdout_fraction}")
    train = np.flatnonzero(~shared).astype(np.int64)
    n_hold = int(round(holdout_fraction * train.size))
    cut = train.size - n_hold
    return {
        "train": train[:cut],
        "holdout": train[cut:],
        "validation": np.flatnonzero(shared).astype(np.int64),
    }


def read_stimuli(hdf5_path: str | os.PathLike, ids, key: str = "imgBrick") -> np.ndarray:
    """Read images by 0-based 73k id from ``nsd_stimuli.hdf5``.

    h5py needs increasing, unique indices: the unique sorted ids are read in one pass and the
    images returned in the order (and with the repeats) of ``ids``.

    Parameters
    ----------
    hdf5_path : path-like
    ids : array_like, shape (n,), int
        0-based image ids.
    key : str
        The dataset, (n_images, H, W, 3) uint8.

    Returns
    -------
    ndarray, shape (n, H, W, 3), uint8
    """
    import h5py

    path = _require(hdf5_path)
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(f"ids must be a 1-D integer array, got {ids.dtype} {ids.shape}")
    try:
        fh = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise file_error(path, "HDF5 file", exc) from exc
    with fh:
        if key not in fh or not isinstance(fh[key], h5py.Dataset):
            raise _bad(path, key, f"is missing (the file has {sorted(fh)})")
        ds = fh[key]
        if ds.ndim != 4 or ds.shape[3] != 3 or ds.dtype != np.uint8:
            raise _bad(path, key, f"should be (n, H, W, 3) uint8, got {ds.dtype} {ds.shape}")
        bad = ids[(ids < 0) | (ids >= ds.shape[0])]
        if bad.size:
            raise _bad(
                path,
                key,
                f"has {ds.shape[0]} images; ids {sorted(set(bad.tolist()))[:5]} are out of range",
            )
        unique, inverse = np.unique(ids.astype(np.int64), return_inverse=True)
        block = ds[unique] if unique.size else np.zeros((0, *ds.shape[1:]), np.uint8)
    return np.ascontiguousarray(block[inverse.ravel()])


def _load_nifti(path: Path):
    import nibabel as nib

    try:
        img = nib.load(path)
        img.header.get_data_shape()
        return img
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise file_error(path, "NIfTI file", exc) from exc


def _raw_volume(path: Path, img) -> np.ndarray:
    try:
        return np.asarray(img.dataobj.get_unscaled())
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise file_error(path, "NIfTI file", exc) from exc


def read_betas_session(nifti_path: str | os.PathLike, mask) -> np.ndarray:
    """One session's betas in the mask, in % signal change, z-scored per voxel.

    ``betas = int16 / 300``; then per voxel over the session's trials ``(b - mean) / sd`` (SD with
    ddof 0), as ``load_betas(zscore=True)`` of the original. NaN arises where a voxel's SD is 0
    (a constant voxel, e.g. the zeros NSD stores outside its liberal brain mask, or a session with
    one trial) and is set to 0.

    Parameters
    ----------
    nifti_path : path-like
        ``betas_sessionNN.nii.gz``, int16 (X, Y, Z, n_trials).
    mask : array_like, shape (X, Y, Z), bool
        Voxels to keep (e.g. :attr:`NSDRois.mask`); order = C order of its True entries.

    Returns
    -------
    ndarray, shape (n_trials, n_voxels), float32
    """
    path = _require(nifti_path)
    mask = np.asarray(mask, dtype=bool)
    img = _load_nifti(path)
    shape = tuple(img.header.get_data_shape())
    dtype = img.header.get_data_dtype()
    if len(shape) != 4 or dtype != np.int16:
        raise _bad(path, "data", f"should be int16 (X, Y, Z, trials), got {dtype} {shape}")
    if shape[:3] != mask.shape:
        raise _bad(path, "data", f"has grid {shape[:3]}, the mask {mask.shape}")
    betas = _raw_volume(path, img)[mask].T.astype(np.float64) / BETA_SCALE
    sd = betas.std(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (betas - betas.mean(axis=0)) / sd
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def read_betas(root: str | os.PathLike, subject: int, sessions, mask) -> np.ndarray:
    """Sessions' betas (:func:`read_betas_session`) stacked in trial order.

    Returns
    -------
    ndarray, shape (sum of trials, n_voxels), float32
    """
    paths = nsd_paths(root, subject, sessions)
    parts = [read_betas_session(paths[f"betas_session{s:02d}"], mask) for s in sessions]
    return np.concatenate(parts, axis=0) if parts else np.zeros((0, int(np.sum(mask))), np.float32)


def _label_volume(path: Path, key: str, shape: tuple | None) -> np.ndarray:
    img = _load_nifti(path)
    data = np.asarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3 or (shape is not None and data.shape != shape):
        want = "(X, Y, Z)" if shape is None else str(shape)
        raise _bad(path, key, f"should be a 3-D volume {want}, got {data.shape}")
    if (
        data.dtype.kind not in "fiu"
        or not np.isfinite(data).all()
        or (data != np.round(data)).any()
    ):
        raise _bad(path, key, f"should hold integer labels, got {data.dtype} with fractions or NaN")
    return np.where(data > 0, data, 0).astype(np.int64)


def read_roi_labels(
    prf_visualrois_path: str | os.PathLike,
    kastner_path: str | os.PathLike | None = None,
    *,
    brainmask_path: str | os.PathLike | None = None,
) -> NSDRois:
    """ROI labels of methods §4.1: prf-visualrois overriding Kastner2015, grouped V1..hV4.

    Parameters
    ----------
    prf_visualrois_path : path-like
        ``roi/prf-visualrois.nii.gz``: 1 V1v, 2 V1d, 3 V2v, 4 V2d, 5 V3v, 6 V3d, 7 hV4.
    kastner_path : path-like, optional
        ``roi/Kastner2015.nii.gz`` (same numbering for 1..7); used where prf-visualrois is <= 0.
    brainmask_path : path-like, optional
        E.g. ``brainmask_vcventral_1.0.nii``; voxels where it is 0 are dropped from ``mask``.

    Returns
    -------
    NSDRois
        labels, group (0 none, 1 V1 {1,2}, 2 V2 {3,4}, 3 V3 {5,6}, 4 hV4 {7}) and mask, (X, Y, Z).
    """
    prf_path = _require(prf_visualrois_path)
    labels = _label_volume(prf_path, "prf-visualrois", None)
    if kastner_path is not None:
        kastner = _label_volume(_require(kastner_path), "Kastner2015", labels.shape)
        labels = np.where(labels > 0, labels, kastner)
    group = np.zeros(labels.shape, dtype=np.int64)
    for i, codes in enumerate(ROI_GROUPS.values()):
        group[np.isin(labels, codes)] = i + 1
    mask = group > 0
    if brainmask_path is not None:
        mask &= _label_volume(_require(brainmask_path), "brainmask", labels.shape) > 0
        group = np.where(mask, group, 0)
    return NSDRois(labels=labels, group=group, mask=mask)


def read_ncsnr(path: str | os.PathLike, mask=None) -> np.ndarray:
    """Noise-ceiling SNR per voxel (``ncsnr.nii.gz``); NaN (no estimate) -> 0.

    Parameters
    ----------
    path : path-like
    mask : array_like, shape (X, Y, Z), bool, optional

    Returns
    -------
    ndarray, shape (X, Y, Z) or (n_voxels,) with a mask, float32, >= 0
    """
    path = _require(path)
    img = _load_nifti(path)
    data = np.asarray(img.dataobj, dtype=np.float64)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise _bad(path, "ncsnr", f"should be a 3-D volume, got {data.shape}")
    data = np.where(np.isnan(data), 0.0, data)
    if not np.isfinite(data).all() or (data < 0).any():
        raise _bad(path, "ncsnr", "should be finite and >= 0 (found infinite or negative values)")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != data.shape:
            raise _bad(path, "ncsnr", f"has grid {data.shape}, the mask {mask.shape}")
        data = data[mask]
    return data.astype(np.float32)


# Prefixed aliases for the package's public face (``brainalign.data``), where names must not clash.
NSD_BETA_SCALE = BETA_SCALE
NSD_FILES = FILES
NSD_ROI_GROUPS = ROI_GROUPS
nsd_read_betas = read_betas
nsd_read_betas_session = read_betas_session
nsd_read_expdesign = read_expdesign
nsd_read_ncsnr = read_ncsnr
nsd_read_roi_labels = read_roi_labels
nsd_read_stimuli = read_stimuli
nsd_split_trials = split_trials
nsd_trial_images = trial_images
