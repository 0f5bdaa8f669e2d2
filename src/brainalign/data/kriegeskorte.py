"""The Kriegeskorte et al. (2008) 92-image set with human IT RDMs (rsatoolbox demo files).

Folder layout (the files of ``rsagroup/rsatoolbox:demos/92imageData``; see
``resources/registry.yaml`` for URLs and hashes)::

    <folder>/
        Kriegeskorte_Neuron2008_supplementalData.mat  stimuli_92objs (1, 92): image, category
        92_brainRDMs.mat                              RDMs (1, 4, 2): RDM (92, 92), name
        92_modelRDMs.mat                              Models (1, 8): RDM, name     [optional]

All three are MATLAB v5 files. The human IT RDMs are 4 subjects (BE, KO, SN, TI) × 2 sessions;
by default the two sessions of a subject are averaged (``average_sessions=False`` keeps 8
"subjects" named ``BE-s1``, ``BE-s2``, …). The 92 images are the same set, in the same order, as
the Algonauts 2019 / Cichy et al. (2014) 92-image set.

Original data: Kriegeskorte, Mur, Ruff, Kiani, Bodurka, Esteky, Tanaka & Bandettini (2008),
Neuron 60:1126–1141. The files are not redistributed with this project.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.data.base import CATEGORY_BLOCKS_92, Dataset, file_error, validate_dataset
from brainalign.io.hashing import sha256_file

__all__ = [
    "STIMULI_FILE",
    "BRAIN_RDMS_FILE",
    "MODEL_RDMS_FILE",
    "load_kriegeskorte2008",
    "load_kriegeskorte_stimuli",
    "load_kriegeskorte_brain_rdms",
    "load_kriegeskorte_model_rdms",
    "kriegeskorte_sources",
    "kriegeskorte_stimulus_sources",
    "load_kriegeskorte2008_stimuli",
]

STIMULI_FILE = "Kriegeskorte_Neuron2008_supplementalData.mat"
BRAIN_RDMS_FILE = "92_brainRDMs.mat"
MODEL_RDMS_FILE = "92_modelRDMs.mat"
_SOURCE = "https://github.com/rsagroup/rsatoolbox/raw/main/demos/92imageData/"
#: The file's category strings → the labels of :data:`CATEGORY_BLOCKS_92`.
_CATEGORY_MAP = {
    "human bodypart": "human body",
    "human face": "human face",
    "nonhuman bodypart": "animal body",
    "nonhuman face": "animal face",
    "natural inanimate": "natural object",
    "artificial inanimate": "artificial object",
}
_RDM_NAME = re.compile(
    r"^\s*(?P<region>[^|]+?)\s*\|\s*(?P<subject>[^|]+?)\s*\|\s*"
    r"Session:\s*(?P<session>\d+)\s*$"
)


def _require(folder: Path, filename: str) -> Path:
    path = folder / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"Kriegeskorte 2008 file missing: {path}. Download {_SOURCE}{filename} and place it "
            f"at {path.resolve()} (or run `snakemake resources/.groups/kriegeskorte2008.done` "
            f"and point dataset.path at resources/data/kriegeskorte2008)"
        )
    return path


def _loadmat(path: Path) -> dict[str, Any]:
    from scipy.io import loadmat

    try:
        return loadmat(path)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise file_error(path, "MATLAB v5 file", exc) from exc


def _text(value: Any) -> str:
    arr = np.asarray(value)
    if arr.dtype.kind in ("U", "S"):
        return str(arr.reshape(-1)[0]) if arr.size else ""
    if arr.dtype == object and arr.size:
        return _text(arr.reshape(-1)[0])
    return str(value)


def load_kriegeskorte_stimuli(path: str | os.PathLike) -> tuple[np.ndarray, list[str], list[str]]:
    """Read the 92 stimuli from ``Kriegeskorte_Neuron2008_supplementalData.mat``.

    Parameters
    ----------
    path : path-like
        The ``.mat`` file.

    Returns
    -------
    images : ndarray, shape (92, 175, 175, 3), uint8
    categories : list of str, length 92
        Labels of :data:`~brainalign.data.base.CATEGORY_BLOCKS_92` (``"human body"``, …).
    raw_categories : list of str, length 92
        The file's own category strings (``"human bodypart"``, …).
    """
    path = Path(path)
    data = _loadmat(path)
    if "stimuli_92objs" not in data:
        raise ValueError(
            f"{path}: no variable 'stimuli_92objs' (has "
            f"{sorted(k for k in data if not k.startswith('__'))})"
        )
    stim = data["stimuli_92objs"]
    if stim.dtype.names is None or "image" not in stim.dtype.names:
        raise ValueError(f"{path}: stimuli_92objs should be a struct array with an 'image' field")
    entries = stim.reshape(-1)
    images, raw = [], []
    for k, entry in enumerate(entries):
        img = np.asarray(entry["image"])
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(
                f"{path}: stimulus {k + 1} image has shape {img.shape}, expected (H, W, 3)"
            )
        images.append(img.astype(np.uint8, copy=False))
        raw.append(_text(entry["category"]) if "category" in stim.dtype.names else "unknown")
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"{path}: stimuli differ in size: {sorted(shapes)}")
    categories = [_CATEGORY_MAP.get(c, c) for c in raw]
    return np.stack(images), categories, raw


def load_kriegeskorte_brain_rdms(
    path: str | os.PathLike, average_sessions: bool = True
) -> tuple[np.ndarray, list[str]]:
    """Read the human IT RDMs of ``92_brainRDMs.mat``.

    Parameters
    ----------
    path : path-like
    average_sessions : bool
        Average the sessions of each subject (float64 mean of the RDMs).

    Returns
    -------
    rdms : ndarray, shape (n_subjects, 92, 92) or (n_subjects * n_sessions, 92, 92), float64
        Subject-major order (BE, KO, SN, TI; sessions 1, 2 within a subject).
    subjects : list of str
        ``["BE", "KO", "SN", "TI"]``, or ``["BE-s1", "BE-s2", …]`` when not averaged.
    """
    path = Path(path)
    data = _loadmat(path)
    if "RDMs" not in data:
        raise ValueError(
            f"{path}: no variable 'RDMs' (has {sorted(k for k in data if not k.startswith('__'))})"
        )
    s = data["RDMs"]
    if s.dtype.names is None or "RDM" not in s.dtype.names or s.ndim != 3 or s.shape[0] != 1:
        raise ValueError(
            f"{path}: RDMs should be a (1, subjects, sessions) struct array with an "
            f"'RDM' field, got shape {s.shape} fields {s.dtype.names}"
        )
    _, n_subj, n_sess = s.shape
    rdms = np.empty((n_subj, n_sess), dtype=object)
    labels: list[str] = []
    for i in range(n_subj):
        subject = None
        for j in range(n_sess):
            entry = s[0, i, j]
            rdm = np.asarray(entry["RDM"], dtype=np.float64)
            name = _text(entry["name"]) if "name" in s.dtype.names else ""
            m = _RDM_NAME.match(name)
            if m:
                if int(m.group("session")) != j + 1:
                    raise ValueError(
                        f"{path}: RDMs[0, {i}, {j}] is named {name!r}, expected session {j + 1}"
                    )
                if subject is not None and m.group("subject") != subject:
                    raise ValueError(
                        f"{path}: RDMs[0, {i}, :] mixes subjects {subject!r} and "
                        f"{m.group('subject')!r}"
                    )
                subject = m.group("subject")
            rdms[i, j] = rdm
        labels.append(subject or f"S{i + 1:02d}")
    shapes = {r.shape for r in rdms.reshape(-1)}
    if len(shapes) != 1:
        raise ValueError(f"{path}: RDMs differ in shape: {sorted(shapes)}")
    stack = np.stack([np.stack(list(row)) for row in rdms])  # (subjects, sessions, N, N)
    if average_sessions:
        return stack.mean(axis=1), labels
    return (
        stack.reshape(n_subj * n_sess, *stack.shape[2:]),
        [f"{subj}-s{j + 1}" for subj in labels for j in range(n_sess)],
    )


def load_kriegeskorte_model_rdms(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the 8 model RDMs of ``92_modelRDMs.mat`` → name → (92, 92) float64."""
    path = Path(path)
    data = _loadmat(path)
    if "Models" not in data:
        raise ValueError(f"{path}: no variable 'Models'")
    out = {}
    for k, entry in enumerate(data["Models"].reshape(-1)):
        name = _text(entry["name"]) or f"model{k + 1}"
        out[name] = np.asarray(entry["RDM"], dtype=np.float64)
    return out


def load_kriegeskorte2008(
    path: str | os.PathLike,
    regions: tuple[str, ...] = ("IT",),
    name: str = "kriegeskorte2008",
    *,
    average_sessions: bool = True,
    include_model_rdms: bool = False,
) -> Dataset:
    """Load the 92 images and the human IT RDMs as a :class:`Dataset`.

    Parameters
    ----------
    path : path-like
        Folder holding the ``.mat`` files.
    regions : tuple of str
        Only ``("IT",)`` exists in this data set.
    name : str
    average_sessions : bool
        True (default): one RDM per subject, the mean of its two sessions (4 subjects).
        False: every session is a separate "subject" (8, named ``BE-s1`` …).
    include_model_rdms : bool
        Also read ``92_modelRDMs.mat`` into ``metadata["model_rdms"]`` (name → (92, 92)).

    Returns
    -------
    Dataset
        images (92, 175, 175, 3) uint8; ``rdms["IT"]`` (4 or 8, 92, 92) float64.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"Kriegeskorte 2008 data folder not found: {folder}")
    regions = tuple(regions)
    bad = [r for r in regions if r != "IT"]
    if bad or not regions:
        raise ValueError(
            f"dataset {name!r}: the Kriegeskorte 2008 data has human IT RDMs only "
            f"(region 'IT'); got regions {list(regions)}"
        )
    stim_file = _require(folder, STIMULI_FILE)
    brain_file = _require(folder, BRAIN_RDMS_FILE)
    images, categories, raw = _checked_stimuli(stim_file)
    rdms, subjects = load_kriegeskorte_brain_rdms(brain_file, average_sessions)
    metadata: dict[str, Any] = {
        "loader": "kriegeskorte2008",
        "path": str(folder),
        "region_source": "human IT (hIT), Kriegeskorte et al. 2008",
        "average_sessions": bool(average_sessions),
        "files": {
            f.name: {"sha256": sha256_file(f), "bytes": f.stat().st_size}
            for f in (stim_file, brain_file)
        },
        "raw_categories": raw,
    }
    if include_model_rdms:
        model_file = _require(folder, MODEL_RDMS_FILE)
        metadata["model_rdms"] = load_kriegeskorte_model_rdms(model_file)
        metadata["files"][model_file.name] = {
            "sha256": sha256_file(model_file),
            "bytes": model_file.stat().st_size,
        }
    ds = Dataset(
        name=name,
        images=images,
        image_names=_image_names(images.shape[0]),
        categories=categories,
        rdms={"IT": rdms},
        subjects=subjects,
        metadata=metadata,
    )
    return validate_dataset(ds)


def _image_names(n: int) -> list[str]:
    return [f"image_{k + 1:02d}" for k in range(n)]


def _checked_stimuli(stim_file: Path) -> tuple[np.ndarray, list[str], Any]:
    images, categories, raw = load_kriegeskorte_stimuli(stim_file)
    expected = [label for label, count in CATEGORY_BLOCKS_92 for _ in range(count)]
    if len(categories) == 92 and categories != expected:
        raise ValueError(
            f"{stim_file}: the stimuli are not in the expected category-block "
            f"order (12 human bodies, 12 human faces, 12 animal bodies, 12 animal "
            f"faces, 23 natural, 21 artificial objects)"
        )
    return images, categories, raw


def load_kriegeskorte2008_stimuli(
    path: str | os.PathLike,
) -> tuple[np.ndarray, list[str], list[str]]:
    """The 92 stimuli alone (no brain RDMs): ``(images, image_names, categories)``.

    Parameters
    ----------
    path : path-like
        The folder holding ``Kriegeskorte_Neuron2008_supplementalData.mat``.

    Returns
    -------
    images : ndarray, shape (92, 175, 175, 3), uint8
    image_names, categories : list of str, length 92
    """
    images, categories, _ = _checked_stimuli(_require(Path(path), STIMULI_FILE))
    return images, _image_names(images.shape[0]), categories


def kriegeskorte_stimulus_sources(path: str | os.PathLike) -> list[str]:
    """The file :func:`load_kriegeskorte2008_stimuli` reads."""
    return [str(Path(path) / STIMULI_FILE)]


def kriegeskorte_sources(path: str | os.PathLike) -> list[str]:
    """Files :func:`load_kriegeskorte2008` reads from ``path`` (for workflow dependencies)."""
    folder = Path(path)
    files = [folder / STIMULI_FILE, folder / BRAIN_RDMS_FILE]
    if (folder / MODEL_RDMS_FILE).is_file():
        files.append(folder / MODEL_RDMS_FILE)
    return [str(f) for f in files]
