"""Video networks (networks.video, networks.visualnet): VisualNet's documented shapes and
checkpoints, every video network seeded and recorded, the stimulus transform against
torchvision, trained weights with clear errors, and the registry entries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torchvision import transforms

from brainalign import networks as N
from brainalign.networks import video as V
from brainalign.networks.registry import VIDEO_LAYER_NAMES, VIDEO_NETWORKS, VIDEO_WEIGHTS
from brainalign.networks.visualnet import (
    SymmetricConv3d,
    VisualNet,
    VisualNetCheckpointError,
    load_visualnet_checkpoint,
)
from brainalign.networks.weights import WeightsNotFoundError, hub_cache_path

REPO = Path(__file__).resolve().parents[2]
VIDEO_FILES = {
    "r3d_18": "r3d_18-b3b3357e.pth",
    "mc3_18": "mc3_18-a90a0ba3.pth",
    "r2plus1d_18": "r2plus1d_18-91a641e6.pth",
}


@pytest.fixture(autouse=True)
def _one_thread_empty_hub(tmp_path, monkeypatch):
    """One intra-op thread; a torch hub cache without any weights file."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _clips(shape: tuple[int, ...], seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- VisualNet -------------------------------------------------------------------------------


def test_visualnet_layers_and_output_shapes():
    model, layers = V.build_video_model("visualnet", seed=0)
    assert layers == ["s1"] + [f"p{p}_res_block{i}" for p in (1, 2) for i in range(1, 7)] + ["out"]
    assert (
        layers == [n for n, _ in V.recorded_modules(model)] == list(VIDEO_LAYER_NAMES["visualnet"])
    )
    x = _clips((2, 3, 15, 64, 64))
    with torch.no_grad():
        assert model(x).shape == (2, 128, 15, 16, 16)
        assert VisualNet(concat=False).eval()(x).shape == (2, 64, 15, 16, 16)
    acts = V.video_activations(model, layers, x, batch_size=2)
    assert list(acts) == layers
    expected = {"s1": 128 * 16 * 16, "out": 128 * 16 * 16} | {
        n: 64 * 16 * 16 for n in layers if "res_block" in n
    }
    for name, arr in acts.items():
        assert arr.shape == (2, expected[name]) and arr.dtype == np.float32
    # `out` is the time average of the (eval-mode identity) dropout output
    with torch.no_grad():
        direct = model(x).mean(dim=2).reshape(2, -1).numpy()
    np.testing.assert_array_equal(acts["out"], direct)


def test_visualnet_documented_parameter_shapes():
    state = VisualNet().state_dict()
    assert state["s1.conv1.weight"].shape == (32, 3, 5, 7, 7)
    assert state["s1.bn1.running_mean"].shape == (128,)
    for p in (1, 2):
        block = f"path{p}.res_blocks.res"
        assert state[f"{block}0.branch1.weight"].shape == (64, 128, 1, 1, 1)
        assert state[f"{block}0.branch1_bn.weight"].shape == (64,)
        assert state[f"{block}0.branch2.a.weight"].shape == (16, 128, 1, 1, 1)
        assert state[f"{block}0.branch2.b.weight"].shape == (16, 16, 1, 3, 3)
        assert state[f"{block}0.branch2.c.weight"].shape == (64, 16, 1, 1, 1)
        for i in range(1, 6):
            assert state[f"{block}{i}.branch2.a.weight"].shape == (16, 64, 1 + 2 * (i % 2), 1, 1)
            assert f"{block}{i}.branch1.weight" not in state
        assert f"{block}6.branch2.a.weight" not in state


def test_symmetric_stem_filters_are_rotations_of_the_stored_ones():
    conv = SymmetricConv3d(1, 2, (1, 3, 3), (1, 1, 1), (0, 1, 1))
    x = _clips((1, 1, 1, 6, 6))
    with torch.no_grad():
        y, y_rot = conv(x), conv(torch.rot90(x, 1, [3, 4]))
    assert y.shape == (1, 8, 1, 6, 6)
    blocks, blocks_rot = y.split(2, dim=1), y_rot.split(2, dim=1)
    for k in range(4):  # rotating the input moves each response to the next rotation block
        torch.testing.assert_close(blocks_rot[k], torch.rot90(blocks[k - 1], 1, [3, 4]))


def _lightning_checkpoint(path: Path, state: dict, prefix: str = "model.backbone.") -> Path:
    ckpt = {
        "epoch": 1966,
        "global_step": 15736,
        "pytorch-lightning_version": "2.1.1",
        "state_dict": {prefix + k: v for k, v in state.items()}
        | {"model.agg.cell_list.0.reset_gate.weight": torch.zeros(3, 3)},
    }
    torch.save(ckpt, path)
    return path


def test_a_lightning_checkpoint_of_the_model_loads(tmp_path):
    source = VisualNet()
    with torch.no_grad():
        for name, buf in source.named_buffers():
            if "running_mean" in name:
                buf.normal_()
    saved = _params(source)
    for prefix in ("model.backbone.", "module."):
        file = _lightning_checkpoint(tmp_path / "rat1.ckpt", saved, prefix)
        model, _ = V.build_video_model("visualnet", seed=5, trained=True, weights_path=file)
        assert _same(_params(model), saved)
        assert not model.training


def test_a_mismatching_checkpoint_gets_one_clear_error(tmp_path):
    state = _params(VisualNet())
    state["s1.conv1.weight"] = torch.zeros(64, 3, 5, 7, 7)
    file = _lightning_checkpoint(tmp_path / "bad.ckpt", state)
    with pytest.raises(VisualNetCheckpointError) as err:
        load_visualnet_checkpoint(VisualNet(), file)
    msg = str(err.value)
    assert "first mismatching key 's1.conv1.weight'" in msg
    assert "checkpoint (64, 3, 5, 7, 7), model (32, 3, 5, 7, 7)" in msg
    assert "'model.backbone.'" in msg and str(file) in msg

    shallow = _lightning_checkpoint(tmp_path / "shallow.ckpt", _params(VisualNet(num_res_blocks=4)))
    with pytest.raises(VisualNetCheckpointError, match="'path1.res_blocks.res4.branch2.a.weight'"):
        load_visualnet_checkpoint(VisualNet(), shallow)
    deep = _lightning_checkpoint(tmp_path / "deep.ckpt", _params(VisualNet(num_res_blocks=8)))
    with pytest.raises(VisualNetCheckpointError, match="checkpoint .* model missing"):
        load_visualnet_checkpoint(VisualNet(), deep)


# --- every video network -----------------------------------------------------------------


@pytest.mark.parametrize("name", VIDEO_NETWORKS)
def test_every_video_network_is_seeded_and_records_its_layers(name):
    state = torch.get_rng_state()
    a, layers = V.build_video_model(name, seed=3)
    b, _ = V.build_video_model(name, seed=3)
    c, _ = V.build_video_model(name, seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert layers == list(VIDEO_LAYER_NAMES[name])
    assert _same(_params(a), _params(b)) and not _same(_params(a), _params(c))
    clip = _clips((1, 3, 2 if name in N.KNOWN_NETWORKS else 4, 32, 32))
    acts_a = V.video_activations(a, layers, clip)
    acts_b = V.video_activations(b, layers, clip)
    acts_c = V.video_activations(c, layers[-1:], clip)
    assert list(acts_a) == layers
    for layer in layers:
        assert acts_a[layer].shape[0] == 1 and acts_a[layer].dtype == np.float32
        assert np.isfinite(acts_a[layer]).all()
        np.testing.assert_array_equal(acts_a[layer], acts_b[layer])
    assert not np.array_equal(acts_a[layers[-1]], acts_c[layers[-1]])


def test_torchvision_video_layers_are_stem_to_layer4_and_the_pooled_output():
    model, layers = V.build_video_model("r3d_18", seed=0)
    acts = V.video_activations(model, layers, _clips((2, 3, 15, 64, 64)), batch_size=2)
    assert {k: v.shape[1] for k, v in acts.items()} == {
        "stem": 64 * 32 * 32,
        "layer1": 64 * 32 * 32,
        "layer2": 128 * 16 * 16,
        "layer3": 256 * 8 * 8,
        "layer4": 512 * 4 * 4,
        "out": 512,
    }


def test_framewise_networks_average_over_frames():
    model, layers = V.build_video_model("alexnet", seed=0)
    clip = _clips((2, 3, 3, 32, 32))
    whole = V.video_activations(model, layers, clip)
    per_frame = [V.video_activations(model, layers, clip[:, :, t : t + 1]) for t in range(3)]
    for layer in layers:
        mean = np.mean([f[layer] for f in per_frame], axis=0)
        np.testing.assert_allclose(whole[layer], mean, rtol=1e-5, atol=1e-6)


def test_activations_do_not_depend_on_the_batch_size():
    model, layers = V.build_video_model("visualnet", seed=0)
    clips = _clips((3, 3, 5, 32, 32))
    one = V.video_activations(model, layers, clips, batch_size=1)
    three = V.video_activations(model, layers, clips, batch_size=3)
    for layer in layers:
        np.testing.assert_allclose(one[layer], three[layer], rtol=1e-5, atol=1e-6)


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown video network 'resnet50'"):
        V.build_video_model("resnet50", seed=0)
    model, _ = V.build_video_model("visualnet", seed=0)
    with pytest.raises(ValueError, match=r"unknown layers \['layer1'\]"):
        V.video_activations(model, ["layer1"], _clips((1, 3, 2, 32, 32)))


# --- stimulus transform ------------------------------------------------------------------


def test_scene_clips_equal_torchvision_resize_of_to_tensor_images():
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, size=(3, 91, 117), dtype=np.uint8)
    clips = V.clips_from_scenes(templates)
    assert clips.shape == (3, 3, 15, 64, 64) and clips.dtype == torch.float32
    tf = transforms.Compose([transforms.ToTensor(), transforms.Resize((64, 64), antialias=True)])
    for k, img in enumerate(templates):
        expected = tf(img)  # (1, 64, 64)
        assert torch.equal(clips[k], expected.unsqueeze(1).expand(3, 15, 64, 64))


def test_movie_clips_keep_the_frame_order():
    frames = np.broadcast_to(np.arange(45, dtype=np.uint8)[:, None, None], (45, 20, 30)).copy()
    clips = V.clips_from_movie(frames)
    assert clips.shape == (3, 3, 15, 64, 64)
    values = clips[:, :, :, 10, 10] * 255  # a constant frame stays constant after resizing
    expected = torch.arange(45, dtype=torch.float32).reshape(3, 1, 15).expand(3, 3, 15)
    torch.testing.assert_close(values, expected)
    with pytest.raises(ValueError, match="do not split into clips of 15"):
        V.clips_from_movie(frames[:44])


def test_normalisation_and_pixel_baseline():
    rng = np.random.default_rng(1)
    clips = V.clips_from_movie(rng.integers(0, 256, size=(30, 40, 50), dtype=np.uint8))
    mean, std = V.NORMALISATION["rat"]
    assert mean == (0.4992, 0.4975, 0.4928) and std == (0.2379, 0.2291, 0.2454)
    norm = V.normalise_clips(clips)
    per_clip = transforms.Normalize(mean, std)  # pytorchvideo's Normalize: over (T, C, H, W)
    for k in range(clips.shape[0]):
        expected = per_clip(clips[k].transpose(0, 1)).transpose(0, 1)
        torch.testing.assert_close(norm[k], expected, rtol=0, atol=1e-6)
    pixels = V.pixel_baseline(clips)
    assert pixels.shape == (2, 64 * 64) and pixels.dtype == np.float32
    direct = clips.numpy().astype(np.float64).mean(axis=(1, 2)).reshape(2, -1)
    np.testing.assert_allclose(pixels, direct, rtol=1e-6)


# --- trained weights ---------------------------------------------------------------------


def test_missing_video_weights_name_the_url_and_the_place(tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        V.build_video_model("r3d_18", seed=0, trained=True)
    msg = str(err.value)
    assert "https://download.pytorch.org/models/r3d_18-b3b3357e.pth" in msg
    assert str((Path("resources/weights") / VIDEO_FILES["r3d_18"]).resolve()) in msg
    assert str(hub_cache_path(VIDEO_FILES["r3d_18"])) in msg

    configured = tmp_path / "nets" / "rat1.ckpt"
    with pytest.raises(WeightsNotFoundError) as err:
        V.build_video_model("visualnet", seed=0, trained=True, weights_path=configured)
    assert "crijnen_project" in str(err.value) and str(configured.resolve()) in str(err.value)
    with pytest.raises(WeightsNotFoundError, match="checkpoint.pth.tar"):
        V.build_video_model("deepcluster", seed=0, trained=True)


def test_trained_torchvision_video_weights_load_from_a_file(tmp_path):
    source, _ = V.build_video_model("mc3_18", seed=9)
    file = tmp_path / VIDEO_FILES["mc3_18"]
    torch.save(source.state_dict(), file)
    model, _ = V.build_video_model("mc3_18", seed=0, trained=True, weights_path=file)
    assert _same(_params(model), _params(source))
    with pytest.raises(ValueError, match="do not fit video network 'r3d_18'"):
        V.build_video_model("r3d_18", seed=0, trained=True, weights_path=file)


def test_registry_lists_the_video_weights_files():
    assert tuple(VIDEO_WEIGHTS) == tuple(VIDEO_FILES)
    registry = yaml.safe_load((REPO / "resources" / "registry.yaml").read_text())
    for name, file in VIDEO_FILES.items():
        info = VIDEO_WEIGHTS[name]
        assert info.file == file and info.source == f"https://download.pytorch.org/models/{file}"
        entry = registry[f"torchvision_{name}"]
        assert entry["url"] == info.source and entry["path"] == f"weights/{file}"
        assert entry["sha256_prefix"] == file.rsplit("-", 1)[1].removesuffix(".pth")
        assert entry["group"] == "torchvision_video"


def test_public_names():
    for name in ("build_video_model", "video_activations", "VisualNet", "clips_from_scenes"):
        assert name in N.__all__ and getattr(N, name) is not None
    assert N.VIDEO_NETWORKS == VIDEO_NETWORKS
