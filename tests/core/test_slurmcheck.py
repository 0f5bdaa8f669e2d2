"""The SLURM accounting check: a run that would poll a broken `sacct` forever gets one warning."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest
from conftest import SNAKEMAKE

from brainalign.pipeline import slurmcheck

HINT = "add --profile profiles/slurm-ci"
NO_ACCOUNTING = "sacct: error: Slurm accounting storage is disabled"


def _fake_tools(tmp_path: Path, sacct: str, monkeypatch=None) -> Path:
    """A bin folder with a fake `sacct` (and quiet fakes of the other SLURM tools)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    scripts = {"sacct": sacct, "sbatch": "exit 1", "sinfo": "exit 1", "scontrol": "exit 1"}
    scripts.update(dict.fromkeys(("sacctmgr", "sshare", "squeue", "scancel"), "exit 1"))
    for name, body in scripts.items():
        exe = bin_dir / name
        exe.write_text(f"#!/bin/sh\necho called >> {bin_dir / (name + '.calls')}\n{body}\n")
        exe.chmod(0o755)
    if monkeypatch is not None:
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def _workflow(executor: str | None, status_command: str = "sacct", remote: bool = False):
    plugin = None if executor is None else types.SimpleNamespace(name=executor)
    settings = types.SimpleNamespace(status_command=status_command)
    return types.SimpleNamespace(
        executor_plugin=plugin, executor_settings=settings, remote_exec=remote
    )


def test_failing_sacct_gives_one_line_naming_the_profile(tmp_path, monkeypatch):
    _fake_tools(tmp_path, f'echo "{NO_ACCOUNTING}" >&2; exit 1', monkeypatch)
    assert slurmcheck.sacct_problem() == NO_ACCOUNTING
    warning = slurmcheck.slurm_status_warning(_workflow("slurm"))
    assert warning is not None and "\n" not in warning
    assert warning.startswith("brainalign: sacct does not work on this cluster")
    assert NO_ACCOUNTING in warning and HINT in warning


def test_working_sacct_gives_no_warning(tmp_path, monkeypatch):
    _fake_tools(tmp_path, "exit 0", monkeypatch)
    assert slurmcheck.sacct_problem() is None
    assert slurmcheck.slurm_status_warning(_workflow("slurm")) is None


def test_hanging_sacct_is_cut_short(tmp_path, monkeypatch):
    _fake_tools(tmp_path, "sleep 30", monkeypatch)
    start = time.monotonic()
    warning = slurmcheck.slurm_status_warning(_workflow("slurm"), timeout=1)
    assert time.monotonic() - start < 10
    assert warning is not None and "did not answer within 1 s" in warning and HINT in warning


def test_silent_failure_names_the_exit_status(tmp_path, monkeypatch):
    _fake_tools(tmp_path, "exit 3", monkeypatch)
    assert slurmcheck.sacct_problem() == "sacct exited with status 3"


@pytest.mark.parametrize(
    "workflow",
    [
        _workflow(None),  # local run, or a dry run before execution
        _workflow("local"),
        _workflow("slurm", status_command="squeue"),  # profiles/slurm-ci
        _workflow("slurm-jobstep"),  # the job step inside a SLURM job
        _workflow("slurm", remote=True),
    ],
)
def test_runs_that_do_not_poll_sacct_do_not_call_it(tmp_path, monkeypatch, workflow):
    bin_dir = _fake_tools(tmp_path, "exit 1", monkeypatch)
    assert slurmcheck.slurm_status_warning(workflow) is None
    assert not (bin_dir / "sacct.calls").exists()


def test_without_sacct_there_is_nothing_to_check(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sacct at all: the plugin uses squeue
    assert slurmcheck.sacct_problem() is None


def test_command_line_check(tmp_path):
    bin_dir = _fake_tools(tmp_path, f'echo "{NO_ACCOUNTING}" >&2; exit 1')
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    cmd = [sys.executable, "-m", "brainalign.pipeline.slurmcheck"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and HINT in proc.stderr and NO_ACCOUNTING in proc.stderr
    (bin_dir / "sacct").write_text("#!/bin/sh\nexit 0\n")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "sacct works" in proc.stdout


# The lines proposed for workflow/rules/common.smk, in a Snakefile of their own.
SNAKEFILE = """
from snakemake.logging import logger
from brainalign.pipeline.slurmcheck import slurm_status_warning


onstart:
    _slurm_warning = slurm_status_warning(workflow)
    if _slurm_warning:
        logger.warning(_slurm_warning)


rule all:
    output:
        "x.txt",
    shell:
        "echo x > {output}"
"""


@pytest.mark.parametrize("status_command", ["sacct", "squeue"])
def test_snakemake_on_slurm_warns_at_the_start(tmp_path, status_command):
    """Snakemake 9 with the SLURM executor: the warning comes once, before any job is submitted
    (sbatch fails here: the run ends instead of waiting)."""
    bin_dir = _fake_tools(tmp_path, f'echo "{NO_ACCOUNTING}" >&2; exit 1')
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(textwrap.dedent(SNAKEFILE))
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [
            "timeout",
            "-k",
            "10",
            "120",
            SNAKEMAKE,
            "--executor",
            "slurm",
            "--jobs",
            "1",
            "--slurm-status-command",
            status_command,
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--default-resources",
            "slurm_account=x",
            "slurm_partition=y",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode not in (124, 137), out[-3000:]
    warnings = [ln for ln in out.splitlines() if "sacct does not work" in ln]
    if status_command == "sacct":
        assert len(warnings) == 1 and HINT in warnings[0], out[-3000:]
        assert out.index(warnings[0]) < out.index("rule all:"), out[-3000:]
    else:
        assert warnings == [], out[-3000:]
        assert not (bin_dir / "sacct.calls").exists()
