"""GNet (networks.gnet, networks.gnet_training): the documented layer sizes, the readout and
loss against a direct numpy computation, seeded joint training on a planted problem, the
cached-prefilter path, frozen-encoder readouts and the API names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brainalign.networks as N
from brainalign.networks import gnet as G
from brainalign.networks.gnet_training import (
    build_gnet,
    fit_readouts,
    masked_predictor,
    predict,
    train_gnet,
)
from brainalign.networks.weights import WeightsNotFoundError

SUBJECTS = ("s1", "s2")


@pytest.fixture(autouse=True)
def _one_thread_empty_hub(tmp_path, monkeypatch):
    """One intra-op thread; a torch hub cache without any weights file."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _np_f(x):
    return np.log1p(np.abs(x)) * np.tanh(x)


def _planted(n=150, n_vox=6, seed=0):
    """Voxels = random linear readouts of a teacher encoder's pooled features, + noise."""
    rng = np.random.default_rng(seed)
    teacher = G.GNetEncoder(16, trunk_width=8, seed=99).eval()
    pre, resp = {}, {}
    for s in SUBJECTS:
        x = torch.relu(torch.as_tensor(rng.standard_normal((n, 16, 7, 7)), dtype=torch.float32))
        with torch.no_grad():
            feats = torch.cat([G.log_tanh(f).mean(dim=(2, 3)) for f in teacher(x)], 1).numpy()
        y = feats @ rng.standard_normal((feats.shape[1], n_vox))
        y = (y - y.mean(0)) / y.std(0) + 0.5 * rng.standard_normal(y.shape)
        pre[s], resp[s] = x, y.astype(np.float32)
    return pre, resp


@pytest.fixture(scope="module")
def planted():
    return _planted()


@pytest.fixture(scope="module")
def trained(planted):
    pre, resp = planted
    torch.set_num_threads(1)
    state = torch.random.get_rng_state()
    out = train_gnet(pre, resp, seed=0, epochs=6, batch_size=25, trunk_width=8, lr=1e-2)
    return out, state, torch.random.get_rng_state()


# -- shapes --------------------------------------------------------------------------------


def test_stage_shapes_on_tiny_images():
    images = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    pre = G.AlexNetPrefilter(seed=0)
    x = G.prefilter_outputs(pre, images, batch_size=3)
    assert x.shape == (4, 192, 7, 7)
    enc = G.GNetEncoder(seed=0).eval()
    fmaps = enc(x)
    assert [tuple(f.shape) for f in fmaps] == [(4, 256, 5, 5), (4, 256, 3, 3)]
    assert enc.feature_shapes(x.shape[1:]) == [(256, 5, 5), (256, 3, 3)]
    readout = G.FwrfReadout(enc.feature_shapes(x.shape[1:]), 7)
    assert readout(fmaps).shape == (4, 7)
    model = G.GNet(pre, enc, {1: readout})
    assert model(x, 1).shape == (4, 7)
    imgs = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255
    torch.testing.assert_close(model.from_images(imgs, "1"), model(x, 1))


def test_documented_layer_sizes():
    pre = G.AlexNetPrefilter(seed=0)
    conv1, conv2 = pre.conv1[0], pre.conv2[0]
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel_size) == (3, 64, (11, 11))
    assert (conv1.stride, conv1.padding) == ((4, 4), (2, 2))
    assert isinstance(pre.conv1[2], torch.nn.MaxPool2d) and len(pre.conv2) == 2
    assert (conv2.out_channels, conv2.kernel_size, conv2.padding) == (192, (5, 5), (2, 2))
    assert not any(p.requires_grad for p in pre.parameters())
    assert not pre.train().training
    with torch.no_grad():
        x = pre(torch.zeros(1, 3, 227, 227))
    assert x.shape == (1, 192, 27, 27)
    enc = G.GNetEncoder(trunk_width=64, seed=0)
    assert sum(p.numel() for p in enc.parameters()) == 1_034_944
    assert enc.feature_shapes(x.shape[1:]) == [(256, 25, 25), (256, 13, 13)]
    assert enc.c3.conv.padding == (0, 0) and enc.c4a.bn.momentum == 0.25
    assert enc.c6b.conv.out_channels == 64
    readout = G.FwrfReadout(enc.feature_shapes(x.shape[1:]), 3)
    assert readout.w.shape == (3, 512)
    assert [tuple(rf.shape) for rf in readout.rfs] == [(3, 25, 25), (3, 13, 13)]
    assert all(bool((rf == 1).all()) for rf in readout.rfs)


def test_seeded_building_leaves_global_rng():
    state = torch.random.get_rng_state()
    a, b = G.GNetEncoder(16, 8, seed=3), G.GNetEncoder(16, 8, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = G.GNetEncoder(16, 8, seed=4)
    assert not torch.equal(a.c3.conv.weight, c.c3.conv.weight)
    assert torch.equal(
        G.AlexNetPrefilter(seed=5).conv1[0].weight, G.AlexNetPrefilter(seed=5).conv1[0].weight
    )


def test_untrained_prefilter_is_torchvision_alexnet_conv1_conv2():
    """Built without torchvision, the seeded prefilter equals build_network's AlexNet stages."""
    net = G.build_network("alexnet", "untrained", seed=11)
    pre = G.AlexNetPrefilter(seed=11)
    want = list(net.features.children())[0:5]
    got = [*pre.conv1.children(), *pre.conv2.children()]
    assert [repr(m) for m in got] == [repr(m) for m in want]
    for m, ref in zip(got, want, strict=True):
        for p, q in zip(m.parameters(), ref.parameters(), strict=True):
            assert torch.equal(p, q)
    assert not torch.equal(pre.conv2[0].weight, G.AlexNetPrefilter(seed=12).conv2[0].weight)


def test_prefilter_weights(monkeypatch):
    with pytest.raises(WeightsNotFoundError):
        G.AlexNetPrefilter(trained=True)
    seen = {}
    real = G.build_network

    def spy(name, training, **kw):
        seen.update(name=name, training=training, weights=kw["weights"])
        return real(name, "untrained", seed=kw["seed"])

    monkeypatch.setattr(G, "build_network", spy)
    G.AlexNetPrefilter(weights_path="/x/alexnet-owt-7be5be79.pth")
    assert seen == {
        "name": "alexnet",
        "training": "trained",
        "weights": "/x/alexnet-owt-7be5be79.pth",
    }


# -- oracles -------------------------------------------------------------------------------


def test_readout_equals_numpy():
    rng = np.random.default_rng(1)
    shapes = [(3, 4, 4), (2, 2, 2)]
    readout = G.FwrfReadout(shapes, 5, seed=2)
    with torch.no_grad():
        for rf in readout.rfs:
            rf.copy_(torch.as_tensor(rng.standard_normal(rf.shape)))
    fmaps = [rng.standard_normal((3, *s)).astype(np.float32) * 2 for s in shapes]
    got = readout([torch.as_tensor(f) for f in fmaps]).detach().numpy()
    phi = []
    for f, rf in zip(fmaps, readout.rfs, strict=True):
        logits = rf.detach().numpy().reshape(5, -1).astype(np.float64)
        g = np.exp(logits - logits.max(1, keepdims=True))
        g /= g.sum(1, keepdims=True)
        flat = _np_f(f.reshape(3, f.shape[1], -1).astype(np.float64))
        phi.append(np.einsum("vs,nks->nvk", g, flat))
    feats = _np_f(np.concatenate(phi, axis=2))
    want = np.einsum("nvk,vk->nv", feats, readout.w.detach().numpy()) + readout.b.detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_loss_equals_numpy():
    rng = np.random.default_rng(2)
    target = rng.standard_normal((8, 4))
    pred = rng.standard_normal((8, 4))
    pred[:, 0] = 2 * target[:, 0] + 1  # rho^2 ~ 1: clamped at the top
    pred[:, 1] = target[:, 1] + 0.8 * rng.standard_normal(8)
    readout = G.FwrfReadout([(2, 2, 2)], 4, seed=0)
    p, t = (torch.as_tensor(a, dtype=torch.float32) for a in (pred, target))
    got = G.readout_loss(p, t, True, readout, l1=0.1)
    cr, cv = pred - pred.mean(0), target - target.mean(0)
    rho2 = (cr * cv).mean(0) ** 2 / ((cr**2).mean(0) * (cv**2).mean(0) + 1e-6)
    w = np.clip(rho2, 0.1, 1.0)
    assert w.min() == 0.1 and 0.1 < w[1] < 1
    err = ((pred - target) ** 2).sum(0)
    want = (w * err).sum() / w.mean() + 0.1 * np.abs(readout.w.detach().numpy()).sum()
    assert float(got.detach()) == pytest.approx(want, rel=1e-5)
    assert float(G.readout_loss(p, t, False)) == pytest.approx(err.sum(), rel=1e-5)
    assert not G.r2_weights(p.requires_grad_(), t).requires_grad


def test_pearson_per_voxel():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((20, 3)), rng.standard_normal((20, 3))
    b[:, 2] = 1.0
    r = G.pearson_per_voxel(torch.as_tensor(a), b)
    for j in range(2):
        assert r[j] == pytest.approx(np.corrcoef(a[:, j], b[:, j])[0, 1])
    assert np.isnan(r[2])


# -- training ------------------------------------------------------------------------------


def test_training_improves_and_restores_best(planted, trained):
    (model, history, best), before, after = trained
    assert torch.equal(before, after)
    joint = history.groupby("epoch")["joint_median_r"].first().to_numpy()
    assert len(joint) == 6 and set(history["subject"]) == set(SUBJECTS)
    assert best == int(np.argmax(joint)) and joint[best] > joint[0] + 0.1 and joint[best] > 0.3
    pre, resp = planted
    r = [G.pearson_per_voxel(predict(model, pre[s][135:], s, 25), resp[s][135:]) for s in SUBJECTS]
    assert np.median(np.nan_to_num(np.concatenate(r))) == pytest.approx(joint[best], abs=1e-6)


def test_same_seed_identical_other_seed_differs(planted, trained):
    pre, resp = planted
    (model, history, _), _, _ = trained
    kw = {"epochs": 2, "batch_size": 25, "trunk_width": 8, "lr": 1e-2}
    a, ha, _ = train_gnet(pre, resp, seed=0, **kw)
    b, hb, _ = train_gnet(pre, resp, seed=0, **kw)
    c, _, _ = train_gnet(pre, resp, seed=1, **kw)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert ha.equals(hb)
    assert not torch.equal(sa["encoder.c3.conv.weight"], sc["encoder.c3.conv.weight"])
    assert not torch.equal(sa["readouts.s1.w"], sc["readouts.s1.w"])


def test_log_tanh_value_and_derivative():
    x = torch.tensor([-40.0, -3.0, -0.5, -1e-6, 0.0, 1e-6, 0.2, 2.0, 40.0], dtype=torch.float64)
    np.testing.assert_allclose(G.log_tanh(x).numpy(), _np_f(x.numpy()), rtol=1e-12, atol=1e-15)
    # the written-out derivative against finite differences, in float64
    xg = (torch.linspace(-4, 4, 41, dtype=torch.float64) + 1e-3).requires_grad_()
    assert torch.autograd.gradcheck(G.log_tanh, (xg,))
    # against autograd of the expression, in float32, on GNet-sized values
    x32 = torch.randn(2000, generator=torch.Generator().manual_seed(0)) * 3
    a, b = x32.clone().requires_grad_(), x32.clone().requires_grad_()
    G.log_tanh(a).sum().backward()
    (torch.log(1 + torch.abs(b)) * torch.tanh(b)).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-7)
    assert not torch.isnan(a.grad).any()
    # without gradients the in-place path gives the same bits
    with torch.no_grad():
        assert torch.equal(G.log_tanh(x32), G.log_tanh(x32.clone().requires_grad_()))
    assert torch.equal(G.log_tanh(x32), G.log_tanh(x32.clone().requires_grad_()).detach())


def test_each_pass_computes_only_its_optimisers_gradients(planted, monkeypatch):
    """Skipping the gradients no step uses leaves every trained weight the same."""
    import contextlib

    from brainalign.networks import gnet_training as T

    pre, resp = planted
    kw = {"seed": 3, "epochs": 2, "batch_size": 25, "trunk_width": 8, "lr": 1e-2}
    counts = {"encoder": 0}
    build = T.build_gnet

    def counting_build(*a, **k):
        model = build(*a, **k)
        model.encoder.c3.conv.weight.register_hook(
            lambda g: counts.__setitem__("encoder", counts["encoder"] + 1)
        )
        return model

    monkeypatch.setattr(T, "build_gnet", counting_build)
    skipped, h_skipped, _ = train_gnet(pre, resp, **kw)
    n_skipped = counts["encoder"]
    counts["encoder"] = 0
    monkeypatch.setattr(T, "_gradients_only_for", lambda opt, model: contextlib.nullcontext())
    full, h_full, _ = train_gnet(pre, resp, **kw)
    n_batches = 2 * 2 * 6  # epochs x subjects x batches of 25 of the 135 training trials
    assert (n_skipped, counts["encoder"]) == (n_batches, 2 * n_batches)
    sa, sb = skipped.state_dict(), full.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert h_skipped.equals(h_full)


def test_cached_prefilter_equals_images_path():
    rng = np.random.default_rng(4)
    images = {s: rng.integers(0, 256, (40, 64, 64, 3), dtype=np.uint8) for s in SUBJECTS}
    resp = {s: rng.standard_normal((40, 3)).astype(np.float32) for s in SUBJECTS}
    pre = G.AlexNetPrefilter(seed=0)
    cached = {s: G.prefilter_outputs(pre, im, batch_size=10) for s, im in images.items()}
    kw = {"seed": 7, "epochs": 2, "batch_size": 10, "trunk_width": 8, "prefilter": pre}
    a, ha, ba = train_gnet(cached, resp, **kw)
    b, hb, bb = train_gnet(images, resp, from_images=True, **kw)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert ha.equals(hb) and ba == bb


def test_voxel_subsets_and_frozen_readouts(planted, trained):
    pre, resp = planted
    (model, _, _), _, _ = trained
    roi = {"s1": np.array([0, 2, 4]), "s2": np.array([1, 3])}
    kw = {"seed": 0, "epochs": 3, "batch_size": 25, "lr": 1e-2}
    sub, _, _ = train_gnet(pre, resp, voxels=roi, trunk_width=8, epochs=1, seed=0, batch_size=25)
    assert sub.readouts["s1"].n_voxels == 3 and sub.readouts["s2"].n_voxels == 2
    enc_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    fitted, hist, best = fit_readouts(model.encoder, pre, resp, voxels=roi, **kw)
    after = model.encoder.state_dict()
    assert all(torch.equal(enc_before[k], after[k]) for k in after)
    assert all(torch.equal(enc_before[k], v) for k, v in fitted.encoder.state_dict().items())
    assert predict(fitted, pre["s2"][:5], "s2").shape == (5, 2)
    joint = hist.groupby("epoch")["joint_median_r"].first().to_numpy()
    assert best == int(np.argmax(joint)) and joint[best] > 0.2


def test_masked_predictor_equals_zeroed_weights(planted, trained):
    """Each mask's prediction from the once-computed pooled features equals predict() with
    the weights outside the mask zeroed in the model, bit for bit (batches of 25 of 150
    trials; the model is left unchanged)."""
    pre, _ = planted
    (model, _, _), _, _ = trained
    readout = model.readouts["s1"]
    full = readout.w.detach().clone()
    fn = masked_predictor(model, pre["s1"], "s1", batch_size=25)
    rng = np.random.default_rng(3)
    masks = [np.ones(full.shape[1], bool), *(rng.random((3, full.shape[1])) < 0.4)]
    for mask in masks:
        got = fn(mask)
        with torch.no_grad():
            readout.w.copy_(full * torch.as_tensor(mask, dtype=full.dtype)[None, :])
        want = predict(model, pre["s1"], "s1", batch_size=25)
        with torch.no_grad():
            readout.w.copy_(full)
        np.testing.assert_array_equal(got, want)
    assert torch.equal(readout.w, full)
    assert not np.array_equal(fn(masks[1]), fn(masks[0]))
    with pytest.raises(ValueError, match="features"):
        fn(np.ones(3, bool))


def test_bad_inputs(planted):
    pre, resp = planted
    with pytest.raises(ValueError, match="subjects differ"):
        train_gnet(pre, {"s1": resp["s1"]}, seed=0, epochs=1)
    with pytest.raises(ValueError, match="needs a prefilter"):
        train_gnet(pre, resp, seed=0, epochs=1, from_images=True)
    with pytest.raises(ValueError, match="holdout"):
        train_gnet(pre, resp, seed=0, epochs=1, holdout=0.0)


def test_build_gnet_and_api():
    model = build_gnet((16, 7, 7), {"a": 3, "b": 4}, seed=0, trunk_width=8)
    assert model.subjects == ["a", "b"]
    assert model(torch.zeros(2, 16, 7, 7), "b").shape == (2, 4)
    for name in ("GNet", "AlexNetPrefilter", "GNetEncoder", "FwrfReadout", "train_gnet"):
        assert name in N.__all__ and getattr(N, name) is not None
