"""Algonauts 2019 ("Explaining the human visual brain") on-disk format.

Layout of one image set (``Training_Data/92_Image_Set`` or ``118_Image_Set``)::

    <N>_Image_Set/
        <N>images/            image_01.jpg … (sorted order = RDM order; may sit in one subfolder)
        <N>images.mat         MATLAB v5 struct ``visual_stimuli`` (names, pixels)   [optional]
        target_fmri.mat       MATLAB v7.3 (HDF5): EVC_RDMs, IT_RDMs, stored (N, N, S)
        target_meg.mat        MEG_RDMs_early / MEG_RDMs_late                      [optional]

HDF5 stores MATLAB arrays column-major, so every variable is transposed on reading, giving
(S, N, N) for fMRI and (S, sessions, N, N) for MEG.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from brainalign.datasets.base import Dataset, categories_92, validate_dataset

__all__ = ["read_mat", "load_image_folder", "load_fmri_rdms", "load_algonauts2019",
           "MAT73_HEADER"]

#: First bytes of a MATLAB v7.3 file (the HDF5 user block holds this text header).
MAT73_HEADER = b"MATLAB 7.3 MAT-file"


def read_mat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the numeric variables of a MATLAB file, v7.3 (HDF5) or v5.

    v7.3 variables are transposed (``np.transpose``), as the Algonauts devkit does, so they
    come out in MATLAB's index order.

    Returns
    -------
    dict of str to ndarray
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MATLAB file not found: {path}")
    if h5py.is_hdf5(path):
        out = {}
        with h5py.File(path, "r") as f:
            for key in f.keys():
                if key.startswith("#") or not isinstance(f[key], h5py.Dataset):
                    continue
                out[key] = np.transpose(f[key][()])
        return out
    from scipy.io import loadmat

    return {k: v for k, v in loadmat(path).items() if not k.startswith("__")}


def load_fmri_rdms(path: str | os.PathLike, regions: tuple[str, ...] = ("EVC", "IT")
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
            raise ValueError(f"{path}: {key} should be subjects × N × N after transposing, "
                             f"got shape {arr.shape}")
        out[region] = arr
    return out


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
        with Image.open(p) as im:
            images.append(np.asarray(im.convert("RGB")))
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"images in {folder} differ in size: {sorted(shapes)}")
    return [p.name for p in files], np.stack(images)


def load_algonauts2019(path: str | os.PathLike, regions: tuple[str, ...] = ("EVC", "IT"),
                       name: str = "algonauts2019") -> Dataset:
    """Load one Algonauts 2019 image set (images + fMRI RDMs) as a :class:`Dataset`.

    Parameters
    ----------
    path : path-like
        The ``<N>_Image_Set`` folder.
    regions : tuple of str
    name : str
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"Algonauts image-set folder not found: {path}")
    img_dirs = sorted(p for p in path.iterdir() if p.is_dir() and p.name.endswith("images"))
    if len(img_dirs) != 1:
        raise ValueError(f"{path}: expected one '<N>images' folder, found "
                         f"{[p.name for p in img_dirs]}")
    names, images = load_image_folder(img_dirs[0])
    rdms = load_fmri_rdms(path / "target_fmri.mat", regions)
    n_subjects = next(iter(rdms.values())).shape[0]
    mat = path / f"{img_dirs[0].name}.mat"
    if mat.is_file():
        _check_stimulus_mat(mat, names)
    categories = categories_92() if len(names) == 92 else ["unknown"] * len(names)
    ds = Dataset(name=name, images=images, image_names=names, categories=categories, rdms=rdms,
                 subjects=[f"{k + 1:02d}" for k in range(n_subjects)],
                 metadata={"loader": "algonauts2019", "path": str(path)})
    return validate_dataset(ds)


def _check_stimulus_mat(path: Path, names: list[str]) -> None:
    from scipy.io import loadmat

    stim = loadmat(path)["visual_stimuli"]
    mat_names = [str(np.squeeze(stim[0, i]["names"])) for i in range(stim.shape[1])]
    if mat_names != names:
        raise ValueError(f"{path}: image names {mat_names[:3]}… do not match the jpg folder "
                         f"{names[:3]}… (count {len(mat_names)} vs {len(names)})")
