"""Partial reruns of the functional-maps study: a config change reschedules exactly the rules whose
``params`` or inputs use it (and what depends on their outputs), nothing else.

Runs the tiny study (``tests/configs/dwivedi2021/tiny.yaml``) once, then for each change asserts
the exact set of jobs a dry run schedules.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_snakemake, scheduled_jobs, write_config

TINY = REPO / "tests" / "configs" / "dwivedi2021" / "tiny.yaml"
ST = "study=tiny"
#: Rules downstream of the searchlight statistics and the ROI table.
MAPS = {("fmaps_figures_maps", ST)}
ROI_FIG = {("fmaps_figures_roi", ST)}
#: Run-level jobs after any rerun: the benchmark tables and the default target.
ALL = {("collect_benchmarks", ""), ("all", "")}

pytestmark = pytest.mark.slow


def tiny_config() -> dict:
    return yaml.safe_load(TINY.read_text())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("tiny_fmaps")
    write_config(work, tiny_config())
    run_snakemake(work, timeout=900)
    return work


@pytest.fixture
def completed(tiny_run, tmp_path) -> Path:
    work = tmp_path / "study"
    shutil.copytree(tiny_run, work, symlinks=True)
    return work


def _jobs_after(workdir: Path, edit) -> Counter:
    cfg = tiny_config()
    edit(cfg["dwivedi2021"])
    write_config(workdir, cfg)
    return scheduled_jobs(workdir)


def test_completed_copy_needs_nothing(completed):
    assert scheduled_jobs(completed) == Counter()
    assert not list((completed / "results").glob("truzzi2020"))  # only the named study ran


def test_bootstrap_count_reruns_the_roi_rule_alone(completed):
    found = _jobs_after(completed, lambda b: b["statistics"].update(n_bootstrap=11))
    assert found == Counter({("fmaps_roi", ST), *ROI_FIG, *ALL})


def test_permutation_count_reruns_statistics_not_data(completed):
    found = _jobs_after(completed, lambda b: b["statistics"].update(n_permutations=31))
    expected = {
        ("fmaps_searchlight_individual", ST),
        ("fmaps_searchlight_grouped", ST),
        ("fmaps_roi", ST),
    }
    assert found == Counter(expected | MAPS | ROI_FIG | ALL)


def test_noise_ceiling_threshold_reruns_only_the_searchlight_statistics(completed):
    found = _jobs_after(completed, lambda b: b["statistics"].update(nc_threshold=0.05))
    expected = {("fmaps_searchlight_individual", ST), ("fmaps_searchlight_grouped", ST)}
    assert found == Counter(expected | MAPS | ALL)


def test_chunk_size_reruns_the_searchlight_rdms_onward(completed):
    found = _jobs_after(completed, lambda b: b["searchlight"].update(chunk_size=100))
    expected = {
        ("fmaps_searchlight_rdms", ST),
        ("fmaps_searchlight_individual", ST),
        ("fmaps_searchlight_grouped", ST),
    }
    assert found == Counter(expected | MAPS | ALL)


def test_root_seed_reruns_every_random_draw(completed):
    cfg = tiny_config()
    cfg["seed"] = 8
    write_config(completed, cfg)
    found = scheduled_jobs(completed)
    assert ("fmaps_simulate", ST) in found and ("fmaps_roi", ST) in found


def test_report_of_the_study(completed):
    """`snakemake --report` (the second step of `make run`) renders this study's captions."""
    run_snakemake(completed, "--report", str(completed / "report.html"), timeout=600)
    html = (completed / "report.html").read_text(errors="replace")
    assert "Functional maps" in html and "tiny" in html
    # each caption names the statistics variant that made its figure or table
    assert "corrected</tt> variant" in html
