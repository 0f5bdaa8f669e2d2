"""Run Snakemake so that the same command works again after the run was killed.

A Snakemake run that is SIGKILLed (``kill -9``, the out-of-memory killer, a lost SSH session on
some systems) cannot remove its directory lock; the next run stops with "Directory cannot be
locked" until ``snakemake --unlock``. This wrapper records which process holds the run (host, PID
and the process's start time, so a reused PID is not mistaken for it) in
``.snakemake/brainalign-runs/`` and then *becomes* Snakemake (``exec``, same PID). On the next
start it removes the lock only when it is provably stale: every recorded run ran on this host and
no longer exists, and no other Snakemake process of this host works in the directory. A lock left
by a live run, by a run on another host (shared file system on a cluster) or by a Snakemake
started without this wrapper is never touched.

Usage::

    python -m brainalign.pipeline.runguard snakemake --cores 2 [...]

``make run`` uses it; plain ``snakemake`` still works as usual.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from brainalign.io.files import write_json

__all__ = ["RECORDS", "clear_stale_lock", "record_run", "run_is_alive", "main"]

RECORDS = Path(".snakemake") / "brainalign-runs"


def _start_time(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (``/proc``), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 22; the command name (field 2) may contain spaces, so split after its ')'
    return stat.rsplit(")", 1)[1].split()[19]


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


def _other_snakemake_in(workdir: Path) -> int | None:
    """PID of another live process of this host that runs Snakemake in ``workdir``, if any."""
    target = os.path.realpath(workdir)
    me = os.getpid()
    for proc in Path("/proc").glob("[0-9]*"):
        if int(proc.name) == me:
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in args if a]
        if not words and cwd == target:
            return int(proc.name)  # a process in mid-exec shows no arguments yet: assume the worst
        if not any("snakemake" in w for w in words):
            continue
        if cwd == target or any(os.path.realpath(w) == target for w in words if "/" in w):
            return int(proc.name)
    return None


def clear_stale_lock(workdir: str | os.PathLike[str]) -> bool:
    """Remove ``workdir``'s Snakemake lock if the run that held it is known to be dead.

    Returns
    -------
    bool
        True if a stale lock was removed.
    """
    workdir = Path(workdir)
    locks = workdir / ".snakemake" / "locks"
    lock_files = sorted(locks.glob("*.lock")) if locks.is_dir() else []
    if not lock_files:  # nothing locked: forget the runs that have ended
        for path, rec in _records(workdir):
            if rec is None or run_is_alive(rec) is False:
                path.unlink(missing_ok=True)
        return False
    records = _records(workdir)
    if not records:
        return False  # not started through this wrapper: leave it to the user
    if any(rec is None or run_is_alive(rec) is not False for _, rec in records):
        return False
    if _other_snakemake_in(workdir) is not None:
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
    clear_stale_lock(workdir)
    record_run(workdir)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
