"""One subject's NSD data in the form the models use (methods §4.1).

:func:`prepare_subject` reads the design, the betas of the given sessions (int16 / 300, z-scored
per voxel within each session, NaN -> 0), the ROI voxels (prf-visualrois over Kastner2015,
optionally within a brain mask), their ncsnr, and the subject's images, resized once to the
model input size. Trials showing a shared-1000 image are the validation set, all others train
(single trials, not averaged).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from brainalign.data.nsd import (
    FILES,
    ROI_NAMES,
    nsd_paths,
    read_betas,
    read_expdesign,
    read_ncsnr,
    read_roi_labels,
    read_stimuli,
    trial_images,
)

__all__ = ["TRAIN", "VALIDATION", "prepare_subject", "resize_images"]

#: Codes of the ``split`` array.
TRAIN, VALIDATION = 0, 1


def resize_images(images: np.ndarray, size: int, batch_size: int = 256) -> np.ndarray:
    """Resize uint8 images (n, H, W, 3) to (n, size, size, 3), antialiased bilinear.

    The original's exact 425 -> 227 method is unknown (its data-preparation notebook is not
    public); torch's antialiased bilinear resize, rounded to uint8, is used. Same size: unchanged.
    """
    import torch
    from torch.nn.functional import interpolate

    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for start in range(0, len(images), batch_size):
        x = torch.as_tensor(images[start : start + batch_size]).permute(0, 3, 1, 2).float()
        y = interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + len(x)] = y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    return out


def prepare_subject(
    root: str | os.PathLike,
    subject: int,
    sessions: Sequence[int],
    rois: Sequence[str],
    image_size: int,
    *,
    pool_size: int | None = 73000,
    brainmask: str | None = None,
    chunk: int = 500,
) -> dict[str, np.ndarray]:
    """Arrays of one subject, ready for training.

    Parameters
    ----------
    root : path-like
        The NSD root.
    subject : int
        1-based.
    sessions : sequence of int
        Sessions read (trials ``(NN-1)·T .. NN·T - 1`` of the design).
    rois : sequence of str
        ROI names of :data:`brainalign.data.nsd.ROI_NAMES` kept.
    image_size : int
        Model input size (px).
    pool_size : int or None
        Image pool of the design file (73000; None = no upper check, the simulated study).
    brainmask : str, optional
        Mask path relative to ``root`` with ``{subject:02d}``.
    chunk : int
        Images read and resized at a time.

    Returns
    -------
    dict
        ``images`` (n_images, S, S, 3) uint8, one per distinct image in the subject's trials;
        ``image_id`` (n_images,) 0-based 73k ids; ``trial_image`` (n_trials,) row of ``images``;
        ``split`` (n_trials,) int8 (:data:`TRAIN` / :data:`VALIDATION`); ``responses``
        (n_trials, n_voxels) float32; ``roi`` (n_voxels,) ROI index into ``ROI_NAMES`` + 1;
        ``ncsnr`` (n_voxels,) float32; ``voxel_index`` (n_voxels,) flat C-order volume index.
    """
    root = Path(root)
    paths = nsd_paths(root, subject, sessions)
    mask_path = None if brainmask is None else root / brainmask.format(subject=subject)
    labels = read_roi_labels(paths["prf_visualrois"], paths["kastner"], brainmask_path=mask_path)
    keep = [ROI_NAMES.index(r) + 1 for r in rois]
    mask = np.isin(labels.group, keep)
    betas = read_betas(root, subject, sessions, mask)
    design = read_expdesign(root / FILES["expdesign"], n_images=pool_size)
    ids, shared = trial_images(design, subject, betas.shape[0])
    unique, trial_image = np.unique(ids, return_inverse=True)
    images = np.concatenate(
        [
            resize_images(read_stimuli(root / FILES["stimuli"], unique[i : i + chunk]), image_size)
            for i in range(0, max(unique.size, 1), chunk)
        ]
    )
    return {
        "images": images,
        "image_id": unique.astype(np.int64),
        "trial_image": trial_image.astype(np.int64).ravel(),
        "split": np.where(shared, VALIDATION, TRAIN).astype(np.int8),
        "responses": betas.astype(np.float32),
        "roi": labels.group[mask].astype(np.int64),
        "ncsnr": read_ncsnr(paths["ncsnr"], mask),
        "voxel_index": np.flatnonzero(mask).astype(np.int64),
    }
