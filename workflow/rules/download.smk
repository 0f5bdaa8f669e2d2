# Downloads of remote inputs, driven by resources/registry.yaml (one entry per file: URL, sha256,
# target path under the resources root, description). See src/brainalign/download.py.
#
#   snakemake --cores 1 resources/.groups/kriegeskorte2008.done   # a group of files
#   snakemake --cores 1 resources/.verified/weights/alexnet-owt-7be5be79.pth.json
#
# * download_file runs only when the target file is missing: it downloads to a temporary name next
#   to the target, checks completeness and the registry hash, then renames it into place.
# * download_verify checks any file at a target path (downloaded or placed there by hand) and
#   records its sha256 in resources/.verified/<path>.json; rules that read a registry file should
#   take that record as input (helper: registry_inputs(name)).
# * download_extract unpacks an archive entry (extract_to) safely (no absolute paths, '..' or links).
#
# Config (all optional): download.registry (path of the registry), download.root (resources root,
# default "resources"), download.offline (never touch the network; also BRAINALIGN_OFFLINE=1),
# download.urls.<name> (override or supply a URL, e.g. for algonauts2019).
import importlib.util as _dl_importlib
import re as _dl_re
import shlex as _dl_shlex
import sys as _dl_sys
from pathlib import Path as _DlPath

_DL_CFG = config.get("download") or {}
_DL_REPO = (
    _DlPath(workflow.snakefile).resolve().parents[2]
)  # this file is workflow/rules/
_DL_SCRIPT = _DL_REPO / "src" / "brainalign" / "download.py"
_DL_REGISTRY_FILE = str(
    _DL_CFG.get("registry") or _DL_REPO / "resources" / "registry.yaml"
)
_DL_ROOT = str(_DL_CFG.get("root") or "resources").rstrip("/")
_DL_URLS = _DL_CFG.get("urls") or {}


def _dl_load_module():
    spec = _dl_importlib.spec_from_file_location("_brainalign_download", _DL_SCRIPT)
    mod = _dl_importlib.module_from_spec(spec)
    _dl_sys.modules[spec.name] = mod  # dataclasses look their module up while executing
    spec.loader.exec_module(mod)
    return mod


DOWNLOADS = _dl_load_module().load_registry(_DL_REGISTRY_FILE)
_DL_BY_PATH = {res.path: name for name, res in DOWNLOADS.items()}
_DL_ARCHIVES = [name for name, res in DOWNLOADS.items() if res.extract_to]
_DL_GROUPS = sorted({res.group for res in DOWNLOADS.values() if res.group})


def _dl_alternatives(items):
    return "|".join(_dl_re.escape(x) for x in items) or "(?!)"


def _dl_python():
    """The conda env's python under --use-conda, else this interpreter."""
    try:
        from snakemake_interface_executor_plugins.settings import DeploymentMethod

        if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
            return "python"
    except (ImportError, AttributeError):
        pass
    return _dl_sys.executable


def registry_path(name):
    """Target path (under the resources root) of registry entry ``name``."""
    return f"{_DL_ROOT}/{DOWNLOADS[name].path}"


def registry_inputs(name):
    """The file of registry entry ``name`` plus its verification record (use as rule input)."""
    return [registry_path(name), f"{_DL_ROOT}/.verified/{DOWNLOADS[name].path}.json"]


def _dl_url_option(name):
    url = _DL_URLS.get(name)
    return f"--url {_dl_shlex.quote(str(url))}" if url else ""


rule download_file:
    output:
        f"{_DL_ROOT}/{{dl_path}}",
    log:
        f"{_DL_ROOT}/.logs/download/{{dl_path}}.log",
    wildcard_constraints:
        dl_path=_dl_alternatives(_DL_BY_PATH),
    conda:
        "../../envs/data.yaml"
    params:
        python=_dl_python(),
        script=str(_DL_SCRIPT),
        registry=_DL_REGISTRY_FILE,
        root=_DL_ROOT,
        name=lambda wc: _DL_BY_PATH[wc.dl_path],
        url=lambda wc: _dl_url_option(_DL_BY_PATH[wc.dl_path]),
        offline="--offline" if _DL_CFG.get("offline") else "",
    shell:
        "{params.python} {params.script:q} --registry {params.registry:q} --root {params.root:q} "
        "fetch {params.name} {params.url} {params.offline} > {log:q} 2>&1"


rule download_verify:
    input:
        f"{_DL_ROOT}/{{dl_path}}",
    output:
        f"{_DL_ROOT}/.verified/{{dl_path}}.json",
    log:
        f"{_DL_ROOT}/.logs/verify/{{dl_path}}.log",
    wildcard_constraints:
        dl_path=_dl_alternatives(_DL_BY_PATH),
    conda:
        "../../envs/data.yaml"
    params:
        python=_dl_python(),
        script=str(_DL_SCRIPT),
        registry=_DL_REGISTRY_FILE,
        root=_DL_ROOT,
        name=lambda wc: _DL_BY_PATH[wc.dl_path],
    shell:
        "{params.python} {params.script:q} --registry {params.registry:q} --root {params.root:q} "
        "verify {params.name} --stamp {output:q} > {log:q} 2>&1"


rule download_extract:
    input:
        lambda wc: registry_inputs(wc.dl_archive),
    output:
        f"{_DL_ROOT}/.extracted/{{dl_archive}}.json",
    log:
        f"{_DL_ROOT}/.logs/extract/{{dl_archive}}.log",
    wildcard_constraints:
        dl_archive=_dl_alternatives(_DL_ARCHIVES),
    conda:
        "../../envs/data.yaml"
    params:
        python=_dl_python(),
        script=str(_DL_SCRIPT),
        registry=_DL_REGISTRY_FILE,
        root=_DL_ROOT,
    shell:
        "{params.python} {params.script:q} --registry {params.registry:q} --root {params.root:q} "
        "extract {wildcards.dl_archive} --stamp {output:q} > {log:q} 2>&1"


def _dl_group_inputs(wildcards):
    out = []
    for name, res in DOWNLOADS.items():
        if res.group == wildcards.dl_group:
            out += registry_inputs(name)
            if res.extract_to:
                out.append(f"{_DL_ROOT}/.extracted/{name}.json")
    return out


rule download_group:
    input:
        _dl_group_inputs,
    output:
        f"{_DL_ROOT}/.groups/{{dl_group}}.done",
    log:
        f"{_DL_ROOT}/.logs/group/{{dl_group}}.log",
    wildcard_constraints:
        dl_group=_dl_alternatives(_DL_GROUPS),
    conda:
        "../../envs/data.yaml"
    params:
        files=lambda wc: len(_dl_group_inputs(wc)),
    shell:
        "printf '%s\\n' {input:q} > {output:q} 2> {log:q}"
