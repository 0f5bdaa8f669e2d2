"""Plumbing shared by the workflow's rule scripts: logging, threads, progress."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["rule_context", "limit_threads", "Progress", "export_package_path"]


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


@contextlib.contextmanager
def rule_context(smk: Any) -> Iterator[logging.Logger]:
    """Run a rule script body with its log file, thread limits and error reporting.

    Everything printed or logged goes to ``smk.log[0]``; an exception is logged with its
    traceback and re-raised (Snakemake then deletes the rule's outputs).

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The ``snakemake`` object of a ``script:`` rule.
    """
    threads = max(1, int(getattr(smk, "threads", 1) or 1))
    limit_threads(threads)
    log_path = smk.log[0] if len(smk.log) else None
    handler: logging.Handler
    stream = None
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        stream = open(log_path, "w")  # noqa: SIM115 - closed below
        handler = logging.StreamHandler(stream)
    else:
        handler = logging.StreamHandler(sys.stderr)
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
        yield logger
        logger.info("rule %s finished in %.1f s", smk.rule, time.perf_counter() - start)
    except BaseException as exc:
        logger.exception("rule %s failed", smk.rule)
        # One readable line on the console too (the traceback is in the log).
        print(f"brainalign: rule {smk.rule} failed: {type(exc).__name__}: {exc}", file=old_err)
        raise
    finally:
        sys.stdout, sys.stderr = old_out, old_err
        handler.flush()
        if stream is not None:
            stream.close()


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
