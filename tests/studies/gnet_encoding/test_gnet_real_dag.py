"""The real-NSD run (resources/configs/gnet_encoding_nsd.yaml) resolves, as far as a dry run goes.

A fake NSD root holds empty files at the bucket's relative paths for 2 subjects x 2 sessions: the
config check (``gnet_encoding.design``) only tests that the files exist, and a dry run reads
none. The shipped config file is used as it is, with a second ``--configfile`` that points it at
the fake root, two subjects and a placeholder prefilter weights file.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import REPO, dry_run_resources, run_snakemake, scheduled_jobs, write_config

from brainalign.data.nsd import FILES, nsd_paths

REAL = REPO / "resources" / "configs" / "gnet_encoding_nsd.yaml"
OUT = "results/gnet_encoding/nsd"
ROIS = ("V1", "V2", "V3", "hV4")
TRAINING_RULES = ("ge_train", "ge_transfer")
NO_PROFILE = ("--workflow-profile", "none")  # the local profile caps mem_mb at 8000


def _nsd_tree(root: Path, subjects=(1, 2), sessions=2) -> Path:
    """Empty files at the real NSD paths (and the ventral brain mask) under ``root``."""
    mask = yaml.safe_load(REAL.read_text())["gnet_encoding"]["dataset"]["brainmask"]
    paths = [root / FILES["expdesign"], root / FILES["stimuli"]]
    for s in subjects:
        paths += nsd_paths(root, s, range(1, sessions + 1)).values()
        paths.append(root / mask.format(subject=s))
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    return root


def _setup(work: Path, **dataset) -> tuple[Path, list[str]]:
    """A working directory with the repository's config.yaml as the base and the args that
    layer the real-NSD config and a local overlay on it; returns (fake root, args)."""
    write_config(work, REPO / "config.yaml")
    root = _nsd_tree(work / "nsd")
    weights = work / "prefilter_placeholder.pth"  # only its existence is checked at config time
    weights.write_bytes(b"")
    local = {
        "gnet_encoding": {
            "dataset": {"root": str(root), "subjects": [1, 2], **dataset},
            "prefilter": {"trained": False},  # the trained file is verified by the registry
        }
    }
    overlay = work / "local.yaml"
    overlay.write_text(yaml.safe_dump(local, sort_keys=False))
    return root, [*NO_PROFILE, "--configfile", str(REAL), str(overlay)]


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> tuple[Counter, str]:
    work = tmp_path_factory.mktemp("gnet_nsd")
    _, args = _setup(work)
    jobs = scheduled_jobs(work, *args)
    return jobs, run_snakemake(work, "-n", *args, timeout=300).stdout


def test_whole_dag_resolves_on_the_real_file_names(dry_run):
    jobs, out = dry_run
    by_rule = Counter(rule for rule, _ in jobs)
    subjects = ("subj01", "subj02")
    assert {wc for r, wc in jobs if r == "ge_prepare"} == {f"ge_subject={s}" for s in subjects}
    assert {wc for r, wc in jobs if r == "ge_ridge"} == {f"ge_subject={s}" for s in subjects}
    models = {"gnet8j"} | {f"gnet8r_{r}" for r in ROIS}
    assert {wc for r, wc in jobs if r == "ge_train"} == {f"ge_model={m}" for m in models}
    assert {wc for r, wc in jobs if r == "ge_transfer"} == {f"ge_source={r}" for r in ROIS}
    for rule in ("ge_tuning", "ge_tables", "ge_figures"):
        assert by_rule[rule] == 1, (rule, by_rule)
    assert "ge_simulate" not in by_rule
    assert f"{OUT}/tables/transfer.csv" in out
    # every session of the fake root is an input of preparation, at the bucket's path
    for s in (1, 2):
        for k in (1, 2):
            assert FILES["betas"].format(subject=s, session=k) in out


def test_training_rules_carry_the_configured_cluster_resources(dry_run):
    _, out = dry_run
    res = dry_run_resources(out)
    cluster = yaml.safe_load(REAL.read_text())["gnet_encoding"]["resources"]
    for rule in TRAINING_RULES:
        assert res.get(rule), (rule, sorted(res))
        for job in res[rule]:
            assert job["gpu"] == str(cluster["gpu"]), (rule, job)
            assert job["mem_mb"] == str(cluster["mem_mb"]), (rule, job)
            assert job["runtime"] == str(cluster["runtime"]), (rule, job)
            assert job["slurm_extra"] == (cluster["slurm_extra"] or ""), (rule, job)
    assert cluster["gpu"] >= 1
    for rule, jobs in res.items():  # the GPU is asked for by the training rules only
        if rule not in TRAINING_RULES:
            assert all(job.get("gpu", "0") == "0" for job in jobs), (rule, jobs)


def test_slurm_plugin_requests_the_gpu_once(dry_run):
    """What snakemake-executor-plugin-slurm makes of the training rules' resources: one
    ``--gpus=N`` from ``gpu``, and a ``slurm_extra`` that it accepts (it refuses GPU flags
    there, so a GPU cannot be requested twice)."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    from snakemake_executor_plugin_slurm.utils import set_gres_string
    from snakemake_executor_plugin_slurm.validation import validate_slurm_extra

    class _Resources(dict):
        def __getattr__(self, key):
            try:
                return self[key]
            except KeyError:
                raise AttributeError(key) from None

    class _Job:
        def __init__(self, resources: dict[str, str]):
            self.resources = _Resources(
                {k: int(v) if v.isdigit() else v for k, v in resources.items()}
            )

    _, out = dry_run
    for rule in TRAINING_RULES:
        for resources in dry_run_resources(out)[rule]:
            job = _Job(resources)
            validate_slurm_extra(job)
            gres = set_gres_string(job)
            assert gres.split() == [f"--gpus={resources['gpu']}"], (rule, gres)
            flags = f"{gres} {job.resources.get('slurm_extra', '')}"
            assert len(re.findall(r"--(gres|gpus)\b", flags)) == 1, (rule, flags)


def _config_error(proc) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    lines = [ln for ln in out.splitlines() if "Invalid configuration" in ln]
    assert len(lines) == 1, out[-3000:]
    return lines[0]


def test_missing_betas_file_is_one_config_error_naming_it(tmp_path):
    root, args = _setup(tmp_path, sessions=2)
    missing = nsd_paths(root, 2, [2])["betas_session02"]
    missing.unlink()
    line = _config_error(run_snakemake(tmp_path, "-n", *args, check=False, timeout=300))
    assert "gnet_encoding.dataset.root" in line, line
    assert str(missing) in line, line
    assert "data-access agreement" in line, line


def test_subject_without_any_betas_is_one_config_error(tmp_path):
    root, args = _setup(tmp_path)  # sessions: null = every betas file present
    for path in nsd_paths(root, 2, [1, 2]).values():
        if path.name.startswith("betas_session"):
            path.unlink()
    line = _config_error(run_snakemake(tmp_path, "-n", *args, check=False, timeout=300))
    assert "gnet_encoding.dataset.root" in line and "subj02" in line, line
    assert FILES["betas"].format(subject=2, session=1) in line, line
    assert "data-access agreement" in line, line
