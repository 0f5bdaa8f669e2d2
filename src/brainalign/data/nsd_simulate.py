"""A small simulated NSD study in the real layout and formats, with a planted hierarchy.

:func:`simulate_nsd` writes, under ``directory`` (paths of :data:`brainalign.data.nsd.FILES`):

* ``nsd_expdesign.mat`` (MATLAB v5, 1-based): ``sharedix`` = ``n_shared`` sorted random ids of
  the ``n_images`` pool; ``subjectim`` (n_subjects, n_shared + n_unique): the shared ids first
  (sorted, so list positions < n_shared are the shared images), then the subject's own
  ``n_unique = (n_images - n_shared) // n_subjects`` images in random order; ``masterordering``
  (1, n_sessions · trials_per_session): consecutive random permutations of the list, so each image
  is shown about 3 times with the default ``trials_per_session``;
* ``nsd_stimuli.hdf5``: ``imgBrick`` (n_images, S, S, 3) uint8, smooth coloured noise plus 1-3
  windowed gratings (fine to coarse wavelengths) and one flat-coloured disk or square;
* per subject ``betas_sessionNN.nii.gz`` int16 (X, Y, Z, trials_per_session) = round(300 × %
  signal change), zero outside an ellipsoidal brain; ``ncsnr.nii.gz`` float32 (the PLANTED value,
  not an estimate); ``roi/prf-visualrois.nii.gz`` and ``roi/Kastner2015.nii.gz`` int16, -1 outside
  the brain. ROIs are slabs along Y (V1, V2, V3, hV4) in the X < 3X/4 part of the brain, cut at
  the quartiles of those voxels along Y (whole rows, so about equal voxel counts), V1-V3 in
  ventral (Z < Z/2: codes 1, 3, 5) and dorsal (2, 4, 6) halves, hV4 (7) over both. Kastner2015
  moves the slab boundaries by one row, labels the dorsal hV4 slab 8 (VO1) and also labels the
  column X = 3X/4 that prf-visualrois leaves empty; the truth uses prf-visualrois over
  Kastner2015 (methods §4.1).

Hidden encoder (:func:`encoder_features`; luminance = RGB mean / 255 minus its image mean):

* ``early`` (4, S/4, S/4): quadrature Gabor energy, 4 orientations, wavelength 8 px, σ 4 px,
  averaged in 4 × 4 blocks;
* ``mid`` (8, S/8, S/8): ReLU of a fixed random 3 × 3 conv over [early, coarse Gabor energy
  (wavelength 16 px, σ 7 px)] after 2 × 2 average pooling;
* ``deep`` (16, S/16, S/16): second-order "texture boundaries" built on ``mid``: per mid channel
  the absolute difference between its (log, standardised) value at a position and two cells
  (16 px) to the right, and two cells below (edge-padded), after 2 × 2 average pooling. A
  rectifying function of the lower levels that no linear read-out of them gives: an encoder
  trained on the higher areas must compute the lower features to get it; one trained on V1
  has no reason to compute it.

Each channel is then transformed by log(1 + x) and standardised over the images. A voxel of ROI r
is cumulative over the hierarchy: it reads each level of :data:`ROI_MIX` [r] through one Gaussian
pooling field (centre uniform in [0.15, 0.85]² of the image, σ :data:`ROI_SIGMA` [r] in image
widths, weights summing to 1) with random normal channel weights (for ``early``: positive,
1 + 0.3 N(0, 1) clipped at 0.1, a weak orientation bias, as fMRI voxels have); each level's
drive is standardised over the pool, weighted by :data:`ROI_MIX` and summed, and the sum
standardised. Trial beta (% signal change) = offset[voxel, session] + gain[voxel] · (ncsnr ·
signal[image] + N(0, 1)), ncsnr uniform in :data:`ROI_NCSNR` [r] (0 for brain voxels outside
V1-hV4: noise only), gain U(1, 2), offset N(0, 0.5) per session (removed by the per-session
z-scoring).

Why these choices (the transfer matrix's planted asymmetry, St-Yves et al. 2022): higher areas
read the lower levels too (hV4 mostly the deep one), and their extra level is a nonlinear
function *of* the lower ones, so a GNet encoder trained on hV4 carries V1's features while one
trained on V1 lacks hV4's (α > 0).
Every ROI has about as many voxels, the same SNR range and the same pooling-field size (σ 0.24;
in the brain fields widen up the hierarchy): at the default 64-px input GNet's feature maps are
only 5 × 5 and 3 × 3, and with fewer, noisier hV4 voxels or much narrower V1 fields the sign of
α follows how much data or spatial precision each ROI's encoder gets rather than the feature
hierarchy (measured variants: README, GNet section).

``planted.json`` holds the parameters and the above tables; ``planted.npz`` the features
(``features_<level>``, (n_images, C, G, G) float32) and per subject ``subjAA_<x>`` with x =
``voxel_index`` (flat C-order index in the volume of every brain voxel, the order of
``read_roi_labels``/mask indexing), ``group`` (0 none, 1..4 V1..hV4), ``center`` (n, 2) (x, y),
``sigma``, ``ncsnr``, ``weights`` (n, 3, 16): per level (:data:`LEVELS`) the channel weights
times the level's :data:`ROI_MIX` weight, zero-padded, ``signal`` (n_images, n) float32.
Everything derives from ``np.random.default_rng(seed)``; gzip, HDF5 and zip timestamps are fixed,
so the same arguments give byte-identical files.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal import fftconvolve

from brainalign.data.nsd import BETA_SCALE, FILES, ROI_NAMES, nsd_paths
from brainalign.io.files import atomic_path, write_json

__all__ = [
    "LEVELS",
    "ROI_MIX",
    "ROI_NCSNR",
    "ROI_SIGMA",
    "encoder_features",
    "make_images",
    "simulate_nsd",
]

#: Feature levels of the hidden encoder, in depth order.
LEVELS = ("early", "mid", "deep")
#: Weight of each feature level in the drive of each ROI's voxels (cumulative hierarchy).
ROI_MIX = {
    "V1": {"early": 1.0},
    "V2": {"early": 1.0, "mid": 0.5},
    "V3": {"early": 1.0, "mid": 0.5, "deep": 0.6},
    "hV4": {"early": 0.6, "mid": 0.5, "deep": 1.2},
}
#: Pooling-field SD per ROI, in image widths.
ROI_SIGMA = {"V1": 0.24, "V2": 0.24, "V3": 0.24, "hV4": 0.24}
#: Range of the planted noise-ceiling SNR per ROI (uniform; the same for every ROI).
ROI_NCSNR = {"V1": (0.5, 0.9), "V2": (0.5, 0.9), "V3": (0.5, 0.9), "hV4": (0.5, 0.9)}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: posix, Created on: Thu Jan  1 00:00:00 1970"
_AFFINE = np.diag([1.8, 1.8, 1.8, 1.0])


# --------------------------------------------------------------------------- images


def _grating(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray, size: int) -> np.ndarray:
    theta = rng.uniform(0, np.pi)
    wavelength = rng.choice([3.0, 5.0, 8.0, 14.0])
    cx, cy = rng.uniform(0.2, 0.8, 2) * size
    window = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (rng.uniform(0.1, 0.25) * size) ** 2))
    phase = (xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / wavelength
    return window * np.sin(phase + rng.uniform(0, 2 * np.pi))


def make_images(rng: np.random.Generator, n: int, size: int = 64) -> np.ndarray:
    """Smooth textured colour images (see the module docstring).

    Returns
    -------
    ndarray, shape (n, size, size, 3), uint8
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        noise = rng.normal(size=(size, size, 3))
        img = gaussian_filter(noise, sigma=(rng.uniform(2, 6), rng.uniform(2, 6), 0))
        img = img / (img.std() + 1e-12) * 0.15
        lum = sum(_grating(rng, xx, yy, size) for _ in range(rng.integers(1, 4)))
        img = img + 0.25 * lum[..., None]
        cx, cy = rng.uniform(0.2, 0.8, 2) * size
        radius = rng.uniform(0.08, 0.2) * size
        if rng.random() < 0.5:
            shape = (xx - cx) ** 2 + (yy - cy) ** 2 < radius**2
        else:
            shape = (np.abs(xx - cx) < radius) & (np.abs(yy - cy) < radius)
        img[shape] = rng.uniform(-0.4, 0.4, 3)
        out[i] = np.clip(np.round((img + 0.5) * 255), 0, 255).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- hidden encoder


def _gabor_energy(lum: np.ndarray, wavelength: float, sigma: float) -> np.ndarray:
    half = int(np.ceil(3 * sigma))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    env = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    maps = []
    for theta in np.arange(4) * np.pi / 4:
        arg = (xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / wavelength
        even, odd = env * np.cos(arg), env * np.sin(arg)
        even -= even.mean()
        e = fftconvolve(lum, even[None], mode="same", axes=(1, 2))
        o = fftconvolve(lum, odd[None], mode="same", axes=(1, 2))
        maps.append(np.sqrt(e**2 + o**2))
    return np.stack(maps, axis=1)


def _pool(x: np.ndarray, k: int) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // k, k, w // k, k).mean(axis=(3, 5))


def _conv3(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ReLU of a 3 × 3 'same' convolution; weights (out, in, 3, 3)."""
    pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = x.shape[2:]
    out = sum(
        np.einsum("nchw,oc->nohw", pad[:, :, i : i + h, j : j + w], weights[:, :, i, j])
        for i in range(3)
        for j in range(3)
    )
    return np.maximum(out, 0.0)


def _standardise(x: np.ndarray) -> np.ndarray:
    x = np.log1p(np.maximum(x, 0.0))
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    sd = x.std(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / np.where(sd > 0, sd, 1.0)


def _shifted(x: np.ndarray, d: int, axis: int) -> np.ndarray:
    """``x`` moved by ``-d`` cells along ``axis`` (value at i = x at i + d, edge-padded)."""
    idx = np.minimum(np.arange(x.shape[axis]) + d, x.shape[axis] - 1)
    return np.take(x, idx, axis=axis)


def encoder_features(images: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """The hidden encoder's three feature levels (module docstring).

    Parameters
    ----------
    images : ndarray, shape (n, S, S, 3), uint8
        S divisible by 16.
    seed : int
        Seed of the fixed random conv weights.

    Returns
    -------
    dict of level -> ndarray, shapes (n, 4, S/4, S/4), (n, 8, S/8, S/8), (n, 16, S/16, S/16),
    float32, log-transformed and standardised per channel over the images.
    """
    rng = np.random.default_rng(seed)
    lum = images.astype(np.float64).mean(axis=3) / 255.0
    lum -= lum.mean(axis=(1, 2), keepdims=True)
    early = _standardise(_pool(_gabor_energy(lum, 8.0, 4.0), 4))
    coarse = _standardise(_pool(_gabor_energy(lum, 16.0, 7.0), 4))
    stack = _pool(np.concatenate([early, coarse], axis=1), 2)
    mid = _standardise(_conv3(stack, rng.normal(0, 1 / np.sqrt(72), (8, 8, 3, 3))))
    boundaries = [np.abs(mid - _shifted(mid, 2, axis)) for axis in (3, 2)]
    deep = _standardise(_pool(np.concatenate(boundaries, axis=1), 2))
    feats = {"early": early, "mid": mid, "deep": deep}
    return {k: v.astype(np.float32) for k, v in feats.items()}


# --------------------------------------------------------------------------- volumes


def _roi_volumes(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brain mask, prf-visualrois and Kastner2015 label volumes (int16, -1 outside)."""
    X, Y, Z = shape
    x, y, z = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    centre = [(s - 1) / 2 for s in shape]
    brain = (
        sum(((c - m) / (s / 2)) ** 2 for c, m, s in zip((x, y, z), centre, shape, strict=True))
        <= 1.05
    )
    edge = (3 * X) // 4
    rows = (brain & (x < edge)).sum(axis=(0, 2)).astype(np.float64)
    quantile = (np.cumsum(rows) - rows / 2) / rows.sum()  # of each row's centre
    slab_of_row = np.minimum((quantile * 4).astype(np.int64), 3)
    dorsal = z >= Z // 2

    def labels(slab: np.ndarray, dorsal_hv4: int) -> np.ndarray:
        return np.where(slab < 3, 2 * slab + 1 + dorsal, np.where(dorsal, dorsal_hv4, 7))

    prf = np.where(x < edge, labels(slab_of_row[y], 7), 0)
    kastner = np.where(x <= edge, labels(slab_of_row[np.maximum(y - 1, 0)], 8), 0)
    prf, kastner = (np.where(brain, v, -1).astype(np.int16) for v in (prf, kastner))
    return brain, prf, kastner


def _merged_groups(prf: np.ndarray, kastner: np.ndarray) -> np.ndarray:
    labels = np.where(prf > 0, prf, np.maximum(kastner, 0))
    group = np.zeros(labels.shape, dtype=np.int64)
    for i, codes in enumerate(((1, 2), (3, 4), (5, 6), (7,))):
        group[np.isin(labels, codes)] = i + 1
    return group


def _gzip_nifti(path: Path, data: np.ndarray) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(data, _AFFINE)
    img.header.set_data_dtype(data.dtype)
    img.header.set_xyzt_units("mm", "sec")
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(img.to_bytes())


def _write_mat(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, arrays, format="5", oned_as="row")
    data = bytearray(buf.getvalue())
    data[:116] = _MAT_HEADER.ljust(116, b" ")
    with atomic_path(path) as tmp:
        tmp.write_bytes(bytes(data))


def _write_hdf5(path: Path, key: str, data: np.ndarray) -> None:
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", track_order=False) as fh:
            fh.create_dataset(key, data=data, track_times=False)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE), buf.getvalue())


# --------------------------------------------------------------------------- design


def _design(rng, n_subjects, n_images, n_shared, n_trials) -> dict[str, np.ndarray]:
    pool = rng.permutation(n_images)
    shared = np.sort(pool[:n_shared])
    n_unique = (n_images - n_shared) // n_subjects
    rows = [
        np.concatenate([shared, rng.permutation(pool[n_shared + s * n_unique :][:n_unique])])
        for s in range(n_subjects)
    ]
    n_list = n_shared + n_unique
    rounds = -(-n_trials // n_list)
    order = np.concatenate([rng.permutation(n_list) for _ in range(rounds)])[:n_trials]
    return {
        "masterordering": (order + 1).astype(np.float64)[None],
        "subjectim": (np.stack(rows) + 1).astype(np.float64),
        "sharedix": (shared + 1).astype(np.float64)[None],
    }


def _pooling(center: np.ndarray, sigma: float, grid: int) -> np.ndarray:
    pos = (np.arange(grid) + 0.5) / grid
    gx = np.exp(-((pos - center[0]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((pos - center[1]) ** 2) / (2 * sigma**2))
    field = gy[:, None] * gx[None, :]
    return field / field.sum()


def _voxels(rng, group: np.ndarray, feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Planted parameters and standardised signal (n_images, n_vox) of the brain voxels."""
    n_vox = group.size
    n_img = feats["early"].shape[0]
    center = rng.uniform(0.15, 0.85, (n_vox, 2))
    weights = np.zeros((n_vox, len(LEVELS), max(f.shape[1] for f in feats.values())))
    sigma = np.zeros(n_vox)
    ncsnr = np.zeros(n_vox)
    signal = np.zeros((n_img, n_vox))
    for v in range(n_vox):
        if group[v] == 0:
            continue
        roi = ROI_NAMES[group[v] - 1]
        sigma[v] = ROI_SIGMA[roi]
        ncsnr[v] = rng.uniform(*ROI_NCSNR[roi])
        drive = np.zeros(n_img)
        for level, mix in ROI_MIX[roi].items():
            fmap = feats[level]
            w = rng.normal(size=fmap.shape[1])
            if level == "early":  # a weak orientation bias on positive energy weights
                w = np.clip(1.0 + 0.3 * w, 0.1, None)
            w /= np.linalg.norm(w)
            weights[v, LEVELS.index(level), : w.size] = mix * w
            pooled = np.einsum("nchw,hw->nc", fmap, _pooling(center[v], sigma[v], fmap.shape[2]))
            s = pooled @ w
            drive += mix * (s - s.mean()) / (s.std() + 1e-12)
        signal[:, v] = (drive - drive.mean()) / (drive.std() + 1e-12)
    return {"center": center, "sigma": sigma, "ncsnr": ncsnr, "weights": weights, "signal": signal}


def _betas(rng, truth: dict, images: np.ndarray, n_sessions: int, per_session: int) -> list:
    n_vox = truth["ncsnr"].size
    gain = rng.uniform(1.0, 2.0, n_vox)
    out = []
    for s in range(n_sessions):
        img = images[s * per_session : (s + 1) * per_session]
        resp = truth["ncsnr"] * truth["signal"][img] + rng.normal(size=(img.size, n_vox))
        pct = rng.normal(0, 0.5, n_vox) + gain * resp
        out.append(np.clip(np.round(pct * BETA_SCALE), -32768, 32767).astype(np.int16))
    return out


def _subject(root, subject, rng, design, feats, vol_shape, n_sessions, per_session) -> dict:
    brain, prf, kastner = _roi_volumes(vol_shape)
    group = _merged_groups(prf, kastner)[brain]
    truth = _voxels(rng, group, feats)
    list_images = design["subjectim"][subject - 1].astype(np.int64) - 1
    trial_img = list_images[design["masterordering"][0].astype(np.int64) - 1]
    paths = nsd_paths(root, subject, range(1, n_sessions + 1))
    for s, flat in enumerate(_betas(rng, truth, trial_img, n_sessions, per_session), start=1):
        vol = np.zeros((*vol_shape, per_session), dtype=np.int16)
        vol[brain] = flat.T
        _gzip_nifti(paths[f"betas_session{s:02d}"], vol)
    ncsnr = np.zeros(vol_shape, dtype=np.float32)
    ncsnr[brain] = truth["ncsnr"]
    _gzip_nifti(paths["ncsnr"], ncsnr)
    _gzip_nifti(paths["prf_visualrois"], prf)
    _gzip_nifti(paths["kastner"], kastner)
    truth.update(voxel_index=np.flatnonzero(brain), group=group)
    return truth


def simulate_nsd(
    directory: str | os.PathLike,
    *,
    n_subjects: int = 2,
    n_images: int = 240,
    n_shared: int = 40,
    n_sessions: int = 2,
    trials_per_session: int | None = None,
    volume_shape: tuple[int, int, int] = (12, 12, 8),
    image_size: int = 64,
    seed: int = 0,
) -> dict:
    """Write a simulated NSD subset (module docstring) under ``directory``.

    Parameters
    ----------
    directory : path-like
        The NSD root (created if needed).
    n_subjects, n_images, n_shared, n_sessions : int
        Subjects (<= 8), image pool, shared images, sessions per subject.
    trials_per_session : int, optional
        Default: enough for 3 showings of each list image, ``ceil(3 · n_list / n_sessions)``.
    volume_shape : tuple of 3 int
        func1pt8mm grid (Y >= 4, Z >= 2).
    image_size : int
        S, divisible by 16.
    seed : int

    Returns
    -------
    dict
        ``root`` (Path), ``files`` (role -> Path; per subject ``subjAA/<role>``), ``planted``
        (the content of ``planted.json``).
    """
    if not 1 <= n_subjects <= 8 or not 0 < n_shared < n_images or image_size % 16:
        raise ValueError("need 1 <= n_subjects <= 8, 0 < n_shared < n_images, image_size % 16 == 0")
    n_list = n_shared + (n_images - n_shared) // n_subjects
    per_session = trials_per_session or -(-3 * n_list // n_sessions)
    root = Path(directory)
    rng = np.random.default_rng(seed)
    streams = rng.spawn(2 + n_subjects)
    design = _design(streams[0], n_subjects, n_images, n_shared, n_sessions * per_session)
    images = make_images(streams[1], n_images, image_size)
    feats = encoder_features(images, seed)
    _write_mat(root / FILES["expdesign"], design)
    _write_hdf5(root / FILES["stimuli"], "imgBrick", images)
    files = {"expdesign": root / FILES["expdesign"], "stimuli": root / FILES["stimuli"]}
    arrays = {f"features_{k}": v for k, v in feats.items()}
    counts = {}
    for subject in range(1, n_subjects + 1):
        args = (design, feats, tuple(volume_shape), n_sessions, per_session)
        truth = _subject(root, subject, streams[1 + subject], *args)
        tag = f"subj{subject:02d}"
        arrays.update({f"{tag}_{k}": np.asarray(v) for k, v in truth.items()})
        arrays[f"{tag}_signal"] = truth["signal"].astype(np.float32)
        counts[tag] = {
            name: int((truth["group"] == i + 1).sum()) for i, name in enumerate(ROI_NAMES)
        }
        paths = nsd_paths(root, subject, range(1, n_sessions + 1))
        files.update({f"{tag}/{k}": p for k, p in paths.items() if k not in files})
    planted = {
        "seed": seed,
        "n_subjects": n_subjects,
        "n_images": n_images,
        "n_shared": n_shared,
        "n_sessions": n_sessions,
        "trials_per_session": per_session,
        "volume_shape": list(volume_shape),
        "image_size": image_size,
        "roi_mix": ROI_MIX,
        "roi_sigma": ROI_SIGMA,
        "roi_ncsnr": {k: list(v) for k, v in ROI_NCSNR.items()},
        "levels": list(LEVELS),
        "voxels_per_roi": counts,
        "noise": "beta = offset[session] + gain * (ncsnr * signal + N(0, 1)), % signal change",
    }
    files["planted"] = root / "planted.json"
    files["planted_arrays"] = root / "planted.npz"
    write_json(planted, files["planted"])
    _write_npz(files["planted_arrays"], arrays)
    return {"root": root, "files": files, "planted": planted}


#: Prefixed alias for the package's public face (``brainalign.data``).
nsd_encoder_features = encoder_features
