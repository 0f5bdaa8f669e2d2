"""Training rules end to end: checkpoints through the loaders, identical reruns, kill -9 resume.

tests/configs/truzzi2020/training.yaml trains the modified AlexNet (supervised) and the
DeepCluster AlexNet on a tiny embedded set; their ``_trained`` conditions then run through the
shared activation rule like downloaded weights.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import GUARDED, REPO, is_timing_file, run_snakemake, write_config

from brainalign.io.files import read_npz, read_table
from brainalign.networks.activations import extract_activations, preprocess
from brainalign.networks.architectures import build_network
from brainalign.pipeline.seeds import derive_seed
from brainalign.studies.truzzi2020.training import train_network

CONFIG = REPO / "tests" / "configs" / "truzzi2020" / "training.yaml"
OUT = Path("results/truzzi2020/small")
pytestmark = pytest.mark.slow


def _config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The training study run twice from scratch (two working directories)."""
    dirs = []
    for name in ("first", "second"):
        work = tmp_path_factory.mktemp(name)
        write_config(work, _config())
        run_snakemake(work)
        dirs.append(work)
    return dirs


def _results(work: Path) -> dict[str, bytes]:
    return {
        p.relative_to(work).as_posix(): p.read_bytes()
        for p in sorted((work / "results").rglob("*"))
        if p.is_file()
        and "/logs/" not in p.as_posix()
        and not is_timing_file(p.relative_to(work).as_posix())
    }


def test_trained_checkpoints_load_and_give_the_in_memory_activations(runs, tmp_path):
    work = runs[0]
    cfg = _config()
    from brainalign.pipeline.config import validate_config

    training = validate_config(cfg)["truzzi2020"]["training"]
    stimuli = read_npz(work / OUT / "dataset" / "stimuli.npz")
    images = preprocess(stimuli["images"])
    for net in ("modified_alexnet", "deepcluster"):
        ckpt = work / OUT / "training" / net / "checkpoint.pth.tar"
        assert not (work / OUT / "training" / net / "state").exists()  # removed when done
        raw = torch.load(ckpt, map_location="cpu", weights_only=True)
        assert set(raw) == {"epoch", "arch", "state_dict", "history"}
        prefix = {"modified_alexnet": "module.features.", "deepcluster": "features.module."}[net]
        assert any(k.startswith(prefix) for k in raw["state_dict"])
        # retrain in this process from the same settings: the in-memory model
        model, _, history = train_network(
            net,
            work / OUT / "training" / "images",
            training,
            seed=derive_seed(cfg["seed"], "training", net),
            state_dir=tmp_path / net,
        )
        loaded = build_network(net, "trained", weights=str(ckpt))
        with torch.no_grad():
            assert torch.equal(loaded(images[:4]), model(images[:4]))
        ours = extract_activations(model, images, conv_pooling="mean", batch_size=12)
        recorded = read_npz(work / OUT / "activations" / f"{net}_trained.npz")
        for layer, values in ours.items():
            np.testing.assert_array_equal(recorded[layer], values, err_msg=f"{net} {layer}")
        table = read_table(work / OUT / "training" / net / "history.csv")
        assert table["epoch"].max() == len(history)


def test_training_tables_and_figure(runs):
    work = runs[0]
    table = read_table(work / OUT / "tables" / "training.csv")
    assert set(table["network"]) == {"modified_alexnet", "deepcluster"}
    stats = table.groupby("network")["statistic"].agg(set)
    assert {"loss", "top1", "top5", "lr"} <= stats["modified_alexnet"]
    assert {"loss", "nmi_true", "nmi_chance", "nmi_previous", "clusters"} <= stats["deepcluster"]
    assert table["dataset_sha256"].str.len().eq(64).all() and table["rule_seed"].notna().all()
    assert (work / OUT / "figures" / "training_curves.png").stat().st_size > 1000
    comparison = read_table(work / OUT / "tables" / "comparison.csv")
    assert {"modified_alexnet_trained", "deepcluster_trained"} <= set(comparison["condition"])


def test_same_config_twice_gives_identical_checkpoints_and_tables(runs):
    first, second = (_results(w) for w in runs)
    assert sorted(first) == sorted(second)
    assert [k for k in first if first[k] != second[k]] == []
    assert any(k.endswith("checkpoint.pth.tar") for k in first)


def test_kill_mid_training_resumes_from_the_last_checkpoint(runs, tmp_path):
    work = tmp_path / "killed"
    write_config(work, _config())
    state = work / OUT / "training" / "modified_alexnet" / "state"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with open(work / "killed_run.log", "w") as log:
        proc = subprocess.Popen(
            GUARDED, stdout=log, stderr=subprocess.STDOUT, cwd=work, start_new_session=True, env=env
        )
    try:
        deadline = time.monotonic() + 300
        while not list(state.glob("epoch_*.pth")):
            assert proc.poll() is None, (work / "killed_run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "training never wrote an epoch checkpoint"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = sorted(p.name for p in state.glob("epoch_*.pth"))
    assert done and done[-1] != "epoch_003.pth", done  # killed before the last epoch
    again = subprocess.run(GUARDED, cwd=work, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-5000:]
    log = (work / OUT / "logs" / "tz_train" / "modified_alexnet.log").read_text()
    assert f"resuming after {done[-1]}" in log, log[-2000:]
    reference, resumed = _results(runs[0]), _results(work)
    assert sorted(resumed) == sorted(reference)
    assert [k for k in reference if reference[k] != resumed[k]] == []
