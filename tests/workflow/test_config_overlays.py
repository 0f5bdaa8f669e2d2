"""A user's ``--configfile`` over the default ``config.yaml`` does what its writer means.

Each case is one a new user met (issue 9): it either works as meant or stops before any job with
one line naming the key and saying what to write. All run ``snakemake -n --configfile`` in a
scratch directory holding a copy of the repository's ``config.yaml`` (the base).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_snakemake

KRIEGESKORTE = REPO.parent / "shared" / "data" / "kriegeskorte2008"
FMAPS_RULE = re.compile(r"^\s*rule fmaps_\w+:$", re.M)
TRUZZI_RULE = re.compile(r"^\s*rule (compare_subjects|group_statistics|prepare_dataset):$", re.M)


def _dry(work: Path, overlay: dict | None, *args: str, check: bool = True):
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    extra: list[str] = []
    if overlay is not None:
        path = work / "my.yaml"
        path.write_text(yaml.safe_dump(overlay, sort_keys=False))
        extra = ["--configfile", str(path)]
    proc = run_snakemake(work, "-n", *extra, *args, check=check, timeout=300)
    return proc, proc.stdout + proc.stderr


def _one_line_error(proc, out: str, *needles: str) -> str:
    assert proc.returncode != 0, out[-3000:]
    line = next((ln for ln in out.splitlines() if "Invalid configuration" in ln), "")
    for needle in needles:
        assert needle in line, (needle, line, out[-3000:])
    assert "Traceback" not in out, out[-3000:]
    return line


def _algonauts_layout(root: Path) -> Path:
    """An Algonauts 2019 tree (names only; the config check runs before any file is read)."""
    folder = root / "Training_Data" / "92_Image_Set"
    (folder / "92images").mkdir(parents=True)
    (folder / "target_fmri.mat").write_bytes(b"MATLAB 7.3 MAT-file")
    return folder


def test_default_runs_every_study_and_each_can_be_switched_off(tmp_path):
    _, out = _dry(tmp_path / "all", None)
    assert FMAPS_RULE.search(out) and TRUZZI_RULE.search(out)
    _, out = _dry(tmp_path / "no_fmaps", {"dwivedi2021": {"enabled": False}})
    assert not FMAPS_RULE.search(out) and TRUZZI_RULE.search(out)
    _, out = _dry(tmp_path / "no_truzzi", {"truzzi2020": {"enabled": False}})
    assert FMAPS_RULE.search(out) and not TRUZZI_RULE.search(out)
    assert "results/truzzi2020" not in out


def test_real_data_overlay_runs_only_the_study_it_names(tmp_path):
    overlay = {
        "truzzi2020": {
            "dataset": {"name": "kr", "kind": "kriegeskorte2008", "path": str(KRIEGESKORTE)},
            "conditions": ["alexnet_untrained"],
        }
    }
    if not KRIEGESKORTE.is_dir():
        pytest.skip("../shared/data/kriegeskorte2008 is not here")
    _, out = _dry(tmp_path, overlay)
    assert not FMAPS_RULE.search(out), "functional maps were inherited from config.yaml"
    assert "results/truzzi2020/kr/" in out and "synthetic92" not in out
    assert "truzzi2020 (from" in out and "dwivedi2021 not run" in out


def test_overlay_replaces_the_default_functional_maps_studies(tmp_path):
    overlay = {
        "dwivedi2021": {
            "studies": {"mine": {"source": "simulated", "simulation": {"n_subjects": 3}}}
        }
    }
    _, out = _dry(tmp_path, overlay)
    assert "study=mine" in out
    assert "study=simulated" not in out and "results/dwivedi2021/simulated" not in out
    assert not TRUZZI_RULE.search(out)


def test_missing_dataset_name_is_derived_from_the_kind(tmp_path):
    folder = _algonauts_layout(tmp_path / "data")
    overlay = {"truzzi2020": {"dataset": {"kind": "algonauts2019", "path": str(folder)}}}
    _, out = _dry(tmp_path / "work", overlay)
    assert "results/truzzi2020/algonauts2019/" in out
    assert "synthetic92" not in out


def test_fewer_conditions_need_no_inherited_comparisons(tmp_path):
    overlay = {"truzzi2020": {"conditions": ["alexnet_untrained", "deepcluster_untrained"]}}
    proc, out = _dry(tmp_path, overlay)
    assert "modified_alexnet" not in out
    assert re.search(r"^\s*rule group_statistics:$", out, re.M)
    # a comparison naming a condition the block does not list stops with what to write
    overlay["truzzi2020"]["statistics"] = {
        "comparisons": [["modified_alexnet_untrained", "alexnet_untrained"]]
    }
    proc, out = _dry(tmp_path / "bad", overlay, check=False)
    _one_line_error(
        proc,
        out,
        "truzzi2020.statistics.comparisons[0]",
        "modified_alexnet_untrained",
        "list pairs",
    )


def test_wrong_dataset_folder_names_the_folder_to_point_at(tmp_path):
    folder = _algonauts_layout(tmp_path / "data")
    overlay = {"truzzi2020": {"dataset": {"kind": "algonauts2019", "path": str(folder.parent)}}}
    proc, out = _dry(tmp_path / "work", overlay, check=False)
    _one_line_error(proc, out, "truzzi2020.dataset.path", "target_fmri.mat", "92_Image_Set")
    assert "MissingInputException" not in out


def test_lowercase_region_stops_at_the_start(tmp_path):
    folder = _algonauts_layout(tmp_path / "data")
    overlay = {
        "truzzi2020": {"dataset": {"kind": "algonauts2019", "path": str(folder), "regions": ["it"]}}
    }
    proc, out = _dry(tmp_path / "work", overlay, check=False)
    _one_line_error(proc, out, "truzzi2020.dataset.regions[0]", "'it'", "write 'IT'")


def test_config_setting_merges_into_the_composed_config(tmp_path):
    proc, out = _dry(tmp_path, {"dwivedi2021": {}}, "--config", "seed=5", "--printshellcmds")
    assert FMAPS_RULE.search(out) and not TRUZZI_RULE.search(out)
    proc, out = _dry(tmp_path / "bad", None, "--config", "seed=-1", check=False)
    _one_line_error(proc, out, "'seed'")


def test_no_study_at_all_says_what_to_add(tmp_path):
    from brainalign.pipeline.config import STUDIES

    overlay = {s: {"enabled": False} for s in STUDIES}
    proc, out = _dry(tmp_path, overlay, check=False)
    _one_line_error(proc, out, "no study to run", "truzzi2020")
