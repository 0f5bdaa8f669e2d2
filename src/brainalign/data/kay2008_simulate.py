"""A simulated Kay 2008 data set in the real file format, with a planted truth.

:func:`simulate_kay` writes ``kay_images.npz``, ``kay_labels.npy`` and ``kay_labels_val.npy``
through :func:`~brainalign.data.kay2008.write_kay`, plus ``planted.json`` (parameters, the class
of every item) and ``planted_latent.npz`` (the planted features of every item).

Stimuli (greyscale, ``image_size`` square, float32 around 0; random position, size,
orientation, contrast, offset and pixel noise):

* the **layout** (a soft blob, sharp-edged rectangles, or the ground below a smooth horizon) is
  each class's own one (animal blob, artifact rectangles, geological horizon) with probability
  :data:`LAYOUT_PREFERENCE` = 0.6, else one of the other two: coarse shape alone classifies
  about 60 % of the items;
* the class is carried by the **texture** filling the object, period 3-9 px: a sinusoidal grating
  (**animal**), a checkerboard (**artifact**), isotropic band-pass noise (**geological
  formation**). Blur removes the finest textures first and all of them at large widths, so a
  classifier trained on sharp images loses accuracy as blur grows, down to what shape gives;
* the dropped classes (person, fungus, fruit, plant, entity) — 1-5 smoothly shaded disks, so the
  loader's class filter has something to drop (``dropped_fraction`` of each split).

The kept classes are **mildly unbalanced** on purpose, in the same proportions in both splits
(:data:`CLASS_PROPORTIONS`: 40 % animal, 36 % artifact, 24 % geological formation, exact counts by
largest remainders), so a class-balanced sampler matters but no class is rare.

Planted brain (per voxel column; ``roi`` 1..7 blocks in ROI order, ``n_other_voxels`` label-0
"Other" voxels inserted at random positions other than column 0, so column 0 is a V1 voxel):

* ``latent`` (n, latent_dim) — per item ``centroid[class] + item_scale * item``: class centroids
  share a common component (pairwise cosine about :data:`SHARED_WEIGHT`); the item part mixes a
  random projection of the item's image parameters (position, size, orientation, contrast) with
  an independent Gaussian draw;
* ``energy`` (n, grid²) — local RMS contrast (image minus its 5×5 box mean) in each window of a
  ``grid`` × ``grid`` partition of the image;
* low-level drive of a voxel = a positive mix (Dirichlet weights) of a few windows' energy
  (V1 1, V2 2, V3 3, V3A/V3B 4, V4 6 windows, LatOcc all); latent drive = ``latent @ w`` with a
  random ``w``; each standardised over the training items;
* signal = ``(1 - mix[roi]) * low + mix[roi] * latent`` with :data:`ROI_MIX` (V1-V3 0,
  V3A/V3B 0.5, V4 0.8, LatOcc 1); "Other" voxels carry no signal;
* response = signal + ``noise`` × N(0, 1), then every column z-scored over the training items
  and over the test items separately, as the real data.

``planted_latent.npz`` keys (rows in the ORIGINAL item order of each split, before the class
filter; select the kept items with ``KayData.index_train`` / ``index_test``, e.g. with
:func:`planted_embedding`): ``train`` (n_train, latent_dim) and ``test`` (n_test, latent_dim)
float32, the latent above (the study's brain-like reference embedding); ``energy_train``,
``energy_test`` (n, grid²) float32; ``centroids`` (8, latent_dim) float32 and
``centroid_classes`` (8,) str (kept classes first, then the dropped ones).

Everything derives from ``np.random.default_rng(seed)`` (independent spawned streams for the
layout, the training and the test split): the same arguments give byte-identical files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter

from brainalign.data.kay2008 import (
    DROPPED_CLASSES,
    FILES,
    KEPT_CLASSES,
    ROI_NAMES,
    write_kay,
)
from brainalign.io.files import write_json, write_npz

__all__ = [
    "CLASS_PROPORTIONS",
    "ROI_MIX",
    "KaySimulation",
    "contrast_energy",
    "planted_embedding",
    "simulate_kay",
]

#: Share of each kept class among the kept items of a split.
CLASS_PROPORTIONS = {"animal": 0.40, "artifact": 0.36, "geological formation": 0.24}
#: Weight of the latent (class + item) drive per ROI; the rest is low-level contrast energy.
ROI_MIX = {"V1": 0.0, "V2": 0.0, "V3": 0.0, "V3A": 0.5, "V3B": 0.5, "V4": 0.8, "LatOcc": 1.0}
#: Number of energy windows a voxel pools, per ROI (0 = all windows).
ROI_WINDOWS = {"V1": 1, "V2": 2, "V3": 3, "V3A": 4, "V3B": 4, "V4": 6, "LatOcc": 0}
#: Share of the class centroids' variance common to all classes.
SHARED_WEIGHT = 0.3
#: Scale of the within-class item part of the latent.
ITEM_SCALE = 0.35
#: Chance that a kept class's object has its own layout (animal blob, artifact rectangles,
#: geological horizon); the texture alone identifies the class.
LAYOUT_PREFERENCE = 0.85
PLANTED_FILES = {"planted": "planted.json", "planted_latent": "planted_latent.npz"}
_ALL_CLASSES = KEPT_CLASSES + DROPPED_CLASSES


@dataclass(frozen=True, eq=False)
class KaySimulation:
    """What :func:`simulate_kay` wrote.

    Attributes
    ----------
    directory : pathlib.Path
    files : dict of str to pathlib.Path
        ``images``, ``labels``, ``labels_val``, ``planted``, ``planted_latent``.
    classes_train : ndarray, shape (n_train,), str
        Level-0 class of every training item (original order, dropped classes included).
    classes_test : ndarray, shape (n_test,), str
    latent_train : ndarray, shape (n_train, latent_dim), float32
        The planted latent (as in ``planted_latent.npz``).
    latent_test : ndarray, shape (n_test, latent_dim), float32
    roi : ndarray, shape (n_voxels,), int64
        The ROI label of every voxel column.
    """

    directory: Path
    files: dict[str, Path]
    classes_train: np.ndarray
    classes_test: np.ndarray
    latent_train: np.ndarray
    latent_test: np.ndarray
    roi: np.ndarray


def contrast_energy(images: np.ndarray, grid: int = 4) -> np.ndarray:
    """Local RMS contrast per window: the low-level feature the early ROIs respond to.

    Parameters
    ----------
    images : array_like, shape (n, H, W), real
    grid : int
        The image is cut into ``grid`` × ``grid`` windows (row-major).

    Returns
    -------
    ndarray, shape (n, grid * grid), float64
        ``sqrt(mean((img - box5(img))**2))`` in each window, ``box5`` the 5×5 box mean.
    """
    arr = np.asarray(images, dtype=np.float64)
    high = arr - uniform_filter(arr, size=(1, 5, 5), mode="reflect")
    sq = high**2
    rows = np.linspace(0, arr.shape[1], grid + 1).astype(int)
    cols = np.linspace(0, arr.shape[2], grid + 1).astype(int)
    out = np.empty((arr.shape[0], grid * grid))
    for i in range(grid):
        for j in range(grid):
            window = sq[:, rows[i] : rows[i + 1], cols[j] : cols[j + 1]]
            out[:, i * grid + j] = np.sqrt(window.mean(axis=(1, 2)))
    return out


#: WordNet levels 1..3 (3 = an ImageNet-like leaf) per level-0 class: "level1/level2/leaf; ...".
WORDNET = {
    "animal": "chordate/vertebrate/tabby; chordate/bird/goldfinch; invertebrate/arthropod/monarch",
    "artifact": "instrumentality/equipment/croquet ball; structure/building/church; "
    "instrumentality/device/grand piano; covering/clothing/cardigan",
    "geological formation": "natural elevation/mountain/alp; shore/seashore/sandbar; "
    "natural depression/valley/valley; natural elevation/cliff/promontory",
    "person": "organism/adult/scuba diver; organism/worker/ballplayer",
    "fungus": "basidiomycete/mushroom/agaric; basidiomycete/bolete/bolete",
    "fruit": "edible fruit/apple/Granny Smith; seed/nut/buckeye",
    "plant": "vascular plant/flower/daisy; vascular plant/herb/rapeseed",
    "entity": "abstraction/communication/web site; matter/plant material/hay",
}


def _ellipse(
    xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, rx: float, ry: float, angle: float
) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    u, v = (xx - cx) * c + (yy - cy) * s, (yy - cy) * c - (xx - cx) * s
    return np.sqrt((u / rx) ** 2 + (v / ry) ** 2)


def _layout(
    rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray, size: int, preferred: int
) -> tuple:
    """Where the textured object is: a soft blob, a few sharp-edged rectangles, or the ground
    below a smooth horizon; the class's ``preferred`` one with probability
    :data:`LAYOUT_PREFERENCE`, each other with half the rest. Mask in [0, 1]."""
    others = [k for k in range(3) if k != preferred]
    kind = preferred if rng.random() < LAYOUT_PREFERENCE else others[rng.integers(2)]
    if kind == 0:
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.16, 0.28)
        dist = _ellipse(xx, yy, cx, cy, r, r * rng.uniform(0.6, 1.0), rng.uniform(0, np.pi))
        return 1 / (1 + np.exp(np.clip((dist - 1) * r * size / 1.5, -50, 50))), (cx, cy, r)
    if kind == 1:
        mask = np.zeros_like(xx)
        for _ in range(rng.integers(1, 4)):
            x0, y0 = rng.uniform(0.1, 0.55, size=2)
            w, h = rng.uniform(0.2, 0.4, size=2)
            mask[(xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)] = 1.0
        return mask, (x0 + w / 2, y0 + h / 2, w * h * 2)
    h0, amp = rng.uniform(0.35, 0.65), rng.uniform(0.03, 0.1)
    depth = yy - (h0 + amp * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * xx + rng.uniform(0, 6)))
    return 1 / (1 + np.exp(np.clip(-depth * size / 3, -50, 50))), (0.5, (1 + h0) / 2, 1 - h0)


def _texture(name: str, rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray,
             size: int) -> tuple[np.ndarray, float]:  # fmt: skip
    """The class's texture, period 3-9 px: a sinusoidal grating (animal), a checkerboard
    (artifact) or isotropic band-pass noise (geological formation); zero mean, SD about 0.7."""
    theta, period = rng.uniform(0, np.pi), rng.uniform(3.0, 9.0) / size
    u = (xx * np.cos(theta) + yy * np.sin(theta)) / period
    v = (yy * np.cos(theta) - xx * np.sin(theta)) / period
    if name == "animal":
        return np.sin(2 * np.pi * u + rng.uniform(0, 2 * np.pi)), theta
    if name == "artifact":
        return 0.7 * np.sign(np.sin(np.pi * u) * np.sin(np.pi * v)), theta
    from scipy.ndimage import gaussian_filter

    noise = rng.standard_normal(xx.shape)
    band = gaussian_filter(noise, period * size / 4) - gaussian_filter(noise, period * size / 2)
    return 0.7 * band / band.std(), theta


def _dropped(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray, size: int, k: int) -> tuple:
    """``k`` smoothly shaded disks (the dropped classes)."""
    img = np.zeros_like(xx)
    for _ in range(k):
        cx, cy, r = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75), rng.uniform(0.08, 0.2)
        dist = _ellipse(xx, yy, cx, cy, r, r, 0.0)
        img += rng.uniform(0.4, 1.0) * np.clip(1 - dist, 0, None) ** 0.5
    return img, (cx, cy, r * 2, 0.0)


def _make_images(
    classes: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (n, size, size) float32, image parameters (n, 6) and WordNet labels (4, n)."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    images = np.empty((classes.size, size, size), dtype=np.float32)
    params = np.empty((classes.size, 6))
    wordnet = []
    for i, name in enumerate(classes):
        if name in KEPT_CLASSES:
            mask, (px, py, scale) = _layout(rng, xx, yy, size, KEPT_CLASSES.index(name))
            texture, angle = _texture(name, rng, xx, yy, size)
            shade = rng.uniform(-0.3, 0.3) * (yy - 0.5)  # class-independent smooth background
            img = shade + mask * (rng.choice([-0.3, 0.3]) + 0.7 * texture)
        else:
            k = DROPPED_CLASSES.index(name) + 1
            img, (px, py, scale, angle) = _dropped(rng, xx, yy, size, k)
        contrast, offset = rng.uniform(0.35, 1.0), rng.uniform(-0.3, 0.3)
        noisy = offset + contrast * img + 0.04 * rng.standard_normal(img.shape)
        images[i] = noisy
        centred = ((px - 0.5) * 5, (py - 0.5) * 5, scale * 5 - 1, (contrast - 0.675) / 0.325)
        params[i] = (*centred, np.cos(2 * angle), np.sin(2 * angle))
        options = WORDNET[name].split("; ")
        wordnet.append((name, *options[rng.integers(len(options))].split("/")))
    return images, params, np.array(wordnet, dtype=str).T


def _allocate(total: int, shares: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total`` in proportion to ``shares`` (largest remainders)."""
    exact = total * shares / shares.sum()
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _draw_classes(rng: np.random.Generator, n: int, dropped_fraction: float) -> np.ndarray:
    n_dropped = int(round(dropped_fraction * n))
    kept = _allocate(n - n_dropped, np.array([CLASS_PROPORTIONS[c] for c in KEPT_CLASSES]))
    dropped = _allocate(n_dropped, np.ones(len(DROPPED_CLASSES)))
    names = np.repeat(np.array(_ALL_CLASSES), np.concatenate([kept, dropped]))
    return names[rng.permutation(n)]


def _voxel_layout(
    voxels_per_roi: tuple[int, ...], n_other: int, rng: np.random.Generator
) -> np.ndarray:
    blocks = np.repeat(np.arange(1, 8), voxels_per_roi)
    n_vox = blocks.size + n_other
    roi = np.zeros(n_vox, dtype=np.int64)
    other = rng.choice(np.arange(1, n_vox), size=n_other, replace=False) if n_other else []
    visual = np.setdiff1d(np.arange(n_vox), other)
    roi[visual] = blocks
    return roi


def _encoding(
    roi: np.ndarray, n_windows: int, latent_dim: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window weights (n_windows, v), latent loadings (latent_dim, v) and mix (v,) per voxel."""
    pool = np.zeros((n_windows, roi.size))
    mix = np.zeros(roi.size)
    for v, label in enumerate(roi):
        if label == 0:
            continue
        name = ROI_NAMES[label]
        k = ROI_WINDOWS[name] or n_windows
        chosen = rng.choice(n_windows, size=min(k, n_windows), replace=False)
        pool[chosen, v] = rng.dirichlet(np.ones(chosen.size))
        mix[v] = ROI_MIX[name]
    loadings = rng.standard_normal((latent_dim, roi.size)) / np.sqrt(latent_dim)
    return pool, loadings, mix


def _latent(
    classes: np.ndarray,
    params: np.ndarray,
    centroids: np.ndarray,
    projection: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    ids = np.array([_ALL_CLASSES.index(c) for c in classes])
    own = rng.standard_normal((classes.size, centroids.shape[1]))
    item = np.sqrt(0.5) * (params @ projection) + np.sqrt(0.5) * own
    return centroids[ids] + ITEM_SCALE * item


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays centred and scaled per column by the mean and SD of ``train``."""
    mean, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (train - mean) / sd, (test - mean) / sd


def _split(
    n: int, dropped_fraction: float, image_size: int, grid: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    classes = _draw_classes(rng, n, dropped_fraction)
    images, params, leaves = _make_images(classes, image_size, rng)
    return {
        "classes": classes,
        "images": images,
        "params": params,
        "wordnet": leaves,
        "energy": contrast_energy(images, grid),
    }


def simulate_kay(
    directory: str | os.PathLike,
    *,
    n_train: int = 240,
    n_test: int = 90,
    image_size: int = 128,
    voxels_per_roi: tuple[int, ...] = (60, 60, 60, 60, 60, 60, 60),
    n_other_voxels: int = 20,
    dropped_fraction: float = 0.15,
    noise: float = 4.0,
    latent_dim: int = 100,
    grid: int = 4,
    seed: int = 0,
) -> KaySimulation:
    """Write a simulated Kay 2008 data set with a planted truth (see the module docstring).

    Parameters
    ----------
    directory : path-like
        Created if needed; receives the three data files, ``planted.json`` and
        ``planted_latent.npz``.
    n_train, n_test : int
        Items per split, dropped classes included.
    image_size : int
        Side of the square images (at least 32).
    voxels_per_roi : tuple of 7 int
        Voxels of V1, V2, V3, V3A, V3B, V4, LatOcc.
    n_other_voxels : int
        Label-0 voxels (pure noise), at random columns other than 0.
    dropped_fraction : float
        Share of each split in the dropped classes (in [0, 1)).
    noise : float
        SD of the Gaussian response noise, in units of the SD of each (standardised) drive. The
        default 4 gives a nearest-class-mean decoder on V4 + LatOcc about 80 % test accuracy.
    latent_dim : int
        Length of the planted latent vector.
    grid : int
        The contrast-energy windows are ``grid`` × ``grid``.
    seed : int

    Returns
    -------
    KaySimulation
    """
    voxels_per_roi = tuple(int(v) for v in voxels_per_roi)
    if len(voxels_per_roi) != 7 or min(voxels_per_roi) < 1:
        raise ValueError(f"voxels_per_roi needs 7 positive counts, got {voxels_per_roi}")
    if not 0 <= dropped_fraction < 1 or image_size < 32 or min(n_train, n_test) < 3:
        raise ValueError("need 0 <= dropped_fraction < 1, image_size >= 32, n_train, n_test >= 3")
    layout_rng, train_rng, test_rng, noise_rng = np.random.default_rng(seed).spawn(4)
    roi = _voxel_layout(voxels_per_roi, int(n_other_voxels), layout_rng)
    pool, loadings, mix = _encoding(roi, grid * grid, latent_dim, layout_rng)
    shared = layout_rng.standard_normal(latent_dim)
    specific = layout_rng.standard_normal((len(_ALL_CLASSES), latent_dim))
    centroids = np.sqrt(SHARED_WEIGHT) * shared + np.sqrt(1 - SHARED_WEIGHT) * specific
    projection = layout_rng.standard_normal((6, latent_dim)) / np.sqrt(6)
    tr = _split(n_train, dropped_fraction, image_size, grid, train_rng)
    te = _split(n_test, dropped_fraction, image_size, grid, test_rng)
    for part, rng in ((tr, train_rng), (te, test_rng)):
        part["latent"] = _latent(part["classes"], part["params"], centroids, projection, rng)
    low = _standardise(tr["energy"] @ pool, te["energy"] @ pool)
    high = _standardise(tr["latent"] @ loadings, te["latent"] @ loadings)
    for k, part in enumerate((tr, te)):
        part["signal"] = signal = ((1 - mix) * low[k] + mix * high[k]) * (roi > 0)
        noisy = signal + noise * noise_rng.standard_normal(signal.shape)
        part["responses"] = _standardise(noisy, noisy)[0]  # z-scored within the split
    directory = Path(directory)
    files = write_kay(
        directory,
        stimuli=tr["images"],
        stimuli_test=te["images"],
        responses=tr["responses"],
        responses_test=te["responses"],
        roi=roi,
        roi_names=ROI_NAMES,
        labels=tr["wordnet"],
        labels_val=te["wordnet"],
    )
    files.update({role: directory / name for role, name in PLANTED_FILES.items()})
    write_npz(
        files["planted_latent"],
        train=tr["latent"].astype(np.float32),
        test=te["latent"].astype(np.float32),
        energy_train=tr["energy"].astype(np.float32),
        energy_test=te["energy"].astype(np.float32),
        signal_train=tr["signal"].astype(np.float32),
        signal_test=te["signal"].astype(np.float32),
        centroids=centroids.astype(np.float32),
        centroid_classes=np.array(_ALL_CLASSES),
    )
    settings = {
        "n_train": n_train, "n_test": n_test, "image_size": image_size,
        "voxels_per_roi": dict(zip(ROI_NAMES[1:], voxels_per_roi, strict=True)),
        "n_other_voxels": int(n_other_voxels), "dropped_fraction": dropped_fraction,
        "noise": noise, "latent_dim": latent_dim, "grid": grid, "seed": seed,
    }  # fmt: skip
    write_json(_planted_record(settings, roi, tr["classes"], te["classes"]), files["planted"])
    return KaySimulation(
        directory=directory,
        files=files,
        classes_train=tr["classes"],
        classes_test=te["classes"],
        latent_train=tr["latent"].astype(np.float32),
        latent_test=te["latent"].astype(np.float32),
        roi=roi,
    )


def _planted_record(
    settings: dict, roi: np.ndarray, classes_train: np.ndarray, classes_test: np.ndarray
) -> dict:
    def counts(classes: np.ndarray) -> dict[str, int]:
        return {c: int(np.sum(classes == c)) for c in _ALL_CLASSES}

    return {
        "description": (
            "Simulated Kay 2008 data (brainalign.data.kay2008_simulate): early ROIs (V1-V3) "
            "respond to local contrast energy, V3A/V3B half and V4/LatOcc mostly to the planted "
            "latent (class centroid + item part); Gaussian noise; columns z-scored per split."
        ),
        "parameters": settings,
        "class_proportions": CLASS_PROPORTIONS,
        "roi_mix": ROI_MIX,
        "roi_windows": ROI_WINDOWS,
        "shared_weight": SHARED_WEIGHT,
        "item_scale": ITEM_SCALE,
        "class_counts": {"train": counts(classes_train), "test": counts(classes_test)},
        "classes": {"train": classes_train.tolist(), "test": classes_test.tolist()},
        "roi_counts": {name: int(np.sum(roi == k)) for k, name in enumerate(ROI_NAMES)},
        "files": {**FILES, **PLANTED_FILES},
        "latent": (
            "planted_latent.npz: train (n_train, latent_dim), test (n_test, latent_dim) "
            "float32, rows in the original item order (before the class filter); select kept "
            "items with KayData.index_train / index_test"
        ),
    }


def planted_embedding(
    sim_dir: str | os.PathLike, index: np.ndarray | None = None, *, split: str = "test"
) -> np.ndarray:
    """The planted latent of a simulation's items (the brain-like reference embedding).

    Parameters
    ----------
    sim_dir : path-like
        The folder :func:`simulate_kay` wrote.
    index : array_like of int, shape (k,), optional
        Rows to take, e.g. ``KayData.index_test`` (positions in the original item order); all
        items when omitted.
    split : {"train", "test"}

    Returns
    -------
    ndarray, shape (k, latent_dim), float32
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    with np.load(Path(sim_dir) / PLANTED_FILES["planted_latent"], allow_pickle=False) as d:
        latent = d[split]
    return latent if index is None else latent[np.asarray(index, dtype=np.int64)]
