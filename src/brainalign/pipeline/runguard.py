"""Run Snakemake so that the same command works again after the run was killed.

A Snakemake run that is SIGKILLed (``kill -9``, the out-of-memory killer, a lost SSH session on
some systems) cannot remove its directory lock; the next run stops with "Directory cannot be
locked" until ``snakemake --unlock``. This wrapper records which process holds the run (host, PID
and the process's start time, so a reused PID is not mistaken for it) in
``.snakemake/brainalign-runs/`` and then *becomes* Snakemake (``exec``, same PID). On the next
start it removes the lock only when it is provably stale: every recorded run ran on this host and
no longer exists, and no other Snakemake process of this host works in the directory (the
wrapper's own parents, such as ``timeout`` or ``bash -c``, whose command lines name Snakemake
too, do not count). A lock left by a live run, by a run on another host (shared file system on a
cluster) or by a Snakemake started without this wrapper is never touched. When the killed run's
Snakemake process is gone but a job it started still runs in the directory, the wrapper says so
in one line (which PID; wait for it or kill it) and does not start Snakemake.

There is one record per run (named by host and PID). A record of a run that has ended is removed
at the next start (when nothing is locked, when a live run holds the directory, or with the stale
lock it left); records therefore do not pile up over retries.

Usage::

    python -m brainalign.pipeline.runguard snakemake --cores 2 [...]

``make run`` uses it; plain ``snakemake`` still works as usual.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from brainalign.io.files import write_json

__all__ = [
    "RECORDS",
    "JobStillRunning",
    "clear_stale_lock",
    "record_run",
    "run_is_alive",
    "main",
]

RECORDS = Path(".snakemake") / "brainalign-runs"


class JobStillRunning(RuntimeError):
    """A job of a killed run still works in the directory: its lock must stay until it ends."""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of ``/proc/<pid>/stat`` (state, ppid, ...), None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    return stat.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (``/proc``), None if gone."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None  # field 22


def _this_process() -> dict[str, object]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _start_time(pid)}


def run_is_alive(record: dict[str, object]) -> bool | None:
    """Whether the recorded run is still running: True, False, or None (cannot tell: other host)."""
    if record.get("host") != socket.gethostname():
        return None
    pid = record.get("pid")
    if not isinstance(pid, int):
        return None
    start = _start_time(pid)
    return start is not None and start == record.get("start")


def record_run(workdir: str | os.PathLike[str]) -> Path:
    """Record the current process as a holder of ``workdir``'s Snakemake run."""
    me = _this_process()
    path = Path(workdir) / RECORDS / f"{me['host']}-{me['pid']}.json"
    write_json(me, path)
    return path


def _records(workdir: Path) -> list[tuple[Path, dict[str, object] | None]]:
    out: list[tuple[Path, dict[str, object] | None]] = []
    for path in sorted((workdir / RECORDS).glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            rec = None
        out.append((path, rec if isinstance(rec, dict) else None))
    return out


def _forget_ended(records: list[tuple[Path, dict[str, object] | None]]) -> None:
    """Remove the records of runs of this host that have ended (and unreadable records)."""
    for path, rec in records:
        if rec is None or run_is_alive(rec) is False:
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- processes
@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    words: tuple[str, ...]
    cwd: str | None


def _processes() -> dict[int, _Proc]:
    """Every process of this host that can be read: PID -> parent, command line, folder."""
    table: dict[int, _Proc] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(int(proc.name))
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        try:
            cwd: str | None = os.readlink(proc / "cwd")
        except OSError:
            cwd = None
        words = tuple(a.decode(errors="replace") for a in args if a)
        ppid = int(fields[1]) if fields else 0
        table[int(proc.name)] = _Proc(int(proc.name), ppid, words, cwd)
    return table


def _ancestors(pid: int, table: dict[int, _Proc]) -> list[int]:
    """Parent, grandparent, ... of ``pid`` (as far as ``table`` knows them)."""
    out: list[int] = []
    while pid in table and table[pid].ppid > 0 and table[pid].ppid not in out:
        pid = table[pid].ppid
        out.append(pid)
    return out


def _is_snakemake(words: tuple[str, ...]) -> bool:
    """Whether a command line is a Snakemake process (``.../snakemake ...``, ``-m snakemake``)."""
    if any(os.path.basename(w) == "snakemake" for w in words):
        return True
    return any(a == "-m" and b == "snakemake" for a, b in zip(words, words[1:], strict=False))


def _works_in(proc: _Proc, target: str) -> bool:
    """Whether a process that names Snakemake works in ``target`` (its folder or an argument)."""
    if proc.cwd == target:
        return True
    return any(os.path.realpath(w) == target for w in proc.words if "/" in w)


def _blockers(workdir: Path) -> tuple[list[_Proc], list[_Proc]]:
    """Processes that keep ``workdir``'s lock: (live Snakemake runs, orphaned jobs).

    Processes whose command line names Snakemake and that work in ``workdir``, except this
    process and its own parents (``timeout``, ``bash -c`` or ``make`` starting the wrapper). A
    job (a rule script under ``.snakemake/scripts``, a shell command) counts as orphaned when no
    live Snakemake process is among its parents: its run was killed, the job still writes.
    """
    target = os.path.realpath(workdir)
    table = _processes()
    me = os.getpid()
    mine = {me, *_ancestors(me, table)}
    runs: list[_Proc] = []
    orphans: list[_Proc] = []
    for proc in table.values():
        if proc.pid in mine:
            continue
        if not proc.words:
            if proc.cwd == target:
                runs.append(proc)  # in mid-exec (no arguments shown yet): assume the worst
            continue
        if not any("snakemake" in w for w in proc.words) or not _works_in(proc, target):
            continue
        if _is_snakemake(proc.words):
            runs.append(proc)
        elif any(_is_snakemake(table[a].words) for a in _ancestors(proc.pid, table)):
            runs.append(proc)  # a job of a live run
        else:
            orphans.append(proc)
    return runs, orphans


def _describe(proc: _Proc) -> str:
    """Short name of a job: the rule script it runs, else its program."""
    line = " ".join(proc.words)
    if m := re.search(r"\.snakemake/scripts/(?:tmp[^.\s/]*\.)?([^\s/'\"]+)", line):
        return m.group(1)
    return os.path.basename(proc.words[0])


def _still_running(workdir: Path, orphans: list[_Proc]) -> str:
    pids = sorted(p.pid for p in orphans)
    jobs = ", ".join(f"pid {p.pid} ({_describe(p)})" for p in sorted(orphans, key=lambda p: p.pid))
    one = len({_describe(p) for p in orphans}) == 1  # one job (a shell and its script: 2 PIDs)
    return (
        f"brainalign: the killed Snakemake run in {os.path.realpath(workdir)} left "
        f"{'a job' if one else 'jobs'} still running: {jobs}; wait for "
        f"{'it' if one else 'them'} to finish or kill {'it' if one else 'them'} "
        f"(kill {' '.join(map(str, pids))}), then run the same command again"
    )


def clear_stale_lock(workdir: str | os.PathLike[str]) -> bool:
    """Remove ``workdir``'s Snakemake lock if the run that held it is known to be dead.

    Records of runs that have ended are removed as well, unless they are the evidence for a
    lock that is kept (all recorded runs dead, but another Snakemake process works there).

    Returns
    -------
    bool
        True if a stale lock was removed.

    Raises
    ------
    JobStillRunning
        The recorded runs are dead, but a job one of them started still runs in ``workdir``;
        the message says which PID to wait for or kill.
    """
    workdir = Path(workdir)
    locks = workdir / ".snakemake" / "locks"
    lock_files = sorted(locks.glob("*.lock")) if locks.is_dir() else []
    records = _records(workdir)
    if not lock_files:  # nothing locked: forget the runs that have ended
        _forget_ended(records)
        return False
    if not records:
        return False  # not started through this wrapper: leave it to the user
    if any(rec is None or run_is_alive(rec) is not False for _, rec in records):
        # a live run (or one of another host) holds the directory; it carries the evidence
        # forward, so the records of ended runs can go
        _forget_ended([(path, rec) for path, rec in records if rec is not None])
        return False
    runs, orphans = _blockers(workdir)
    if orphans:
        raise JobStillRunning(_still_running(workdir, orphans))
    if runs:
        return False
    for lock in lock_files:
        lock.unlink(missing_ok=True)
    for path, _ in records:
        path.unlink(missing_ok=True)
    dead = ", ".join(f"pid {rec['pid']}" for _, rec in records if rec)
    print(
        f"brainalign: removed the stale Snakemake lock of a killed run ({dead}) in {locks}",
        file=sys.stderr,
    )
    return True


def _workdir_of(cmd: list[str]) -> Path:
    for i, arg in enumerate(cmd):
        if arg in ("--directory", "-d") and i + 1 < len(cmd):
            return Path(cmd[i + 1])
        if arg.startswith("--directory="):
            return Path(arg.split("=", 1)[1])
    return Path.cwd()


def main(argv: list[str] | None = None) -> None:
    """Clear a stale lock, record this process, then exec the given Snakemake command."""
    cmd = list(sys.argv[1:] if argv is None else argv)
    if not cmd:
        raise SystemExit("usage: python -m brainalign.pipeline.runguard snakemake [ARGS ...]")
    workdir = _workdir_of(cmd)
    try:
        clear_stale_lock(workdir)
    except JobStillRunning as err:
        print(err, file=sys.stderr)
        raise SystemExit(1) from None
    record_run(workdir)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
