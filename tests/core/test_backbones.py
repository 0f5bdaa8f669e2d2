"""Backbones (networks.backbones): every name builds with its documented output size, seeded
initialisation, trained weights from files with clear errors, and the registry entries."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision.models as tvm
import yaml

from brainalign.networks import backbones as B
from brainalign.networks.registry import (
    BACKBONE_NAMES,
    BACKBONE_WEIGHTS,
    BACKBONES,
    KNOWN_NETWORKS,
)
from brainalign.networks.weights import WeightsNotFoundError

REPO = Path(__file__).resolve().parents[2]
OUT_DIM = {name: 1000 for name in BACKBONE_NAMES} | {"deepcluster": 10000}
FILES = {
    "vgg11_bn": "vgg11_bn-6002323d.pth",
    "resnext50_32x4d": "resnext50_32x4d-7cdf4587.pth",
    "resnet50": "resnet50-0676ba61.pth",
    "densenet121": "densenet121-a639ec97.pth",
    "mobilenet_v3_large": "mobilenet_v3_large-8738ca79.pth",
}


@pytest.fixture(autouse=True)
def _one_thread_empty_hub(tmp_path, monkeypatch):
    """One intra-op thread; a torch hub cache without any weights file."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_names_and_weights_files():
    assert BACKBONES == tuple(FILES)
    assert BACKBONE_NAMES == BACKBONES + KNOWN_NETWORKS
    assert B.BACKBONES is BACKBONES
    for name, file in FILES.items():
        info = BACKBONE_WEIGHTS[name]
        assert info.file == file
        assert info.source == f"https://download.pytorch.org/models/{file}"
    assert not set(BACKBONES) & set(KNOWN_NETWORKS)


def test_registry_yaml_lists_the_weights_files():
    registry = yaml.safe_load((REPO / "resources" / "registry.yaml").read_text())
    for name, file in FILES.items():
        entry = registry[f"torchvision_{name}"]
        assert entry["url"] == BACKBONE_WEIGHTS[name].source
        assert entry["path"] == f"weights/{file}"
        assert entry["sha256"] is None
        assert entry["sha256_prefix"] == file.rsplit("-", 1)[1].removesuffix(".pth")
        assert entry["group"] == "torchvision_classifiers"


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_every_backbone_builds_untrained_with_its_output_size(name):
    model, out_dim = B.build_backbone(name, trained=False, seed=0)
    assert out_dim == OUT_DIM[name]
    assert not model.training
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
    assert out.shape == (2, out_dim)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "alexnet"])
def test_seeded_initialisation_leaves_the_global_rng_alone(name):
    state = torch.get_rng_state()
    a = _params(B.build_backbone(name, trained=False, seed=7)[0])
    b = _params(B.build_backbone(name, trained=False, seed=7)[0])
    c = _params(B.build_backbone(name, trained=False, seed=8)[0])
    assert torch.equal(torch.get_rng_state(), state)
    assert _same(a, b)
    assert not _same(a, c)


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone 'resnet18'"):
        B.build_backbone("resnet18", trained=False, seed=0)


def test_missing_weights_name_the_url_and_the_place(tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        B.build_backbone("resnet50", trained=True, seed=0)
    msg = str(err.value)
    assert "https://download.pytorch.org/models/resnet50-0676ba61.pth" in msg
    assert str((Path("resources/weights") / FILES["resnet50"]).resolve()) in msg
    assert str(B.hub_cache_path(FILES["resnet50"])) in msg  # where it looked

    configured = tmp_path / "nets" / FILES["densenet121"]
    with pytest.raises(WeightsNotFoundError) as err:
        B.build_backbone("densenet121", trained=True, seed=0, weights_path=configured)
    assert BACKBONE_WEIGHTS["densenet121"].source in str(err.value)
    assert str(configured.resolve()) in str(err.value)


def test_a_directory_is_not_a_weights_file(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="is a directory") as err:
        B.resolve_backbone_weights("mobilenet_v3_large", tmp_path)
    assert str(tmp_path.resolve() / FILES["mobilenet_v3_large"]) in str(err.value)


def test_trained_weights_load_from_a_file(tmp_path):
    torch.manual_seed(5)
    source = tvm.mobilenet_v3_large(weights=None)
    # non-trivial BatchNorm statistics, so that they are seen to load too
    for module in source.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
    file = tmp_path / FILES["mobilenet_v3_large"]
    torch.save(source.state_dict(), file)
    model, out_dim = B.build_backbone("mobilenet_v3_large", trained=True, seed=0, weights_path=file)
    assert out_dim == 1000
    assert _same(_params(model), _params(source))
    assert not model.training


def test_hub_cache_copy_is_used_when_its_hash_matches(tmp_path, monkeypatch):
    file = B.hub_cache_path(FILES["mobilenet_v3_large"])
    file.parent.mkdir(parents=True)
    torch.save(tvm.mobilenet_v3_large(weights=None).state_dict(), file)
    with pytest.raises(ValueError, match="hub cache copy is corrupt"):
        B.resolve_backbone_weights("mobilenet_v3_large")
    monkeypatch.setattr(B, "sha256_file_cached", lambda path: "8738ca79" + "0" * 56)
    assert B.resolve_backbone_weights("mobilenet_v3_large") == file


def test_old_densenet_checkpoint_keys_are_renamed(tmp_path):
    torch.manual_seed(2)
    source = tvm.densenet121(weights=None)
    state = {}  # the 2017 layout: ``norm.1`` for ``norm1``, no ``num_batches_tracked``
    for key, value in source.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if ".denselayer" in key:
            for new in ("norm.1", "norm.2", "conv.1", "conv.2"):
                key = key.replace(f".{new.replace('.', '')}.", f".{new}.")
        state[key] = value
    assert any(".norm.1." in k for k in state) and any(".conv.2." in k for k in state)
    file = tmp_path / "densenet.pth"
    torch.save(state, file)
    model, _ = B.build_backbone("densenet121", trained=True, seed=0, weights_path=file)
    assert _same(_params(model), _params(source))


def test_weights_of_another_network_do_not_fit(tmp_path):
    file = tmp_path / "other.pth"
    torch.save(tvm.alexnet(weights=None).state_dict(), file)
    with pytest.raises(ValueError, match="do not fit backbone 'mobilenet_v3_large'"):
        B.build_backbone("mobilenet_v3_large", trained=True, seed=0, weights_path=file)


def test_registered_network_backbone_loads_trained_weights(tmp_path):
    source = tvm.alexnet(weights=None)
    file = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(source.state_dict(), file)
    model, out_dim = B.build_backbone("alexnet", trained=True, seed=0, weights_path=file)
    assert out_dim == 1000
    assert _same(_params(model), _params(source))


def test_public_names_are_lazy():
    import brainalign.networks as N

    assert N.build_backbone is B.build_backbone
    assert N.BACKBONES is BACKBONES and N.BACKBONE_WEIGHTS is BACKBONE_WEIGHTS
