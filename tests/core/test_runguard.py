"""The run guard removes a Snakemake lock only when the run holding it is provably dead."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brainalign.pipeline import runguard


def _lock(workdir: Path) -> Path:
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock = locks / "0.output.lock"
    lock.write_text("results/x.csv\n")
    return lock


def _dead_record(workdir: Path) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    start = "0"  # the process is gone; any start time
    rec = {"host": socket.gethostname(), "pid": proc.pid, "start": start}
    path = workdir / runguard.RECORDS / f"{rec['host']}-{rec['pid']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    return rec


def test_stale_lock_of_dead_run_is_removed(tmp_path):
    lock = _lock(tmp_path)
    _dead_record(tmp_path)
    assert runguard.clear_stale_lock(tmp_path)
    assert not lock.exists()
    assert not list((tmp_path / runguard.RECORDS).glob("*.json"))


def test_lock_of_live_run_is_kept(tmp_path):
    lock = _lock(tmp_path)
    _dead_record(tmp_path)
    runguard.record_run(tmp_path)  # this (live) process also holds the directory
    assert not runguard.clear_stale_lock(tmp_path)
    assert lock.exists()


def test_pid_reused_by_another_process_counts_as_dead(tmp_path):
    lock = _lock(tmp_path)
    path = runguard.record_run(tmp_path)
    rec = json.loads(path.read_text())
    rec["start"] = str(int(rec["start"]) - 1)  # same PID, different process
    path.write_text(json.dumps(rec))
    assert runguard.run_is_alive(rec) is False
    assert runguard.clear_stale_lock(tmp_path)
    assert not lock.exists()


def test_lock_from_another_host_or_without_record_is_kept(tmp_path):
    lock = _lock(tmp_path)
    assert not runguard.clear_stale_lock(tmp_path)  # plain snakemake: no record
    rec = {"host": socket.gethostname() + "-elsewhere", "pid": 1, "start": "1"}
    path = tmp_path / runguard.RECORDS / "other.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    assert runguard.run_is_alive(rec) is None
    assert not runguard.clear_stale_lock(tmp_path)
    assert lock.exists()


def test_live_snakemake_process_in_the_directory_keeps_the_lock(tmp_path):
    lock = _lock(tmp_path)
    _dead_record(tmp_path)
    fake = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "snakemake"], cwd=tmp_path
    )
    try:
        assert not runguard.clear_stale_lock(tmp_path)
        assert lock.exists()
    finally:
        fake.kill()
        fake.wait()
    assert runguard.clear_stale_lock(tmp_path)


def test_records_of_finished_runs_are_pruned(tmp_path):
    _dead_record(tmp_path)
    assert not runguard.clear_stale_lock(tmp_path)  # nothing locked
    assert not list((tmp_path / runguard.RECORDS).glob("*.json"))


def test_main_execs_the_command_under_the_same_pid(tmp_path):
    code = (
        "import os, sys; from brainalign.pipeline import runguard; "
        "print(os.getpid(), flush=True); "
        "runguard.main([sys.executable, '-c', 'import os; print(os.getpid())'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == out[1]
    (record,) = (tmp_path / runguard.RECORDS).glob("*.json")
    assert json.loads(record.read_text())["pid"] == int(out[0])


# ------------------------------------------------------------- the guard as users start it
FAKE_SNAKEMAKE = """#!/bin/sh
# stands in for Snakemake: refuses a locked directory as Snakemake does, else runs
if ls .snakemake/locks/*.lock >/dev/null 2>&1; then
    echo "LockException: Directory cannot be locked ... --unlock" >&2
    exit 1
fi
echo "ran in $PWD"
"""


def _fake_snakemake(tmp_path: Path) -> Path:
    exe = tmp_path / "bin" / "snakemake"
    exe.parent.mkdir(exist_ok=True)
    exe.write_text(FAKE_SNAKEMAKE)
    exe.chmod(0o755)
    return exe


def _guard(workdir: Path, exe: Path, wrapper: str) -> subprocess.CompletedProcess:
    """The guard started as users start it: directly, under `timeout` or inside `bash -c`."""
    guard = [sys.executable, "-m", "brainalign.pipeline.runguard", str(exe), "--cores", "1"]
    cmd = {
        "direct": guard,
        "timeout": ["timeout", "-k", "5", "60", *guard],
        # a second command keeps bash alive as the guard's parent (no exec optimisation)
        "bash -c": ["bash", "-c", " ".join(guard) + "; status=$?; exit $status"],
    }[wrapper]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=120)


def _record_files(workdir: Path) -> list[Path]:
    return sorted((workdir / runguard.RECORDS).glob("*.json"))


@pytest.mark.parametrize("wrapper", ["timeout", "bash -c"])
def test_guard_under_timeout_or_bash_clears_the_lock_of_a_killed_run(tmp_path, wrapper):
    """The wrapper's own parents name Snakemake on their command lines: not another run."""
    work = tmp_path / "work"
    work.mkdir()
    exe = _fake_snakemake(tmp_path)
    lock = _lock(work)
    _dead_record(work)
    proc = _guard(work, exe, wrapper)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "removed the stale Snakemake lock" in proc.stderr
    assert f"ran in {work}" in proc.stdout
    assert not lock.exists()
    assert len(_record_files(work)) == 1  # this run's; the killed run's record went with its lock


def test_records_do_not_pile_up_over_retries(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    exe = _fake_snakemake(tmp_path)
    lock = _lock(work)
    holder = subprocess.Popen(  # a live guarded run holds the lock
        [sys.executable, "-c", "import time; time.sleep(60)", "snakemake"], cwd=work
    )
    try:
        rec = {
            "host": socket.gethostname(),
            "pid": holder.pid,
            "start": runguard._start_time(holder.pid),
        }
        (work / runguard.RECORDS).mkdir(parents=True)
        live = work / runguard.RECORDS / f"{rec['host']}-{holder.pid}.json"
        live.write_text(json.dumps(rec))
        for _ in range(3):  # each retry is refused by "Snakemake" (the lock is the live run's)
            proc = _guard(work, exe, "timeout")
            assert proc.returncode == 1 and "LockException" in proc.stderr, proc.stderr
            assert lock.exists()
            records = _record_files(work)
            assert live in records and len(records) == 2, records  # the live run + the last try
    finally:
        holder.kill()
        holder.wait()
    proc = _guard(work, exe, "timeout")  # the holder was killed: its lock is stale now
    assert proc.returncode == 0, proc.stderr
    assert "removed the stale Snakemake lock" in proc.stderr and not lock.exists()
    assert len(_record_files(work)) == 1
    for _ in range(2):  # runs that end normally replace each other's record
        assert _guard(work, exe, "direct").returncode == 0
        assert len(_record_files(work)) == 1


def _orphan_job(work: Path) -> subprocess.Popen:
    """A rule script still running after its Snakemake process was killed."""
    script = work / ".snakemake" / "scripts" / "tmpab12cd34.compare_subjects.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("import time\ntime.sleep(60)\n")
    return subprocess.Popen([sys.executable, str(script)], cwd=work, start_new_session=True)


def test_job_of_a_killed_run_still_running_is_named_and_nothing_is_started(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    exe = _fake_snakemake(tmp_path)
    lock = _lock(work)
    _dead_record(work)
    job = _orphan_job(work)
    try:
        time.sleep(0.5)  # let the job's command line appear in /proc
        with pytest.raises(runguard.JobStillRunning, match=f"pid {job.pid} "):
            runguard.clear_stale_lock(work)
        proc = _guard(work, exe, "timeout")
        assert proc.returncode == 1
        assert proc.stdout == ""  # Snakemake was not started
        assert proc.stderr == (
            f"brainalign: the killed Snakemake run in {work} left a job still running: "
            f"pid {job.pid} (compare_subjects.py); wait for it to finish or kill it "
            f"(kill {job.pid}), then run the same command again\n"
        )
        assert "--unlock" not in proc.stderr
        assert lock.exists() and len(_record_files(work)) == 1  # no record for the refused try
    finally:
        job.kill()
        job.wait()
    proc = _guard(work, exe, "timeout")
    assert proc.returncode == 0 and "removed the stale Snakemake lock" in proc.stderr
    assert not lock.exists()


def test_job_of_a_live_run_keeps_the_lock_without_refusing(tmp_path):
    """A job whose Snakemake process lives belongs to another run: Snakemake decides."""
    work = tmp_path / "work"
    work.mkdir()
    lock = _lock(work)
    _dead_record(work)
    script = work / ".snakemake" / "scripts" / "tmpab12cd34.layer_rdms.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("import time\ntime.sleep(60)\n")
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; "
            f"subprocess.run([sys.executable, {str(script)!r}], cwd={str(work)!r})",
            "-m",
            "snakemake",
        ],
        cwd=tmp_path,  # seen only through its job, which works in the directory
        start_new_session=True,
    )
    try:
        time.sleep(1.0)
        assert not runguard.clear_stale_lock(work)
        assert lock.exists()
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
