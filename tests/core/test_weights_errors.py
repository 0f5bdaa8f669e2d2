"""Unreadable weights files (issue 10): corruption is told apart from unsafety.

A damaged or incomplete file (random bytes, a truncated ``torch.save`` file, an HTML error page,
a bad magic number) raises :class:`CorruptCheckpointError` naming the file, its size and where to
download it again, and never advises ``networks.allow_unsafe_pickle``; only a complete checkpoint
that holds objects beyond tensors gets that hint. A weights path that is a directory says so.
The last test runs the workflow on a corrupt checkpoint.
"""

from __future__ import annotations

import argparse
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, run_snakemake

from brainalign.networks.architectures import DeepClusterAlexNet, build_network
from brainalign.networks.weights import (
    CorruptCheckpointError,
    UnsafeCheckpointError,
    WeightsNotFoundError,
    load_state_dict,
    read_checkpoint,
    resolve_weights_path,
)

WIDTH = 1 / 16
DEEPCLUSTER_URL = "https://dl.fbaipublicfiles.com/deepcluster/alexnet/checkpoint.pth.tar"


def _checkpoint(path: Path, *, legacy: bool, extra: dict | None = None) -> dict:
    """A small DeepCluster-layout checkpoint (``torch.save``), as in test_weights."""
    torch.manual_seed(0)
    state = DeepClusterAlexNet(10, sobel=True, bn=True, width=WIDTH).state_dict()
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    ckpt = {"epoch": 1, "arch": "alexnet", "state_dict": state, **(extra or {})}
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    return state


def _assert_corrupt(err: pytest.ExceptionInfo, path: Path, url: str | None = None) -> str:
    msg = str(err.value)
    assert str(path.resolve()) in msg, msg
    assert f"({path.stat().st_size} bytes)" in msg, msg
    assert "damaged or incomplete" in msg, msg
    assert "opt in" not in msg, msg  # never advise the unsafe opt-in for a damaged file
    if url:
        assert f"Download it again from {url}" in msg, msg
    assert "\n" not in msg
    return msg


def test_random_bytes_are_corrupt_not_unsafe(tmp_path):
    path = tmp_path / "random.pth"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CorruptCheckpointError) as err:
        build_network("deepcluster", "trained", weights=str(path), width=WIDTH)
    _assert_corrupt(err, path, DEEPCLUSTER_URL)
    assert not isinstance(err.value, UnsafeCheckpointError)
    # the same without a network: no URL is known for an unregistered name
    with pytest.raises(CorruptCheckpointError) as err:
        read_checkpoint(path)
    assert "Get a fresh copy" in _assert_corrupt(err, path)


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "the file is empty"),
        (b"<html><body>404 Not Found</body></html>", "not a PyTorch checkpoint"),
        (b"\x80\x02}q\x00.", "without PyTorch's magic number"),  # a plain pickle of {}
    ],
)
def test_other_non_checkpoints_are_corrupt(tmp_path, content, problem):
    path = tmp_path / "checkpoint.pth.tar"
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpointError) as err:
        load_state_dict(path)
    msg = _assert_corrupt(err, path, DEEPCLUSTER_URL)  # the registered file name gives the URL
    assert problem in msg


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.98])
def test_truncated_torch_save_file_is_corrupt(tmp_path, legacy, fraction):
    full = tmp_path / "full.pth.tar"
    _checkpoint(full, legacy=legacy)
    data = full.read_bytes()
    path = tmp_path / "cut.pth.tar"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CorruptCheckpointError) as err:
        build_network("deepcluster", "trained", weights=str(path), width=WIDTH)
    _assert_corrupt(err, path, DEEPCLUSTER_URL)
    # and even a file that would need the opt-in is diagnosed as damaged
    with pytest.raises(CorruptCheckpointError):
        read_checkpoint(path, allow_unsafe_pickle=True)


def test_bad_magic_and_damaged_archive_member(tmp_path):
    full = tmp_path / "full.pth"
    _checkpoint(full, legacy=False)
    data = bytearray(full.read_bytes())
    magic = tmp_path / "magic.pth"
    magic.write_bytes(b"XXXX" + bytes(data[4:]))
    with pytest.raises(CorruptCheckpointError, match="not a PyTorch checkpoint"):
        read_checkpoint(magic)
    # a damaged first byte of data.pkl (stored uncompressed): the archive's CRC check names it
    with zipfile.ZipFile(full) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("data.pkl"))
    off = info.header_offset
    name_len = int.from_bytes(data[off + 26 : off + 28], "little")
    extra_len = int.from_bytes(data[off + 28 : off + 30], "little")
    data[off + 30 + name_len + extra_len] ^= 0xFF
    flipped = tmp_path / "flipped.pth"
    flipped.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError) as err:
        read_checkpoint(flipped)
    assert "data.pkl" in _assert_corrupt(err, flipped)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_genuinely_unsafe_pickle_keeps_the_opt_in_hint(tmp_path, legacy):
    path = tmp_path / "with_args.pth.tar"
    state = _checkpoint(path, legacy=legacy, extra={"args": argparse.Namespace(lr=0.05)})
    with pytest.raises(UnsafeCheckpointError) as err:
        build_network("deepcluster", "trained", weights=str(path), width=WIDTH)
    msg = str(err.value)
    assert str(path.resolve()) in msg and "argparse.Namespace" in msg
    assert "networks.allow_unsafe_pickle: [deepcluster]" in msg
    assert not isinstance(err.value, CorruptCheckpointError)
    model = build_network(
        "deepcluster", "trained", weights=str(path), width=WIDTH, allow_unsafe_pickle=True
    )
    assert torch.equal(model.state_dict()["classifier.1.weight"], state["classifier.1.weight"])


def test_unsafe_and_truncated_is_corrupt_once_opted_in(tmp_path):
    full = tmp_path / "full.pth.tar"
    _checkpoint(full, legacy=True, extra={"args": argparse.Namespace(lr=0.05)})
    data = full.read_bytes()
    path = tmp_path / "cut.pth.tar"
    path.write_bytes(data[: len(data) - 100])  # the pickles are complete, the tensor data is not
    with pytest.raises(CorruptCheckpointError) as err:
        read_checkpoint(path, allow_unsafe_pickle=True, network="deepcluster")
    _assert_corrupt(err, path, DEEPCLUSTER_URL)


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_executing_pickle_is_unsafe_names_the_call_and_never_runs(tmp_path):
    evil = _Evil()
    evil.marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": evil}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"(posix|os)\.system"):
        load_state_dict(path)
    assert not evil.marker.exists()


def test_directory_is_named_as_a_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "weights"
    folder.mkdir()
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights_path("deepcluster", folder)
    msg = str(err.value)
    assert f"{folder.resolve()} is a directory, not a weights file" in msg
    assert "networks.weights.deepcluster must name the file itself" in msg
    assert str(folder.resolve() / "checkpoint.pth.tar") in msg and DEEPCLUSTER_URL in msg
    assert "not found" not in msg
    # the file is in that folder: the message says so
    _checkpoint(folder / "checkpoint.pth.tar", legacy=False)
    with pytest.raises(WeightsNotFoundError, match="checkpoint.pth.tar exists: set networks"):
        resolve_weights_path("deepcluster", folder)
    # a folder named like the torchvision file does not fall back to the hub cache
    odd = tmp_path / "alexnet-owt-7be5be79.pth"
    odd.mkdir()
    with pytest.raises(WeightsNotFoundError, match="is a directory"):
        build_network("alexnet", "trained", weights=str(odd))
    with pytest.raises(IsADirectoryError, match="is a directory"):
        read_checkpoint(folder)


def test_workflow_job_reports_a_corrupt_checkpoint(tmp_path):
    """A run with a random-bytes DeepCluster checkpoint: the activation job fails naming the
    file and advising a fresh download; nothing half-written is left."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    bad = tmp_path / "my_deepcluster.pth.tar"
    bad.write_bytes(os.urandom(20_000))
    overlay = {
        "networks": {"batch_size": 12, "weights": {"deepcluster": str(bad)}},
        "truzzi2020": {
            "dataset": {
                "name": "small",
                "kind": "synthetic",
                "regions": ["EVC", "IT"],
                "synthetic": {"n_images": 12, "n_subjects": 3, "n_voxels": 60},
            },
            "conditions": ["deepcluster_trained"],
            "comparison": {"permutations": 200},
            "figures": {"formats": ["png"]},
        },
    }
    (work / "my.yaml").write_text(yaml.safe_dump(overlay))
    target = "results/truzzi2020/small/activations/deepcluster_trained.npz"
    proc = run_snakemake(work, target, "--configfile", str(work / "my.yaml"), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    log = work / "results/truzzi2020/small/logs/extract_activations/deepcluster_trained.log"
    text = log.read_text() + out
    assert "CorruptCheckpointError" in text, text[-3000:]
    assert f"{bad.resolve()}: not a readable PyTorch checkpoint (20000 bytes)" in text
    assert f"Download it again from {DEEPCLUSTER_URL}" in text
    assert "opt in" not in text
    acts = work / "results/truzzi2020/small/activations"
    assert not (acts / "deepcluster_trained.npz").exists()
    assert (list(acts.iterdir()) if acts.is_dir() else []) == []
    assert bad.stat().st_size == 20_000  # the user's file is left as it was
