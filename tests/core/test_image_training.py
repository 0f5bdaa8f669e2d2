"""Supervised and DeepCluster training: loader round trip, resume, identical reruns, NMI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.networks.architectures import DeepClusterAlexNet, build_network
from brainalign.networks.deepcluster import nmi
from brainalign.networks.image_training import (
    SGDRecipe,
    latest_checkpoint,
    train_deepcluster,
    train_supervised,
)

WIDTH = 0.125


class Shapes:
    """Procedural 224-px images of 3 categories: horizontal / vertical gratings, discs."""

    def __init__(self, n: int, seed: int, augment: bool = False) -> None:
        rng = np.random.default_rng(seed)
        self.labels = [i % 3 for i in range(n)]
        yy, xx = np.mgrid[0:224, 0:224] / 224.0
        imgs = []
        for c in self.labels:
            f, ph = rng.uniform(4, 8), rng.uniform(0, 6.3)
            if c == 0:
                g = np.sin(2 * np.pi * f * yy + ph)
            elif c == 1:
                g = np.sin(2 * np.pi * f * xx + ph)
            else:
                cy, cx, r = rng.uniform(0.3, 0.7, 2).tolist() + [rng.uniform(0.1, 0.3)]
                g = np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r**2, 1.0, -1.0)
            imgs.append(np.repeat(g[None], 3, axis=0).astype(np.float32))
        self.images = torch.from_numpy(np.stack(imgs))
        self.augment = augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i]
        if self.augment and torch.rand(()) < 0.5:  # global RNG, seeded per epoch
            x = x.flip(-1)
        return x, self.labels[i]


def _dc(seed: int = 0, classes: int = 1000) -> DeepClusterAlexNet:
    torch.manual_seed(seed)
    return DeepClusterAlexNet(classes, sobel=True, bn=True, width=WIDTH)


RECIPE = SGDRecipe(epochs=2, lr=0.01, batch_size=12, schedule="step", step_size=1)


def test_supervised_checkpoint_loads_and_gives_the_same_outputs(tmp_path):
    train, val = Shapes(24, 0, augment=True), Shapes(12, 1)
    model = _dc()
    hist = train_supervised(
        model,
        train,
        val,
        recipe=RECIPE,
        seed=5,
        arch="alexnet",
        layout="modified_alexnet",
        state_dir=tmp_path,
        device="cpu",
    )
    assert list(hist["epoch"]) == [1, 2] and hist["lr"].tolist() == [0.01, 0.001]
    assert hist[["top1", "top5"]].to_numpy().max() <= 1.0 and hist["top5"].iloc[-1] == 1.0
    ckpt = latest_checkpoint(tmp_path)
    assert ckpt.name == "epoch_002.pth" and len(list(tmp_path.glob("*.pth"))) == 1
    raw = torch.load(ckpt, weights_only=True)
    assert set(raw) >= {"epoch", "arch", "state_dict", "optimizer"}
    assert all(k.startswith("module.") for k in raw["state_dict"])
    loaded = build_network("modified_alexnet", "trained", weights=str(ckpt), width=WIDTH)
    x = val.images[:4]
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))


def test_torchvision_layout_round_trip(tmp_path):
    train = Shapes(6, 2)
    torch.manual_seed(0)
    model = build_network("alexnet", "untrained", seed=3)
    recipe = SGDRecipe(epochs=1, lr=0.001, batch_size=6)
    train_supervised(
        model,
        train,
        train,
        recipe=recipe,
        seed=1,
        arch="alexnet",
        layout="torchvision",
        state_dir=tmp_path,
        device="cpu",
    )
    loaded = build_network("alexnet", "trained", weights=str(latest_checkpoint(tmp_path)))
    with torch.no_grad():
        assert torch.equal(loaded(train.images[:2]), model.eval()(train.images[:2]))


class _Stop(Exception):
    pass


def _stop_at(epoch: int):
    def hook(e: int) -> None:
        if e == epoch:
            raise _Stop

    return hook


def test_interrupted_run_resumes_to_identical_bytes(tmp_path):
    """Stopped after epoch 1 (as a kill after the checkpoint), rerun from a fresh start:
    the final checkpoint equals, byte for byte, that of an uninterrupted run (twice)."""
    train, val = Shapes(24, 0, augment=True), Shapes(12, 1)
    recipe = SGDRecipe(epochs=3, lr=0.01, batch_size=12, schedule="cosine")
    runs = {}
    for name in ("whole", "again", "resumed"):
        d = tmp_path / name
        if name == "resumed":
            with pytest.raises(_Stop):
                train_supervised(
                    _dc(),
                    train,
                    val,
                    recipe=recipe,
                    seed=5,
                    arch="alexnet",
                    layout="modified_alexnet",
                    state_dir=d,
                    device="cpu",
                    on_epoch=_stop_at(1),
                )
            assert latest_checkpoint(d).name == "epoch_001.pth"
        hist = train_supervised(
            _dc(),
            train,
            val,
            recipe=recipe,
            seed=5,
            arch="alexnet",
            layout="modified_alexnet",
            state_dir=d,
            device="cpu",
        )
        runs[name] = (latest_checkpoint(d).read_bytes(), hist)
    assert runs["whole"][0] == runs["again"][0] == runs["resumed"][0]
    assert runs["whole"][1].equals(runs["resumed"][1])


def test_deepcluster_checkpoint_resume_and_nmi(tmp_path):
    train, plain = Shapes(36, 3, augment=True), Shapes(36, 3)
    recipe = SGDRecipe(
        epochs=3, lr=0.05, momentum=0.9, weight_decay=1e-5, batch_size=12, schedule="constant"
    )
    kwargs = dict(
        recipe=recipe, k=6, seed=2, n_components=8, true_labels=plain.labels, device="cpu"
    )
    model = _dc(classes=10000)
    hist = train_deepcluster(model, train, plain, state_dir=tmp_path / "a", **kwargs)
    assert list(hist.columns) == [
        "epoch",
        "lr",
        "loss",
        "clusters",
        "nmi_previous",
        "nmi_true",
        "nmi_chance",
    ]
    assert np.isnan(hist["nmi_previous"].iloc[0]) and hist["nmi_previous"].iloc[1:].notna().all()
    chance = np.mean(
        [nmi(np.random.default_rng(s).integers(0, 6, 36), plain.labels) for s in range(50)]
    )
    assert hist["nmi_true"].iloc[-1] > chance + 0.3
    ckpt = latest_checkpoint(tmp_path / "a")
    raw = torch.load(ckpt, weights_only=True)
    assert any(k.startswith("features.module.") for k in raw["state_dict"])
    assert raw["state_dict"]["top_layer.bias"].shape == (6,)
    loaded = build_network("deepcluster", "trained", weights=str(ckpt), width=WIDTH)
    with torch.no_grad():
        assert torch.equal(loaded(plain.images[:3]), model.eval()(plain.images[:3]))
    with pytest.raises(_Stop):
        train_deepcluster(
            _dc(classes=10000),
            train,
            plain,
            state_dir=tmp_path / "b",
            on_epoch=_stop_at(2),
            **kwargs,
        )
    resumed = train_deepcluster(
        _dc(classes=10000), train, plain, state_dir=tmp_path / "b", **kwargs
    )
    assert latest_checkpoint(tmp_path / "b").read_bytes() == ckpt.read_bytes()
    assert resumed.equals(hist)


def test_retained_memory_leaves_training_identical(tmp_path):
    """glibc keeps freed blocks (no page faults per step); the weights do not change."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from brainalign.networks.device import retain_freed_memory\n"
        "if sys.argv[1] == '1': assert retain_freed_memory()\n"
        "torch.manual_seed(0); torch.set_num_threads(1)\n"
        "m = torch.nn.Linear(3000, 3000); opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "for _ in range(3):\n"
        "    opt.zero_grad(); m(torch.randn(64, 3000)).square().mean().backward(); opt.step()\n"
        "torch.save(m.state_dict(), sys.argv[2])\n"
    )
    for flag in ("0", "1"):
        subprocess.run([sys.executable, "-c", code, flag, str(tmp_path / flag)], check=True)
    a = torch.load(tmp_path / "0", weights_only=True)
    b = torch.load(tmp_path / "1", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_retained_memory_is_reused_without_page_faults(tmp_path):
    """After retain_freed_memory, freeing and allocating the same large arrays again (a training
    step) takes no fresh pages from the kernel; glibc's defaults fault some in every time."""
    import platform
    import subprocess
    import sys

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc mallopt only")
    code = (
        "import resource, sys\n"
        "import numpy as np\n"
        "from brainalign.networks.device import retain_freed_memory\n"
        "if sys.argv[1] == '1': assert retain_freed_memory()\n"
        "def step():\n"
        "    blocks = [np.ones(n) for n in (500_000, 1_200_000, 2_000_000, 3_000_000, 3_500_000)]\n"
        "    del blocks\n"
        "step()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(5):\n"
        "    step()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    faults = {}
    for flag in ("0", "1"):
        out = subprocess.run(
            [sys.executable, "-c", code, flag], check=True, capture_output=True, text=True
        )
        faults[flag] = int(out.stdout.split()[-1])
    assert faults["0"] > 2500  # glibc's defaults: ~2,000 fresh pages per step here
    assert faults["1"] < faults["0"] / 10  # here 0


def test_worker_processes_and_sparse_checkpoints_are_reproducible(tmp_path):
    """Decoding in worker processes (seeded per epoch and worker) gives the same bytes twice;
    checkpoints every 2 epochs keep the last epoch and resume to the same bytes."""
    train, val = Shapes(24, 0, augment=True), Shapes(12, 1)
    recipe = SGDRecipe(epochs=3, lr=0.01, batch_size=8, schedule="cosine", warmup_epochs=1)
    kwargs = dict(
        recipe=recipe,
        seed=4,
        arch="alexnet",
        layout="modified_alexnet",
        device="cpu",
        workers=2,
        checkpoint_every=2,
    )
    written = []
    train_supervised(_dc(), train, val, state_dir=tmp_path / "a", on_epoch=written.append, **kwargs)
    assert written == [2, 3]
    with pytest.raises(_Stop):
        train_supervised(
            _dc(), train, val, state_dir=tmp_path / "b", on_epoch=_stop_at(2), **kwargs
        )
    assert latest_checkpoint(tmp_path / "b").name == "epoch_002.pth"
    train_supervised(_dc(), train, val, state_dir=tmp_path / "b", **kwargs)
    a, b = (latest_checkpoint(tmp_path / d) for d in ("a", "b"))
    assert a.name == b.name == "epoch_003.pth" and a.read_bytes() == b.read_bytes()


def test_warmup_then_schedule():
    r = SGDRecipe(epochs=6, lr=0.1, schedule="cosine", warmup_epochs=2, warmup_decay=0.1)
    lrs = [r.lr_at(e) for e in range(6)]
    np.testing.assert_allclose(lrs[:2], [0.01, 0.055])
    assert lrs[2] == pytest.approx(0.1) and lrs[2] > lrs[3] > lrs[4] > lrs[5] > 0
    with pytest.raises(ValueError, match="warmup_epochs"):
        SGDRecipe(epochs=2, warmup_epochs=2)
