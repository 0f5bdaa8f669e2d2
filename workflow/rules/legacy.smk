# The legacy DeepCluster environment (Python 2.7 + PyTorch 0.3, envs/deepcluster-py27.yaml).
#
# With networks.legacy_deepcluster_env: true, the activations of the deepcluster conditions are
# recorded by workflow/scripts/legacy/deepcluster_activations.py running in that env. The script is
# standalone (valid Python 2.7 and 3, no brainalign import), so it is called with `shell:`:
# Snakemake's `script:` preamble is Python 3 only. It writes the same .npz layout as
# extract_activations and, under Python 3 with the same torch, the same numbers. The default
# (false) keeps every condition in the modern env.
#
# Include after activations.smk; uses condition_seed, weights_for and STUDY_IDS from common.smk.
import shlex as _legacy_shlex
import sys as _legacy_sys
from pathlib import Path as _LegacyPath

# This file's folder (workflow/rules), wherever the main Snakefile is.
_LEGACY_SCRIPT = str(
    _LegacyPath(workflow.snakefile).resolve().parent.parent
    / "scripts"
    / "legacy"
    / "deepcluster_activations.py"
)


try:  # the conda env's python (2.7) under --use-conda, else this interpreter
    from snakemake_interface_executor_plugins.settings import (
        DeploymentMethod as _LegacyDeploy,
    )

    _LEGACY_PYTHON = (
        "python"
        if _LegacyDeploy.CONDA in workflow.deployment_settings.deployment_method
        else _legacy_sys.executable
    )
except (ImportError, AttributeError):
    _LEGACY_PYTHON = _legacy_sys.executable
# --weights <file> for trained conditions (weights_for comes from common.smk)
_legacy_weights_option = lambda wc: " ".join(
    f"--weights {_legacy_shlex.quote(str(path))}"
    for path in [weights_for(wc.condition, wc.study)]
    if path
)


if config["networks"]["legacy_deepcluster_env"]:

    ruleorder: extract_activations_legacy > extract_activations

    rule extract_activations_legacy:
        input:
            stimuli="results/{study}/{dataset}/dataset/stimuli.npz",
            weights=lambda wc: weights_for(wc.condition, wc.study),
        output:
            "results/{study}/{dataset}/activations/{condition}.npz",
        log:
            "results/{study}/{dataset}/logs/extract_activations/{condition}.legacy.log",
        benchmark:
            "results/{study}/{dataset}/benchmarks/extract_activations_legacy/{condition}.tsv"
        wildcard_constraints:
            study=STUDY_IDS,
            condition="deepcluster_(?:trained|untrained)",
        conda:
            "../../envs/deepcluster-py27.yaml"
        threads: 2
        resources:
            mem_mb=6000,
            runtime=30,
        params:
            python=_LEGACY_PYTHON,
            script=_LEGACY_SCRIPT,
            training=lambda wc: wc.condition.rpartition("_")[2],
            seed=lambda wc: condition_seed(wc.condition),
            weights=_legacy_weights_option,
            unsafe=lambda wc: (
                "--allow-unsafe-pickle"
                if "deepcluster" in config["networks"]["allow_unsafe_pickle"]
                else ""
            ),
            conv_pooling=config["networks"]["conv_pooling"],
            device=config["networks"]["device"],
            batch_size=config["networks"]["batch_size"],
        shell:
            "{params.python:q} {params.script:q} --images {input.stimuli:q} --out {output:q} "
            "--training {params.training} --seed {params.seed} {params.weights} --top 10000 "
            "--conv-pooling {params.conv_pooling} --batch-size {params.batch_size} "
            "--device {params.device} --threads {threads} {params.unsafe} > {log:q} 2>&1"
