"""Video networks, their stimulus clips and their activations (the mouse RSA study).

Networks (:data:`~brainalign.networks.registry.VIDEO_NETWORKS`), each built by
:func:`build_video_model` untrained (seeded initialisation; torch's global RNG is left alone)
or trained (weights from a file, never downloaded here):

``visualnet``
    The two-pathway 3D ResNet of the study (:class:`~brainalign.networks.visualnet.VisualNet`);
    trained weights are the study's PyTorch-Lightning checkpoints (``models/rat1-5.ckpt``,
    ``models/ts1-5.ckpt``). Recorded: ``s1``, ``p1_res_block1…6``, ``p2_res_block1…6``,
    ``out`` (the dropout output of both paths).
``r3d_18``, ``mc3_18``, ``r2plus1d_18``
    torchvision's Kinetics-400 video ResNets (``weights=None``; trained weights are the
    KINETICS400_V1 files of :data:`~brainalign.networks.registry.VIDEO_WEIGHTS`, from a given
    path or the torch hub cache). Recorded: ``stem``, ``layer1`` … ``layer4`` and ``out`` = the
    global average pool (B, 512, 1, 1, 1), the input of the classifier ``fc`` (the Kinetics
    logits are not recorded).
``alexnet``, ``deepcluster``, ``modified_alexnet``
    The image networks of :func:`~brainalign.networks.architectures.build_network` applied to
    every frame (:class:`FrameWise`; frames resized to 224 x 224, bilinear). Recorded: their
    ReLU layers ``conv1 … fc7``, averaged over the frames.

Stimuli (methods §5.2): :func:`clips_from_scenes` (a still repeated over 15 frames),
:func:`clips_from_movie` (15 consecutive frames per clip), then :func:`normalise_clips`;
:func:`pixel_baseline` is the pixel model. :func:`video_activations` averages a 3D activation
(B, C, T, H, W) over time and flattens it; a frame-wise network's, over the frames.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from brainalign.io.hashing import check_listed_file
from brainalign.networks.architectures import build_network, relu_modules
from brainalign.networks.backbones import resolve_torchvision_weights
from brainalign.networks.device import deterministic_forward, pick_device
from brainalign.networks.registry import (
    KNOWN_NETWORKS,
    VIDEO_LAYER_NAMES,
    VIDEO_NETWORKS,
    VIDEO_WEIGHTS,
)
from brainalign.networks.visualnet import (
    VisualNet,
    load_visualnet_checkpoint,
    resolve_visualnet_checkpoint,
)
from brainalign.networks.weights import (
    read_checkpoint,
    strip_prefixes,
)

__all__ = [
    "NORMALISATION",
    "CLIP_SIZE",
    "SEQ_LEN",
    "FRAME_SIZE",
    "FrameWise",
    "recorded_modules",
    "resolve_video_weights",
    "build_video_model",
    "clips_from_scenes",
    "clips_from_movie",
    "normalise_clips",
    "pixel_baseline",
    "video_activations",
]

#: Per-channel (mean, std) of the training videos: the study's rat and tree-shrew networks,
#: torchvision's Kinetics-400 networks, and ImageNet (the AlexNets).
NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "rat": ((0.4992, 0.4975, 0.4928), (0.2379, 0.2291, 0.2454)),
    "treeshrew": ((0.4809, 0.4859, 0.4901), (0.2381, 0.2350, 0.2474)),
    "kinetics": ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
#: Side of the stimulus clips (the networks were trained on 64 x 64 videos).
CLIP_SIZE = 64
#: Frames per clip (the networks' ``seq_len``; the movie's 900 frames give 60 clips).
SEQ_LEN = 15
#: Side the frames are resized to for the frame-wise AlexNets (DeepCluster needs 224).
FRAME_SIZE = 224
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")
_TORCHVISION_LAYERS = ("stem", "layer1", "layer2", "layer3", "layer4")


class FrameWise(nn.Module):
    """Run an image network on every frame of a clip.

    Parameters
    ----------
    net : torch.nn.Module
        Maps (N, 3, size, size) images to its output (``self.net``).
    size : int or None
        Frames of another side are resized to ``size`` x ``size`` (bilinear, no antialiasing);
        None keeps them.

    Notes
    -----
    Input (B, 3, T, H, W); the network sees (B·T, 3, size, size), frame ``t`` of clip ``b`` at
    row ``b·T + t``; the output is the network's, (B·T, …).
    """

    def __init__(self, net: nn.Module, size: int | None = FRAME_SIZE) -> None:
        super().__init__()
        self.net = net
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        if self.size is not None and (h, w) != (self.size, self.size):
            frames = F.interpolate(frames, size=(self.size, self.size), mode="bilinear")
        return self.net(frames)


def recorded_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The recorded layers of a video model of :func:`build_video_model`, in network order.

    Returns
    -------
    list of (layer_name, module)
        VisualNet: ``s1``, ``p<p>_res_block<i>``, ``out``; torchvision video ResNets: ``stem``,
        ``layer1`` … ``layer4``, ``out`` (``avgpool``); :class:`FrameWise`: the ReLU layers of
        its network (:func:`~brainalign.networks.architectures.relu_modules`). ValueError for
        any other model.
    """
    if isinstance(model, VisualNet):
        return model.recorded_modules()
    if isinstance(model, FrameWise):
        return relu_modules(model.net)
    if all(hasattr(model, n) for n in _TORCHVISION_LAYERS + ("avgpool",)):
        return [(n, getattr(model, n)) for n in _TORCHVISION_LAYERS] + [("out", model.avgpool)]
    raise ValueError(f"{type(model).__name__} is not a video model of build_video_model")


def resolve_video_weights(name: str, path: str | os.PathLike | None = None) -> Path:
    """The trained-weights file of a torchvision video network (``r3d_18``, ``mc3_18``,
    ``r2plus1d_18``); see :func:`~brainalign.networks.backbones.resolve_torchvision_weights`."""
    return resolve_torchvision_weights(name, path, VIDEO_WEIGHTS, "video network")


def _load_torchvision_video(model: nn.Module, name: str, file: Path, unsafe: bool) -> None:
    check_listed_file(file)
    source = VIDEO_WEIGHTS[name].source
    obj = read_checkpoint(file, allow_unsafe_pickle=unsafe, network=name, source=source)
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f"{file}: expected a state dict of tensors")
    try:
        model.load_state_dict(strip_prefixes(obj), strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{file}: weights do not fit video network {name!r}: {exc}") from exc


def _torchvision_video(name: str) -> nn.Module:
    import torchvision.models.video as tvv

    return getattr(tvv, name)(weights=None)


def build_video_model(
    name: str,
    *,
    seed: int,
    trained: bool = False,
    weights_path: str | os.PathLike | None = None,
    allow_unsafe_pickle: bool = False,
) -> tuple[nn.Module, list[str]]:
    """Build a video network in eval mode, and the names of its recorded layers.

    Parameters
    ----------
    name : str
        One of :data:`~brainalign.networks.registry.VIDEO_NETWORKS`.
    seed : int
        Seed of the initialisation (torch's global RNG state is left as it was); the same seed
        gives identical parameters.
    trained : bool
        Load trained weights from ``weights_path`` (torchvision video networks and
        ``alexnet``: or the torch hub cache).
    weights_path : path-like, optional
        The trained-weights file (``visualnet``: a Lightning ``.ckpt``).
    allow_unsafe_pickle : bool
        See :func:`brainalign.networks.weights.read_checkpoint`.

    Returns
    -------
    model : torch.nn.Module
        Takes (B, 3, T, H, W) normalised clips.
    layer_names : list of str
        Its recorded layers (:data:`~brainalign.networks.registry.VIDEO_LAYER_NAMES`).

    Raises
    ------
    ValueError
        An unknown name, or weights that do not fit.
    WeightsNotFoundError
        ``trained`` without a weights file (names the URL and where to place the file).
    """
    if name not in VIDEO_NETWORKS:
        raise ValueError(f"unknown video network {name!r}; known: {list(VIDEO_NETWORKS)}")
    if name in KNOWN_NETWORKS:
        net = build_network(
            name,
            "trained" if trained else "untrained",
            seed=seed,
            weights=None if weights_path is None else str(weights_path),
            allow_unsafe_pickle=allow_unsafe_pickle,
        )
        return FrameWise(net).eval(), list(VIDEO_LAYER_NAMES[name])
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        model = VisualNet() if name == "visualnet" else _torchvision_video(name)
    if trained and name == "visualnet":
        file = resolve_visualnet_checkpoint(weights_path)
        load_visualnet_checkpoint(model, file, allow_unsafe_pickle=allow_unsafe_pickle)
    elif trained:
        file = resolve_video_weights(name, weights_path)
        _load_torchvision_video(model, name, file, allow_unsafe_pickle)
    return model.eval(), list(VIDEO_LAYER_NAMES[name])


def _resized_frames(frames: np.ndarray, size: int, what: str, chunk: int = 64) -> torch.Tensor:
    """(n, H, W) uint8 -> (n, 1, size, size) float32: ToTensor, then antialiased Resize."""
    from torchvision.transforms import functional as TF

    arr = np.asarray(frames)
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise ValueError(
            f"{what}: expected (n, height, width) uint8 greyscale frames, got shape "
            f"{arr.shape} dtype {arr.dtype}"
        )
    out = torch.empty((arr.shape[0], 1, size, size), dtype=torch.float32)
    for start in range(0, arr.shape[0], chunk):
        block = torch.from_numpy(np.ascontiguousarray(arr[start : start + chunk]))
        block = block.unsqueeze(1).to(torch.float32).div(255)
        out[start : start + chunk] = TF.resize(block, [size, size], antialias=True)
    return out


def clips_from_scenes(
    templates: np.ndarray, *, seq_len: int = SEQ_LEN, size: int = CLIP_SIZE
) -> torch.Tensor:
    """Static clips of still images (each image repeated over ``seq_len`` frames).

    Parameters
    ----------
    templates : ndarray, shape (n_images, H, W), uint8
        Greyscale images (natural scenes: (118, 918, 1174)).
    seq_len : int
        Frames per clip.
    size : int
        Side after resizing (torchvision ``Resize((size, size), antialias=True)`` of the
        ``ToTensor`` image).

    Returns
    -------
    torch.Tensor, shape (n_images, 3, seq_len, size, size), float32
        In [0, 1], 3 identical channels, un-normalised.
    """
    images = _resized_frames(templates, size, "scene templates")
    return images.unsqueeze(2).expand(-1, 3, seq_len, -1, -1).contiguous()


def clips_from_movie(
    frames: np.ndarray, seq_len: int = SEQ_LEN, *, size: int = CLIP_SIZE
) -> torch.Tensor:
    """Consecutive, non-overlapping clips of a movie.

    Parameters
    ----------
    frames : ndarray, shape (n_frames, H, W), uint8
        Greyscale frames (natural movie one: (900, 304, 608)); ``n_frames`` a multiple of
        ``seq_len``.
    seq_len : int
        Frames per clip.
    size : int
        Side after resizing (as :func:`clips_from_scenes`).

    Returns
    -------
    torch.Tensor, shape (n_frames // seq_len, 3, seq_len, size, size), float32
        Clip ``k`` holds frames ``k·seq_len … (k+1)·seq_len - 1`` in order; 3 identical
        channels, un-normalised.
    """
    n = np.shape(frames)[0]
    if seq_len < 1 or n % seq_len:
        raise ValueError(f"{n} movie frames do not split into clips of {seq_len} frames")
    resized = _resized_frames(frames, size, "movie frames")
    clips = resized.reshape(n // seq_len, 1, seq_len, size, size)
    return clips.expand(-1, 3, -1, -1, -1).contiguous()


def normalise_clips(
    clips: torch.Tensor,
    mean: Sequence[float] = NORMALISATION["rat"][0],
    std: Sequence[float] = NORMALISATION["rat"][1],
) -> torch.Tensor:
    """Per-channel normalisation of clips, as ``pytorchvideo.transforms.Normalize``.

    Parameters
    ----------
    clips : torch.Tensor, shape (n, 3, T, H, W)
    mean, std : sequence of 3 floats
        Default: the rat networks' (:data:`NORMALISATION`).

    Returns
    -------
    torch.Tensor, shape (n, 3, T, H, W), float32
        ``(clips - mean[c]) / std[c]`` on channel ``c``.
    """
    x = torch.as_tensor(clips, dtype=torch.float32)
    if x.ndim != 5 or x.shape[1] != len(mean) or len(mean) != len(std):
        raise ValueError(
            f"expected clips (n, {len(mean)}, T, H, W) and {len(mean)} means and stds, got "
            f"shape {tuple(x.shape)}, {len(mean)} means, {len(std)} stds"
        )
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1, 1)
    return (x - m) / s


def pixel_baseline(clips: torch.Tensor | np.ndarray) -> np.ndarray:
    """The pixel model: un-normalised clips averaged over channels and time, flattened.

    Parameters
    ----------
    clips : torch.Tensor or ndarray, shape (n, C, T, H, W)
        From :func:`clips_from_scenes` / :func:`clips_from_movie` (before normalising).

    Returns
    -------
    ndarray, shape (n, H·W), float32
    """
    x = torch.as_tensor(clips, dtype=torch.float32)
    if x.ndim != 5:
        raise ValueError(f"expected clips (n, C, T, H, W), got shape {tuple(x.shape)}")
    return x.mean(dim=(1, 2)).reshape(x.shape[0], -1).numpy()


def _selected(model: nn.Module, layer_names: Sequence[str]) -> list[tuple[str, nn.Module]]:
    available = dict(recorded_modules(model))
    unknown = [n for n in layer_names if n not in available]
    if unknown:
        raise ValueError(
            f"unknown layers {unknown}; {type(model).__name__} records {list(available)}"
        )
    return [(n, available[n]) for n in layer_names]


def video_activations(
    model: nn.Module,
    layer_names: Sequence[str],
    clips: torch.Tensor,
    *,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Record layers of a video model on clips.

    Parameters
    ----------
    model : torch.nn.Module
        From :func:`build_video_model` (run in eval mode).
    layer_names : sequence of str
        Layers to record (see :func:`recorded_modules`).
    clips : torch.Tensor, shape (n_clips, 3, T, H, W)
        Normalised clips (:func:`normalise_clips`).
    batch_size : int
        Clips per forward pass; results do not depend on it beyond float rounding, and are
        bit-identical between runs for a given batch size
        (:func:`~brainalign.networks.device.deterministic_forward`).
    device : str or torch.device
        ``"auto"`` uses a GPU when one is there.
    progress : callable, optional
        Called as ``progress(done, total)`` after each batch.

    Returns
    -------
    dict of str to ndarray
        Layer name -> (n_clips, n_features) float32, in the order of ``layer_names``: an
        activation (B, C, T, H, W) averaged over time and flattened (C·H·W); for
        :class:`FrameWise` models the frames' activations averaged.
    """
    x = torch.as_tensor(clips, dtype=torch.float32)
    if x.ndim != 5 or x.shape[0] == 0:
        raise ValueError(f"expected clips (n >= 1, 3, T, H, W), got shape {tuple(x.shape)}")
    dev = pick_device(device) if isinstance(device, str) else device
    model = model.to(dev).eval()
    framewise = isinstance(model, FrameWise)
    store: dict[str, list[np.ndarray]] = {name: [] for name in layer_names}

    def make_hook(name: str) -> Callable:
        def hook(_module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
            out = out.detach()
            if framewise:
                out = out.reshape(out.shape[0] // x.shape[2], x.shape[2], -1).mean(dim=1)
            elif out.ndim == 5:
                out = out.mean(dim=2)
            store[name].append(out.reshape(out.shape[0], -1).float().cpu().numpy())

        return hook

    handles = [m.register_forward_hook(make_hook(n)) for n, m in _selected(model, layer_names)]
    try:
        with torch.no_grad(), deterministic_forward():
            for start in range(0, x.shape[0], batch_size):
                model(x[start : start + batch_size].to(dev))
                if progress is not None:
                    progress(min(start + batch_size, x.shape[0]), x.shape[0])
    finally:
        for h in handles:
            h.remove()
    return {name: np.concatenate(chunks, axis=0) for name, chunks in store.items()}
