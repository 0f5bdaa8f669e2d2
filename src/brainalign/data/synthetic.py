"""The embedded default: a synthetic 92-image study in the Algonauts 2019 format.

Stimuli
    ``n_images`` 175×175 RGB images in the real category blocks, from scikit-image pictures
    and procedural shapes (:mod:`brainalign.data.synthetic_stimuli`).

Simulated brain (the ground truth)
    Each region has noiseless voxel patterns (items × voxels):

    * **EVC** — voxels tuned to *low-level image structure*: Gabor energy (4
      orientations × 2 spatial frequencies) and colour, pooled on a coarse retinotopic grid.
    * **IT** — *deep and categorical structure*: a random projection of the fc6 features of a
      reference Sobel + BatchNorm AlexNet (its own seed, layout-preserving deep features) plus
      a smaller sum of prototype vectors for animacy, face/body, human/animal, the category
      and the item.

    Each subject's patterns are the truth plus independent Gaussian noise; subject RDMs are
    1 − Pearson r between the noisy patterns. The noise levels are set so that IT's noise
    ceiling (Kendall tau-b between a subject and the mean of all) is about 0.3, the order of the
    real data. The noiseless RDMs and all parameters are written next to the data
    (``ground_truth.npz``, ``ground_truth.json``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from PIL import Image

from brainalign.data.synthetic_stimuli import (
    category_counts,
    low_level_features,
    make_stimuli,
    stimulus_labels,
)
from brainalign.io.files import atomic_path, write_json, write_npz
from brainalign.rsa.rdm import compute_rdm

__all__ = [
    "simulate_region_patterns",
    "simulate_subject_rdms",
    "write_mat73",
    "write_stimulus_mat",
    "generate_synthetic_study",
    "write_synthetic_stimuli",
    "write_synthetic_brain",
    "DEFAULT_NOISE",
]

#: Per-voxel subject noise SD (in units of the signal's per-voxel SD) by region.
DEFAULT_NOISE = {"EVC": 2.2, "IT": 2.4}
#: Mixing weights of the simulated IT patterns.
IT_WEIGHTS = {"categorical": 0.3, "deep": 1.0}


# --------------------------------------------------------------------------- brain
def deep_features(images: np.ndarray, seed: int) -> np.ndarray:
    """Deep image structure: fc6 of a reference network with its own seeded initialisation.

    The reference network (a Sobel + BatchNorm AlexNet) takes a seed drawn from the
    generator's seed, never a seed the workflow gives the networks it evaluates. Its spatial
    layout-preserving fc6 features carry structure that spatially averaged conv maps lack.

    Returns
    -------
    ndarray, shape (n, 4096), float64
    """
    from brainalign.networks.activations import extract_activations, preprocess
    from brainalign.networks.architectures import build_network

    x = preprocess(images)
    parts = []
    for k, name in enumerate(("deepcluster",)):
        acts = extract_activations(build_network(name, "untrained", seed=seed + k), x, device="cpu")
        f = acts["fc6"].astype(np.float64)
        f = f - f.mean(axis=0)
        sd = f.std(axis=0)
        parts.append(f[:, sd > 0] / sd[sd > 0] / np.sqrt((sd > 0).sum()))
    return np.concatenate(parts, axis=1)


def _project(features: np.ndarray, n_voxels: int, rng: np.random.Generator) -> np.ndarray:
    f = features - features.mean(axis=0)
    sd = f.std(axis=0)
    f = f[:, sd > 0] / sd[sd > 0]
    x = f @ (rng.standard_normal((f.shape[1], n_voxels)) / np.sqrt(f.shape[1]))
    return (x - x.mean(axis=0)) / x.std(axis=0)


def simulate_region_patterns(
    region: str,
    images: np.ndarray,
    categories: list[str],
    n_voxels: int,
    rng: np.random.Generator,
    weights: dict[str, float] | None = None,
) -> np.ndarray:
    """Noiseless voxel patterns of a simulated region.

    Parameters
    ----------
    region : {"EVC", "IT"}
        EVC: voxels tuned to the :func:`low_level_features` (Gabor energy and colour,
        averaged over the image), each feature driving an equal share of the voxels.
        IT: ``weights["categorical"]`` × category-hierarchy prototypes (animacy,
        face/body, human/animal, category, item) + ``weights["deep"]`` × a random projection
        of :func:`deep_features`.
    images : ndarray, shape (n, H, W, 3)
    categories : list of str, length n
    n_voxels : int
    rng : numpy.random.Generator
    weights : dict, optional
        IT mixing weights; default :data:`IT_WEIGHTS`.

    Returns
    -------
    ndarray, shape (n, n_voxels), each voxel with zero mean and unit SD across items
    """
    n = len(categories)
    if region == "EVC":
        # Each voxel is tuned to one low-level feature (features tiled over the voxels).
        f = low_level_features(images, grid=1)
        return np.tile(f, (1, -(-n_voxels // f.shape[1])))[:, :n_voxels]
    if region != "IT":
        raise ValueError(f"unknown simulated region {region!r}; choose 'EVC' or 'IT'")
    w = {**IT_WEIGHTS, **(weights or {})}
    animate = np.array([c.startswith(("human", "animal")) for c in categories])
    face = np.array(["face" in c for c in categories])
    human = np.array([c.startswith("human") for c in categories])
    levels = [
        (1.0, animate.astype(int)),
        (0.8, np.where(animate, face.astype(int), 2)),
        (0.6, np.where(animate, human.astype(int), 2)),
        (0.7, np.unique(categories, return_inverse=True)[1]),
        (0.75, np.arange(n)),
    ]
    cat = np.zeros((n, n_voxels))
    for level_weight, labels in levels:
        protos = rng.standard_normal((int(labels.max()) + 1, n_voxels))
        cat += level_weight * protos[labels]
    cat = (cat - cat.mean(axis=0)) / cat.std(axis=0)
    deep = _project(deep_features(images, int(rng.integers(10**6, 2**31))), n_voxels, rng)
    x = w["categorical"] * cat + w["deep"] * deep
    return (x - x.mean(axis=0)) / x.std(axis=0)


def simulate_subject_rdms(
    patterns: np.ndarray, n_subjects: int, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """Subject RDMs (1 − Pearson) from the truth plus independent Gaussian voxel noise.

    Returns
    -------
    ndarray, shape (n_subjects, n, n)
    """
    return np.stack(
        [
            compute_rdm(patterns + noise * rng.standard_normal(patterns.shape))
            for _ in range(n_subjects)
        ]
    )


# --------------------------------------------------------------------------- writers
def write_mat73(path: str | os.PathLike, variables: dict[str, np.ndarray]) -> None:
    """Write arrays as a MATLAB v7.3 file, the way MATLAB stores them.

    MATLAB v7.3 files are HDF5 with a 512-byte user block that starts with the text header
    ``MATLAB 7.3 MAT-file …``; arrays are stored column-major, i.e. transposed as seen from
    HDF5, with a ``MATLAB_class`` attribute. Written atomically.
    """
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=512, track_order=False) as f:
            for key, value in variables.items():
                arr = np.asarray(value, dtype=np.float64)
                ds = f.create_dataset(key, data=np.transpose(arr), track_times=False)
                ds.attrs["MATLAB_class"] = np.bytes_("double")
        text = (
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: brainalign, HDF5 schema 1.00 ."
        ).ljust(116, b" ")
        header = text + b"\x00" * 8 + b"\x00\x02" + b"IM"
        with open(tmp, "r+b") as fh:
            fh.write(header.ljust(512, b"\x00"))


def write_stimulus_mat(path: str | os.PathLike, names: list[str], images: np.ndarray) -> None:
    """Write ``<N>images.mat`` (MATLAB v5): struct array ``visual_stimuli`` (names, pixels)."""
    from scipy.io import savemat

    stim = np.zeros((1, len(names)), dtype=[("names", object), ("pixels", object)])
    for i, (name, img) in enumerate(zip(names, images, strict=True)):
        stim[0, i]["names"] = name
        stim[0, i]["pixels"] = np.asarray(img, dtype=np.uint8)
    with atomic_path(path) as tmp:
        savemat(tmp, {"visual_stimuli": stim}, do_compression=True)
        # scipy stamps the creation time into the 116-byte text header; fix it so the same
        # seed gives the same bytes.
        with open(tmp, "r+b") as fh:
            fh.write(b"MATLAB 5.0 MAT-file, Platform: posix, Created by: brainalign".ljust(116))


def _seeds(seed: int) -> tuple[int, int]:
    """The stimulus and brain seeds of a synthetic study (one stream each, from ``seed``)."""
    stim_seed, brain_seed = np.random.default_rng(seed).integers(0, 2**31, 2)
    return int(stim_seed), int(brain_seed)


def write_synthetic_stimuli(out_dir: str | os.PathLike, n_images: int = 92, seed: int = 0) -> Path:
    """Write the stimuli of the synthetic study: ``<N>images/image_*.jpg`` and ``<N>images.mat``.

    Parameters
    ----------
    out_dir : path-like
        The ``<N>_Image_Set`` folder.
    n_images, seed : int
        ``seed`` is the study's seed (the same one :func:`write_synthetic_brain` takes).

    Returns
    -------
    pathlib.Path
        The images folder.
    """
    out = Path(out_dir)
    images, names, _ = make_stimuli(n_images, _seeds(seed)[0])
    img_dir = out / f"{n_images}images"
    img_dir.mkdir(parents=True, exist_ok=True)
    for name, img in zip(names, images, strict=True):
        with atomic_path(img_dir / name) as tmp:
            Image.fromarray(img).save(tmp, format="JPEG", quality=95)
    write_stimulus_mat(out / f"{n_images}images.mat", names, images)
    return img_dir


def write_synthetic_brain(
    out_dir: str | os.PathLike,
    n_images: int = 92,
    n_subjects: int = 15,
    seed: int = 0,
    n_voxels: int = 200,
    noise: dict[str, float] | None = None,
    it_weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Simulate the subjects' RDMs from the stimuli already in ``out_dir``.

    Writes ``target_fmri.mat`` (v7.3; ``EVC_RDMs``, ``IT_RDMs``), ``ground_truth.npz``
    (noiseless RDMs and category labels) and ``ground_truth.json``.

    Parameters
    ----------
    out_dir : path-like
        The ``<N>_Image_Set`` folder holding ``<N>images/`` (:func:`write_synthetic_stimuli`).
    n_images, n_subjects, seed, n_voxels : int
    noise : dict, optional
        Region → subject noise SD; defaults to :data:`DEFAULT_NOISE`.
    it_weights : dict, optional
        IT mixing weights (``categorical``, ``deep``); defaults to :data:`IT_WEIGHTS`.

    Returns
    -------
    dict
        The ground-truth description written to ``ground_truth.json``.
    """
    if n_subjects < 2:
        raise ValueError(f"n_subjects must be at least 2 (noise ceilings), got {n_subjects}")
    noise = {**DEFAULT_NOISE, **(noise or {})}
    out = Path(out_dir)
    names, categories = stimulus_labels(n_images)
    # The loader reads the JPEGs back; simulate from the decoded pixels it will see.
    from brainalign.data.algonauts import load_image_folder

    _, decoded = load_image_folder(out / f"{n_images}images")
    brain_rng = np.random.default_rng(_seeds(seed)[1])
    truth, subject_rdms = {}, {}
    for region in ("EVC", "IT"):
        patterns = simulate_region_patterns(
            region, decoded, categories, n_voxels, brain_rng, weights=it_weights
        )
        truth[region] = compute_rdm(patterns)
        subject_rdms[region] = simulate_subject_rdms(patterns, n_subjects, noise[region], brain_rng)
    write_mat73(out / "target_fmri.mat", {f"{r}_RDMs": v for r, v in subject_rdms.items()})
    write_npz(
        out / "ground_truth.npz",
        EVC_true=truth["EVC"],
        IT_true=truth["IT"],
        categories=np.array(categories),
        image_names=np.array(names),
    )
    info = _ground_truth_info(
        n_images, n_subjects, n_voxels, seed, noise, {**IT_WEIGHTS, **(it_weights or {})}
    )
    write_json(info, out / "ground_truth.json")
    return info


def generate_synthetic_study(
    out_dir: str | os.PathLike,
    n_images: int = 92,
    n_subjects: int = 15,
    seed: int = 0,
    n_voxels: int = 200,
    noise: dict[str, float] | None = None,
    it_weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Generate the synthetic study in the Algonauts 2019 layout: the stimuli
    (:func:`write_synthetic_stimuli`), then the subjects (:func:`write_synthetic_brain`).

    Writes, under ``out_dir``: ``<N>images/image_*.jpg``, ``<N>images.mat``,
    ``target_fmri.mat`` (v7.3; ``EVC_RDMs``, ``IT_RDMs``), ``ground_truth.npz`` (noiseless
    RDMs and category labels) and ``ground_truth.json`` (parameters and description).

    Parameters
    ----------
    out_dir : path-like
        The ``<N>_Image_Set`` folder to create.
    n_images, n_subjects, seed, n_voxels : int
    noise : dict, optional
        Region → subject noise SD; defaults to :data:`DEFAULT_NOISE`.
    it_weights : dict, optional
        IT mixing weights (``categorical``, ``deep``); defaults to :data:`IT_WEIGHTS`.

    Returns
    -------
    dict
        The ground-truth description written to ``ground_truth.json``.
    """
    if n_subjects < 2:
        raise ValueError(f"n_subjects must be at least 2 (noise ceilings), got {n_subjects}")
    write_synthetic_stimuli(out_dir, n_images, seed)
    return write_synthetic_brain(out_dir, n_images, n_subjects, seed, n_voxels, noise, it_weights)


def _ground_truth_info(
    n_images: int,
    n_subjects: int,
    n_voxels: int,
    seed: int,
    noise: dict[str, float],
    it_weights: dict[str, float],
) -> dict[str, Any]:
    return {
        "description": "Synthetic Algonauts-format study generated by brainalign. EVC voxels "
        "are tuned to low-level image structure (Gabor energy at 6 orientations x "
        "4 frequencies and colour, averaged over the image); IT patterns are a "
        "random projection of deep features (fc6 of a reference Sobel+BN AlexNet "
        "with its own seed) plus categorical prototypes (animacy, face/body, "
        "human/animal, category, item). Subject RDMs = 1 - Pearson r of the "
        "truth plus Gaussian voxel noise.",
        "it_weights": dict(it_weights),
        "planted": {
            "EVC": "low-level image structure (early layers should fit best)",
            "IT": "categorical structure (later layers should fit best)",
        },
        "n_images": n_images,
        "n_subjects": n_subjects,
        "n_voxels": n_voxels,
        "seed": seed,
        "noise_sd": noise,
        "categories": dict(category_counts(n_images)),
    }
