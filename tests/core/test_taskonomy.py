"""Taskonomy encoder architecture, checkpoint loading and layer RDMs."""

import hashlib

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from brainalign.networks import taskonomy as tk


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = tk.TaskonomyEncoder()
    # non-trivial BN statistics so the fixture exercises them
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    return m


def test_output_shapes_and_layers(model):
    x = torch.rand(2, 3, 256, 256) * 2 - 1
    outs = model.forward_layers(x)
    assert tuple(outs["block4"].shape) == (2, 2048, 16, 16)
    assert tuple(outs["encoder_output"].shape) == (2, 8, 16, 16)
    assert torch.equal(model(x), outs["encoder_output"])
    # group norm without affine parameters: per-sample, per-channel standardised
    o = outs["encoder_output"].flatten(2)
    assert torch.allclose(o.mean(-1), torch.zeros(2, 8), atol=1e-4)


def test_architecture_matches_spec(model):
    keys = model.state_dict().keys()
    assert {k.split(".")[0] for k in keys} == {
        "conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "compress1", "compress_bn",
    }  # fmt: skip
    assert [len(getattr(model, f"layer{i}")) for i in (1, 2, 3, 4)] == [3, 4, 6, 3]
    assert model.conv1.padding == (0, 0) and model.maxpool.ceil_mode
    for name in ("layer1", "layer2"):
        last = getattr(model, name)[-1]
        assert last.conv2.stride == (2, 2)
        assert isinstance(last.downsample[0], torch.nn.MaxPool2d)
    for name in ("layer3", "layer4"):
        assert all(b.conv2.stride == (1, 1) for b in getattr(model, name))
    assert model.compress1.out_channels == 8 and model.groupnorm.affine is False


def _save_fixture(model, tmp_path, task="normal"):
    tmp = tmp_path / "ckpt.pth"
    torch.save({"state_dict": model.state_dict()}, tmp)
    sha = hashlib.sha256(tmp.read_bytes()).hexdigest()
    final = tmp_path / f"{task}_encoder-{sha}.pth"
    tmp.rename(final)
    return final


def test_load_checkpoint_fixture(model, tmp_path):
    path = _save_fixture(model, tmp_path)
    assert tk.parse_encoder_filename(path.name)[0] == "normal"
    assert tk.encoder_file_for_task(tmp_path, "rgb2sfnorm") == path
    loaded = tk.load_encoder(path)
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    assert torch.equal(loaded(x), model(x))
    bad = tmp_path / ("normal_encoder-" + "0" * 64 + ".pth")
    path.rename(bad)
    with pytest.raises(ValueError, match="SHA-256"):
        tk.load_encoder(bad)
    assert tk.load_encoder(bad, verify_hash=False) is not None
    with pytest.raises(ValueError, match="not a Taskonomy"):
        tk.parse_encoder_filename("normal_decoder-abc.pth")
    with pytest.raises(ValueError, match="'edge2d'"):
        tk.encoder_file_for_task(tmp_path, "edge2d")


def test_features_and_rdms(model):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8) for _ in range(4)]
    x = tk.preprocess(imgs)
    assert tuple(x.shape) == (4, 3, 256, 256)
    assert x.min() >= -1 and x.max() <= 1
    feats = tk.extract_features(model, x, batch_size=3)
    assert feats["block4"].shape == (4, 2048 * 256)
    rdms = tk.feature_rdms(feats)
    np.testing.assert_allclose(
        rdms["encoder_output"], pdist(feats["encoder_output"], "correlation")
    )
    with pytest.raises(ValueError, match="'fc7'"):
        tk.extract_features(model, x, layers=("fc7",))


def test_task_groups():
    assert [len(tk.TASK_GROUPS[g]) for g in ("2D", "3D", "semantic")] == [7, 8, 3]
    assert set(sum(map(list, tk.TASK_GROUPS.values()), [])) | {"random"} == set(tk.TASK_LIST)
    assert tk.task_group("edge3d") == "3D" and tk.task_group("random") is None
    with pytest.raises(ValueError, match="'jigsaw'"):
        tk.task_group("jigsaw")
