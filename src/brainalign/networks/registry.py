"""The torch-free network registry: names, layers, trainings and trained-weights files.

Config checks and weights resolution read this module without importing torch; the torch
models and the spec registry :data:`brainalign.networks.architectures.NETWORKS` (built from
:data:`WEIGHTS`, and checked against :data:`KNOWN_NETWORKS`) live in ``architectures``.

To add a network, add its name to :data:`KNOWN_NETWORKS`, its weights file to :data:`WEIGHTS`
and a :class:`NetworkSpec` to ``architectures.NETWORKS``.

Backbones (frozen feature extractors of the decoding-robustness study, built by
``brainalign.networks.backbones``) are the torchvision ImageNet classifiers of
:data:`BACKBONES`, whose weights files :data:`BACKBONE_WEIGHTS` lists, plus the networks of
:data:`KNOWN_NETWORKS`; :data:`BACKBONE_NAMES` holds every valid backbone name.

Video networks (clips ``(n, 3, T, H, W)``, built by ``brainalign.networks.video``) are named in
:data:`VIDEO_NETWORKS` with their recorded layers in :data:`VIDEO_LAYER_NAMES`; the torchvision
Kinetics-400 networks of :data:`VIDEO_TORCHVISION` have their weights files in
:data:`VIDEO_WEIGHTS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "LAYER_NAMES",
    "TRAININGS",
    "KNOWN_NETWORKS",
    "WeightsInfo",
    "WEIGHTS",
    "NetworkSpec",
    "parse_condition",
    "BACKBONES",
    "BACKBONE_NAMES",
    "BACKBONE_WEIGHTS",
    "VIDEO_TORCHVISION",
    "VIDEO_NETWORKS",
    "VIDEO_LAYER_NAMES",
    "VIDEO_WEIGHTS",
]

#: Names of the 7 recorded ReLU outputs, in network order.
LAYER_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
#: Training regimes a condition may have.
TRAININGS = ("trained", "untrained")
#: Config names of the registered networks (the keys of ``architectures.NETWORKS``).
KNOWN_NETWORKS = ("alexnet", "deepcluster", "modified_alexnet")


@dataclass(frozen=True)
class WeightsInfo:
    """The trained weights of one network.

    Attributes
    ----------
    file : str
        File name the trained weights usually have.
    source : str
        Where to obtain them (URL or instructions).
    family : str
        The checkpoint layout :func:`brainalign.networks.weights.inspect_state_dict` must
        recognise (``"torchvision_alexnet"`` or ``"deepcluster_alexnet"``); for backbones
        ``"torchvision_<name>"`` (the torchvision model's own state-dict keys).
    """

    file: str
    source: str
    family: str


#: Trained-weights files of the registered networks, by config name.
WEIGHTS: dict[str, WeightsInfo] = {
    "alexnet": WeightsInfo(
        "alexnet-owt-7be5be79.pth",
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "torchvision_alexnet",
    ),
    "deepcluster": WeightsInfo(
        "checkpoint.pth.tar",
        "https://dl.fbaipublicfiles.com/deepcluster/alexnet/checkpoint.pth.tar "
        "(or the Cusack lab's deepcluster_checkpoint_dc.pth.tar from "
        "s3://cusacklab/2020ICLR_BAICS_ATRC_opendata/)",
        "deepcluster_alexnet",
    ),
    "modified_alexnet": WeightsInfo(
        "modified_alexnet_checkpoint_27.pth.tar",
        "s3://cusacklab/2020ICLR_BAICS_ATRC_opendata/modified_alexnet_checkpoint_27.pth.tar",
        "deepcluster_alexnet",
    ),
}
if tuple(WEIGHTS) != KNOWN_NETWORKS:
    raise RuntimeError(f"WEIGHTS lists {tuple(WEIGHTS)}, KNOWN_NETWORKS {KNOWN_NETWORKS}")

#: torchvision ImageNet classifiers usable as frozen backbones (not Truzzi conditions).
BACKBONES = ("vgg11_bn", "resnext50_32x4d", "resnet50", "densenet121", "mobilenet_v3_large")
#: Every valid backbone name: the torchvision classifiers, then the registered networks.
BACKBONE_NAMES = BACKBONES + KNOWN_NETWORKS


def _torchvision_weights(name: str, file: str) -> WeightsInfo:
    return WeightsInfo(file, f"https://download.pytorch.org/models/{file}", f"torchvision_{name}")


#: Trained-weights files (torchvision IMAGENET1K_V1) of the :data:`BACKBONES`, by name.
BACKBONE_WEIGHTS: dict[str, WeightsInfo] = {
    "vgg11_bn": _torchvision_weights("vgg11_bn", "vgg11_bn-6002323d.pth"),
    "resnext50_32x4d": _torchvision_weights("resnext50_32x4d", "resnext50_32x4d-7cdf4587.pth"),
    "resnet50": _torchvision_weights("resnet50", "resnet50-0676ba61.pth"),
    "densenet121": _torchvision_weights("densenet121", "densenet121-a639ec97.pth"),
    "mobilenet_v3_large": _torchvision_weights(
        "mobilenet_v3_large", "mobilenet_v3_large-8738ca79.pth"
    ),
}
if tuple(BACKBONE_WEIGHTS) != BACKBONES:
    raise RuntimeError(f"BACKBONE_WEIGHTS lists {tuple(BACKBONE_WEIGHTS)}, BACKBONES {BACKBONES}")

#: torchvision Kinetics-400 video classifiers (3D ResNet-18, mixed convolutions, (2+1)D).
VIDEO_TORCHVISION = ("r3d_18", "mc3_18", "r2plus1d_18")
#: Every video network name: the two-pathway VisualNet, the torchvision video networks, and
#: the networks of :data:`KNOWN_NETWORKS` applied frame by frame.
VIDEO_NETWORKS = ("visualnet",) + VIDEO_TORCHVISION + KNOWN_NETWORKS
_VISUALNET_LAYERS = (
    ("s1",) + tuple(f"p{p}_res_block{i}" for p in (1, 2) for i in range(1, 7)) + ("out",)
)
_TORCHVISION_VIDEO_LAYERS = ("stem", "layer1", "layer2", "layer3", "layer4", "out")
#: Recorded layers of each video network, in network order (VisualNet: 2 paths x 6 blocks).
VIDEO_LAYER_NAMES: dict[str, tuple[str, ...]] = (
    {"visualnet": _VISUALNET_LAYERS}
    | {name: _TORCHVISION_VIDEO_LAYERS for name in VIDEO_TORCHVISION}
    | {name: LAYER_NAMES for name in KNOWN_NETWORKS}
)
#: Trained-weights files (torchvision KINETICS400_V1) of the :data:`VIDEO_TORCHVISION`, by name.
VIDEO_WEIGHTS: dict[str, WeightsInfo] = {
    "r3d_18": _torchvision_weights("r3d_18", "r3d_18-b3b3357e.pth"),
    "mc3_18": _torchvision_weights("mc3_18", "mc3_18-a90a0ba3.pth"),
    "r2plus1d_18": _torchvision_weights("r2plus1d_18", "r2plus1d_18-91a641e6.pth"),
}
if tuple(VIDEO_WEIGHTS) != VIDEO_TORCHVISION:
    raise RuntimeError(f"VIDEO_WEIGHTS lists {tuple(VIDEO_WEIGHTS)}, not {VIDEO_TORCHVISION}")


@dataclass(frozen=True)
class NetworkSpec:
    """A network the workflow can extract activations from.

    Attributes
    ----------
    name : str
        Config name (``networks`` / ``conditions`` entries use it).
    description : str
        One line for tables and reports.
    build : callable
        ``build(width) -> nn.Module`` creating a freshly initialised model; called under a
        seeded torch RNG.
    weights_file : str
        File name the trained weights usually have.
    weights_source : str
        Where to obtain the trained weights (URL or instructions).
    """

    name: str
    description: str
    build: Callable[[float], nn.Module]
    weights_file: str
    weights_source: str


def parse_condition(condition: str) -> tuple[str, str]:
    """Split a condition id ``"<network>_<training>"`` into its parts.

    Parameters
    ----------
    condition : str
        e.g. ``"deepcluster_untrained"``.

    Returns
    -------
    (network, training) : tuple of str

    Raises
    ------
    ValueError
        If the network is not registered or the training is not trained/untrained.
    """
    network, _, training = condition.rpartition("_")
    if training not in TRAININGS or not network:
        raise ValueError(
            f"condition {condition!r} must be '<network>_trained' or '<network>_untrained'"
        )
    if network not in KNOWN_NETWORKS:
        raise ValueError(
            f"unknown network {network!r} in condition {condition!r}; "
            f"known networks: {sorted(KNOWN_NETWORKS)}"
        )
    return network, training
