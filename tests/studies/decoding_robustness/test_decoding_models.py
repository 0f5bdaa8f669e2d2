"""decoding_robustness models and training: the original's architectures, preprocessing and
augmentation (against albumentations 1.0.3), the balanced sampler, frozen backbones in both
BatchNorm modes, cached features equal to the end-to-end path, seeding, planted decoding."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
import torch
from albumentations.augmentations.geometric import functional as AF
from scipy.ndimage import gaussian_filter
from sklearn.metrics import accuracy_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from torch import nn

from brainalign.networks.backbones import build_backbone
from brainalign.studies.decoding_robustness import models as M
from brainalign.studies.decoding_robustness import training as T


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _images(n: int, side: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth greyscale uint8 images (n, side, side)."""
    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.uniform(0, 255, (n, side, side)), (0, 2, 2))
    lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    return np.round((x - lo) / (hi - lo) * 255).astype(np.uint8)


def _labels(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.arange(n) % 3)


def _state(model: nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith(prefix)}


def _assert_same(a: dict, b: dict, **tol) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], **(tol or {"rtol": 0, "atol": 0}), msg=key)


@pytest.fixture(scope="module")
def alexnet() -> tuple[nn.Module, int]:
    return build_backbone("alexnet", trained=False, seed=0)


# --- architectures -------------------------------------------------------------------------


def test_decoder_has_the_original_layers():
    model = M.FmriDecoder(8427)
    blocks = [*model.feature_extractor, model.fc1]
    sizes = [(8427, 512), (512, 512), (512, 100)]
    for block, (f_in, f_out) in zip(blocks, sizes, strict=True):
        linear, bn, relu, drop = block
        assert (linear.in_features, linear.out_features) == (f_in, f_out)
        assert isinstance(bn, nn.BatchNorm1d) and bn.num_features == f_out
        assert isinstance(relu, nn.ReLU)
        assert isinstance(drop, nn.Dropout) and drop.p == 0.6
    assert (model.fc2.in_features, model.fc2.out_features) == (100, 3)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == (8427 * 512 + 512) + (512 * 512 + 512) + (512 * 100 + 100) + (
        2 * (512 + 512 + 100)
    ) + (100 * 3 + 3)
    assert "feature_extractor.0.0.weight" in model.state_dict()  # the original's keys
    x = torch.randn(5, 8427)
    model.eval()
    with torch.no_grad():
        emb = model.embed(x)
        assert emb.shape == (5, 100) and (emb >= 0).all()  # after BatchNorm and ReLU
        torch.testing.assert_close(model(x), model.fc2(emb))


def test_head_classifier_is_a_frozen_backbone_and_a_linear_head(alexnet):
    backbone, out_dim = alexnet
    model = M.HeadClassifier(backbone, out_dim)
    assert [name for name, _ in model.named_children()] == ["feature_extractor", "fc1", "fc2"]
    assert (model.fc1.in_features, model.fc1.out_features) == (1000, 100)
    assert (model.fc2.in_features, model.fc2.out_features) == (100, 3)
    assert not any(p.requires_grad for p in model.feature_extractor.parameters())
    assert [p.requires_grad for p in (*model.fc1.parameters(), *model.fc2.parameters())] == [
        True
    ] * 4
    f = torch.randn(4, 1000)
    with torch.no_grad():  # no nonlinearity between fc1 and fc2
        torch.testing.assert_close(
            model.head(2 * f) - model.head(f), model.head(f) - model.head(0 * f)
        )
        x = M.preprocess_images(_images(2))  # 64 x 64: alexnet's smallest input
        torch.testing.assert_close(model.embed(x), model.fc1(backbone(x)))
        assert model.embed(x).shape == (2, 100)


def test_bn_modes_set_the_backbone_mode():
    backbone, out_dim = build_backbone("mobilenet_v3_large", trained=False, seed=0)
    corrected = M.HeadClassifier(backbone, out_dim).train()
    assert corrected.training and corrected.fc1.training
    assert not any(m.training for m in corrected.feature_extractor.modules())
    faithful = M.HeadClassifier(backbone, out_dim, bn_mode="faithful").train()
    assert all(m.training for m in faithful.feature_extractor.modules())
    faithful.eval()
    assert not any(m.training for m in faithful.modules())
    with pytest.raises(ValueError, match="bn_mode"):
        M.HeadClassifier(backbone, out_dim, bn_mode="frozen")


# --- preprocessing and augmentation ---------------------------------------------------------


def test_preprocessing_equals_albumentations_normalize():
    images = _images(3, side=20)
    out = M.preprocess_images(images)
    assert out.shape == (3, 3, 20, 20) and out.dtype == torch.float32
    normalize = A.Normalize(mean=0.4599, std=0.2172, max_pixel_value=255)
    for k, img in enumerate(images):
        ref = normalize(image=np.stack([img] * 3, axis=-1))["image"]
        np.testing.assert_array_equal(out[k].permute(1, 2, 0).numpy(), ref)
    with pytest.raises(ValueError, match="uint8"):
        M.preprocess_images(images.astype(np.float32))


@pytest.mark.parametrize(
    "params", [(0.05, 1.03, 0.04, -0.03), (30.0, 0.8, 0.2, 0.1), (-10.0, 1.2, -0.3, 0.25)]
)
def test_shift_scale_rotate_equals_albumentations(params):
    img = _images(1, side=48)[0][:, :40]
    ref = AF.shift_scale_rotate(img, *params)  # cv2.warpAffine, border reflect-101
    x = torch.tensor(img, dtype=torch.float32)[None, None]
    out = M.shift_scale_rotate(x, torch.tensor([params]))[0, 0].numpy()
    # cv2 interpolates in fixed point: at most one grey level apart
    assert np.abs(out - ref).max() <= 1.0
    assert np.mean(out != ref) < 0.2


def test_augmentation_draws_flips_and_warps_from_its_generator():
    x = M.image_tensor(_images(400, side=16))
    out = M.augment_images(x, torch.Generator().manual_seed(1))
    again = M.augment_images(x, torch.Generator().manual_seed(1))
    torch.testing.assert_close(out, again, rtol=0, atol=0)
    changed = (out != x).flatten(1).any(dim=1).float().mean().item()
    assert 0.1 < changed < 0.3  # flip p=0.1, then warp p=0.1
    flipped = M.augment_images(
        x, torch.Generator().manual_seed(1), M.Augmentation(flip_p=1.0, affine_p=0.0)
    )
    torch.testing.assert_close(flipped, torch.flip(x, dims=[-1]), rtol=0, atol=0)


# --- sampler --------------------------------------------------------------------------------


def test_balanced_sampler_draws_classes_equally():
    y = np.repeat([0, 1, 2], [300, 60, 20])
    sampler = T.balanced_sampler(y, torch.Generator().manual_seed(0))
    epochs = 20
    draws = np.concatenate([np.fromiter(iter(sampler), dtype=np.int64) for _ in range(epochs)])
    assert draws.size == epochs * y.size
    counts = np.bincount(y[draws], minlength=3)
    expected, sd = draws.size / 3, np.sqrt(draws.size * (1 / 3) * (2 / 3))
    assert np.all(np.abs(counts - expected) < 5 * sd), counts
    # the generator drives it: reseeded, the same draws
    again = T.balanced_sampler(y, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(np.fromiter(iter(again), dtype=np.int64), draws[: y.size])


# --- training -------------------------------------------------------------------------------


def test_cached_features_train_the_same_head_as_end_to_end(alexnet, monkeypatch):
    backbone, out_dim = alexnet
    images, y = _images(32), _labels(32)
    kw = dict(backbone=backbone, out_dim=out_dim, seed=3, epochs=2, batch_size=8, augment=False)
    cached, h_cached = T.train_classifier(images, y, cache_features=True, **kw)
    direct, h_direct = T.train_classifier(images, y, cache_features=False, **kw)
    _assert_same(_state(cached), _state(direct))  # alexnet's features are batch-independent
    np.testing.assert_array_equal(h_cached.to_numpy(), h_direct.to_numpy())

    calls = []
    real = T.features_tensor
    monkeypatch.setattr(T, "features_tensor", lambda *a, **k: calls.append(1) or real(*a, **k))
    auto, _ = T.train_classifier(images, y, **kw)
    assert calls == [1]
    _assert_same(_state(auto), _state(cached))


def test_cached_features_match_end_to_end_to_rounding_on_a_batchnorm_network():
    backbone, out_dim = build_backbone("mobilenet_v3_large", trained=False, seed=0)
    images, y = _images(32), _labels(32)
    kw = dict(backbone=backbone, out_dim=out_dim, seed=3, epochs=2, batch_size=8, augment=False)
    cached, _ = T.train_classifier(images, y, cache_features=True, **kw)
    direct, _ = T.train_classifier(images, y, cache_features=False, **kw)
    _assert_same(_state(cached), _state(direct), rtol=1e-5, atol=1e-6)


def test_cache_refused_where_invalid(alexnet):
    backbone, out_dim = alexnet
    images, y = _images(8, side=32), _labels(8)
    kw = dict(backbone=backbone, out_dim=out_dim, seed=0, epochs=1, cache_features=True)
    with pytest.raises(ValueError, match="cache_features=True needs augment=False"):
        T.train_classifier(images, y, augment=True, **kw)
    with pytest.raises(ValueError, match="bn_mode='corrected'"):
        T.train_classifier(images, y, augment=False, bn_mode="faithful", **kw)


def _bn_stats(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if "running_" in k}


@pytest.mark.parametrize("bn_mode", ["corrected", "faithful"])
def test_frozen_backbone_and_its_batchnorm_statistics(bn_mode):
    backbone, out_dim = build_backbone("mobilenet_v3_large", trained=False, seed=0)
    before = _state(backbone)
    images, y = _images(24, side=32), _labels(24)
    model, history = T.train_classifier(
        images, y, backbone=backbone, out_dim=out_dim, seed=1, epochs=2, batch_size=8,
        bn_mode=bn_mode,
    )  # fmt: skip
    assert list(history.columns) == ["epoch", "loss", "accuracy"] and len(history) == 2
    trained = model.feature_extractor.state_dict()
    weights = [k for k in before if "running_" not in k and "num_batches" not in k]
    _assert_same({k: trained[k] for k in weights}, {k: before[k] for k in weights})
    stats_changed = any(
        not torch.equal(trained[k], before[k]) for k in _bn_stats(backbone) if k in trained
    )
    assert stats_changed == (bn_mode == "faithful")
    _assert_same(_state(backbone), before)  # the caller's backbone is untouched either way
    assert not model.training


def test_same_seed_same_training_and_the_global_rng_untouched(alexnet):
    backbone, out_dim = alexnet
    images, y = _images(20), _labels(20)
    kw = dict(backbone=backbone, out_dim=out_dim, epochs=2, batch_size=8, augment=True)
    rng_state = torch.get_rng_state()
    a, ha = T.train_classifier(images, y, seed=5, **kw)
    b, hb = T.train_classifier(images, y, seed=5, **kw)
    c, _ = T.train_classifier(images, y, seed=6, **kw)
    assert torch.equal(torch.get_rng_state(), rng_state)
    _assert_same(_state(a), _state(b))
    np.testing.assert_array_equal(ha.to_numpy(), hb.to_numpy())
    assert not torch.equal(a.fc1.weight, c.fc1.weight)
    np.testing.assert_array_equal(T.predict(a, images)[1], T.predict(b, images)[1])


def _planted(n: int, n_voxels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes separated along random directions in voxel space, plus noise."""
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(99).standard_normal((3, n_voxels)) * 0.3
    y = rng.integers(0, 3, n)
    return (means[y] + rng.standard_normal((n, n_voxels))).astype(np.float32), y


def test_decoder_learns_a_planted_problem_reproducibly():
    X, y = _planted(300, 200, seed=0)
    X_test, y_test = _planted(150, 200, seed=1)
    rng_state = torch.get_rng_state()
    model, history = T.train_decoder(X, y, seed=2, epochs=10, batch_size=32)
    again, history_again = T.train_decoder(X, y, seed=2, epochs=10, batch_size=32)
    assert torch.equal(torch.get_rng_state(), rng_state)
    _assert_same(_state(model), _state(again))
    np.testing.assert_array_equal(history.to_numpy(), history_again.to_numpy())
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    labels, logits = T.predict(model, X_test)
    assert labels.dtype == np.int64 and logits.shape == (150, 3) and logits.dtype == np.float64
    assert T.accuracy(y_test, labels) > 0.8  # chance: 1/3
    other, _ = T.train_decoder(X, y, seed=3, epochs=1, batch_size=32)
    assert not torch.equal(other.fc2.weight, model.fc2.weight)


# --- evaluation -----------------------------------------------------------------------------


def test_embeddings_and_predictions_do_not_depend_on_the_batch(alexnet):
    X, _ = _planted(12, 30, seed=4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        decoder = M.FmriDecoder(30)
    decoder.train()  # embed_items switches to eval mode
    emb = T.embed_items(decoder, X)
    assert emb.shape == (12, 100) and emb.dtype == np.float64
    # other batch sizes: the same to float32 rounding; batches of one: bit for bit
    np.testing.assert_allclose(T.embed_items(decoder, X, batch_size=5), emb, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(T.embed_items(decoder, X[3:7]), emb[3:7])
    with torch.no_grad():
        np.testing.assert_allclose(decoder.embed(torch.tensor(X)).numpy(), emb, atol=1e-6)

    backbone, out_dim = alexnet
    model = M.HeadClassifier(backbone, out_dim)
    images = _images(6)
    labels, logits = T.predict(model, images)
    feats = M.backbone_features(model, images)
    assert feats.shape == (6, 1000) and feats.dtype == np.float32
    f_labels, f_logits = T.predict(model, feats, from_features=True)
    np.testing.assert_allclose(f_logits, logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(f_labels, labels)
    np.testing.assert_allclose(
        T.embed_items(model, feats, from_features=True),
        T.embed_items(model, images),
        rtol=1e-5,
        atol=1e-7,
    )
    with pytest.raises(ValueError, match="HeadClassifier"):
        T.predict(decoder, X, from_features=True)


def test_accuracy_and_confusion_matrix_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    assert T.accuracy(y_true, y_pred) == pytest.approx(accuracy_score(y_true, y_pred))
    cm = T.confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(cm, sk_confusion_matrix(y_true, y_pred, labels=[0, 1, 2]))
