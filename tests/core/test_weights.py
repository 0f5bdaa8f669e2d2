"""Weights files: torchvision AlexNet (path and hub cache), DeepCluster and modified AlexNet
checkpoints (key-compatible fixtures, small via the width option), and safe loading."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from brainalign.networks import weights as W
from brainalign.networks.activations import extract_activations
from brainalign.networks.architectures import DeepClusterAlexNet, build_network
from brainalign.networks.weights import (
    UnsafeCheckpointError,
    WeightsNotFoundError,
    hub_cache_path,
    inspect_state_dict,
    load_state_dict,
    resolve_weights_path,
)

WIDTH = 1 / 16


def deepcluster_checkpoint(
    path: Path,
    *,
    top: int = 10,
    seed: int = 3,
    prefix: str = "infix",
    sobel_keys: bool = True,
    sobel: bool = True,
    legacy: bool = True,
    extra: dict | None = None,
) -> dict:
    """A checkpoint as DeepCluster's main.py saved it (PyTorch 0.3/0.4 era).

    ``prefix="infix"``: ``features.module.<i>`` (DeepCluster); ``"module"``: ``module.<key>``
    (the Cusack lab's modified AlexNet). No ``num_batches_tracked`` keys.
    """
    torch.manual_seed(seed)
    model = DeepClusterAlexNet(top, sobel=sobel, bn=True, width=WIDTH)
    with torch.no_grad():  # make BN statistics non-trivial
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.startswith("sobel.") and not sobel_keys:
            continue
        if prefix == "infix" and key.startswith("features."):
            key = key.replace("features.", "features.module.", 1)
        elif prefix == "module":
            key = "module." + key
        state[key] = value.clone()
    ckpt = {"epoch": 1, "arch": "alexnet", "state_dict": state, "optimizer": {}}
    ckpt.update(extra or {})
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    return {k: v for k, v in model.state_dict().items()}


def test_deepcluster_checkpoint_loads_with_sobel_and_top_size(tmp_path):
    path = tmp_path / "checkpoint.pth.tar"
    ref = deepcluster_checkpoint(path, top=10)
    raw = torch.load(path, weights_only=True)
    assert any(k.startswith("features.module.") for k in raw["state_dict"])
    state = load_state_dict(path)
    info = inspect_state_dict(state)
    assert (info.family, info.sobel, info.batchnorm, info.num_classes) == (
        "deepcluster_alexnet",
        True,
        True,
        10,
    )
    model = build_network("deepcluster", "trained", weights=str(path), width=WIDTH)
    assert model.top_layer.out_features == 10
    got = model.state_dict()
    for key, value in ref.items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(got[key], value), key
    # 7 ReLU outputs, spatially averaged conv layers
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    acts = extract_activations(model, x, device="cpu")
    assert list(acts) == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"]
    assert acts["conv1"].shape == (2, 6) and acts["fc7"].shape == (2, 256)
    untrained = extract_activations(build_network("deepcluster", width=WIDTH), x, device="cpu")
    assert not np.allclose(acts["fc6"], untrained["fc6"])


def test_modified_alexnet_module_prefix_zip_format(tmp_path):
    path = tmp_path / "modified_alexnet_checkpoint_27.pth.tar"
    ref = deepcluster_checkpoint(path, top=1000, prefix="module", legacy=False)
    assert next(iter(torch.load(path, weights_only=True)["state_dict"])).startswith("module.")
    model = build_network("modified_alexnet", "trained", weights=str(path), width=WIDTH)
    assert torch.equal(model.state_dict()["features.0.weight"], ref["features.0.weight"])
    assert model.top_layer.out_features == 1000


def test_checkpoint_without_sobel_keys_gets_the_fixed_filters(tmp_path):
    path = tmp_path / "nosobel_keys.pth.tar"
    deepcluster_checkpoint(path, sobel_keys=False)
    info = inspect_state_dict(load_state_dict(path))
    assert info.sobel  # detected from features.0 taking 2 channels
    model = build_network("deepcluster", "trained", weights=str(path), width=WIDTH)
    w = model.sobel[1].weight[0, 0]
    assert torch.equal(w, torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]))


def test_wrong_architecture_is_named(tmp_path):
    path = tmp_path / "rgb.pth.tar"
    deepcluster_checkpoint(path, sobel=False, sobel_keys=False)
    with pytest.raises(ValueError, match="without the Sobel front end"):
        build_network("deepcluster", "trained", weights=str(path), width=WIDTH)
    with pytest.raises(ValueError, match="needs a torchvision alexnet"):
        build_network("alexnet", "trained", weights=str(path))
    wide = tmp_path / "wide.pth.tar"
    deepcluster_checkpoint(wide)
    with pytest.raises(ValueError, match="do not fit network 'deepcluster'"):
        build_network("deepcluster", "trained", weights=str(wide), width=WIDTH * 2)


def test_missing_weights_name_file_source_and_path(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    missing = tmp_path / "nope" / "checkpoint.pth.tar"
    with pytest.raises(WeightsNotFoundError) as err:
        build_network("deepcluster", "trained", weights=str(missing))
    msg = str(err.value)
    assert "checkpoint.pth.tar" in msg and "dl.fbaipublicfiles.com/deepcluster" in msg
    assert str(missing.resolve()) in msg
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights_path("alexnet", None)
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / W.TORCHVISION_ALEXNET_FILE) in str(
        err.value
    )


def test_torchvision_hub_cache_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = hub_cache_path()
    assert cached == tmp_path / "torch" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"random bytes")  # sha256 does not start with 7be5be79
    with pytest.raises(ValueError, match="corrupt"):
        resolve_weights_path("alexnet", None)
    monkeypatch.setattr(W, "_sha256_startswith", lambda path, prefix: True)  # fake the hash
    assert resolve_weights_path("alexnet", None) == cached
    # a configured path that exists wins; a missing one with the same name falls back
    own = tmp_path / "mine.pth"
    own.write_bytes(b"x")
    assert resolve_weights_path("alexnet", own) == own
    assert resolve_weights_path("alexnet", tmp_path / "w" / cached.name) == cached
    with pytest.raises(WeightsNotFoundError):
        resolve_weights_path("alexnet", tmp_path / "other_name.pth")


def test_torchvision_weights_roundtrip(tmp_path, monkeypatch):
    """A torchvision-style state dict (random values) loads from the hub cache by key."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(W, "_sha256_startswith", lambda path, prefix: True)
    from torchvision.models import alexnet

    torch.manual_seed(11)
    state = alexnet(weights=None).state_dict()
    assert {k.split(".")[1] for k in state if k.startswith("features.")} == {
        "0",
        "3",
        "6",
        "8",
        "10",
    }
    assert {k.split(".")[1] for k in state if k.startswith("classifier.")} == {"1", "4", "6"}
    cached = hub_cache_path()
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    assert inspect_state_dict(load_state_dict(cached)).family == "torchvision_alexnet"
    model = build_network("alexnet", "trained", weights=None)
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value)


def test_unsafe_checkpoint_is_refused_unless_opted_in(tmp_path):
    path = tmp_path / "with_args.pth.tar"
    ref = deepcluster_checkpoint(path, extra={"args": argparse.Namespace(lr=0.05)})
    with pytest.raises(UnsafeCheckpointError) as err:
        build_network("deepcluster", "trained", weights=str(path), width=WIDTH)
    assert str(path) in str(err.value) and "allow_unsafe_pickle" in str(err.value)
    model = build_network(
        "deepcluster", "trained", weights=str(path), width=WIDTH, allow_unsafe_pickle=True
    )
    assert torch.equal(model.state_dict()["classifier.1.weight"], ref["classifier.1.weight"])


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_executing_checkpoint_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.marker = marker
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": evil}, path)
    with pytest.raises(UnsafeCheckpointError):
        load_state_dict(path)
    assert not marker.exists()


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(ValueError, match="expected a state dict"):
        load_state_dict(path)
    with pytest.raises(FileNotFoundError):
        load_state_dict(tmp_path / "none.pth")
