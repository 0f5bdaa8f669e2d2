"""Stimuli of the synthetic study: procedural and scikit-image pictures in category blocks.

``n_images`` 175×175 RGB images in the real category blocks (12 human bodies, 12 human faces,
12 animal bodies, 12 animal faces, 23 natural objects, 21 artificial objects for 92;
proportional blocks for other sizes), built deterministically from images bundled in
scikit-image (astronaut, cameraman, LFW faces, the cat, the horse silhouette, textures, rocket,
coffee, motorcycle, clock, …) and procedural shapes; and their low-level structure (Gabor energy
and colour), which the simulated early visual cortex of :mod:`brainalign.data.synthetic` is
tuned to.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from brainalign.data.base import CATEGORY_BLOCKS_92

__all__ = [
    "SIZE",
    "category_counts",
    "make_stimuli",
    "make_category_images",
    "low_level_features",
    "stimulus_labels",
]

#: Side of the square stimuli, in pixels.
SIZE = 175


def category_counts(n_images: int) -> list[tuple[str, int]]:
    """Category blocks for ``n_images`` images: the real 92-set blocks, scaled proportionally.

    Uses largest-remainder rounding with at least one image per category.

    Parameters
    ----------
    n_images : int
        At least 6.
    """
    if n_images < len(CATEGORY_BLOCKS_92):
        raise ValueError(f"n_images must be at least {len(CATEGORY_BLOCKS_92)}, got {n_images}")
    names = [c for c, _ in CATEGORY_BLOCKS_92]
    sizes = np.array([s for _, s in CATEGORY_BLOCKS_92], dtype=float)
    quota = sizes / sizes.sum() * n_images
    counts = np.maximum(np.floor(quota).astype(int), 1)
    while counts.sum() < n_images:
        counts[np.argmax(quota - counts)] += 1
    while counts.sum() > n_images:
        counts[np.argmax(np.where(counts > 1, counts - quota, -np.inf))] -= 1
    return list(zip(names, counts.tolist(), strict=True))


def _sources() -> dict[str, np.ndarray]:
    from skimage import data

    def rgb(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        if a.dtype == bool:
            a = a.astype(np.uint8) * 255
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        return a[:, :, :3].astype(np.uint8)

    lfw = np.asarray(data.lfw_subset())
    lfw = np.clip(lfw * (255.0 if lfw.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return {
        "astronaut": rgb(data.astronaut()),
        "camera": rgb(data.camera()),
        "chelsea": rgb(data.chelsea()),
        "coffee": rgb(data.coffee()),
        "rocket": rgb(data.rocket()),
        "hubble": rgb(data.hubble_deep_field()),
        "retina": rgb(data.retina()),
        "ihc": rgb(data.immunohistochemistry()),
        "grass": rgb(data.grass()),
        "gravel": rgb(data.gravel()),
        "moon": rgb(data.moon()),
        "brick": rgb(data.brick()),
        "coins": rgb(data.coins()),
        "page": rgb(data.page()),
        "text": rgb(data.text()),
        "clock": rgb(data.clock()),
        "checker": rgb(data.checkerboard()),
        "motorcycle": rgb(data.stereo_motorcycle()[0]),
        "horse": np.asarray(data.horse()),
        "lfw_faces": lfw[:100],
        "lfw_other": lfw[100:],
    }


def _resize(a: np.ndarray, size: int = SIZE) -> np.ndarray:
    return np.asarray(Image.fromarray(a).resize((size, size), Image.BILINEAR))


def _crop(
    src: np.ndarray,
    rng: np.random.Generator,
    box: tuple[float, float, float, float],
    jitter: float = 0.08,
) -> np.ndarray:
    """Crop a jittered box (fractions y0, x0, y1, x1 of the image), square it, resize."""
    h, w = src.shape[:2]
    y0, x0, y1, x1 = (np.array(box) + rng.uniform(-jitter, jitter, 4)).clip(0, 1)
    y0, y1 = sorted((y0, y1))
    x0, x1 = sorted((x0, x1))
    side = max(int((y1 - y0) * h), int((x1 - x0) * w), 16)
    cy, cx = int((y0 + y1) / 2 * h), int((x0 + x1) / 2 * w)
    side = min(side, h, w)
    ty = int(np.clip(cy - side // 2, 0, h - side))
    tx = int(np.clip(cx - side // 2, 0, w - side))
    return _resize(src[ty : ty + side, tx : tx + side])


def _jitter_colour(img: np.ndarray, rng: np.random.Generator, amount: float = 0.15) -> np.ndarray:
    gain = 1.0 + rng.uniform(-amount, amount, 3)
    out = img.astype(float) * gain[None, None, :]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.clip(out, 0, 255).astype(np.uint8)


def _background(rng: np.random.Generator) -> np.ndarray:
    level = rng.uniform(150, 200)
    return np.full((SIZE, SIZE, 3), level, dtype=float)


def _paste(bg: np.ndarray, obj: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask.astype(float)[:, :, None]
    return np.clip(bg * (1 - m) + obj.astype(float) * m, 0, 255).astype(np.uint8)


def _blob_mask(rng: np.random.Generator, kind: str = "ellipse") -> np.ndarray:
    im = Image.new("L", (SIZE, SIZE), 0)
    d = ImageDraw.Draw(im)
    c = SIZE / 2 + rng.uniform(-12, 12, 2)
    if kind == "ellipse":
        r = rng.uniform(40, 75, 2)
        d.ellipse([c[0] - r[0], c[1] - r[1], c[0] + r[0], c[1] + r[1]], fill=255)
    else:  # polygon with n vertices
        n = int(rng.integers(3, 9))
        ang = (
            np.sort(rng.uniform(0, 2 * np.pi, n))
            if kind == "irregular"
            else np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, np.pi)
        )
        rad = rng.uniform(45, 75, n) if kind == "irregular" else np.full(n, rng.uniform(50, 75))
        pts = [(c[0] + r * np.cos(a), c[1] + r * np.sin(a)) for r, a in zip(rad, ang, strict=True)]
        d.polygon(pts, fill=255)
    return np.asarray(im) > 127


def _human_body(src, rng, k):
    if k % 3 == 0:
        return _jitter_colour(_crop(src["astronaut"], rng, (0.35, 0.05, 1.0, 0.75)), rng)
    if k % 3 == 1:
        return _jitter_colour(_crop(src["camera"], rng, (0.1, 0.2, 0.9, 0.75)), rng)
    # procedural figure: head, torso, limbs
    bg = _background(rng)
    im = Image.fromarray(bg.astype(np.uint8))
    d = ImageDraw.Draw(im)
    col = tuple(int(v) for v in rng.integers(30, 140, 3))
    cx = SIZE / 2 + rng.uniform(-15, 15)
    d.ellipse([cx - 14, 18, cx + 14, 46], fill=(205, 160, 130))
    d.rectangle([cx - 20, 48, cx + 20, 110], fill=col)
    for s in (-1, 1):
        d.line(
            [cx + s * 20, 55, cx + s * rng.uniform(35, 55), rng.uniform(80, 120)], fill=col, width=9
        )
        d.line([cx + s * 10, 110, cx + s * rng.uniform(12, 35), 165], fill=(40, 40, 80), width=11)
    return np.asarray(im)


def _human_face(src, rng, k):
    if k % 4 == 3:
        return _jitter_colour(_crop(src["astronaut"], rng, (0.02, 0.3, 0.42, 0.62), 0.04), rng)
    face = src["lfw_faces"][(k * 7 + int(rng.integers(0, 5))) % len(src["lfw_faces"])]
    face = _resize(face).astype(float)[:, :, None]
    tint = np.array([1.0, 0.82, 0.7]) * rng.uniform(0.9, 1.1)
    return np.clip(face * tint[None, None, :], 0, 255).astype(np.uint8)


def _animal_body(src, rng, k):
    if k % 2 == 1:
        return _jitter_colour(_crop(src["chelsea"], rng, (0.55, 0.0, 1.0, 0.45)), rng)
    horse = src["horse"]
    mask = ~horse if horse.mean() > 0.5 else horse
    mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((SIZE, SIZE))) > 127
    if rng.random() < 0.5:
        mask = mask[:, ::-1]
    tex = _crop(src["grass" if k % 4 == 0 else "gravel"], rng, (0.1, 0.1, 0.9, 0.9))
    coat = np.array(rng.choice([[120, 80, 40], [60, 40, 30], [200, 170, 120], [90, 90, 90]]))
    obj = 0.5 * tex + 0.5 * coat[None, None, :]
    return _paste(_background(rng), obj, mask)


def _animal_face(src, rng, k):
    if k % 3 != 2:
        return _jitter_colour(_crop(src["chelsea"], rng, (0.0, 0.3, 0.65, 0.75), 0.06), rng)
    bg = _background(rng)
    im = Image.fromarray(bg.astype(np.uint8))
    d = ImageDraw.Draw(im)
    fur = tuple(int(v) for v in rng.choice([[150, 100, 60], [80, 70, 60], [220, 200, 170]]))
    c = SIZE / 2
    r = rng.uniform(50, 65)
    for s in (-1, 1):  # ears
        d.polygon(
            [
                (c + s * r * 0.9, c - r * 0.3),
                (c + s * r * 0.3, c - r * 0.9),
                (c + s * r * 0.95, c - r * 1.35),
            ],
            fill=fur,
        )
    d.ellipse([c - r, c - r, c + r, c + r], fill=fur)
    for s in (-1, 1):  # eyes
        d.ellipse([c + s * r * 0.4 - 8, c - 15, c + s * r * 0.4 + 8, c + 1], fill=(40, 120, 40))
    d.polygon([(c - 7, c + 15), (c + 7, c + 15), (c, c + 24)], fill=(60, 30, 30))
    return np.asarray(im)


def _natural_object(src, rng, k):
    kind = k % 4
    if kind == 0:  # LFW non-face natural patch
        patch = src["lfw_other"][(k * 11 + int(rng.integers(0, 7))) % len(src["lfw_other"])]
        obj = np.repeat(_resize(patch)[:, :, None], 3, axis=2) * np.array([0.8, 1.0, 0.75])
        return _paste(_background(rng), obj, _blob_mask(rng, "irregular"))
    if kind == 1:  # textured stone / planet / leaf blob
        name = ["moon", "gravel", "grass", "hubble", "retina"][(k // 4) % 5]
        obj = _crop(src[name], rng, (0.2, 0.2, 0.8, 0.8), 0.15)
        return _paste(_background(rng), _jitter_colour(obj, rng, 0.25), _blob_mask(rng))
    if kind == 2:  # shaded fruit
        bg = _background(rng)
        col = np.array(
            rng.choice(
                [[200, 30, 30], [240, 160, 20], [90, 170, 40], [120, 40, 120], [230, 210, 60]]
            ),
            dtype=float,
        )
        yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
        shade = 0.55 + 0.45 * np.clip(1.2 - np.hypot(yy - 0.38, xx - 0.4) * 1.8, 0, 1)
        return _paste(bg, col[None, None, :] * shade[:, :, None], _blob_mask(rng))
    return _jitter_colour(
        _crop(src["retina" if k % 8 == 3 else "ihc"], rng, (0.25, 0.25, 0.75, 0.75), 0.2), rng, 0.3
    )


def _artificial_object(src, rng, k):
    kind = k % 3
    if kind == 0:
        name, box = [
            ("rocket", (0.1, 0.35, 0.9, 0.65)),
            ("coffee", (0.15, 0.25, 0.85, 0.8)),
            ("motorcycle", (0.1, 0.1, 0.9, 0.9)),
            ("clock", (0.05, 0.1, 0.95, 0.9)),
            ("coins", (0.1, 0.1, 0.9, 0.9)),
            ("brick", (0.2, 0.2, 0.8, 0.8)),
            ("text", (0.0, 0.1, 1.0, 0.6)),
        ][(k // 3) % 7]
        return _jitter_colour(_crop(src[name], rng, box, 0.05), rng)
    if kind == 1:  # flat-coloured regular polygon (tool, sign)
        col = np.array(
            rng.choice([[220, 30, 30], [30, 60, 200], [250, 200, 0], [20, 20, 20], [0, 150, 80]]),
            dtype=float,
        )
        obj = np.broadcast_to(col, (SIZE, SIZE, 3))
        return _paste(_background(rng), obj, _blob_mask(rng, "regular"))
    # checkerboard / page pattern inside a rectangle
    bg = _background(rng)
    tex = _crop(src["checker" if k % 2 else "page"], rng, (0.1, 0.1, 0.9, 0.9))
    mask = np.zeros((SIZE, SIZE), bool)
    y0, x0 = rng.integers(15, 50, 2)
    y1, x1 = SIZE - rng.integers(15, 50, 2)
    mask[y0:y1, x0:x1] = True
    return _paste(bg, _jitter_colour(tex, rng, 0.3), mask)


_MAKERS = {
    "human body": _human_body,
    "human face": _human_face,
    "animal body": _animal_body,
    "animal face": _animal_face,
    "natural object": _natural_object,
    "artificial object": _artificial_object,
}


def stimulus_labels(n_images: int = 92) -> tuple[list[str], list[str]]:
    """File names and categories of the synthetic stimuli, in presentation order.

    Returns
    -------
    names : list of str
        ``image_01.jpg`` … (zero-padded to the width of ``n_images``, at least 2 digits).
    categories : list of str
    """
    categories = [cat for cat, count in category_counts(n_images) for _ in range(count)]
    width = max(2, len(str(n_images)))
    return [f"image_{i + 1:0{width}d}.jpg" for i in range(n_images)], categories


def make_stimuli(n_images: int = 92, seed: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    """Generate the synthetic stimulus set.

    Parameters
    ----------
    n_images : int
    seed : int

    Returns
    -------
    images : ndarray, shape (n_images, 175, 175, 3), uint8
    names : list of str
        ``image_01.jpg`` … (zero-padded to the width of ``n_images``, at least 2 digits).
    categories : list of str
    """
    src = _sources()
    rng = np.random.default_rng(seed)
    images = []
    for cat, count in category_counts(n_images):
        for k in range(count):
            img = _MAKERS[cat](src, rng, k)
            assert img.shape == (SIZE, SIZE, 3), (cat, img.shape)
            images.append(img.astype(np.uint8))
    names, categories = stimulus_labels(n_images)
    return np.stack(images), names, categories


def make_category_images(
    per_category: int, seed: int, start: int = 0
) -> tuple[np.ndarray, list[str]]:
    """``per_category`` images of each of the six categories (balanced), as the study's makers
    draw them (e.g. for a labelled training set).

    Parameters
    ----------
    per_category : int
    seed : int
        A seed other than the study's stimulus seed gives other crops, poses and colours.
    start : int
        First maker index ``k`` (source variants cycle with ``k``).

    Returns
    -------
    images : ndarray, shape (6 * per_category, 175, 175, 3), uint8
    categories : list of str
    """
    src = _sources()
    rng = np.random.default_rng(seed)
    images, cats = [], []
    for cat in _MAKERS:
        for k in range(start, start + per_category):
            images.append(_MAKERS[cat](src, rng, k).astype(np.uint8))
            cats.append(cat)
    return np.stack(images), cats


def low_level_features(images: np.ndarray, grid: int = 4) -> np.ndarray:
    """Low-level image structure: Gabor energy and colour pooled on a coarse grid.

    Parameters
    ----------
    images : ndarray, shape (n, H, W, 3), uint8
    grid : int
        Pooling grid (grid × grid retinotopic cells).

    Returns
    -------
    ndarray, shape (n, grid·grid·(24 + 3))
        z-scored across images.
    """
    side = 64
    feats = []
    yy, xx = np.mgrid[-side // 2 : side // 2, -side // 2 : side // 2]
    bank = []
    for freq in (0.05, 0.1, 0.2, 0.35):
        sigma = 0.5 / freq
        for theta in np.arange(6) * np.pi / 6:
            u = xx * np.cos(theta) + yy * np.sin(theta)
            g = np.exp(-(xx**2 + yy**2) / (2 * sigma**2)) * np.exp(2j * np.pi * freq * u)
            bank.append(np.fft.fft2(np.fft.ifftshift(g)))
    for img in images:
        small = np.asarray(Image.fromarray(img).resize((side, side), Image.BILINEAR), float) / 255
        grey = small.mean(axis=2)
        spec = np.fft.fft2(grey - grey.mean())
        maps = [np.abs(np.fft.ifft2(spec * b)) for b in bank] + [small[:, :, c] for c in range(3)]
        cell = side // grid
        pooled = [m.reshape(grid, cell, grid, cell).mean(axis=(1, 3)).ravel() for m in maps]
        feats.append(np.concatenate(pooled))
    f = np.asarray(feats)
    sd = f.std(axis=0)
    sd[sd == 0] = 1.0
    return (f - f.mean(axis=0)) / sd
