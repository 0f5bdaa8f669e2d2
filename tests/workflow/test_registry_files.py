"""Registry-listed files are verified wherever a study uses them (issue 10).

A weights file or dataset source file at a registry target path, or with a registry entry's file
name, is checked against that entry (size, SHA-256 or its prefix) when the workflow starts: a
wrong file stops ``snakemake -n --configfile`` with one config error naming the file, both
hashes and the URL. The digest is cached by (path, size, mtime_ns), so a file is hashed once until
it changes; the jobs that read a verified file re-check it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, run_snakemake

from brainalign.io import hashing
from brainalign.io.hashing import (
    VERIFIED_FILES_ENV,
    FileCheckError,
    check_listed_file,
    clear_digest_cache,
    listed_files,
)
from brainalign.pipeline import download as dl
from brainalign.pipeline.config import ConfigError, enabled_studies, validate_config
from brainalign.pipeline.registry import DEFAULT_REGISTRY, load_registry
from brainalign.pipeline.verified import matching_resources, verify_registry_file

ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
ALEXNET = "alexnet-owt-7be5be79.pth"
BRAIN_URL = "https://github.com/rsagroup/rsatoolbox/raw/main/demos/92imageData/92_brainRDMs.mat"
BRAIN_SHA = "1743f90a15e895798a94318649e80e1123a7e5943a1703fa1dd7c31ea5780b7c"
KRIEGESKORTE = REPO.parent / "shared" / "data" / "kriegeskorte2008"
STIMULI = "Kriegeskorte_Neuron2008_supplementalData.mat"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """No verified-file listing or cached digest leaks into or out of a test."""
    monkeypatch.setenv(VERIFIED_FILES_ENV, "{}")
    clear_digest_cache()
    yield
    clear_digest_cache()


@pytest.fixture
def hash_calls(monkeypatch):
    """Count the files :func:`brainalign.io.hashing.sha256_file` hashes."""
    calls: list[str] = []
    real = hashing.sha256_file

    def counting(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(hashing, "sha256_file", counting)
    return calls


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _registry(tmp_path: Path, entries: dict) -> tuple[Path, dict]:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(entries))
    return path, load_registry(path)


def _entry(path: str, **checks) -> dict:
    url = f"https://example.org/{Path(path).name}"
    return {"url": url, "path": path, "description": "x", **checks}


def check_config(cfg: dict) -> dict:
    """Validate and complete ``cfg`` as workflow/rules/common.smk does."""
    import importlib

    out = validate_config(cfg)
    for study in enabled_studies(out):
        importlib.import_module(f"brainalign.studies.{study}").complete_config(out)
    return out


def _no_traceback_one_line(proc) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    line = next((ln for ln in out.splitlines() if "Invalid configuration" in ln), "")
    assert line, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    return line


def _dry(work: Path, overlay: dict):
    """``snakemake -n --configfile my.yaml`` over a copy of the repository's config.yaml."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    (work / "my.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    return run_snakemake(work, "-n", "--configfile", str(work / "my.yaml"), check=False)


def _small_truzzi(conditions: list[str], **dataset) -> dict:
    ds = {
        "name": "small",
        "kind": "synthetic",
        "regions": ["EVC", "IT"],
        "synthetic": {"n_images": 12, "n_subjects": 3, "n_voxels": 60},
    }
    if dataset:
        ds = {"name": "kr", **dataset}
    return {
        "dataset": ds,
        "conditions": conditions,
        "comparison": {"permutations": 200},
        "statistics": {"comparisons": []},
        "figures": {"formats": ["png"]},
    }


# --- matching and checking ---------------------------------------------------------------------


def test_files_match_by_target_path_or_file_name(tmp_path):
    registry = load_registry(DEFAULT_REGISTRY)
    root = tmp_path / "resources"
    at_target = root / "weights" / ALEXNET
    assert matching_resources(at_target, registry, root) == ([registry["alexnet"]], True)
    elsewhere = tmp_path / "mine" / ALEXNET
    assert matching_resources(elsewhere, registry, root) == ([registry["alexnet"]], False)
    brain = tmp_path / "any" / "92_brainRDMs.mat"
    assert matching_resources(brain, registry, root)[0] == [registry["kriegeskorte2008_brain_rdms"]]
    assert matching_resources(tmp_path / "alexnet.pth", registry, root) == ([], False)


def test_wrong_alexnet_weights_name_file_hashes_and_url(tmp_path):
    registry = load_registry(DEFAULT_REGISTRY)
    root = tmp_path / "resources"
    fake = root / "weights" / ALEXNET
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"not the torchvision weights")
    with pytest.raises(FileCheckError) as err:
        verify_registry_file(fake, registry, root)
    msg = str(err.value)
    assert (
        f"{fake.resolve()} (27 bytes) does not match the download registry entry 'alexnet'" in msg
    )
    assert f"sha256 {_sha(fake.read_bytes())}, expected one starting with 7be5be79" in msg
    assert f"replace it with the file from {ALEXNET_URL}" in msg
    # at the target path: how to fetch it (into this root)
    assert (
        f"Delete it, then `python -m brainalign.pipeline.download --root {root} fetch alexnet`"
        in (msg)
    )
    assert listed_files() == {}  # a failing file is not listed for the jobs
    # the same file elsewhere, under the registry's file name: checked too, with a rename hint
    other = tmp_path / "mine" / ALEXNET
    other.parent.mkdir()
    shutil.copy(fake, other)
    with pytest.raises(FileCheckError, match="give it another name") as err:
        verify_registry_file(other, registry, root)
    assert str(other.resolve()) in str(err.value) and ALEXNET_URL in str(err.value)
    # a file under another name is not the registry's business
    mine = tmp_path / "mine" / "alexnet_mine.pth"
    shutil.copy(fake, mine)
    assert verify_registry_file(mine, registry, root) is None


def test_size_and_full_hash_are_checked_and_a_good_file_is_listed(tmp_path):
    good = b"the right bytes"
    reg_file, registry = _registry(
        tmp_path,
        {"brain": _entry("data/set/92_brainRDMs.mat", sha256=_sha(good), size=len(good))},
    )
    root = tmp_path / "res"
    path = root / "data" / "set" / "92_brainRDMs.mat"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"wrong bytes, other size")
    with pytest.raises(FileCheckError) as err:
        verify_registry_file(path, registry, root, registry_file=reg_file)
    msg = str(err.value)
    assert f"size 23 bytes, expected {len(good)}" in msg and f"expected {_sha(good)}" in msg
    assert "https://example.org/92_brainRDMs.mat" in msg and str(reg_file) in msg
    path.write_bytes(good)
    assert verify_registry_file(path, registry, root, registry_file=reg_file).name == "brain"
    listed = listed_files()[str(path.resolve())]
    assert listed["name"] == "brain" and listed["sha256"] == _sha(good)


# --- the cache -----------------------------------------------------------------------------------


def test_a_file_is_hashed_once_until_it_changes(tmp_path, hash_calls):
    good = os.urandom(50_000)
    reg_file, registry = _registry(tmp_path, {"w": _entry("weights/w-abcd.pth", sha256=_sha(good))})
    root = tmp_path / "res"
    path = root / "weights" / "w-abcd.pth"
    path.parent.mkdir(parents=True)
    path.write_bytes(good)
    verify_registry_file(path, registry, root)
    assert hash_calls == [str(path)]
    verify_registry_file(path, registry, root)  # in-process memo
    clear_digest_cache()
    verify_registry_file(path, registry, root)  # a new process: the record on disk
    assert len(hash_calls) == 1
    records = list((root / ".verified" / "cache" / "w").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    st = path.stat()
    assert record == {
        "name": "w",
        "path": str(path.resolve()),
        "sha256": _sha(good),
        "size": len(good),
        "mtime_ns": st.st_mtime_ns,
        "verification": "sha256",
        "verified": True,
    }
    assert not [p for p in records[0].parent.iterdir() if p.name.startswith(".")]  # no temp left
    # touching the file re-hashes it (once)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    clear_digest_cache()
    verify_registry_file(path, registry, root)
    verify_registry_file(path, registry, root)
    assert len(hash_calls) == 2
    # replaced by a wrong file of the same size: found, and that verdict is cached too
    path.write_bytes(os.urandom(len(good)))
    for _ in range(2):
        with pytest.raises(FileCheckError, match="does not match"):
            verify_registry_file(path, registry, root)
    assert len(hash_calls) == 3
    assert json.loads(records[0].read_text())["verified"] is False


def test_the_download_rules_record_is_reused(tmp_path, hash_calls):
    data = os.urandom(10_000)
    reg_file, registry = _registry(tmp_path, {"w": _entry("weights/w.pth", sha256=_sha(data))})
    root = tmp_path / "res"
    path = root / "weights" / "w.pth"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    stamp = root / ".verified" / "weights" / "w.pth.json"
    args = ["--registry", str(reg_file), "--root", str(root), "verify", "w", "--stamp", str(stamp)]
    assert dl.main(args) == 0
    assert json.loads(stamp.read_text())["mtime_ns"] == path.stat().st_mtime_ns
    clear_digest_cache()
    hash_calls.clear()
    assert verify_registry_file(path, registry, root).name == "w"
    assert hash_calls == []


# --- the jobs re-check what the workflow verified ------------------------------------------------


def test_jobs_recheck_listed_weights_and_dataset_files(tmp_path):
    from brainalign.data.loaders import load_dataset
    from brainalign.networks.architectures import DeepClusterAlexNet, build_network

    weights = tmp_path / "w" / "checkpoint.pth.tar"
    weights.parent.mkdir()
    torch.manual_seed(0)
    net = DeepClusterAlexNet(10, sobel=True, bn=True, width=1 / 16)
    torch.save({"state_dict": net.state_dict()}, weights)
    folder = tmp_path / "kr"
    folder.mkdir()
    (folder / STIMULI).write_bytes(b"stimuli")
    (folder / "92_brainRDMs.mat").write_bytes(b"brain rdms")
    _, registry = _registry(
        tmp_path,
        {
            "dc": _entry("weights/checkpoint.pth.tar", sha256=_sha(weights.read_bytes())),
            "stim": _entry(f"data/k/{STIMULI}", sha256=_sha(b"stimuli")),
            "brain": _entry("data/k/92_brainRDMs.mat", sha256=_sha(b"brain rdms")),
        },
    )
    for path in (weights, folder / STIMULI, folder / "92_brainRDMs.mat"):
        assert verify_registry_file(path, registry, tmp_path / "res") is not None
    assert len(listed_files()) == 3
    assert build_network("deepcluster", "trained", weights=str(weights), width=1 / 16)
    # replaced after the workflow started: the job that reads it stops, naming it
    torch.manual_seed(1)
    other = DeepClusterAlexNet(10, sobel=True, bn=True, width=1 / 16)
    torch.save({"state_dict": other.state_dict()}, weights)
    with pytest.raises(FileCheckError) as err:
        build_network("deepcluster", "trained", weights=str(weights), width=1 / 16)
    assert str(weights.resolve()) in str(err.value) and "https://example.org" in str(err.value)
    (folder / "92_brainRDMs.mat").write_bytes(b"other rdms")
    with pytest.raises(FileCheckError, match="92_brainRDMs.mat"):
        load_dataset("kriegeskorte2008", folder, ("IT",), "kr")
    # a job is a new process: it inherits the listing from the workflow's environment
    code = "import sys; from brainalign.io.hashing import check_listed_file as c; c(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder / STIMULI)], env=env, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder / "92_brainRDMs.mat")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "FileCheckError" in proc.stderr
    assert f"{(folder / '92_brainRDMs.mat').resolve()} (10 bytes) does not match" in proc.stderr
    # outside the workflow nothing is listed and nothing is checked
    os.environ[VERIFIED_FILES_ENV] = "{}"
    assert check_listed_file(weights) is None


# --- through the config check and snakemake ------------------------------------------------------


def test_config_check_stops_on_a_wrong_weights_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg.pop("dwivedi2021")
    fake = tmp_path / "mine" / ALEXNET
    fake.parent.mkdir()
    fake.write_bytes(b"junk")
    cfg["networks"]["weights"]["alexnet"] = str(fake)
    assert "alexnet_trained" in cfg["truzzi2020"]["conditions"]
    cfg["truzzi2020"]["training"]["networks"] = []  # trained conditions read networks.weights
    cfg["truzzi2020"]["conditions"] = ["alexnet_trained", "alexnet_untrained"]
    cfg["truzzi2020"]["statistics"]["comparisons"] = []
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    msg = str(err.value)
    assert msg.startswith(f"config key 'networks.weights.alexnet': {fake.resolve()} (4 bytes)")
    assert "expected one starting with 7be5be79" in msg and ALEXNET_URL in msg
    assert "\n" not in msg


def test_snakemake_stops_on_wrong_weights_named_like_the_registry(tmp_path):
    fake = tmp_path / "downloads" / ALEXNET
    fake.parent.mkdir()
    fake.write_bytes(b"<html>not found</html>")
    overlay = {
        "networks": {"weights": {"alexnet": str(fake)}},
        "truzzi2020": _small_truzzi(["alexnet_trained", "alexnet_untrained"]),
    }
    work = tmp_path / "work"
    line = _no_traceback_one_line(_dry(work, overlay))
    assert "config key 'networks.weights.alexnet'" in line
    assert f"{fake.resolve()} (22 bytes) does not match the download registry entry" in line
    assert f"sha256 {_sha(fake.read_bytes())}, expected one starting with 7be5be79" in line
    assert ALEXNET_URL in line and "give it another name" in line
    assert not (work / "results").exists()
    assert fake.read_bytes() == b"<html>not found</html>"  # the user's file is left alone


def test_snakemake_stops_on_a_wrong_file_at_the_registry_path(tmp_path):
    work = tmp_path / "work"
    fake = work / "resources" / "weights" / ALEXNET  # config.yaml's networks.weights.alexnet
    fake.parent.mkdir(parents=True)
    fake.write_bytes(os.urandom(1000))
    proc = _dry(work, {"truzzi2020": _small_truzzi(["alexnet_trained", "alexnet_untrained"])})
    line = _no_traceback_one_line(proc)
    assert f"config key 'networks.weights.alexnet': {fake.resolve()} (1000 bytes)" in line
    assert "expected one starting with 7be5be79" in line and ALEXNET_URL in line
    assert "Delete it, then `python -m brainalign.pipeline.download --root resources fetch" in line
    assert not (work / "results").exists()
    cache = work / "resources" / ".verified" / "cache" / "alexnet"
    assert [json.loads(p.read_text())["verified"] for p in cache.glob("*.json")] == [False]


def test_snakemake_stops_on_a_wrong_kriegeskorte_file(tmp_path):
    folder = tmp_path / "kriegeskorte2008"
    folder.mkdir()
    if (KRIEGESKORTE / STIMULI).is_file():
        shutil.copy(KRIEGESKORTE / STIMULI, folder / STIMULI)  # the right file passes
    else:
        (folder / STIMULI).write_bytes(b"placeholder")
    bad = folder / "92_brainRDMs.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file, but not the right one")
    overlay = {
        "truzzi2020": _small_truzzi(
            ["alexnet_untrained"], kind="kriegeskorte2008", path=str(folder), regions=["IT"]
        )
    }
    work = tmp_path / "work"
    line = _no_traceback_one_line(_dry(work, overlay))
    assert "config key 'truzzi2020.dataset.path'" in line
    size = bad.stat().st_size
    assert f"{bad.resolve()} ({size} bytes) does not match the download registry entry" in line
    assert "'kriegeskorte2008_brain_rdms'" in line
    assert f"size {size} bytes, expected 224663" in line and f"expected {BRAIN_SHA}" in line
    assert BRAIN_URL in line and "fetch kriegeskorte2008_brain_rdms` downloads a verified" in line
    assert "another name" not in line  # the loader reads the file by its name
    assert not (work / "results").exists()
    if (KRIEGESKORTE / STIMULI).is_file():
        assert "supplementalData.mat (" not in line  # only the wrong file is reported
