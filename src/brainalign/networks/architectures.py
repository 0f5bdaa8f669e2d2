"""Network architectures of the Truzzi & Cusack (2020) study and a registry to extend it.

Three architectures, each *untrained* (seeded initialisation following the original's init
rule) or *trained* (weights from a file):

``alexnet``
    torchvision's AlexNet (standard AlexNet, conv 64/192/384/256/256); PyTorch default init.
``deepcluster``
    DeepCluster AlexNet (Caron et al. 2018): fixed Sobel front end, conv 96/256/384/384/256 each
    followed by BatchNorm, 10,000-way ``top_layer``; DeepCluster's init rule.
``modified_alexnet``
    The same Sobel + BatchNorm architecture with a 1,000-way ``top_layer`` (the Cusack lab's
    supervised "modified AlexNet").

Recorded layers are the outputs of the 7 ``nn.ReLU`` modules in ``features`` (5 conv) and
``classifier`` (2 fc), named ``conv1 … conv5, fc6, fc7``.

To add a network, register it in :mod:`brainalign.networks.registry` (name and weights file)
and a :class:`~brainalign.networks.registry.NetworkSpec` in :data:`NETWORKS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from brainalign.networks.registry import (
    KNOWN_NETWORKS,
    LAYER_NAMES,
    TRAININGS,
    WEIGHTS,
    NetworkSpec,
)
from brainalign.networks.weights import load_weights_into

__all__ = [
    "NETWORKS",
    "DeepClusterAlexNet",
    "build_network",
    "relu_modules",
]

_DC_CFG = [
    (96, 11, 4, 2),
    "M",
    (256, 5, 1, 2),
    "M",
    (384, 3, 1, 1),
    (384, 3, 1, 1),
    (256, 3, 1, 1),
    "M",
]


class DeepClusterAlexNet(nn.Module):
    """AlexNet as in DeepCluster (``facebookresearch/deepcluster:models/alexnet.py``).

    Module names and indices match the original so its checkpoints load by key:
    ``sobel.{0,1}``, ``features.{0..17}``, ``classifier.{1,4}``, ``top_layer``.

    Parameters
    ----------
    num_classes : int
        Size of ``top_layer`` (10,000 for DeepCluster, 1,000 for the modified AlexNet).
    sobel : bool
        Prepend the fixed greyscale + Sobel filters (input dimension 2 for ``features``).
    bn : bool
        BatchNorm after every convolution.
    width : float
        Multiplier on every conv and fc width (1.0 = the original). Small widths build
        key-compatible miniature networks for tests.

    Notes
    -----
    Input: (B, 3, 224, 224) normalised images (other sizes are pooled to the 6 × 6 maps of
    224 px, see :meth:`flat_features`); ``forward`` returns (B, num_classes).
    """

    def __init__(
        self, num_classes: int = 10000, sobel: bool = True, bn: bool = True, width: float = 1.0
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 2 if sobel else 3
        for v in _DC_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
                continue
            out, k, s, p = v
            out = max(1, int(round(out * width)))
            layers.append(nn.Conv2d(in_ch, out, kernel_size=k, stride=s, padding=p))
            if bn:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            in_ch = out
        self.features = nn.Sequential(*layers)
        self._flat = in_ch * 6 * 6
        fc = max(1, int(round(4096 * width)))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(self._flat, fc),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(fc, fc),
            nn.ReLU(inplace=True),
        )
        self.top_layer = nn.Linear(fc, num_classes)
        self._initialize_weights()
        if sobel:
            grayscale = nn.Conv2d(3, 1, kernel_size=1, stride=1, padding=0)
            sobel_filter = nn.Conv2d(1, 2, kernel_size=3, stride=1, padding=1)
            with torch.no_grad():
                grayscale.weight.fill_(1.0 / 3.0)
                grayscale.bias.zero_()
                sobel_filter.weight[0, 0].copy_(
                    torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
                )
                sobel_filter.weight[1, 0].copy_(
                    torch.tensor([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
                )
                sobel_filter.bias.zero_()
            self.sobel = nn.Sequential(grayscale, sobel_filter)
            for p in self.sobel.parameters():
                p.requires_grad = False
        else:
            self.sobel = None

    def flat_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images → (B, 256·6·6) flattened ``features`` output.

        At 224 px the last pooling gives 6 × 6 maps, as the original; other sizes (training
        at reduced resolution) are average-pooled to 6 × 6 first, as torchvision's AlexNet does.
        """
        if self.sobel is not None:
            x = self.sobel(x)
        x = self.features(x)
        if x.shape[-2:] != (6, 6):
            x = nn.functional.adaptive_avg_pool2d(x, (6, 6))
        return x.reshape(x.size(0), self._flat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top_layer(self.classifier(self.flat_features(x)))

    def _initialize_weights(self) -> None:
        # DeepCluster's rule: conv ~ N(0, sqrt(2 / (k*k*out))), BN (1, 0), linear ~ N(0, 0.01).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)


def _torchvision_alexnet(width: float = 1.0) -> nn.Module:
    if width != 1.0:
        raise ValueError("the torchvision AlexNet has no width option; use width=1.0")
    from torchvision.models import alexnet

    return alexnet(weights=None)


def _spec(name: str, description: str, build: Callable[[float], nn.Module]) -> NetworkSpec:
    weights = WEIGHTS[name]
    return NetworkSpec(name, description, build, weights.file, weights.source)


#: Registered networks by config name.
NETWORKS: dict[str, NetworkSpec] = {
    "alexnet": _spec("alexnet", "standard AlexNet (torchvision)", _torchvision_alexnet),
    "deepcluster": _spec(
        "deepcluster",
        "DeepCluster AlexNet (Sobel + BatchNorm, unsupervised, 10,000-way top)",
        lambda width=1.0: DeepClusterAlexNet(10000, sobel=True, bn=True, width=width),
    ),
    "modified_alexnet": _spec(
        "modified_alexnet",
        "modified AlexNet (Sobel + BatchNorm, supervised, 1,000-way top)",
        lambda width=1.0: DeepClusterAlexNet(1000, sobel=True, bn=True, width=width),
    ),
}
if tuple(NETWORKS) != KNOWN_NETWORKS:
    raise RuntimeError(f"NETWORKS has {tuple(NETWORKS)}, registry.KNOWN_NETWORKS {KNOWN_NETWORKS}")


def build_network(
    name: str,
    training: str = "untrained",
    *,
    seed: int = 0,
    weights: str | None = None,
    width: float = 1.0,
    allow_unsafe_pickle: bool = False,
) -> nn.Module:
    """Build a network in eval mode.

    Parameters
    ----------
    name : str
        A key of :data:`NETWORKS`.
    training : {"untrained", "trained"}
        ``untrained``: initialised from ``seed`` (without touching torch's global RNG state).
        ``trained``: the same architecture, then weights loaded from ``weights``.
    seed : int
        Seed for the initialisation.
    weights : str, optional
        Path of the weights file; required when ``training == "trained"``.
    width : float
        Width multiplier (DeepCluster-style networks only).
    allow_unsafe_pickle : bool
        Passed to :func:`brainalign.networks.weights.load_state_dict`.

    Returns
    -------
    torch.nn.Module
    """
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; known networks: {sorted(NETWORKS)}")
    if training not in TRAININGS:
        raise ValueError(f"unknown training {training!r}; choose one of {list(TRAININGS)}")
    spec = NETWORKS[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = spec.build(width)
    if training == "trained":
        load_weights_into(model, name, weights, allow_unsafe_pickle=allow_unsafe_pickle)
    return model.eval()


def relu_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The ReLU modules of ``model.features`` and ``model.classifier``, in order.

    Returns
    -------
    list of (layer_name, module)
        Named with :data:`LAYER_NAMES` when there are exactly 7 (the AlexNet family), else
        ``relu1, relu2, …``.
    """
    mods = [
        m
        for part in ("features", "classifier")
        for m in getattr(model, part).children()
        if isinstance(m, nn.ReLU)
    ]
    names = (
        LAYER_NAMES
        if len(mods) == len(LAYER_NAMES)
        else tuple(f"relu{i + 1}" for i in range(len(mods)))
    )
    return list(zip(names, mods, strict=True))
