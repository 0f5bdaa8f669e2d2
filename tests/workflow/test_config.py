import copy
import importlib

import pytest
import yaml
from conftest import REPO

from brainalign.pipeline.config import (
    SCHEMA_PATH,
    ConfigError,
    config_hash,
    derive_seed,
    enabled_studies,
    validate_config,
)


@pytest.fixture
def cfg():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def check_config(cfg):
    """Validate ``cfg`` and let every enabled study complete and check its block, as
    workflow/rules/common.smk does; returns the completed config."""
    out = validate_config(cfg)
    for study in enabled_studies(out):
        importlib.import_module(f"brainalign.studies.{study}").complete_config(out)
    return out


def test_default_config_is_valid_and_defaults_are_filled(cfg):
    out = check_config(cfg)["truzzi2020"]
    assert out["comparison"]["method"] == "tau_b"
    assert out["comparison"]["permutations"] == 10000
    assert out["statistics"]["mode"] == "corrected"
    minimal = {
        "truzzi2020": {
            "dataset": {"name": "x", "kind": "synthetic"},
            "conditions": ["alexnet_untrained"],
        },
    }
    filled = validate_config(minimal)
    assert filled["seed"] == 2020 and filled["rdm"]["metric"] == "correlation"
    assert filled["truzzi2020"]["dataset"]["synthetic"]["n_images"] == 92


def _walk(node, path=""):
    if isinstance(node, dict):
        if "properties" in node:
            for key, sub in node["properties"].items():
                yield f"{path}.{key}".lstrip("."), sub
                yield from _walk(sub, f"{path}.{key}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield from _walk(node[key], path)


def test_every_schema_key_has_a_description():
    from brainalign.pipeline.config import _load_schema

    assert yaml.safe_load(SCHEMA_PATH.read_text())["$schema"] == (
        "https://json-schema.org/draft/2020-12/schema"
    )
    schema = _load_schema(SCHEMA_PATH)  # with the study schemas inlined
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    keys = list(_walk(schema))
    assert len(keys) > 20
    missing = [k for k, sub in keys if not sub.get("description")]
    assert not missing, missing


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: c["truzzi2020"]["comparison"].update(permutations=0),
            "'truzzi2020.comparison.permutations': 0 is less than the minimum of 1",
        ),
        (
            lambda c: c["truzzi2020"]["comparison"].update(method="kendall"),
            "'truzzi2020.comparison.method': 'kendall' is not",
        ),
        (lambda c: c.update(sed=1), "config key 'sed' is not a known setting"),
        (
            lambda c: c["truzzi2020"].update(conditions=["alexnet_half"]),
            "'truzzi2020.conditions[0]'",
        ),
        (lambda c: c["seed"].__class__ and c.update(seed="abc"), "'seed': 'abc' is not of type"),
        (
            lambda c: c["truzzi2020"]["statistics"].update(mode="strict"),
            "'truzzi2020.statistics.mode'",
        ),
    ],
)
def test_schema_errors_name_the_key(cfg, edit, message):
    bad = copy.deepcopy(cfg)
    edit(bad)
    with pytest.raises(ConfigError, match=None) as err:
        check_config(bad)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_semantic_errors(cfg, tmp_path):
    bad = copy.deepcopy(cfg)
    bad["truzzi2020"]["conditions"] = ["resnet_untrained"]
    with pytest.raises(ConfigError, match="unknown network 'resnet'"):
        check_config(bad)
    bad = copy.deepcopy(cfg)
    bad["truzzi2020"]["conditions"] = ["alexnet_untrained", "deepcluster_untrained"]
    bad["truzzi2020"]["statistics"]["comparisons"] = [["alexnet_untrained", "alexnet_trained"]]
    with pytest.raises(ConfigError, match="'alexnet_trained' is not in truzzi2020.conditions"):
        check_config(bad)
    bad = copy.deepcopy(cfg)
    assert "deepcluster_trained" in bad["truzzi2020"]["conditions"]
    bad["truzzi2020"]["training"]["networks"] = ["alexnet", "modified_alexnet"]  # not deepcluster
    bad["networks"]["weights"]["deepcluster"] = str(tmp_path / "checkpoint.pth.tar")
    with pytest.raises(ConfigError) as err:
        check_config(bad)
    assert "networks.weights.deepcluster" in str(err.value)
    assert "dl.fbaipublicfiles.com/deepcluster" in str(err.value)
    assert str(tmp_path / "checkpoint.pth.tar") in str(err.value)
    bad = copy.deepcopy(cfg)
    bad["truzzi2020"]["dataset"].update(kind="algonauts2019", path=str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="'truzzi2020.dataset.path'.*is not a folder"):
        check_config(bad)


def test_seeds_and_hash_are_stable(cfg):
    assert derive_seed(2020, "network", "alexnet") == derive_seed(2020, "network", "alexnet")
    assert derive_seed(2020, "network", "alexnet") != derive_seed(2020, "network", "deepcluster")
    assert derive_seed(2020, "x") != derive_seed(2021, "x")
    assert config_hash(cfg) == config_hash(copy.deepcopy(cfg))
    other = copy.deepcopy(cfg)
    other["seed"] = 1
    assert config_hash(other) != config_hash(cfg)


def test_paper_config_validates_with_weights_in_place(tmp_path, monkeypatch):
    """The full Truzzi & Cusack design config is valid once the data and weights exist."""
    cfg = yaml.safe_load((REPO / "resources" / "configs" / "truzzi2020_algonauts.yaml").read_text())
    data = tmp_path / "92_Image_Set"
    (data / "92images").mkdir(parents=True)
    (data / "target_fmri.mat").write_bytes(b"x")
    cfg["truzzi2020"]["dataset"]["path"] = str(data)
    for net in cfg["networks"]["weights"]:
        path = tmp_path / f"{net}.pth"
        path.write_bytes(b"x")
        cfg["networks"]["weights"][net] = str(path)
    out = check_config(cfg)
    assert enabled_studies(out) == ["truzzi2020"]
    assert len(out["truzzi2020"]["conditions"]) == 6
    assert len(out["truzzi2020"]["statistics"]["comparisons"]) == 4


def test_imagenet_training_config_validates_with_the_folders_in_place(tmp_path):
    """The ImageNet training config: trained conditions need no weights files (the workflow
    trains them), the ImageNet folder needs train/ and val/, training jobs ask for a GPU."""
    cfg = yaml.safe_load((REPO / "resources" / "configs" / "truzzi2020_imagenet.yaml").read_text())
    data = tmp_path / "92_Image_Set"
    (data / "92images").mkdir(parents=True)
    (data / "target_fmri.mat").write_bytes(b"x")
    cfg["truzzi2020"]["dataset"]["path"] = str(data)
    imagenet = tmp_path / "imagenet"
    (imagenet / "train").mkdir(parents=True)
    cfg["truzzi2020"]["training"]["images"]["path"] = str(imagenet)
    with pytest.raises(ConfigError, match=r"training.images.path.*lacks \['val'\]"):
        check_config(copy.deepcopy(cfg))
    (imagenet / "val").mkdir()
    out = check_config(cfg)
    training = out["truzzi2020"]["training"]
    assert training["resources"]["gpu"] == 1 and training["image_size"] == 224
    assert training["deepcluster"]["k"] == 10000
    assert "weights" not in out["networks"] or not out["networks"]["weights"]
