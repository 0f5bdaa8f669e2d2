"""Algonauts 2019 ("Explaining the human visual brain") on-disk format.

Layout of one image set (``Training_Data/92_Image_Set`` or ``118_Image_Set``)::

    <N>_Image_Set/
        <N>images/            image_01.jpg … (sorted order = RDM order; may sit in one subfolder)
        <N>images.mat         MATLAB v5 struct ``visual_stimuli`` (names, pixels)   [optional]
        target_fmri.mat       MATLAB v7.3 (HDF5): EVC_RDMs, IT_RDMs, stored (N, N, S)
        target_meg.mat        MEG_RDMs_early / MEG_RDMs_late                      [optional]

HDF5 stores MATLAB arrays column-major, so every variable is transposed on reading, giving
(S, N, N) for fMRI and (S, sessions, N, N) for MEG. ``target_meg.mat`` may be v7.3 (HDF5,
stored (N, N, sessions, S)) or MATLAB v5 (read by scipy as (S, sessions, N, N)); both give the
same arrays.

Regions: ``EVC`` and ``IT`` come from ``target_fmri.mat``; ``MEG_early`` and ``MEG_late`` from
``target_meg.mat``, averaged over the sessions of each subject (use :func:`load_meg_rdms` for the
per-session arrays).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from brainalign.data.base import Dataset, categories_92, file_error, validate_dataset

__all__ = [
    "read_mat",
    "load_image_folder",
    "load_fmri_rdms",
    "load_meg_rdms",
    "load_stimulus_mat",
    "load_algonauts2019",
    "load_algonauts2019_stimuli",
    "algonauts_stimulus_sources",
    "MAT73_HEADER",
    "MEG_WINDOWS",
]

#: First bytes of a MATLAB v7.3 file (the HDF5 user block holds this text header).
MAT73_HEADER = b"MATLAB 7.3 MAT-file"
#: MEG time windows of ``target_meg.mat`` (``MEG_RDMs_<window>``): 70–90 ms and 140–160 ms.
MEG_WINDOWS = ("early", "late")


def read_mat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the numeric variables of a MATLAB file, v7.3 (HDF5) or v5.

    v7.3 variables are transposed (``np.transpose``), as the Algonauts devkit does, so they
    come out in MATLAB's index order.

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    brainalign.data.base.DataFileError
        Naming the file when it is truncated, corrupt or not a MATLAB file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MATLAB file not found: {path}")
    v73 = "MATLAB v7.3 (HDF5) file"
    if h5py.is_hdf5(path):
        try:
            return _read_hdf5(path)
        except (OSError, KeyError, ValueError, RuntimeError) as err:
            raise file_error(path, v73, err) from err
    with open(path, "rb") as fh:
        if fh.read(len(MAT73_HEADER)) == MAT73_HEADER:
            raise file_error(path, v73, "no HDF5 data after the MATLAB header")
    return _loadmat(path)


def _read_hdf5(path: Path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as f:
        for key in f.keys():
            if key.startswith("#") or not isinstance(f[key], h5py.Dataset):
                continue
            out[key] = np.transpose(f[key][()])
    return out


def _loadmat(path: Path) -> dict[str, np.ndarray]:
    """``scipy.io.loadmat`` without the ``__header__``-style keys; errors name the file."""
    from scipy.io import loadmat

    try:
        data = loadmat(path)
    except Exception as err:  # noqa: BLE001 - scipy raises many kinds; re-raised with the path
        raise file_error(path, "MATLAB v5 file", err) from err
    return {k: v for k, v in data.items() if not k.startswith("__")}


def load_fmri_rdms(
    path: str | os.PathLike, regions: tuple[str, ...] = ("EVC", "IT")
) -> dict[str, np.ndarray]:
    """Load ``target_fmri.mat`` → region → (n_subjects, N, N) float64.

    Parameters
    ----------
    path : path-like
    regions : tuple of str
        Read ``<region>_RDMs`` for each.
    """
    data = read_mat(path)
    out = {}
    for region in regions:
        key = f"{region}_RDMs"
        if key not in data:
            raise ValueError(f"{path}: no variable {key!r} (has {sorted(data)})")
        arr = np.asarray(data[key], dtype=np.float64)
        if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
            raise ValueError(
                f"{path}: {key} should be subjects × N × N after transposing, got shape {arr.shape}"
            )
        out[region] = arr
    return out


def load_meg_rdms(
    path: str | os.PathLike, windows: tuple[str, ...] = MEG_WINDOWS
) -> dict[str, np.ndarray]:
    """Load ``target_meg.mat`` → window → (n_subjects, n_sessions, N, N) float64.

    Works for both containers: MATLAB v7.3 (HDF5; stored (N, N, sessions, S) and transposed on
    reading) and MATLAB v5 (``scipy.io.loadmat``; already (S, sessions, N, N)).

    Parameters
    ----------
    path : path-like
    windows : tuple of str
        Read ``MEG_RDMs_<window>`` for each (``"early"``, ``"late"``).

    Returns
    -------
    dict of str to ndarray, each shape (n_subjects, n_sessions, N, N)
    """
    data = read_mat(path)
    out = {}
    for window in windows:
        key = f"MEG_RDMs_{window}"
        if key not in data:
            raise ValueError(f"{path}: no variable {key!r} (has {sorted(data)})")
        arr = np.asarray(data[key], dtype=np.float64)
        if arr.ndim != 4 or arr.shape[2] != arr.shape[3]:
            raise ValueError(
                f"{path}: {key} should be subjects × sessions × N × N after "
                f"transposing, got shape {arr.shape}"
            )
        out[window] = arr
    return out


def load_stimulus_mat(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read ``<N>images.mat`` (MATLAB v5 struct ``visual_stimuli`` with ``names``, ``pixels``).

    Returns
    -------
    names : list of str, length n
    images : ndarray, shape (n, H, W, 3), uint8
    """
    path = Path(path)
    data = _loadmat(path)
    if "visual_stimuli" not in data:
        raise ValueError(f"{path}: no variable 'visual_stimuli'")
    stim = data["visual_stimuli"]
    names, images = [], []
    for i in range(stim.shape[1]):
        names.append(str(np.squeeze(stim[0, i]["names"])))
        img = np.asarray(stim[0, i]["pixels"])
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"{path}: stimulus {i + 1} has pixel shape {img.shape}")
        images.append(img.astype(np.uint8, copy=False))
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"{path}: stimuli differ in size: {sorted(shapes)}")
    return names, np.stack(images)


def load_image_folder(folder: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Load the ``*.jpg`` images of a folder (or of its single subfolder), sorted by name.

    Returns
    -------
    names : list of str
    images : ndarray, shape (n, H, W, 3), uint8
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if not files:
        subdirs = [p for p in folder.iterdir() if p.is_dir()]
        if len(subdirs) == 1:
            return load_image_folder(subdirs[0])
        raise ValueError(f"no .jpg images in {folder}")
    images = []
    for p in files:
        try:
            with Image.open(p) as im:
                images.append(np.asarray(im.convert("RGB")))
        except (OSError, ValueError, SyntaxError) as err:  # PIL: truncated / not an image
            raise file_error(p, "JPEG image", err) from err
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"images in {folder} differ in size: {sorted(shapes)}")
    return [p.name for p in files], np.stack(images)


def load_algonauts2019_stimuli(
    path: str | os.PathLike,
) -> tuple[np.ndarray, list[str], list[str]]:
    """The stimuli of one Algonauts 2019 image set alone (no RDMs).

    Parameters
    ----------
    path : path-like
        The ``<N>_Image_Set`` folder.

    Returns
    -------
    images : ndarray, shape (n_images, H, W, 3), uint8
    image_names, categories : list of str
        Presentation order; categories of the 92-image set, else ``"unknown"``.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"Algonauts image-set folder not found: {path}")
    img_dirs = sorted(p for p in path.iterdir() if p.is_dir() and p.name.endswith("images"))
    mats = sorted(p for p in path.glob("*images.mat") if p.is_file())
    if len(img_dirs) == 1:
        names, images = load_image_folder(img_dirs[0])
        mat = path / f"{img_dirs[0].name}.mat"
        if mat.is_file():
            _check_stimulus_mat(mat, names)
    elif not img_dirs and len(mats) == 1:
        # No jpg folder: the pixels of <N>images.mat, in its order.
        names, images = load_stimulus_mat(mats[0])
    else:
        raise ValueError(
            f"{path}: expected one '<N>images' folder, found {[p.name for p in img_dirs]}"
        )
    categories = categories_92() if len(names) == 92 else ["unknown"] * len(names)
    return images, names, categories


def algonauts_stimulus_sources(path: str | os.PathLike) -> list[str]:
    """The files :func:`load_algonauts2019_stimuli` reads (the images folder and its .mat)."""
    p = Path(path)
    dirs = sorted(d for d in p.iterdir() if d.is_dir() and d.name.endswith("images"))
    files = dirs + [p / f"{d.name}.mat" for d in dirs if (p / f"{d.name}.mat").is_file()]
    if not dirs:
        files = sorted(f for f in p.glob("*images.mat") if f.is_file())
    return [str(f) for f in files]


def load_algonauts2019(
    path: str | os.PathLike, regions: tuple[str, ...] = ("EVC", "IT"), name: str = "algonauts2019"
) -> Dataset:
    """Load one Algonauts 2019 image set (images + fMRI RDMs) as a :class:`Dataset`.

    Parameters
    ----------
    path : path-like
        The ``<N>_Image_Set`` folder.
    regions : tuple of str
    name : str
    """
    path = Path(path)
    images, names, categories = load_algonauts2019_stimuli(path)
    regions = tuple(regions)
    fmri_regions = tuple(r for r in regions if not r.startswith("MEG_"))
    meg_windows = tuple(r.removeprefix("MEG_") for r in regions if r.startswith("MEG_"))
    rdms = load_fmri_rdms(path / "target_fmri.mat", fmri_regions) if fmri_regions else {}
    if meg_windows:
        meg_file = path / "target_meg.mat"
        for window, arr in load_meg_rdms(meg_file, meg_windows).items():
            mean = arr.mean(axis=1)
            # Decoding-accuracy RDMs may leave the diagonal undefined (NaN): it is zero by
            # definition of an RDM; any other NaN is still reported by the validation.
            idx = np.arange(mean.shape[1])
            mean[:, idx, idx] = np.where(np.isnan(mean[:, idx, idx]), 0.0, mean[:, idx, idx])
            rdms[f"MEG_{window}"] = mean
    counts = {region: arr.shape[0] for region, arr in rdms.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"{path}: regions have different numbers of subjects: {counts}")
    rdms = {region: rdms[region] for region in regions}
    n_subjects = next(iter(rdms.values())).shape[0]
    ds = Dataset(
        name=name,
        images=images,
        image_names=names,
        categories=categories,
        rdms=rdms,
        subjects=[f"{k + 1:02d}" for k in range(n_subjects)],
        metadata={"loader": "algonauts2019", "path": str(path)},
    )
    return validate_dataset(ds)


def _check_stimulus_mat(path: Path, names: list[str]) -> None:
    mat_names, _ = load_stimulus_mat(path)
    if mat_names != names:
        raise ValueError(
            f"{path}: image names {mat_names[:3]}… do not match the jpg folder "
            f"{names[:3]}… (count {len(mat_names)} vs {len(names)})"
        )
