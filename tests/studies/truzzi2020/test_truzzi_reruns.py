"""Partial reruns: a config change reschedules exactly the rules it touches.

Each test copies the completed small study (``small_run``), changes one config value and asserts
the exact set of jobs a dry run (``snakemake -n``) schedules, parsed from Snakemake's job list and
cross-checked with its job-stats table. Config values reach the rules through ``params:`` (and
inputs), so Snakemake's rerun triggers (params, input, mtime, code) decide; nothing upstream of
a change may rerun.

``provenance`` (tables/provenance.csv, shown in the report) records the hash of the whole config,
so it reruns on every config change, like the report; collect_benchmarks (results/benchmarks/)
follows every rerun. The functional-maps study has its own
rerun tests (tests/studies/dwivedi2021/test_fmaps_reruns.py).
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, run_snakemake, scheduled_jobs, small_config, write_config

#: The shared rules' wildcards for this study and dataset.
SD = "study=truzzi2020, dataset=small"
#: Rules that summarise the whole run and follow any config change (collect_benchmarks: after
#: any job, the benchmark tables of the run).
RUN_LEVEL = {("provenance", SD), ("collect_benchmarks", ""), ("all", "")}
CONDITIONS = ("alexnet_untrained", "deepcluster_untrained")
REGIONS = ("EVC", "IT")


def _expect(*jobs) -> Counter:
    return Counter(jobs)


@pytest.fixture
def completed(small_run, tmp_path) -> Path:
    """A private copy of the completed small study (files, mtimes and .snakemake metadata)."""
    work = tmp_path / "study"
    shutil.copytree(small_run, work, symlinks=True)
    return work


def _change(workdir: Path, edit) -> None:
    cfg = small_config()
    edit(cfg)
    write_config(workdir, cfg)


def _diff(found: Counter, expected: Counter) -> str:
    return (
        f"unexpected: {sorted((found - expected).elements())}\n"
        f"missing: {sorted((expected - found).elements())}"
    )


def test_completed_copy_needs_nothing(completed):
    assert scheduled_jobs(completed) == Counter()


def test_permutations_rerun_only_comparison_statistics_and_figures(completed):
    _change(completed, lambda c: c["truzzi2020"]["comparison"].update(permutations=300))
    expected = _expect(
        *[("compare_subjects", f"region={r}, condition={c}") for r in REGIONS for c in CONDITIONS],
        ("collect_tables", ""),
        ("group_statistics", ""),
        *[("figure_profiles", f"region={r}") for r in REGIONS],
        *RUN_LEVEL,
    )
    found = scheduled_jobs(completed)
    assert found == expected, _diff(found, expected)


def test_added_network_runs_only_its_chain_and_the_aggregates(completed):
    new = "modified_alexnet_untrained"
    _change(completed, lambda c: c["truzzi2020"]["conditions"].append(new))
    expected = _expect(
        ("extract_activations", f"{SD}, condition={new}"),
        ("layer_rdms", f"{SD}, condition={new}"),
        ("figure_layer_rdms", f"condition={new}"),
        *[("compare_subjects", f"region={r}, condition={new}") for r in REGIONS],
        ("collect_tables", ""),
        ("group_statistics", ""),
        *[("figure_profiles", f"region={r}") for r in REGIONS],
        *RUN_LEVEL,
    )
    found = scheduled_jobs(completed)
    assert found == expected, _diff(found, expected)


def test_posthoc_mode_reruns_statistics_onward(completed):
    _change(completed, lambda c: c["truzzi2020"]["statistics"].update(mode="faithful"))
    expected = _expect(
        ("group_statistics", ""), *[("figure_profiles", f"region={r}") for r in REGIONS], *RUN_LEVEL
    )
    found = scheduled_jobs(completed)
    assert found == expected, _diff(found, expected)


def test_figure_style_reruns_only_figures(completed):
    _change(completed, lambda c: c["truzzi2020"]["figures"].update(context="talk"))
    expected = _expect(
        *[("figure_profiles", f"region={r}") for r in REGIONS],
        *[("figure_layer_rdms", f"condition={c}") for c in CONDITIONS],
        ("figure_brain_rdm", ""),
        *RUN_LEVEL,
    )
    found = scheduled_jobs(completed)
    assert found == expected, _diff(found, expected)


#: Jobs downstream of the subject RDMs (the brain side of the study).
BRAIN_SIDE = (
    ("prepare_dataset", ""),
    ("noise_ceiling", ""),
    ("figure_brain_rdm", ""),
    *[("compare_subjects", f"region={r}, condition={c}") for r in REGIONS for c in CONDITIONS],
    ("collect_tables", ""),
    ("group_statistics", ""),
    *[("figure_profiles", f"region={r}") for r in REGIONS],
    *RUN_LEVEL,
)


def test_stimulus_change_reruns_everything(completed):
    _change(completed, lambda c: c["truzzi2020"]["dataset"]["synthetic"].update(n_images=13))
    expected = _expect(
        ("simulate_stimuli", ""),
        ("simulate_dataset", ""),
        ("prepare_stimuli", ""),
        *[
            (rule, f"{SD}, condition={c}")
            for c in CONDITIONS
            for rule in ("extract_activations", "layer_rdms")
        ],
        *[("figure_layer_rdms", f"condition={c}") for c in CONDITIONS],
        *BRAIN_SIDE,
    )
    found = scheduled_jobs(completed)
    assert found == expected, _diff(found, expected)


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.update(n_subjects=4),
        lambda s: s.update(noise={"EVC": 2.5, "IT": 2.4}),
    ],
    ids=["subjects", "noise"],
)
def test_brain_simulation_change_leaves_the_networks_alone(completed, edit):
    """Issue 10: a change to the simulated brain data does not rerun activation extraction."""
    _change(completed, lambda c: edit(c["truzzi2020"]["dataset"]["synthetic"]))
    expected = _expect(("simulate_dataset", ""), *BRAIN_SIDE)
    found = scheduled_jobs(completed)
    assert found == expected, _diff(found, expected)


def test_fewer_regions_leave_the_networks_alone(completed):
    """Issue 10: regions [EVC, IT] -> [IT] reruns the brain side of IT only."""
    _change(completed, lambda c: c["truzzi2020"]["dataset"].update(regions=["IT"]))
    expected = _expect(
        ("prepare_dataset", ""),
        ("noise_ceiling", ""),
        ("figure_brain_rdm", ""),
        *[("compare_subjects", f"region=IT, condition={c}") for c in CONDITIONS],
        ("collect_tables", ""),
        ("group_statistics", ""),
        ("figure_profiles", "region=IT"),
        *RUN_LEVEL,
    )
    found = scheduled_jobs(completed)
    assert found == expected, _diff(found, expected)


# --- library changes --------------------------------------------------------------------------


@pytest.fixture
def repo_copy(completed, tmp_path) -> Path:
    """A copy of the workflow and library whose modules a test may edit, and a completed study
    whose provenance already names that copy (a copy has no git commit)."""
    repo = tmp_path / "repo"
    for name in ("src", "workflow", "profiles", "envs"):
        shutil.copytree(REPO / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "Snakefile", repo / "Snakefile")
    (repo / "resources").mkdir()
    shutil.copy(REPO / "resources" / "registry.yaml", repo / "resources" / "registry.yaml")
    snakefile = repo / "Snakefile"
    run_snakemake(completed, snakefile=snakefile)  # provenance: the copy has no git commit
    assert scheduled_jobs(completed, snakefile=snakefile) == Counter()
    return repo


def _edit(repo: Path, module: str) -> None:
    path = repo / "src" / "brainalign" / module
    path.write_text(path.read_text() + "\n# an edit\n")


def test_statistics_module_edit_reruns_the_jobs_that_import_it(completed, repo_copy):
    _edit(repo_copy, "stats/anova.py")
    expected = _expect(
        ("group_statistics", ""), *[("figure_profiles", f"region={r}") for r in REGIONS], *RUN_LEVEL
    )
    found = scheduled_jobs(completed, snakefile=repo_copy / "Snakefile")
    assert found == expected, _diff(found, expected)


def test_figures_module_edit_reruns_the_figure_jobs(completed, repo_copy):
    _edit(repo_copy, "maps/figures.py")
    expected = _expect(
        *[("figure_profiles", f"region={r}") for r in REGIONS],
        *[("figure_layer_rdms", f"condition={c}") for c in CONDITIONS],
        ("figure_brain_rdm", ""),
        *RUN_LEVEL,
    )
    found = scheduled_jobs(completed, snakefile=repo_copy / "Snakefile")
    assert found == expected, _diff(found, expected)
