# Shared set-up: makes the brainalign package importable, validates the config, and defines
# the paths and helper functions the rule files use.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

# The package lives in src/. Putting it on PYTHONPATH here makes it importable in every job:
# local jobs, `script:` jobs (whose preamble only adds the script's folder), `shell:` jobs,
# conda-env jobs and cluster jobs (submitted with the environment exported).
SRC = str(Path(workflow.basedir) / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from brainalign.pipeline.rulekit import export_package_path

export_package_path(SRC)

from brainalign.pipeline.config import (
    ConfigError,
    check_config,
    config_hash,
    derive_seed,
    validate_config,
)

try:
    _validated = check_config(validate_config(config))
except ConfigError as err:
    raise WorkflowError(f"Invalid configuration: {err}") from None
config.clear()
config.update(_validated)

CONFIG_HASH = config_hash(config)
DS = config["dataset"]["name"]
OUT = f"results/{DS}"
CONDITIONS = config["networks"]["conditions"]
REGIONS = config["dataset"]["regions"]
COMPARISONS = [f"{a}__vs__{b}" for a, b in config["statistics"]["comparisons"]]
FORMATS = config["figures"]["formats"]
LAYER_COUNT = 7


wildcard_constraints:
    condition="|".join(CONDITIONS),
    region="|".join(REGIONS),
    ext="|".join(FORMATS),


def condition_seed(condition):
    return derive_seed(config["seed"], "network", condition)


def network_of(condition):
    return condition.rpartition("_")[0]


def weights_for(condition):
    """Weights file of a trained condition (checked to exist by check_config)."""
    network, _, training = condition.rpartition("_")
    if training != "trained":
        return []
    return config["networks"]["weights"][network]


def figure_paths(stem):
    return [f"{OUT}/figures/{stem}.{ext}" for ext in FORMATS]


def all_targets():
    targets = [
        f"{OUT}/tables/comparison.csv",
        f"{OUT}/tables/noise_ceiling.csv",
        f"{OUT}/tables/anova.csv",
        f"{OUT}/tables/posthoc.csv",
        f"{OUT}/tables/provenance.csv",
    ]
    for region in REGIONS:
        targets += figure_paths(f"profiles_{region}")
        if COMPARISONS:
            targets += figure_paths(f"comparisons_{region}")
        targets += figure_paths(f"brain_rdm_{region}")
    for condition in CONDITIONS:
        targets += figure_paths(f"layer_rdms_{condition}")
    return targets


SYNTH_N = config["dataset"]["synthetic"]["n_images"]
SYNTH_SET = f"{SYNTH_N}_Image_Set"


def dataset_path(ds_cfg, out):
    """Folder the loader reads: the generated set for 'synthetic', else dataset.path."""
    if ds_cfg["kind"] == "synthetic":
        return f"{out}/data/{SYNTH_SET}"
    return ds_cfg["path"]


def dataset_source_files(ds_cfg):
    from brainalign.data.loaders import source_files

    return source_files(ds_cfg["kind"], ds_cfg["path"])


def dataset_inputs(wildcards):
    """Files the dataset loader reads (so a change to them reruns the study)."""
    if config["dataset"]["kind"] == "synthetic":
        return rules.simulate_dataset.output
    return dataset_source_files(config["dataset"])
