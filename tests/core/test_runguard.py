"""The run guard removes a Snakemake lock only when the run holding it is provably dead."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

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
