"""Crash safety: SIGKILL the run in the middle, run it again, get the uninterrupted results.

Outputs are written to a temporary file and renamed into place (``brainalign.io.files``), and
Snakemake marks the outputs of running jobs incomplete (``.snakemake/incomplete``); with
``rerun-incomplete`` (profiles/default) the next run rebuilds them. A file that exists after the
kill is either complete (and kept) or rebuilt; none is a truncated file taken as finished.

Snakemake cannot remove its directory lock when it is SIGKILLed: a plain ``snakemake`` run next
stops at once with "Directory cannot be locked ... --unlock". The study is started as ``make run``
starts it, through ``brainalign.pipeline.runguard``, which removes the lock only when the run that
held it is provably dead; the test kills that command and runs the very same command again.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    GUARDED,
    is_timing_file,
    run_snakemake,
    small_config,
    write_config,
)


def _incomplete_outputs(workdir: Path) -> set[str]:
    """Output paths Snakemake has marked incomplete (jobs running or interrupted)."""
    return _recorded(workdir, "incomplete")


def _with_metadata(workdir: Path) -> set[str]:
    """Output paths whose job record Snakemake has written (``.snakemake/metadata``): a job is
    finished for Snakemake only then; an output without it is rebuilt by the next run."""
    return _recorded(workdir, "metadata")


def _recorded(workdir: Path, kind: str) -> set[str]:
    """Output paths of the base64-named marker files under ``.snakemake/<kind>``."""
    root = workdir / ".snakemake" / kind
    found = set()
    if not root.exists():
        return found
    for marker in root.rglob("*"):
        if marker.is_file() and marker.name != "migration_underway":
            encoded = "".join(part.lstrip("@") for part in marker.relative_to(root).parts)
            try:
                found.add(base64.urlsafe_b64decode(encoded).decode())
            except ValueError:
                continue
    return found


def _files(workdir: Path) -> dict[str, Path]:
    """Result files, without the timing records (benchmark files and their tables)."""
    root = workdir / "results"
    return {
        rel: p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not is_timing_file(rel := p.relative_to(workdir).as_posix())
    }


def _is_log(rel: str) -> bool:
    return "/logs/" in rel


def _kill_mid_run(workdir: Path, timeout: float = 300) -> tuple[set[str], set[str]]:
    """Start the study, SIGKILL its process group once a network's activations are written and
    another job is running with its output not yet there; return (finished activations, outputs
    in progress at the kill)."""
    with open(workdir / "killed_run.log", "w") as log:
        proc = subprocess.Popen(
            GUARDED,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    acts_dir = workdir / "results" / "truzzi2020" / "small" / "activations"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, "the run finished before it could be killed"
            assert time.monotonic() < deadline, "no kill point reached"
            incomplete = _incomplete_outputs(workdir)
            recorded = _with_metadata(workdir)
            finished = {
                p.name
                for p in acts_dir.glob("*.npz")
                if acts_dir.exists()
                and p.relative_to(workdir).as_posix() not in incomplete
                and p.relative_to(workdir).as_posix() in recorded
            }
            in_progress = {f for f in incomplete if not (workdir / f).exists()}
            if finished and in_progress:
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # the rule-script children were killed with the group; wait until they are reaped
    for _ in range(100):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the killed run survived SIGKILL")
    return finished, in_progress


@pytest.mark.slow
def test_sigkill_and_rerun_gives_byte_identical_results(small_run, tmp_path):
    work = tmp_path / "crash"
    write_config(work, small_config())
    finished, in_progress = _kill_mid_run(work)
    assert (work / ".snakemake" / "locks").exists() and any((work / ".snakemake/locks").iterdir())
    after_kill = {rel: p.stat().st_mtime_ns for rel, p in _files(work).items()}

    # Plain Snakemake refuses the stale lock at once (no hang, no job run, nothing touched) ...
    proc = run_snakemake(work, check=False, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Directory cannot be locked" in out, out[-3000:]
    assert {rel: p.stat().st_mtime_ns for rel, p in _files(work).items()} == after_kill

    # ... while the very same command as the killed one finishes the study.
    again = subprocess.run(
        GUARDED,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-5000:]
    assert "removed the stale Snakemake lock" in again.stderr

    reference, resumed = _files(small_run), _files(work)
    assert sorted(resumed) == sorted(reference), (
        f"extra: {sorted(set(resumed) - set(reference))}, "
        f"missing: {sorted(set(reference) - set(resumed))}"
    )
    different = [
        rel
        for rel in reference
        if not _is_log(rel) and reference[rel].read_bytes() != resumed[rel].read_bytes()
    ]
    assert different == [], different
    tables = [rel for rel in reference if rel.endswith(".csv")]
    assert len(tables) >= 9, tables

    # Files kept from the killed run were complete (equal to the uninterrupted run's, above);
    # the outputs of the jobs running at the kill were built by the second run.
    kept = {
        rel
        for rel, mtime in after_kill.items()
        if rel in resumed and resumed[rel].stat().st_mtime_ns == mtime and not _is_log(rel)
    }
    rebuilt = set(resumed) - kept
    assert any(rel.endswith(f"activations/{name}") for name in finished for rel in kept), kept
    assert in_progress and in_progress <= rebuilt, (in_progress, rebuilt)
    assert not _incomplete_outputs(work)


def _script_jobs(workdir: Path) -> list[int]:
    """PIDs of rule-script processes (``.snakemake/scripts/...``) working in ``workdir``."""
    target = os.path.realpath(workdir)
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd == target and f"{target}/.snakemake/scripts/" in args:
            found.append(int(proc.name))
    return sorted(found)


def _children(pid: int) -> list[int]:
    kids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(proc.name))
    return kids


@pytest.mark.slow
def test_only_snakemake_killed_under_timeout_while_a_job_runs(small_run, tmp_path):
    """`timeout ... runguard snakemake`: Snakemake alone is SIGKILLed while a job runs on. The
    same command then names the job still running (and starts nothing), and once the job has
    ended it finishes the study, with one run record left."""
    work = tmp_path / "orphan"
    write_config(work, small_config())
    command = ["timeout", "-k", "10", "900", *GUARDED]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with open(work / "killed_run.log", "w") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=work, env=env, start_new_session=True
        )
    stopped: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while not stopped:
            assert proc.poll() is None, "the run finished before a job could be caught"
            assert time.monotonic() < deadline, "no job seen running"
            for pid in _script_jobs(work):
                try:
                    os.kill(pid, signal.SIGSTOP)  # keeps it running (not finishing) meanwhile
                    stopped.append(pid)
                except ProcessLookupError:
                    continue
            time.sleep(0.05)
        (snakemake,) = _children(proc.pid)  # the guard became Snakemake under `timeout`
        os.kill(snakemake, signal.SIGKILL)
        proc.wait(timeout=60)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    try:
        again = subprocess.run(command, cwd=work, capture_output=True, text=True, env=env)
        assert again.returncode == 1, again.stdout[-3000:] + again.stderr[-3000:]
        lines = again.stderr.splitlines()
        assert len(lines) == 1, again.stderr
        assert lines[0].startswith(
            f"brainalign: the killed Snakemake run in {os.path.realpath(work)} left"
        )
        assert all(f"pid {pid} (" in lines[0] for pid in stopped), (stopped, lines[0])
        assert "still running" in lines[0] and "wait for" in lines[0] and "kill " in lines[0]
        assert "--unlock" not in again.stdout + again.stderr
        assert "Building DAG" not in again.stdout + again.stderr  # Snakemake was not started
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 300
    while _script_jobs(work):  # the orphaned jobs run to their end
        assert time.monotonic() < deadline, "orphaned jobs did not finish"
        time.sleep(0.2)

    final = subprocess.run(command, cwd=work, capture_output=True, text=True, env=env, timeout=900)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-5000:]
    assert "removed the stale Snakemake lock" in final.stderr
    reference, resumed = _files(small_run), _files(work)
    assert sorted(resumed) == sorted(reference)
    different = [
        rel
        for rel in reference
        if not _is_log(rel) and reference[rel].read_bytes() != resumed[rel].read_bytes()
    ]
    assert different == [], different
    assert not _incomplete_outputs(work)
    assert len(list((work / ".snakemake" / "brainalign-runs").glob("*.json"))) == 1
