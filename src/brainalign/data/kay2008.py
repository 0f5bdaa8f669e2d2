"""Kay et al. (2008) natural-image fMRI data, the Neuromatch Academy copy (one subject of vim-1).

Files (``resources/registry.yaml``, group ``kay2008``)::

    kay_images.npz       stimuli (n, H, W), stimuli_test (m, H, W)    greyscale, floating point
                         responses (n, v), responses_test (m, v)      z-scored BOLD amplitudes
                         roi (v,) int, 0 = Other, 1..7 = V1 .. LatOcc
                         roi_names (8,) str                           the names the labels index
    kay_labels.npy       (4, n) str: WordNet level 0 (coarsest) .. level 3 (an ImageNet label)
    kay_labels_val.npy   (4, m) str: the same for the test ("val") items

Real data: n = 1750, m = 120, H = W = 128, v = 8428 (V1 1294, V2 2083, V3 1790, V3A 484, V3B
314, V4 1535, LatOcc 928). The dtypes of the real file are not verified; :func:`write_kay`
writes float32 stimuli and responses, int64 ``roi`` and unicode ``roi_names``.

:func:`load_kay` follows theairbend3r/decoding-thoughts (``src/dataset/kay.py``,
``src/utils/util.py``):

* **classes** — items whose level-0 label is one of :data:`DROPPED_CLASSES` are dropped; the
  rest must be one of :data:`KEPT_CLASSES`, numbered 0, 1, 2 in that (alphabetical) order. The
  real data keeps 1593 training and 114 test items (test: 54 animal, 50 artifact, 10 geological
  formation).
* **voxels** — ``voxel_filter="roi"`` (the corrected default) keeps the columns whose ``roi`` is
  1..7. ``"first_columns"`` reproduces the original's ``filter_voxel_by_roi``, which returns
  ``np.where(<concatenated voxel ids of ROIs 1..7>)[0]``: *positions* in that list, not voxel ids,
  and only the positions whose voxel id is not 0. That is columns ``0 .. k-1`` (k = number of
  voxels in ROIs 1..7) less the position of voxel 0 in the list when voxel 0 is in ROIs 1..7
  (position 0 when it is a V1 voxel). On the real data all 8428 voxels are in ROIs 1..7, so it
  keeps 8427 columns.
* **images** — each image is min-max rescaled to 0..255 integers (:func:`rescale_to_uint8`, the
  original ``convert_arr_to_img``); the original then makes 3 identical RGB channels with PIL,
  which is left to the consumer.

Original data: Kay, Naselaris, Prenger & Gallant (2008), Nature 452:352-355; the full data set
(vim-1) is on CRCNS. The files are not redistributed with this project.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.data.base import DataFileError, file_error
from brainalign.io.files import atomic_path

__all__ = [
    "FILES",
    "ROI_NAMES",
    "KEPT_CLASSES",
    "DROPPED_CLASSES",
    "VOXEL_FILTERS",
    "KayData",
    "kay_paths",
    "load_kay",
    "rescale_to_uint8",
    "voxel_columns",
    "write_kay",
]

#: File of each part of the data set, by role.
FILES = {"images": "kay_images.npz", "labels": "kay_labels.npy", "labels_val": "kay_labels_val.npy"}
#: ROI label -> name (index = the integer in ``roi``; names from the NMA notebook).
ROI_NAMES = ("Other", "V1", "V2", "V3", "V3A", "V3B", "V4", "LatOcc")
#: Level-0 classes kept, in label-id order (0, 1, 2).
KEPT_CLASSES = ("animal", "artifact", "geological formation")
#: Level-0 classes the original drops.
DROPPED_CLASSES = ("person", "fungus", "fruit", "plant", "entity")
#: Voxel selections of :func:`voxel_columns`: corrected first, the original's quirk second.
VOXEL_FILTERS = ("roi", "first_columns")

_URLS = {
    "images": "https://osf.io/ymnjv/download",
    "labels": "https://osf.io/r638s/download",
    "labels_val": "https://osf.io/yqb3e/download",
}
_NPZ_KEYS = ("stimuli", "stimuli_test", "responses", "responses_test", "roi", "roi_names")
_VISUAL_ROIS = tuple(range(1, 8))


@dataclass(frozen=True, eq=False)
class KayData:
    """The class- and voxel-filtered Kay 2008 data, items in their original order.

    Attributes
    ----------
    images_train : ndarray, shape (n_train, H, W), uint8
        Kept training stimuli, rescaled by :func:`rescale_to_uint8`.
    images_test : ndarray, shape (n_test, H, W), uint8
    responses_train : ndarray, shape (n_train, n_vox), float32
        Kept items' responses in the kept voxel columns.
    responses_test : ndarray, shape (n_test, n_vox), float32
    roi : ndarray, shape (n_vox,), int64
        ROI label of each kept column (0 only with ``voxel_filter="first_columns"``).
    voxel_index : ndarray, shape (n_vox,), int64
        Position of each kept column in the file's ``responses``.
    labels_train : ndarray, shape (n_train,), int64
        Class id in 0..2, the position in ``class_names``.
    labels_test : ndarray, shape (n_test,), int64
    index_train : ndarray, shape (n_train,), int64
        Position of each kept item in the file's ``stimuli`` / ``responses`` (increasing).
    index_test : ndarray, shape (n_test,), int64
    wordnet_train : ndarray, shape (n_train, 4), str
        The four WordNet levels of each kept item (column 0 = the class name).
    wordnet_test : ndarray, shape (n_test, 4), str
    class_names : tuple of str
        :data:`KEPT_CLASSES`.
    roi_names : tuple of str
        The file's ``roi_names``.
    voxel_filter : str
        One of :data:`VOXEL_FILTERS`.
    """

    images_train: np.ndarray
    images_test: np.ndarray
    responses_train: np.ndarray
    responses_test: np.ndarray
    roi: np.ndarray
    voxel_index: np.ndarray
    labels_train: np.ndarray
    labels_test: np.ndarray
    index_train: np.ndarray
    index_test: np.ndarray
    wordnet_train: np.ndarray
    wordnet_test: np.ndarray
    class_names: tuple[str, ...]
    roi_names: tuple[str, ...]
    voxel_filter: str

    @property
    def n_train(self) -> int:
        return int(self.labels_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.labels_test.shape[0])

    @property
    def n_voxels(self) -> int:
        return int(self.roi.shape[0])


def kay_paths(directory: str | os.PathLike) -> dict[str, Path]:
    """The three files in ``directory``, by role (the keys of :data:`FILES`)."""
    folder = Path(directory)
    return {role: folder / name for role, name in FILES.items()}


def rescale_to_uint8(images: np.ndarray) -> np.ndarray:
    """Per-image min-max rescale to 0..255, as the original ``convert_arr_to_img``.

    Each image becomes ``((img - min) * 255 / (max - min)).astype(int)``, computed in the input's
    floating dtype (float64 for integer input) in that order of operations, so values are
    truncated toward zero: the minimum gives 0, the maximum 255 (or 254 where
    ``(max - min) * 255 / (max - min)`` rounds just below 255, as in the original). A constant
    image (max == min), which gives NaN and then an arbitrary integer in the original, gives all
    zeros.

    Parameters
    ----------
    images : array_like, shape (n, H, W), real
        Finite values.

    Returns
    -------
    ndarray, shape (n, H, W), uint8
    """
    arr = np.asarray(images)
    if arr.ndim != 3 or arr.dtype.kind not in "fiu":
        raise ValueError(f"images must be a real (n, H, W) array, got {arr.dtype} {arr.shape}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("images must be finite (found NaN or infinity)")
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.uint8)
    lo = arr.min(axis=(1, 2), keepdims=True)
    span = arr.max(axis=(1, 2), keepdims=True) - lo
    span = np.where(span == 0, np.ones_like(span), span)
    scaled = (arr - lo) * 255 / span
    return scaled.astype(np.int64).astype(np.uint8)


def voxel_columns(roi: np.ndarray, voxel_filter: str = "roi") -> np.ndarray:
    """Columns of ``responses`` kept by a voxel filter (see the module docstring).

    Parameters
    ----------
    roi : array_like, shape (n_voxels,), int
        ROI label per voxel column.
    voxel_filter : {"roi", "first_columns"}
        ``"roi"``: the columns with label 1..7 (corrected). ``"first_columns"``: the positions the
        original ``filter_voxel_by_roi`` returns (columns 0..k-1 less the list position of voxel 0
        when it is in ROIs 1..7).

    Returns
    -------
    ndarray, shape (n_kept,), int64
        Increasing column positions.
    """
    roi = np.asarray(roi)
    if voxel_filter == "roi":
        return np.flatnonzero(np.isin(roi, _VISUAL_ROIS)).astype(np.int64)
    if voxel_filter == "first_columns":
        listed = np.concatenate([np.flatnonzero(roi == r) for r in _VISUAL_ROIS])
        return np.flatnonzero(listed).astype(np.int64)
    raise ValueError(f"voxel_filter must be one of {list(VOXEL_FILTERS)}, got {voxel_filter!r}")


# --------------------------------------------------------------------------- reading


def _require(path: str | os.PathLike, role: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Kay 2008 file missing: {path}. Download {_URLS[role]} and place it at "
            f"{path.resolve()} (or run `snakemake resources/.groups/kay2008.done` and use "
            f"resources/data/kay2008/{FILES[role]})"
        )
    return path


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as d:
            return dict(**d)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise file_error(path, "NumPy .npz archive", exc) from exc


def _read_labels(path: Path, n_items: int, key: str) -> np.ndarray:
    try:
        labels = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise file_error(path, "NumPy .npy array", exc) from exc
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "US":
        raise DataFileError(
            f"{path}: the label array should hold strings, got "
            f"{getattr(labels, 'dtype', type(labels).__name__)}"
        )
    if labels.shape != (4, n_items):
        raise DataFileError(
            f"{path}: the label array has shape {labels.shape}, expected (4, {n_items}) "
            f"(4 WordNet levels × the {n_items} items of '{key}')"
        )
    return labels.astype(str)


def _bad(path: Path, key: str, problem: str) -> DataFileError:
    return DataFileError(f"{path}: key '{key}' {problem}")


def _check_real(path: Path, dat: dict[str, np.ndarray], key: str, ndim: int) -> np.ndarray:
    arr = dat[key]
    if arr.dtype.kind not in "fiu" or arr.ndim != ndim:
        raise _bad(path, key, f"should be a real {ndim}-D array, got {arr.dtype} {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))
        raise _bad(
            path, key, f"has {len(bad)} NaN or infinite values (first at {tuple(bad[0].tolist())})"
        )
    return arr


def _check_shapes(path: Path, dat: dict[str, np.ndarray]) -> None:
    missing = [k for k in _NPZ_KEYS if k not in dat]
    if missing:
        raise _bad(
            path, missing[0], f"is missing (the file has {sorted(dat)}; expected {list(_NPZ_KEYS)})"
        )
    stim = _check_real(path, dat, "stimuli", 3)
    stim_test = _check_real(path, dat, "stimuli_test", 3)
    if stim_test.shape[1:] != stim.shape[1:]:
        raise _bad(
            path,
            "stimuli_test",
            f"has shape {stim_test.shape}, expected (m, {stim.shape[1]}, {stim.shape[2]}) "
            "(the image size of 'stimuli')",
        )
    resp = _check_real(path, dat, "responses", 2)
    if resp.shape[0] != stim.shape[0]:
        raise _bad(
            path,
            "responses",
            f"has shape {resp.shape}, expected ({stim.shape[0]}, v) (one row per 'stimuli' item)",
        )
    resp_test = _check_real(path, dat, "responses_test", 2)
    expected = (stim_test.shape[0], resp.shape[1])
    if resp_test.shape != expected:
        raise _bad(
            path,
            "responses_test",
            f"has shape {resp_test.shape}, expected {expected} "
            "(one row per 'stimuli_test' item, the voxel columns of 'responses')",
        )


def _check_roi(path: Path, dat: dict[str, np.ndarray]) -> tuple[np.ndarray, tuple[str, ...]]:
    names = dat["roi_names"]
    if names.dtype.kind not in "US" or names.ndim != 1:
        raise _bad(
            path, "roi_names", f"should be a 1-D string array, got {names.dtype} {names.shape}"
        )
    roi = dat["roi"]
    n_vox = dat["responses"].shape[1]
    if roi.shape != (n_vox,):
        raise _bad(
            path,
            "roi",
            f"has shape {roi.shape}, expected ({n_vox},) (one label per column of 'responses')",
        )
    if roi.dtype.kind not in "fiu" or (roi.dtype.kind == "f" and not np.all(roi == np.round(roi))):
        raise _bad(path, "roi", f"should hold integer labels, got {roi.dtype}")
    roi = roi.astype(np.int64)
    outside = roi[(roi < 0) | (roi >= len(names))]
    if outside.size:
        raise _bad(
            path,
            "roi",
            f"has labels {sorted(set(outside.tolist()))[:5]} outside "
            f"0..{len(names) - 1} (the {len(names)} 'roi_names')",
        )
    return roi, tuple(str(n) for n in names.astype(str))


def _filter_classes(path: Path, level0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    known = set(KEPT_CLASSES) | set(DROPPED_CLASSES)
    unknown = [(i, c) for i, c in enumerate(level0.tolist()) if c not in known]
    if unknown:
        item, name = unknown[0]
        raise DataFileError(
            f"{path}: row 0 (the level-0 class) holds unknown class {name!r} (item {item}, "
            f"{len(unknown)} items in all); expected one of {list(KEPT_CLASSES)} (kept) or "
            f"{list(DROPPED_CLASSES)} (dropped)"
        )
    index = np.flatnonzero(~np.isin(level0, DROPPED_CLASSES)).astype(np.int64)
    ids = np.array([KEPT_CLASSES.index(c) for c in level0[index]], dtype=np.int64)
    return index, ids


def load_kay(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    labels_val_path: str | os.PathLike,
    *,
    voxel_filter: str = "roi",
) -> KayData:
    """Read, check and filter the three Kay 2008 files.

    Parameters
    ----------
    images_path : path-like
        ``kay_images.npz``.
    labels_path : path-like
        ``kay_labels.npy``, shape (4, n) strings.
    labels_val_path : path-like
        ``kay_labels_val.npy``, shape (4, m) strings.
    voxel_filter : {"roi", "first_columns"}
        See :func:`voxel_columns`.

    Returns
    -------
    KayData
        Kept items in their original order; images (n_kept, H, W) uint8, responses
        (n_kept, n_vox) float32.

    Raises
    ------
    FileNotFoundError
        A file is missing (names its URL and where to place it).
    DataFileError
        A file cannot be read, misses a key, has a wrong shape, non-finite values or an unknown
        level-0 class; one line naming the file, the key and what was expected.
    """
    if voxel_filter not in VOXEL_FILTERS:
        raise ValueError(f"voxel_filter must be one of {list(VOXEL_FILTERS)}, got {voxel_filter!r}")
    images_path = _require(images_path, "images")
    labels_path = _require(labels_path, "labels")
    labels_val_path = _require(labels_val_path, "labels_val")
    dat = _read_npz(images_path)
    _check_shapes(images_path, dat)
    roi, roi_names = _check_roi(images_path, dat)
    labels = _read_labels(labels_path, dat["stimuli"].shape[0], "stimuli")
    labels_val = _read_labels(labels_val_path, dat["stimuli_test"].shape[0], "stimuli_test")
    index_train, y_train = _filter_classes(labels_path, labels[0])
    index_test, y_test = _filter_classes(labels_val_path, labels_val[0])
    cols = voxel_columns(roi, voxel_filter)
    return KayData(
        images_train=rescale_to_uint8(dat["stimuli"][index_train]),
        images_test=rescale_to_uint8(dat["stimuli_test"][index_test]),
        responses_train=_subset(dat["responses"], index_train, cols),
        responses_test=_subset(dat["responses_test"], index_test, cols),
        roi=roi[cols],
        voxel_index=cols,
        labels_train=y_train,
        labels_test=y_test,
        index_train=index_train,
        index_test=index_test,
        wordnet_train=np.ascontiguousarray(labels.T[index_train]),
        wordnet_test=np.ascontiguousarray(labels_val.T[index_test]),
        class_names=KEPT_CLASSES,
        roi_names=roi_names,
        voxel_filter=voxel_filter,
    )


def _subset(responses: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(responses[np.ix_(rows, cols)], dtype=np.float32)


# --------------------------------------------------------------------------- writing


def write_kay(
    directory: str | os.PathLike,
    *,
    stimuli: Any,
    stimuli_test: Any,
    responses: Any,
    responses_test: Any,
    roi: Any,
    roi_names: Any,
    labels: Any,
    labels_val: Any,
) -> dict[str, Path]:
    """Write the three files in the real format, each atomically.

    Nothing is checked (the tests write broken files with it too); :func:`load_kay` is the check.

    Parameters
    ----------
    directory : path-like
        Created if needed.
    stimuli, stimuli_test : array_like, shapes (n, H, W), (m, H, W)
        Written as float32.
    responses, responses_test : array_like, shapes (n, v), (m, v)
        Written as float32.
    roi : array_like, shape (v,)
        Written as int64.
    roi_names : sequence of str, length 8
        Written as a unicode string array.
    labels, labels_val : array_like of str, shapes (4, n), (4, m)
        Written as unicode string arrays with ``np.save``.

    Returns
    -------
    dict of str to pathlib.Path
        The written files by role (the keys of :data:`FILES`).
    """
    paths = kay_paths(directory)
    arrays = {
        "stimuli": np.asarray(stimuli, dtype=np.float32),
        "stimuli_test": np.asarray(stimuli_test, dtype=np.float32),
        "responses": np.asarray(responses, dtype=np.float32),
        "responses_test": np.asarray(responses_test, dtype=np.float32),
        "roi": np.asarray(roi, dtype=np.int64),
        "roi_names": np.asarray(roi_names, dtype=str),
    }
    with atomic_path(paths["images"]) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    for role, value in (("labels", labels), ("labels_val", labels_val)):
        with atomic_path(paths[role]) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.asarray(value, dtype=str), allow_pickle=False)
    return paths
