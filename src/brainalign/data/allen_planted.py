"""The planted truth of the simulated Allen cache: generated stimuli, features, cell signals,
and the noise that sets each area's reliability.

Deterministic given the random generators (:mod:`brainalign.data.allen_simulate` keys them by
the seed, the area and the depth).

* **Scenes** (:func:`make_scenes`, 118 greyscale images, default 64 × 80, the real aspect
  918 × 1174): a smooth noisy background of random luminance with one object (a soft ellipse of
  random position, size and contrast) filled with band-pass noise whose orientation and spatial
  frequency belong to the image's **category** (:data:`N_CATEGORIES` equal groups, a fresh noise
  instance per image). Category and layout (luminance, position, size, contrast) are independent.
* **Movie** (:func:`make_movie`, 900 frames, default 32 × 64, the real 304 × 608 aspect):
  :data:`N_SHOTS` equal shots cut at multiples of 15 frames; in each the camera pans smoothly
  (sub-pixel Fourier shift) over a periodic smooth texture with a slow brightness change, so
  neighbouring 15-frame bins look alike and bins of different shots differ.
* **Features**: :func:`low_level_features` — mean luminance and local RMS contrast
  (:func:`~brainalign.data.kay2008_simulate.contrast_energy`) in a 4 × 4 grid of the stimulus
  resized to 64 × 64 (what the networks see); :func:`network_features` — the top 16 principal
  components of a reference VisualNet's deep layer (:data:`REFERENCE_LAYER`, untrained, its
  initialisation seed derived from the simulation's, so never one of the compared models), per
  scene or per 15-frame movie clip: what a deep stage of the network family makes of the stimuli.
* **Cells** (:func:`cell_signals`): each pools 3 grid windows of the low-level features
  (luminance with a random sign, contrast positive) and a Gaussian mix of the deep ones; its
  signal is ``sqrt(1 - m) * low + sqrt(m) * deep`` (each drive and the sum z-scored over the
  stimuli), ``m`` the area's :data:`DEEP_SHARE` (VISp 0: low-level only; VISl 0.25; VISal 0.5;
  VISpm 0.75; VISam 1: deep only).
* **Reliability**: events are ``softplus(signal + sd * N(0, 1))`` where a Bernoulli
  (:data:`EVENT_PROB`) draw fires. Each area's ``sd`` per stimulus is found by bisection
  (:func:`reliability_curve`, :func:`bisect_noise`) so that the split-half reliability of its
  pseudo-population (:func:`split_half_reliability`: Spearman between the two half-mean RDMs,
  1 - Pearson, median over splits, no Spearman-Brown) hits :data:`RELIABILITY`: the areas rank as
  :data:`RELIABILITY_ORDER` (the order of Crijnen's depth-175 ceilings), scenes VISl > VISpm >
  VISp > VISal > VISam, movie VISam > VISpm > VISl > VISal > VISp.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d, zoom
from scipy.stats import spearmanr

from brainalign.data.allen import MOVIE_BIN
from brainalign.data.kay2008_simulate import contrast_energy

__all__ = [
    "DEEP_SHARE",
    "EVENT_PROB",
    "NOISE_RANGE",
    "RELIABILITY",
    "RELIABILITY_ORDER",
    "bisect_noise",
    "cell_signals",
    "reliability_curve",
    "split_half_reliability",
    "N_CATEGORIES",
    "N_SHOTS",
    "SCENE_SIZE",
    "MOVIE_SIZE",
    "REFERENCE_LAYER",
    "network_features",
    "low_level_features",
    "make_movie",
    "make_scenes",
    "resize_square",
    "standardise",
]

N_CATEGORIES = 6
N_SHOTS = 4
#: Template sizes (H, W) of the generated scenes and movie.
SCENE_SIZE = (64, 80)
MOVIE_SIZE = (32, 64)
#: Side of the square the features are computed on (the networks' input size).
FEATURE_SIZE = 64
_GRID = 4
#: Share of the deep drive in each area's signal (the rest is low-level).
DEEP_SHARE = {"VISp": 0.0, "VISl": 0.25, "VISal": 0.5, "VISpm": 0.75, "VISam": 1.0}
#: Planted split-half reliability per stimulus and area (see :func:`split_half_reliability`).
RELIABILITY = {
    "natural_scenes": {"VISl": 0.7, "VISpm": 0.58, "VISp": 0.46, "VISal": 0.34, "VISam": 0.22},
    "natural_movie_one": {"VISam": 0.8, "VISpm": 0.68, "VISl": 0.56, "VISal": 0.44, "VISp": 0.32},
}
#: Areas by decreasing planted reliability, per stimulus.
RELIABILITY_ORDER = {s: tuple(sorted(r, key=lambda a: -r[a])) for s, r in RELIABILITY.items()}
#: Range searched for each area's noise SD (signal SD = 1).
NOISE_RANGE = (0.05, 20.0)
#: Chance that a presentation (scenes) or a movie frame evokes an event in a cell.
EVENT_PROB = {"natural_scenes": 0.8, "natural_movie_one": 0.25}


def standardise(x: np.ndarray) -> np.ndarray:
    """Columns z-scored over rows (constant columns become 0).

    Parameters
    ----------
    x : ndarray, shape (n, p)

    Returns
    -------
    ndarray, shape (n, p), float64
    """
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _band_noise(
    rng: np.random.Generator, shape: tuple[int, int], freq: float, theta: float | None, bw: float
) -> np.ndarray:
    """Unit-SD noise filtered around spatial frequency ``freq`` (cycles / px), oriented at
    ``theta`` (None = isotropic), periodic."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    radius = np.hypot(fx, fy)
    gain = np.exp(-0.5 * ((radius - freq) / bw) ** 2)
    if theta is not None:
        angle = np.arctan2(fy, fx)
        gain = gain * np.exp(4.0 * (np.cos(2 * (angle - theta)) - 1))
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal(shape)) * gain).real
    return field / (field.std() + 1e-12)


def make_scenes(
    rng: np.random.Generator, n: int = 118, size: tuple[int, int] = SCENE_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The generated natural-scenes template.

    Returns
    -------
    images : ndarray, shape (n, H, W), uint8
    category : ndarray, shape (n,), int64
        0 .. :data:`N_CATEGORIES` - 1 (as equal as ``n`` allows, random order).
    layout : ndarray, shape (n, 5), float64
        Per image: background luminance, object centre x, y (fractions), radius, contrast.
    """
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    category = rng.permutation(np.arange(n) % N_CATEGORIES).astype(np.int64)
    thetas = np.arange(N_CATEGORIES) * np.pi / N_CATEGORIES
    freqs = np.linspace(0.07, 0.22, N_CATEGORIES)[rng.permutation(N_CATEGORIES)]
    images = np.empty((n, h, w), dtype=np.uint8)
    layout = np.empty((n, 5))
    for i, c in enumerate(category):
        lum, cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.6)
        radius, contrast = rng.uniform(0.12, 0.3), rng.uniform(0.1, 0.3)
        background = 0.06 * _band_noise(rng, size, 0.03, None, 0.02)
        texture = _band_noise(rng, size, freqs[c], thetas[c], 0.03)
        mask = 1 / (1 + np.exp((np.hypot(xx - cx, (yy - cy) * 1.3) - radius) * 60))
        img = lum + background + contrast * mask * texture
        images[i] = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
        layout[i] = lum, cx, cy, radius, contrast
    return images, category, layout


def _pan(texture: np.ndarray, dy: float, dx: float, size: tuple[int, int]) -> np.ndarray:
    fy = np.fft.fftfreq(texture.shape[0])[:, None]
    fx = np.fft.fftfreq(texture.shape[1])[None, :]
    shifted = np.fft.ifft2(np.fft.fft2(texture) * np.exp(-2j * np.pi * (fy * dy + fx * dx))).real
    return shifted[: size[0], : size[1]]


def make_movie(
    rng: np.random.Generator, n_frames: int = 900, size: tuple[int, int] = MOVIE_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The generated natural movie one template.

    Returns
    -------
    frames : ndarray, shape (n_frames, H, W), uint8
    shot : ndarray, shape (n_frames,), int64
        0 .. :data:`N_SHOTS` - 1, equal runs of ``n_frames // N_SHOTS`` frames.
    slow : ndarray, shape (n_frames, 4), float64
        A slow latent (unit-SD noise smoothed over ~60 frames), the item part of the deep latent.
    """
    h, w = size
    shot = np.minimum(np.arange(n_frames) * N_SHOTS // n_frames, N_SHOTS - 1).astype(np.int64)
    frames = np.empty((n_frames, h, w), dtype=np.uint8)
    t = np.arange(n_frames)
    for s in range(N_SHOTS):
        texture = _band_noise(rng, (2 * h, 2 * w), rng.uniform(0.03, 0.08), None, 0.03)
        texture = rng.uniform(0.35, 0.65) + rng.uniform(0.12, 0.2) * texture
        period, phase = rng.uniform(250, 500, size=2), rng.uniform(0, 2 * np.pi, size=2)
        amp = rng.uniform(0.2, 0.5, size=2) * np.array([h, w])
        for k in np.flatnonzero(shot == s):
            dy, dx = amp * np.sin(2 * np.pi * t[k] / period + phase)
            frame = _pan(texture, dy, dx, size) * (1 + 0.15 * np.sin(2 * np.pi * t[k] / 300))
            frames[k] = np.clip(np.round(frame * 255), 0, 255).astype(np.uint8)
    slow = gaussian_filter1d(rng.standard_normal((n_frames, 4)), sigma=20, axis=0, mode="nearest")
    return frames, shot, standardise(slow)


def resize_square(images: np.ndarray, side: int = FEATURE_SIZE) -> np.ndarray:
    """Images resized (bilinear) to ``side`` × ``side``, floats in 0..1.

    Parameters
    ----------
    images : ndarray, shape (n, H, W), uint8

    Returns
    -------
    ndarray, shape (n, side, side), float64
    """
    arr = np.asarray(images, dtype=np.float64) / 255.0
    factors = (1.0, side / arr.shape[1], side / arr.shape[2])
    out = zoom(arr, factors, order=1, mode="nearest", grid_mode=True)
    return out[:, :side, :side]


def low_level_features(images: np.ndarray, grid: int = _GRID) -> np.ndarray:
    """Mean luminance and local RMS contrast per window of the 64 × 64 stimulus.

    Parameters
    ----------
    images : ndarray, shape (n, H, W), uint8
    grid : int
        ``grid`` × ``grid`` windows (row-major).

    Returns
    -------
    ndarray, shape (n, 2 * grid²), float64
        Luminance means then contrast energies, each column z-scored over the ``n`` stimuli.
    """
    small = resize_square(images)
    n, side = small.shape[0], small.shape[1]
    step = side // grid
    lum = small[:, : step * grid, : step * grid].reshape(n, grid, step, grid, step).mean((2, 4))
    return standardise(np.hstack([lum.reshape(n, -1), contrast_energy(small, grid)]))


#: The reference network's layer whose principal components drive the higher areas.
REFERENCE_LAYER = "p2_res_block6"


def network_features(
    images: np.ndarray, stimulus: str, seed: int, *, n_out: int = 16
) -> np.ndarray:
    """Deep features of the stimuli: the top principal components of a reference VisualNet's
    :data:`REFERENCE_LAYER` (untrained, initialised from ``seed``), as the networks see them.

    Parameters
    ----------
    images : ndarray ``(118, H, W)`` scene templates or ``(900, H, W)`` movie frames, uint8
    stimulus : {"natural_scenes", "natural_movie_one"}
        Movie features are computed per 15-frame clip and repeated over its frames.

    Returns
    -------
    ndarray ``(n_images, n_out)``, columns z-scored.
    """
    from brainalign.networks.video import (
        build_video_model,
        clips_from_movie,
        clips_from_scenes,
        normalise_clips,
        video_activations,
    )

    movie = stimulus == "natural_movie_one"
    clips = clips_from_movie(images) if movie else clips_from_scenes(images)
    model, _ = build_video_model("visualnet", seed=int(seed))
    act = video_activations(model, [REFERENCE_LAYER], normalise_clips(clips))[REFERENCE_LAYER]
    z = np.asarray(act, dtype=np.float64)
    z = z - z.mean(axis=0)
    u, sv, _ = np.linalg.svd(z, full_matrices=False)
    pcs = standardise(u[:, :n_out] * sv[:n_out])
    return np.repeat(pcs, images.shape[0] // pcs.shape[0], axis=0) if movie else pcs


# --------------------------------------------------------------------------- cells


def cell_signals(
    rng: np.random.Generator,
    features: dict[str, tuple[np.ndarray, np.ndarray]],
    share: float,
    n_cells: int,
) -> dict[str, np.ndarray]:
    """Noise-free signals of one container's cells (see the module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws each cell's 3 pooled grid windows and weights, and its deep weights.
    features : dict of str to (low, deep)
        Per stimulus, ``low`` (n_stimuli, 2 * windows) and ``deep`` (n_stimuli, n_deep).
    share : float
        The area's deep share (:data:`DEEP_SHARE`).
    n_cells : int

    Returns
    -------
    dict of str to ndarray, each shape (n_stimuli, n_cells), float64
        Columns z-scored over the stimuli.
    """
    n_win = features["natural_scenes"][0].shape[1] // 2
    w_low = np.zeros((2 * n_win, n_cells))
    for c in range(n_cells):
        windows = rng.choice(n_win, size=3, replace=False)
        w_low[windows, c] = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0, 3)
        w_low[n_win + windows, c] = rng.uniform(0.5, 1.0, 3)
    w_deep = rng.standard_normal((features["natural_scenes"][1].shape[1], n_cells))
    out = {}
    for stim, (low, deep) in features.items():
        mix = np.sqrt(1 - share) * standardise(low @ w_low) + np.sqrt(share) * standardise(
            deep @ w_deep
        )
        out[stim] = standardise(mix)
    return out


# --------------------------------------------------------------------------- noise calibration


def split_half_reliability(responses: np.ndarray, splits: np.ndarray) -> float:
    """Median over splits of the Spearman correlation between two half-mean RDMs.

    Parameters
    ----------
    responses : ndarray, shape (trials, stimuli, cells)
    splits : ndarray of int, shape (n_splits, trials)
        Trial permutations; the first ``trials // 2`` form one half, the next ones the other.

    Returns
    -------
    float
        RDMs are 1 - Pearson correlation between stimulus patterns (no Spearman-Brown step).
    """
    half = splits.shape[1] // 2
    upper = np.triu_indices(responses.shape[1], 1)
    values = []
    for perm in splits:
        a = 1 - np.corrcoef(responses[perm[:half]].mean(0))[upper]
        b = 1 - np.corrcoef(responses[perm[half : 2 * half]].mean(0))[upper]
        values.append(spearmanr(np.nan_to_num(a), np.nan_to_num(b))[0])
    return float(np.nan_to_num(np.median(values)))


def _draws(rng: np.random.Generator, stim: str, signal: np.ndarray, n_trials: int, blocks: int):
    """Common random numbers of the response proxy. Scenes: per column block (a container) a
    random presentation sequence as in the sessions, each presentation's event level, firing and
    noise; movie: the fired (repeat, frame, cell) slots, their level and noise."""
    padded = np.vstack([signal, -np.ones((1, signal.shape[1]))]).astype(np.float32)
    n_stim, n_cols = signal.shape
    if stim != "natural_scenes":
        shape = (n_trials, n_stim, n_cols)
        fired = np.flatnonzero(rng.random(shape, dtype=np.float32) < EVENT_PROB[stim])
        _, i, c = np.unravel_index(fired, shape)
        eps = rng.standard_normal(fired.size, dtype=np.float32)
        return {"shape": shape, "movie": (fired, padded[i, c], eps)}
    parts = []
    for cols in np.array_split(np.arange(n_cols), blocks):
        seq = rng.permutation(np.repeat(np.arange(-1, n_stim), n_trials))  # -1 = blank
        level = padded[seq][:, cols]
        fire = rng.random(level.shape, dtype=np.float32) < EVENT_PROB[stim]
        eps = rng.standard_normal(level.shape, dtype=np.float32)
        where = np.stack([np.flatnonzero(seq == k) for k in range(n_stim)])
        parts.append((cols, level, fire, eps, where))
    return {"shape": (n_trials, n_stim, n_cols), "scenes": parts}


def _proxy(sd: float, d: dict) -> np.ndarray:
    """What :mod:`brainalign.data.allen` extracts from such events, without the frames:
    scenes, the presentation's event plus the next one's; movie, bin means."""
    sd32 = np.float32(sd)
    if "movie" in d:
        fired, level, eps = d["movie"]
        out = np.zeros(int(np.prod(d["shape"])), dtype=np.float32)
        out[fired] = np.logaddexp(0, level + sd32 * eps)
        n, frames, cells = d["shape"]
        return out.reshape(n, frames // MOVIE_BIN, MOVIE_BIN, cells).mean(axis=2, dtype=float)
    out = np.empty(d["shape"])
    for cols, level, fire, eps, where in d["scenes"]:
        event = fire * np.logaddexp(0, level + sd32 * eps)
        event[:-1] += event[1:].copy()
        out[:, :, cols] = event[where].transpose(1, 0, 2)
    return out


def reliability_curve(
    signal: np.ndarray, stim: str, n_trials: int, rng: np.random.Generator, blocks: int = 1
) -> Any:
    """The split-half reliability of a pseudo-population as a function of log noise SD.

    Simulates what :mod:`brainalign.data.allen` extracts (scenes: the presentation's event plus
    the next one's; movie: bin means of per-frame events) without the frames, with common random
    numbers, so the curve is smooth and (nearly) decreasing.

    Parameters
    ----------
    signal : ndarray, shape (n_stimuli, cells)
        Noise-free signals (118 scenes or 900 movie frames) of every column of the population.
    stim : str
    n_trials : int
        Scene trials or movie repeats.
    rng : numpy.random.Generator
    blocks : int
        Containers the columns come from, in equal consecutive blocks (scenes: each has its own
        presentation order).

    Returns
    -------
    callable
        ``log_sd -> reliability``.
    """
    draws = _draws(rng, stim, signal, n_trials, blocks)
    n_splits = 10 if stim == "natural_scenes" else 6  # the movie proxy is the costly one
    splits = np.array([rng.permutation(n_trials) for _ in range(n_splits)])
    return lambda log_sd: split_half_reliability(_proxy(float(np.exp(log_sd)), draws), splits)


def bisect_noise(rel: Any, target: float) -> tuple[float, float]:
    """(noise SD, reliability reached) for ``target``: 8 bisection steps in log SD over
    :data:`NOISE_RANGE` on a :func:`reliability_curve`."""
    lo, hi = np.log(NOISE_RANGE[0]), np.log(NOISE_RANGE[1])
    for _ in range(8):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if rel(mid) > target else (lo, mid)
    sd = round(float(np.exp((lo + hi) / 2)), 4)
    return sd, round(rel(np.log(sd)), 4)
