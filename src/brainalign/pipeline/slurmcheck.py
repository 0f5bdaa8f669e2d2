"""Warn when a SLURM run would wait forever: a cluster whose ``sacct`` does not work.

Snakemake's SLURM executor plugin asks ``sacct`` for the states of the jobs it submitted unless
told otherwise (``slurm-status-command: squeue``). On a cluster without an accounting database
``sacct`` fails at every poll and the run waits, silently, for jobs that have long finished.
``profiles/slurm-ci`` switches the plugin to ``squeue``; :func:`slurm_status_warning` runs
``sacct`` once, with a short timeout, when a run uses the SLURM executor with ``sacct`` status
checks, and returns the one-line warning that says to add that profile.

``workflow/rules/common.smk`` calls it when the run starts (``onstart:``); by hand::

    python -m brainalign.pipeline.slurmcheck    # exit status 1 (and the warning) if sacct fails
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

__all__ = ["SACCT_TIMEOUT_S", "sacct_problem", "uses_sacct", "slurm_status_warning", "main"]

#: How long the one ``sacct`` call may take before it counts as not working (seconds).
SACCT_TIMEOUT_S = 10.0

_HINT = (
    "add --profile profiles/slurm-ci (after --profile profiles/slurm) so that job states are "
    "read with squeue"
)


def sacct_problem(timeout: float = SACCT_TIMEOUT_S) -> str | None:
    """Run ``sacct`` once as the SLURM plugin does; say what is wrong, or None if it works.

    Parameters
    ----------
    timeout : float
        Seconds ``sacct`` may take.

    Returns
    -------
    str or None
        None if ``sacct`` answers (or is not installed: the plugin then uses ``squeue``);
        otherwise one line: its last error message, or that it did not answer in time.
    """
    exe = shutil.which("sacct")
    if exe is None:
        return None
    start = f"{datetime.now() - timedelta(hours=1):%Y-%m-%dT%H:%M}"
    cmd = [
        exe,
        "-X",
        "--parsable2",
        "--noheader",
        "--format=JobIdRaw,State",
        f"--starttime={start}",
        "--endtime=now",
        "--name=brainalign-sacct-check",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"sacct did not answer within {timeout:g} s"
    except OSError as err:
        return f"sacct could not be run ({err})"
    if proc.returncode == 0:
        return None
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"sacct exited with status {proc.returncode}"


def uses_sacct(workflow: Any) -> bool:
    """Whether a Snakemake run submits to SLURM and polls job states with ``sacct``.

    Parameters
    ----------
    workflow : snakemake.workflow.Workflow
        The ``workflow`` object of a Snakefile, once the run executes (``onstart:``), when
        ``executor_plugin`` and ``executor_settings`` are set.
    """
    plugin = getattr(workflow, "executor_plugin", None)
    if str(getattr(plugin, "name", "") or "").rsplit("-", 1)[-1] != "slurm":
        return False  # local, dry run, or the job step inside a SLURM job (slurm-jobstep)
    if getattr(workflow, "remote_exec", False):
        return False
    settings = getattr(workflow, "executor_settings", None)
    return getattr(settings, "status_command", "sacct") != "squeue"


def slurm_status_warning(workflow: Any, timeout: float = SACCT_TIMEOUT_S) -> str | None:
    """The one-line warning for a SLURM run whose ``sacct`` status checks cannot work.

    Parameters
    ----------
    workflow : snakemake.workflow.Workflow
        See :func:`uses_sacct`.
    timeout : float
        Seconds the one ``sacct`` call may take.

    Returns
    -------
    str or None
        None when the run does not use ``sacct`` or ``sacct`` works.
    """
    if not uses_sacct(workflow):
        return None
    problem = sacct_problem(timeout)
    if problem is None:
        return None
    return (
        f"brainalign: sacct does not work on this cluster ({problem}), and the SLURM executor "
        f"would wait for the states of finished jobs forever: {_HINT}"
    )


def main() -> None:
    """Check ``sacct`` as a SLURM run would; print the warning and exit 1 if it fails."""
    problem = sacct_problem()
    if problem is None:
        print("brainalign: sacct works (or is not installed); profiles/slurm can be used as is")
        return
    print(f"brainalign: sacct does not work on this cluster ({problem}): {_HINT}", file=sys.stderr)
    raise SystemExit(1)


if __name__ == "__main__":
    main()
