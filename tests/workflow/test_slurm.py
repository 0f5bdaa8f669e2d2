"""The small study through a real SLURM with the SLURM profile.

Brings up a one-node SLURM from Debian's packages (``.ci/slurm-up.sh``: munge, slurmctld,
slurmd, no systemd, no accounting database, one fake GPU) or uses one that is already up, runs

    snakemake --profile profiles/slurm --profile profiles/slurm-ci --workflow-profile none

under ``timeout -k`` (a Snakemake that lost track of its jobs ignores SIGTERM), compares every
result file with a local run's (``small_run``) byte for byte, checks that a failing job fails the
run instead of hanging it, and stops the daemons it started (``.ci/slurm-down.sh``, by PID).

Runs as root on a Debian-like machine (apt-get), or wherever SLURM is already up; skipped
otherwise, except where BRAINALIGN_REQUIRE_SLURM=1 (CI) turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, SNAKEMAKE, is_timing_file, small_config, write_config

pytestmark = pytest.mark.slow

STATE = Path("/run/slurm-ci/started")  # what .ci/slurm-up.sh started (read by slurm-down.sh)
LIMIT_S = 600  # per Snakemake run; the small study takes about 2.5 min on 2 CPUs


def _slurm_up() -> bool:
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and re.search(r"^(idle|mix|alloc)", proc.stdout, re.M) is not None


def _skip(reason: str) -> None:
    """Skip, or fail where the test must run (CI sets BRAINALIGN_REQUIRE_SLURM=1)."""
    if os.environ.get("BRAINALIGN_REQUIRE_SLURM") == "1":
        pytest.fail(f"BRAINALIGN_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm():
    """A running SLURM; started here unless one is already up.

    Daemons recorded by slurm-up.sh (now, or by an earlier run that was not torn down) are
    stopped afterwards; a SLURM that was up without that record is left alone.
    """
    try:
        if not _slurm_up():
            if os.geteuid() != 0:
                _skip("SLURM is not running and starting it needs root")
            if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
                _skip("SLURM is not running and Debian's apt-get is not available to install it")
            proc = subprocess.run(
                ["timeout", "-k", "10", "600", "bash", str(REPO / ".ci/slurm-up.sh")],
                capture_output=True,
                text=True,
            )
            assert proc.returncode == 0, f"slurm-up.sh failed:\n{proc.stdout}\n{proc.stderr}"
            assert _slurm_up()
        gres = subprocess.run(["sinfo", "-h", "-o", "%G"], capture_output=True, text=True)
        yield {"gpu": "gpu" in gres.stdout}
    finally:
        if STATE.exists():
            proc = subprocess.run(
                ["bash", str(REPO / ".ci/slurm-down.sh")],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert not _slurm_up()


def _snakemake_slurm(workdir: Path, *args: str, gpu: bool = True) -> subprocess.CompletedProcess:
    extra = [] if gpu else ["--set-resources", "extract_activations:gpu=0"]
    cmd = [
        "timeout",
        "-k",
        "30",
        str(LIMIT_S),
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        "profiles/slurm",
        "--profile",
        "profiles/slurm-ci",
        "--workflow-profile",
        "none",
        *extra,
        *args,
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=LIMIT_S + 60
    )


def _submitted(output: str) -> dict[str, str]:
    """SLURM job id -> its log path, from Snakemake's output."""
    return dict(re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+?)\)", output))


def test_small_study_on_slurm_equals_the_local_run(slurm, small_run, tmp_path):
    work = tmp_path / "slurm"
    write_config(work, small_config())
    proc = _snakemake_slurm(work, gpu=slurm["gpu"])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"rc {proc.returncode} (124/137: timeout)\n{out[-6000:]}"

    # every job ran in SLURM, grouped: 1 dataset job, 1 network job per condition, 1 inference job
    jobs = _submitted(out)
    groups = sorted(Path(log).parent.name.split("_")[1] for log in jobs.values())
    assert groups == ["dataset", "inference", "network", "network"], jobs
    for log in jobs.values():
        assert Path(log).is_file(), log
    if slurm["gpu"]:  # the profile's GPU request reached SLURM (sbatch --gpus=1)
        for jobid, log in jobs.items():
            info = subprocess.run(
                ["scontrol", "show", "job", jobid], capture_output=True, text=True
            ).stdout
            if "group_network" in log:
                assert "TresPerJob=gres:gpu:1" in info, info

    reference = {
        p.relative_to(small_run).as_posix(): p
        for p in sorted((small_run / "results").rglob("*"))
        if p.is_file() and not is_timing_file(p.relative_to(small_run).as_posix())
    }
    produced = {
        p.relative_to(work).as_posix(): p
        for p in sorted((work / "results").rglob("*"))
        if p.is_file() and not is_timing_file(p.relative_to(work).as_posix())
    }
    assert sorted(produced) == sorted(reference)
    tables = [rel for rel in reference if rel.endswith(".csv")]
    assert len(tables) >= 9
    different = [
        rel
        for rel in reference
        if "/logs/" not in rel and reference[rel].read_bytes() != produced[rel].read_bytes()
    ]
    assert different == [], different

    # complete: nothing left to do for the same profile
    again = _snakemake_slurm(work, "-n", gpu=slurm["gpu"])
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_a_failing_slurm_job_fails_the_run(slurm, tmp_path):
    """A job that fails in SLURM makes Snakemake exit non-zero (not hang), with the rule's error
    in the job's SLURM log, and leaves no output behind."""
    from brainalign.data.algonauts import load_fmri_rdms
    from brainalign.data.synthetic import generate_synthetic_study, write_mat73

    data = tmp_path / "data" / "6_Image_Set"
    generate_synthetic_study(data, n_images=6, n_subjects=3, seed=1, n_voxels=20)
    rdms = load_fmri_rdms(data / "target_fmri.mat")
    rdms["EVC"][0][1, 2] = rdms["EVC"][0][2, 1] = float("nan")
    write_mat73(data / "target_fmri.mat", {f"{k}_RDMs": v for k, v in rdms.items()})
    cfg = small_config()
    cfg["truzzi2020"]["dataset"] = {
        "name": "bad",
        "kind": "algonauts2019",
        "path": str(data),
        "regions": ["EVC", "IT"],
    }
    work = tmp_path / "work"
    write_config(work, cfg)

    target = "results/truzzi2020/bad/dataset/brain_rdms.npz"
    proc = _snakemake_slurm(work, target, gpu=slurm["gpu"])
    out = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 124, 137), f"rc {proc.returncode}\n{out[-6000:]}"
    jobs = _submitted(out)
    assert len(jobs) == 1, jobs
    ((jobid, log),) = jobs.items()
    assert "Error in group dataset" in out and log in out, out[-6000:]
    state = subprocess.run(["scontrol", "show", "job", jobid], capture_output=True, text=True)
    assert "JobState=FAILED" in state.stdout, state.stdout + state.stderr
    assert "region EVC subject 1: contains NaN" in Path(log).read_text()
    assert not (work / target).exists()
