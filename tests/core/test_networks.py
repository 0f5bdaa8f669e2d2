import numpy as np
import pytest
import torch

from brainalign.networks.activations import extract_activations, preprocess
from brainalign.networks.architectures import (
    DeepClusterAlexNet,
    build_network,
    relu_modules,
)
from brainalign.networks.registry import LAYER_NAMES
from brainalign.networks.weights import WeightsNotFoundError

# ReLU output shapes at 224 input (methods.md §1.3).
SHAPES = {
    "alexnet": [
        (64, 55, 55),
        (192, 27, 27),
        (384, 13, 13),
        (256, 13, 13),
        (256, 13, 13),
        (4096,),
        (4096,),
    ],
    "deepcluster": [
        (96, 55, 55),
        (256, 27, 27),
        (384, 13, 13),
        (384, 13, 13),
        (256, 13, 13),
        (4096,),
        (4096,),
    ],
}
SHAPES["modified_alexnet"] = SHAPES["deepcluster"]


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (3, 175, 175, 3), dtype=np.uint8)


def test_deepcluster_sobel_front_end_matches_spec():
    net = DeepClusterAlexNet(10)
    grey, sobel = net.sobel[0], net.sobel[1]
    assert grey.weight.shape == (1, 3, 1, 1) and sobel.weight.shape == (2, 1, 3, 3)
    np.testing.assert_allclose(grey.weight.detach().numpy().ravel(), [1 / 3] * 3)
    np.testing.assert_array_equal(sobel.weight[0, 0].numpy(), [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(sobel.weight[1, 0].numpy(), [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    assert not any(p.requires_grad for p in net.sobel.parameters())
    assert float(grey.bias) == 0 and torch.all(sobel.bias == 0)
    # A constant image has no edges: the Sobel output is zero away from the border.
    out = net.sobel(torch.ones(1, 3, 16, 16))
    assert torch.allclose(out[:, :, 1:-1, 1:-1], torch.zeros(1, 2, 14, 14))


def test_deepcluster_module_layout_matches_checkpoint_keys():
    keys = set(DeepClusterAlexNet(10000).state_dict())
    for i in (0, 4, 8, 11, 14):
        assert f"features.{i}.weight" in keys
    for i in (1, 5, 9, 12, 15):
        assert f"features.{i}.running_var" in keys
    assert {
        "classifier.1.weight",
        "classifier.4.weight",
        "top_layer.bias",
        "sobel.0.weight",
        "sobel.1.weight",
    } <= keys
    assert DeepClusterAlexNet(1000).top_layer.out_features == 1000


def test_deepcluster_init_rule():
    net = build_network("deepcluster", seed=3)
    conv = net.features[0]
    expected_sd = np.sqrt(2.0 / (11 * 11 * 96))
    assert abs(conv.weight.std().item() - expected_sd) / expected_sd < 0.02
    assert torch.all(conv.bias == 0)
    bn = net.features[1]
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    fc = net.classifier[1]
    assert abs(fc.weight.std().item() - 0.01) < 2e-4 and torch.all(fc.bias == 0)


@pytest.mark.parametrize("name", ["alexnet", "deepcluster", "modified_alexnet"])
def test_layer_shapes_match_spec(name, images):
    net = build_network(name, seed=0)
    assert [n for n, _ in relu_modules(net)] == list(LAYER_NAMES)
    acts = extract_activations(net, preprocess(images[:1]), conv_pooling="none", device="cpu")
    got = [a.shape[1] for a in acts.values()]
    assert got == [int(np.prod(s)) for s in SHAPES[name]]
    pooled = extract_activations(net, preprocess(images[:1]), conv_pooling="mean", device="cpu")
    assert [a.shape[1] for a in pooled.values()] == [s[0] for s in SHAPES[name]]
    # spatial mean of the full map equals the pooled value
    full = acts["conv2"].reshape(1, *SHAPES[name][1])
    np.testing.assert_allclose(full.mean(axis=(2, 3)), pooled["conv2"], rtol=1e-5, atol=1e-6)


def test_untrained_init_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_network("alexnet", seed=5).state_dict()
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = build_network("alexnet", seed=5).state_dict()
    c = build_network("alexnet", seed=6).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["features.0.weight"], c["features.0.weight"])


def test_unknown_network_and_missing_weights(tmp_path):
    with pytest.raises(ValueError, match="unknown network 'vgg'"):
        build_network("vgg")
    missing = tmp_path / "nope.pth"
    with pytest.raises(WeightsNotFoundError, match="alexnet-owt-7be5be79.pth") as err:
        build_network("alexnet", "trained", weights=str(missing))
    assert str(missing) in str(err.value)
    assert "download.pytorch.org" in str(err.value)


def test_trained_weights_roundtrip(tmp_path, images):
    net = build_network("alexnet", seed=9)
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(net.state_dict(), path)
    loaded = build_network("alexnet", "trained", seed=0, weights=str(path))
    x = preprocess(images)
    a = extract_activations(net, x, device="cpu")
    b = extract_activations(loaded, x, device="cpu")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_activations_do_not_depend_on_batch_size(images):
    net = build_network("deepcluster", seed=1)
    x = preprocess(images)
    a = extract_activations(net, x, batch_size=1, device="cpu")
    b = extract_activations(net, x, batch_size=3, device="cpu")
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_preprocess_matches_original_pipeline(images):
    x = preprocess(images)
    assert x.shape == (3, 3, 224, 224)
    with pytest.raises(ValueError, match=r"image 0: expected an \(H, W, 3\) uint8"):
        preprocess(images[:, :, :, 0])
