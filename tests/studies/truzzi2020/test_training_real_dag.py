"""The ImageNet training run (resources/configs/truzzi2020_imagenet.yaml) resolves in a dry run.

Empty stand-ins for the Algonauts folder and the ImageNet train/val folders: the config check
only tests that they exist, and a dry run reads nothing. The shipped config is used as it is,
with a second ``--configfile`` pointing it at the stand-ins.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml
from conftest import REPO, dry_run_resources, run_snakemake, scheduled_jobs, write_config

REAL = REPO / "resources" / "configs" / "truzzi2020_imagenet.yaml"
OUT = "results/truzzi2020/algonauts92"
NETWORKS = ("alexnet", "deepcluster", "modified_alexnet")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("imagenet")
    write_config(work, REPO / "config.yaml")
    data = work / "92_Image_Set"
    (data / "92images").mkdir(parents=True)
    (data / "target_fmri.mat").write_bytes(b"")
    for split in ("train", "val"):
        (work / "imagenet" / split / "n01440764").mkdir(parents=True)
    local = {
        "truzzi2020": {
            "dataset": {"path": str(data)},
            "training": {"images": {"path": str(work / "imagenet")}},
        }
    }
    (work / "local.yaml").write_text(yaml.safe_dump(local))
    args = ("--workflow-profile", "none", "--configfile", str(REAL), str(work / "local.yaml"))
    jobs = scheduled_jobs(work, *args)
    return jobs, run_snakemake(work, "-n", *args, timeout=300).stdout


def test_every_network_is_trained_then_compared(dry_run):
    jobs, out = dry_run
    by_rule = Counter(rule for rule, _ in jobs)
    assert {wc for r, wc in jobs if r == "tz_train"} == {f"tnet={n}" for n in NETWORKS}
    assert "tz_training_set" not in by_rule  # ImageNet, not the embedded set
    trained = {f"condition={n}_trained" for n in NETWORKS}
    extracted = {wc.split(", ")[-1] for r, wc in jobs if r == "extract_activations"}
    assert trained <= extracted, extracted
    for net in NETWORKS:
        assert f"{OUT}/training/{net}/checkpoint.pth.tar" in out
    assert by_rule["tz_training_table"] == by_rule["tz_training_figure"] == 1


def test_training_jobs_ask_for_a_gpu(dry_run):
    _, out = dry_run
    cluster = yaml.safe_load(REAL.read_text())["truzzi2020"]["training"]
    res = dry_run_resources(out)
    assert len(res["tz_train"]) == 3
    for job in res["tz_train"]:
        assert job["gpu"] == "1" and job["mem_mb"] == str(cluster["resources"]["mem_mb"])
        assert job["runtime"] == str(cluster["resources"]["runtime"])
    for rule, jobs in res.items():
        if rule != "tz_train":
            assert all(job.get("gpu", "0") == "0" for job in jobs), (rule, jobs)
