"""The study's training helpers and config checks (fast; rules: test_training_workflow)."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from conftest import REPO

from brainalign.data.training_set import image_folder_splits, write_training_set
from brainalign.pipeline.config import ConfigError, validate_config
from brainalign.studies.truzzi2020 import complete_config
from brainalign.studies.truzzi2020.training import (
    history_long,
    images_digest,
    reset_stale_state,
)


def _cfg(**training) -> dict:
    raw = yaml.safe_load((REPO / "tests" / "configs" / "truzzi2020" / "small.yaml").read_text())
    raw["truzzi2020"]["conditions"] = ["alexnet_untrained", "modified_alexnet_trained"]
    raw["truzzi2020"]["statistics"]["comparisons"] = []
    raw["truzzi2020"]["training"] = training
    return validate_config(raw)


def test_trained_condition_needs_weights_unless_the_workflow_trains_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no resources/weights here
    with pytest.raises(ConfigError, match="networks.weights.modified_alexnet"):
        complete_config(_cfg())
    cfg = _cfg(networks=["modified_alexnet"])
    assert complete_config(cfg) == ["alexnet_untrained", "modified_alexnet_trained"]
    assert "modified_alexnet" not in cfg["networks"].get("weights", {})


def test_training_folder_must_hold_train_and_val(tmp_path):
    (tmp_path / "train").mkdir()
    cfg = _cfg(networks=["modified_alexnet"], images={"kind": "folder", "path": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"training.images.path.*lacks \['val'\]"):
        complete_config(copy.deepcopy(cfg))
    cfg["truzzi2020"]["training"]["images"]["path"] = None
    with pytest.raises(ConfigError, match="required for images kind 'folder'"):
        complete_config(cfg)


def test_training_defaults_follow_the_papers():
    training = _cfg()["truzzi2020"]["training"]
    assert training["supervised"]["epochs"] == 90 and training["supervised"]["lr"] == 0.01
    dc = training["deepcluster"]
    assert (dc["k"], dc["n_components"], dc["lr"], dc["epochs"]) == (10000, 256, 0.05, 500)
    assert training["image_size"] == 224 and training["resources"]["gpu"] == 0


def test_stale_state_is_removed_and_same_settings_kept(tmp_path):
    state = tmp_path / "state"
    assert not reset_stale_state(state, {"lr": 0.1})
    (state / "epoch_001.pth").write_bytes(b"x")
    assert not reset_stale_state(state, {"lr": 0.1})
    assert (state / "epoch_001.pth").exists()
    assert reset_stale_state(state, {"lr": 0.2})
    assert not (state / "epoch_001.pth").exists()


def test_images_digest_follows_content(tmp_path):
    write_training_set(tmp_path / "a", train_per_category=1, val_per_category=1, seed=1)
    write_training_set(tmp_path / "b", train_per_category=1, val_per_category=1, seed=1)
    write_training_set(tmp_path / "c", train_per_category=1, val_per_category=1, seed=2)
    assert images_digest(tmp_path / "a") == images_digest(tmp_path / "b")
    assert images_digest(tmp_path / "a") != images_digest(tmp_path / "c")


def test_image_folder_splits_shapes_and_errors(tmp_path):
    write_training_set(tmp_path, train_per_category=2, val_per_category=1, seed=3)
    train, val, plain = image_folder_splits(tmp_path, size=64, crop_scale=0.5)
    assert len(train) == 12 and len(val) == 6 and len(plain) == 12
    assert train[0][0].shape == val[0][0].shape == (3, 64, 64)
    assert train.classes == val.classes and len(train.classes) == 6
    with pytest.raises(FileNotFoundError, match="ImageNet layout"):
        image_folder_splits(tmp_path / "train")


def test_history_long_is_tidy():
    hist = pd.DataFrame({"epoch": [1, 2], "loss": [2.0, 1.0], "top1": [0.1, 0.5]})
    long = history_long(hist, "alexnet")
    assert list(long.columns) == ["network", "epoch", "statistic", "value"]
    assert len(long) == 4 and set(long["statistic"]) == {"loss", "top1"}
    assert long.set_index(["epoch", "statistic"])["value"][(2, "top1")] == 0.5
