"""What a job leaves behind, through Snakemake: file modes, leftovers of killed attempts, and
what a failed job prints.

* Outputs get the mode the umask gives (``0o644`` under umask 022), not the private ``0o600``
  of the temporary file they are written to (``brainalign.io.files.atomic_path``).
* A hidden temporary file that a killed attempt left next to a job's output is removed when the
  job runs again (``brainalign.pipeline.rulekit.rule_context``); other files stay.
* A failed job prints one line (rule, error, log path) and its traceback only in its log.
"""

from __future__ import annotations

import os
import stat
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SNAKEMAKE, run_snakemake, small_config, write_config

from brainalign.data.algonauts import load_fmri_rdms
from brainalign.data.synthetic import generate_synthetic_study, write_mat73
from brainalign.io.files import is_temp_name

OUT = "results/truzzi2020/small"
#: The data stage of the small study: four jobs, seconds (no network).
DATA_STAGE = [f"{OUT}/tables/noise_ceiling.csv", f"{OUT}/figures/brain_rdm_IT.png"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "results").rglob("*") if p.is_file())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def data_stage(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """The small study's data stage run under umask 022, after planting leftovers of killed
    attempts: (working directory, planted file -> whether a job of this run owns it)."""
    work = tmp_path_factory.mktemp("data_stage")
    write_config(work, small_config())
    planted = {
        # next to outputs of jobs of this run: stale, removed when the job starts
        f"{OUT}/tables/.noise_ceiling.csv.abc123.csv": True,
        f"{OUT}/dataset/.brain_rdms.npz.k2_9x0ab.npz": True,
        f"{OUT}/figures/.brain_rdm_IT.png.q8w7e6r5.png": True,
        # next to the output of a job that does not run: left alone
        f"{OUT}/tables/.comparison.csv.abc123.csv": False,
    }
    for rel in planted:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(b"")
    old = os.umask(0o022)
    try:
        run_snakemake(work, *DATA_STAGE)
    finally:
        os.umask(old)
    return work, {rel: owned for rel, owned in planted.items()}


def test_outputs_are_readable_by_group_and_others_under_umask_022(data_stage):
    work, planted = data_stage
    files = [p for p in _files(work) if p.relative_to(work).as_posix() not in planted]
    kinds = {p.suffix for p in files}
    assert {".csv", ".npz", ".json", ".png", ".jpg", ".mat", ".log"} <= kinds, kinds
    wrong = {str(p.relative_to(work)): oct(_mode(p)) for p in files if _mode(p) != 0o644}
    assert wrong == {}, wrong
    assert all(_mode(p) & 0o044 == 0o044 for p in files)


def test_every_output_of_the_small_study_follows_the_umask(small_run):
    """Every writer (tables, npz, JSON, figures, images, MATLAB files, logs) of the whole study."""
    mask = _umask()  # the umask the session's run was started with
    files = _files(small_run)
    assert len(files) > 30
    wrong = {
        str(p.relative_to(small_run)): oct(_mode(p)) for p in files if _mode(p) != 0o666 & ~mask
    }
    assert wrong == {}, (oct(mask), wrong)
    if mask & 0o044 == 0:
        assert all(_mode(p) & 0o044 == 0o044 for p in files)


def test_leftovers_of_killed_attempts_are_removed_by_their_jobs(data_stage, small_run):
    work, planted = data_stage
    for rel, owned in planted.items():
        assert (work / rel).exists() is not owned, rel
    hidden = sorted(p.relative_to(work).as_posix() for p in _files(work) if is_temp_name(p.name))
    assert hidden == [rel for rel, owned in planted.items() if not owned]
    # the jobs' results are those of the session's uninterrupted run
    for rel in (f"{OUT}/tables/noise_ceiling.csv", f"{OUT}/dataset/brain_rdms.npz"):
        assert (work / rel).read_bytes() == (small_run / rel).read_bytes(), rel
    log = (work / OUT / "logs" / "noise_ceiling.log").read_text()
    assert ".noise_ceiling.csv.abc123.csv, left by a killed earlier attempt" in log


# ------------------------------------------------------------------------------ failures
def _nan_dataset(tmp_path: Path) -> dict:
    """A real-data layout whose first EVC subject RDM holds a NaN (refused by the loader)."""
    data = tmp_path / "data" / "6_Image_Set"
    generate_synthetic_study(data, n_images=6, n_subjects=3, seed=1, n_voxels=20)
    rdms = load_fmri_rdms(data / "target_fmri.mat")
    rdms["EVC"][0][1, 2] = rdms["EVC"][0][2, 1] = np.nan
    write_mat73(data / "target_fmri.mat", {f"{k}_RDMs": v for k, v in rdms.items()})
    cfg = small_config()
    cfg["truzzi2020"]["dataset"] = {
        "name": "bad",
        "kind": "algonauts2019",
        "path": str(data),
        "regions": ["EVC", "IT"],
    }
    return cfg


def test_failed_job_prints_one_line_and_keeps_the_traceback_in_its_log(tmp_path):
    write_config(tmp_path, _nan_dataset(tmp_path))
    target = "results/truzzi2020/bad/dataset/brain_rdms.npz"
    proc = run_snakemake(tmp_path, target, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    log = "results/truzzi2020/bad/logs/prepare_dataset.log"
    lines = [ln for ln in out.splitlines() if ln.startswith("brainalign: rule")]
    assert lines == [
        "brainalign: rule prepare_dataset failed: ValueError: dataset 'bad' region EVC "
        "subject 1: contains NaN or inf (first at row 1, column 2); "
        f"details in {log}"
    ], out[-4000:]
    assert "Error in rule prepare_dataset" in out  # Snakemake still marks the job failed
    # no Python traceback on the console (the default profile does not print job logs)
    assert "Traceback" not in out, out[-6000:]
    text = (tmp_path / log).read_text()
    assert text.count("Traceback (most recent call last)") == 1
    assert "ValueError: dataset 'bad' region EVC subject 1: contains NaN" in text
    out_dir = tmp_path / "results" / "truzzi2020" / "bad" / "dataset"
    left = sorted(p.name for p in out_dir.iterdir()) if out_dir.exists() else []
    assert left == [], f"half-written outputs left: {left}"


SNAKEFILE = """
rule fail_after_writing:
    output:
        done="out/first.csv",
        never="out/second.csv",
    log:
        "logs/fail_after_writing.log",
    script:
        "fail.py"
"""

SCRIPT = """
import pandas as pd
from brainalign.io.files import write_table
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    write_table(pd.DataFrame({"a": [1]}), snakemake.output.done)
    log.info("first output written")
    raise RuntimeError("the second output cannot be computed")
"""


def test_snakemake_deletes_the_outputs_of_a_job_that_failed_quietly(tmp_path):
    """Exiting with status 1 (no traceback) still fails the job, and Snakemake removes what it
    wrote; the console has the one line, no traceback (no profile prints the log here)."""
    (tmp_path / "Snakefile").write_text(textwrap.dedent(SNAKEFILE))
    (tmp_path / "fail.py").write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [SNAKEMAKE, "--cores", "1", "--workflow-profile", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert (
        "brainalign: rule fail_after_writing failed: RuntimeError: the second output cannot be "
        "computed; details in logs/fail_after_writing.log"
    ) in out.splitlines(), out
    assert "Error in rule fail_after_writing" in out
    assert "Removing output files of failed job fail_after_writing" in out, out
    assert "Traceback" not in out, out
    left = (
        sorted(p.name for p in (tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    )
    assert left == [], f"half-written outputs left: {left}"
    assert "Traceback" in (tmp_path / "logs" / "fail_after_writing.log").read_text()
