"""Plumbing shared by the workflow's rule scripts: logging, threads, progress."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "rule_context",
    "remove_stale_temp_files",
    "failure_line",
    "limit_threads",
    "Progress",
    "export_package_path",
]


def limit_threads(threads: int) -> None:
    """Cap BLAS/OpenMP and numba threads of this process at ``threads``.

    BLAS/OpenMP limits go through the environment (read when those libraries load). numba
    reads ``NUMBA_NUM_THREADS`` again at every compilation and refuses a value that differs
    from the pool it has already launched, so once numba is imported its pool size is left
    alone and the number of threads in use is set with ``numba.set_num_threads`` instead
    (at most the pool size).

    Parameters
    ----------
    threads : int
        Threads granted to the rule (``threads:`` directive, scaled by ``--cores``).
    """
    threads = max(1, int(threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    numba = sys.modules.get("numba")
    if numba is None:
        os.environ.setdefault("NUMBA_NUM_THREADS", str(threads))
    else:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def remove_stale_temp_files(outputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Remove the temporary files that killed writers of ``outputs`` left behind.

    A writer killed with SIGKILL cannot remove the hidden temporary file of
    :func:`brainalign.io.files.atomic_path`. Next to each output those are the files
    :func:`brainalign.io.files.temp_files_of` finds (``.<output name>.<random><suffix>``); inside
    an output that is a folder (``directory()``), every file with such a name. Only the job that
    owns the outputs writes them, so at its start any such file is stale.

    Parameters
    ----------
    outputs : iterable of path-like
        The job's outputs (``snakemake.output``).

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    # imported here: common.smk imports this module in the Snakemake process, which needs
    # neither numpy nor pandas (imported by brainalign.io.files)
    from brainalign.io.files import is_temp_name, temp_files_of

    removed: list[Path] = []
    for out in outputs:
        path = Path(out)
        stale = temp_files_of(path)
        if path.is_dir():
            stale += sorted(p for p in path.rglob(".*") if is_temp_name(p.name) and not p.is_dir())
        for tmp in stale:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _open_log(log_path: str | None) -> tuple[logging.Handler, TextIO | None]:
    """The handler that writes to the job's log (stderr without a log) and the open log file."""
    if not log_path:
        return logging.StreamHandler(sys.stderr), None
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    stream = open(log_path, "w")  # noqa: SIM115 - closed by rule_context
    return logging.StreamHandler(stream), stream


def failure_line(rule: str, exc: BaseException, log_path: str | None) -> str:
    """The one console line of a failed job: rule, error, and where the traceback is.

    Parameters
    ----------
    rule : str
        Name of the rule.
    exc : BaseException
        The error (a message over several lines is joined into one).
    log_path : str or None
        The job's log; None when the traceback went to the console.
    """
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    where = f"details in {log_path}" if log_path else "traceback above"
    return f"brainalign: rule {rule} failed: {type(exc).__name__}: {message}; {where}"


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children so far (exact, unlike
    the sampled ``cpu_time`` of Snakemake's benchmark files)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _peak_rss_mb() -> float:
    """Peak resident memory, MB, of this process or of its largest finished child (exact: the
    kernel's high-water mark, unlike the sampled ``max_rss`` of Snakemake's benchmark files).

    The process's own peak is ``VmHWM`` of ``/proc/self/status``: ``getrusage``'s
    ``ru_maxrss`` of the process also counts the memory of the process it was forked from
    before it ran Python (Snakemake's main process, ~700 MB), as Linux carries the high-water
    mark over ``exec``. Children forked by the job hold at most the job's memory at the fork,
    so their ``ru_maxrss`` is right. Without ``/proc`` (macOS) ``ru_maxrss`` is used.
    """
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    try:
        with open("/proc/self/status") as fh:
            own = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError, IndexError):
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = max(own, children)
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes / KiB


def _is_job_process() -> bool:
    """Whether this process runs a Snakemake ``script:`` job: Snakemake writes the script with
    its preamble to ``.snakemake/scripts/tmp*.py`` and runs it as ``python <that file>``."""
    if not sys.argv or not sys.argv[0]:
        return False
    folder = Path(sys.argv[0]).parent
    return folder.name == "scripts" and folder.parent.name == ".snakemake"


def _exit_now() -> None:
    """End a finished job's process without Python's interpreter teardown.

    Tearing down an interpreter that imported torch (module dictionaries, the CUDA build's
    shared libraries) costs about a second of CPU per job, measured on the 2-core machines
    this workflow targets: a second taken from the other job's core, dozens of times per run.
    The job's outputs are complete at this point (written through
    :func:`brainalign.io.files.atomic_path`, closed and fsynced) and its log is closed; logging
    handlers and the standard streams are flushed here. Skipped, so the process exits
    normally, while child processes (a multiprocessing pool, data-loader workers) are alive.
    """
    if multiprocessing.active_children():
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


@contextlib.contextmanager
def rule_context(smk: Any) -> Iterator[logging.Logger]:
    """Run a rule script body with its log file, thread limits and error reporting.

    At the start, temporary files that a killed earlier attempt of this job left next to (or
    inside) its outputs are removed (:func:`remove_stale_temp_files`). Everything printed or
    logged goes to ``smk.log[0]``. An exception is logged there with its traceback; the
    console gets one line (:func:`failure_line`) and the script exits with status 1 without
    printing the traceback a second time (Snakemake then marks the job failed and deletes its
    outputs). For ``script:`` rules, which run as their own process: when the body succeeds in
    such a process, the process ends right after the log is closed, without Python's
    interpreter teardown (:func:`_exit_now`), so a script has no code after this block.

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The ``snakemake`` object of a ``script:`` rule.
    """
    threads = max(1, int(getattr(smk, "threads", 1) or 1))
    limit_threads(threads)
    log_path = smk.log[0] if len(smk.log) else None
    handler, stream = _open_log(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger(f"brainalign.rule.{smk.rule}")
    logger.setLevel(logging.INFO)
    logger.handlers[:] = [handler]
    logger.propagate = False
    old_out, old_err = sys.stdout, sys.stderr
    if stream is not None:
        sys.stdout = sys.stderr = stream
    start = time.perf_counter()
    try:
        logger.info("rule %s started (threads=%d)", smk.rule, threads)
        for tmp in remove_stale_temp_files(getattr(smk, "output", [])):
            logger.info("removed %s, left by a killed earlier attempt of this job", tmp)
        yield logger
        logger.info(
            "rule %s finished in %.1f s (CPU %.1f s, peak RSS %.0f MB)",
            smk.rule,
            time.perf_counter() - start,
            _cpu_seconds(),
            _peak_rss_mb(),
        )
    except Exception as exc:
        logger.exception("rule %s failed", smk.rule)
        print(failure_line(smk.rule, exc, log_path), file=old_err, flush=True)
        # Exit quietly: the traceback is in the log, and Python would print it again.
        raise SystemExit(1) from None
    except BaseException:  # interrupted (KeyboardInterrupt) or sys.exit() in the body
        logger.exception("rule %s stopped", smk.rule)
        raise
    finally:
        sys.stdout, sys.stderr = old_out, old_err
        handler.flush()
        if stream is not None:
            stream.close()
    if _is_job_process():
        _exit_now()


class Progress:
    """Log ``done/total`` at most every ``every`` seconds (progress of long loops in logs)."""

    def __init__(self, logger: logging.Logger, label: str, every: float = 5.0) -> None:
        self.logger, self.label, self.every = logger, label, every
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done >= total or now - self._last >= self.every:
            self._last = now
            self.logger.info("%s: %d/%d (%.0f%%)", self.label, done, total, 100 * done / total)


def export_package_path(src: str) -> None:
    """Prepend ``src`` to ``PYTHONPATH`` so every job the workflow starts can import brainalign.

    Snakemake's ``script:`` preamble adds only the script's own folder to ``sys.path``; jobs
    inherit the environment of the Snakemake process (locally, in conda envs, and on SLURM,
    which exports the submitting environment), so one variable reaches them all.
    """
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    os.environ["PYTHONPATH"] = os.pathsep.join([src, *parts])
