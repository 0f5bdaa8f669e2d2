# Downloads of remote inputs, driven by resources/registry.yaml (one entry per file: URL, sha256,
# target path under the resources root, description). See src/brainalign/pipeline/download.py.
#
#   snakemake --cores 1 resources/.groups/kriegeskorte2008.done   # a group of files
#   snakemake --cores 1 resources/.verified/weights/alexnet-owt-7be5be79.pth.json
#
# * download_file runs only when the target file is missing: it downloads to a temporary name next
#   to the target, checks completeness and the registry hash, then renames it into place.
# * download_verify checks any file at a target path (downloaded or placed there by hand) and
#   records its sha256 in resources/.verified/<path>.json; rules that read a registry file should
#   take that record as input (registry_inputs(name) gives the file and its record).
# * download_extract unpacks an archive entry (extract_to) safely (no absolute paths, '..' or links).
#
# Config (all optional): download.registry (path of the registry), download.root (resources root,
# default "resources"), download.offline (never touch the network; also BRAINALIGN_OFFLINE=1),
# download.urls.<name> (override or supply a URL, e.g. for algonauts2019).
import shlex as _dl_shlex
import sys as _dl_sys
from pathlib import Path as _DlPath

from brainalign.pipeline.download import RuleHelper as _DlRuleHelper

_DL_CFG = config["download"]
_DL_REPO = _DlPath(workflow.basedir)
DL = _DlRuleHelper(
    _DL_CFG["registry"] or _DL_REPO / "resources" / "registry.yaml",
    root=_DL_CFG["root"],
    urls=_DL_CFG["urls"],
)
#: registry_path(name) -> target path; registry_inputs(name) -> [target, verification record].
registry_path = DL.path
registry_inputs = DL.inputs
try:  # the conda env's python under --use-conda, else this interpreter
    from snakemake_interface_executor_plugins.settings import (
        DeploymentMethod as _DlDeploy,
    )

    _DL_PYTHON = (
        "python"
        if _DlDeploy.CONDA in workflow.deployment_settings.deployment_method
        else _dl_sys.executable
    )
except (ImportError, AttributeError):
    _DL_PYTHON = _dl_sys.executable
_DL_CLI = " ".join(
    _dl_shlex.quote(str(x))
    for x in (
        _DL_PYTHON,
        "-m",
        "brainalign.pipeline.download",
        "--registry",
        DL.registry_file,
    )
)


rule download_file:
    output:
        f"{DL.root}/{{dl_path}}",
    log:
        f"{DL.root}/.logs/download/{{dl_path}}.log",
    benchmark:
        "results/downloads/benchmarks/download_file/{dl_path}.tsv"
    wildcard_constraints:
        dl_path=DL.path_pattern,
    conda:
        "../../envs/data.yaml"
    params:
        cli=_DL_CLI,
        root=lambda wc, output: DL.root_of(output[0], wc.dl_path),
        name=lambda wc: DL.by_path[wc.dl_path],
        url=lambda wc: DL.url_option(DL.by_path[wc.dl_path]),
        offline="--offline" if _DL_CFG["offline"] else "",
    shell:
        "{params.cli} --root {params.root:q} fetch {params.name} {params.url} {params.offline} "
        "> {log:q} 2>&1"


rule download_verify:
    input:
        f"{DL.root}/{{dl_path}}",
    output:
        f"{DL.root}/.verified/{{dl_path}}.json",
    log:
        f"{DL.root}/.logs/verify/{{dl_path}}.log",
    benchmark:
        "results/downloads/benchmarks/download_verify/{dl_path}.tsv"
    wildcard_constraints:
        dl_path=DL.path_pattern,
    conda:
        "../../envs/data.yaml"
    params:
        cli=_DL_CLI,
        root=lambda wc, input: DL.root_of(input[0], wc.dl_path),
        name=lambda wc: DL.by_path[wc.dl_path],
    shell:
        "{params.cli} --root {params.root:q} verify {params.name} --stamp {output:q} "
        "> {log:q} 2>&1"


rule download_extract:
    input:
        lambda wc: DL.inputs(wc.dl_archive),
    output:
        f"{DL.root}/.extracted/{{dl_archive}}.json",
    log:
        f"{DL.root}/.logs/extract/{{dl_archive}}.log",
    benchmark:
        "results/downloads/benchmarks/download_extract/{dl_archive}.tsv"
    wildcard_constraints:
        dl_archive=DL.archive_pattern,
    conda:
        "../../envs/data.yaml"
    params:
        cli=_DL_CLI,
        root=lambda wc, output: DL.root_of(
            output[0], f".extracted/{wc.dl_archive}.json"
        ),
    shell:
        "{params.cli} --root {params.root:q} extract {wildcards.dl_archive} "
        "--stamp {output:q} > {log:q} 2>&1"


rule download_group:
    input:
        lambda wc: DL.group_inputs(wc.dl_group),
    output:
        f"{DL.root}/.groups/{{dl_group}}.done",
    log:
        f"{DL.root}/.logs/group/{{dl_group}}.log",
    benchmark:
        "results/downloads/benchmarks/download_group/{dl_group}.tsv"
    wildcard_constraints:
        dl_group=DL.group_pattern,
    conda:
        "../../envs/data.yaml"
    params:
        n_files=lambda wc: len(DL.group_inputs(wc.dl_group)),
    shell:
        "printf '%s\\n' {input:q} > {output:q} 2> {log:q}"
