"""How often Snakemake's ``benchmark:`` directive samples a running job, and setting it.

Snakemake (:mod:`snakemake.benchmark`) reads a job's process tree 31 times at a short interval
(0.5 s by default: at 0, 0.5, ..., 15 s), then every 30 s. Each reading asks psutil for the
full memory information of every process, which parses ``/proc/<pid>/smaps_rollup``: about
40 ms of the Snakemake process's CPU for a 2 GB torch job, measured on a 2-core machine. With
31 readings in a job's first 15 s that is over a second of CPU per torch job, taken from the
cores the jobs run on (about 25 s over the default run, by the jobs' sizes and durations).
The workflow therefore reads every :data:`SHORT_S` seconds for the first 31 readings
(:func:`set_benchmark_sampling`, called by ``workflow/rules/common.smk``), an eighth of the
readings over the default run: the exact CPU seconds and peak memory of each job come from the
last line of its log (:mod:`brainalign.pipeline.rulekit`), so the sampled values are only a
fallback (:func:`last_cpu_reading` models the schedule).

Light on purpose: the Snakemake process imports it while parsing the workflow.
"""

from __future__ import annotations

import math

__all__ = ["SHORT_S", "SHORT_READINGS", "LONG_S", "set_benchmark_sampling", "last_cpu_reading"]

#: Seconds between Snakemake's first readings of a job, as this workflow sets it.
SHORT_S = 10.0
#: Readings at the short interval after the first one (at 0 s), Snakemake's fixed count.
SHORT_READINGS = 30
#: Seconds between the later readings (Snakemake's ``BENCHMARK_INTERVAL``).
LONG_S = 30.0


def set_benchmark_sampling(seconds: float = SHORT_S) -> bool:
    """Set the short interval of Snakemake's benchmark readings in this process.

    Parameters
    ----------
    seconds : float
        Seconds between the first :data:`SHORT_READINGS` readings (Snakemake's default: 0.5).

    Returns
    -------
    bool
        Whether it was set: False when this Snakemake has no
        ``snakemake.benchmark.BENCHMARK_INTERVAL_SHORT`` (then its own schedule applies, and
        the sampled values are read as they are).
    """
    if not seconds > 0:
        raise ValueError(f"benchmark sampling interval must be positive, got {seconds!r}")
    try:
        import snakemake.benchmark as bench
    except ImportError:
        return False
    if not hasattr(bench, "BENCHMARK_INTERVAL_SHORT"):
        return False
    bench.BENCHMARK_INTERVAL_SHORT = float(seconds)
    return True


def last_cpu_reading(wall_s: float, short_s: float = SHORT_S) -> float:
    """When Snakemake last read the CPU time of a job that ran ``wall_s`` seconds.

    Readings at 0, ``short_s``, ..., ``30 * short_s`` seconds, then every :data:`LONG_S`.

    Parameters
    ----------
    wall_s : float
        The job's wall time.
    short_s : float
        The short interval of the run's readings (this workflow's :data:`SHORT_S`;
        Snakemake's own default is 0.5).

    Returns
    -------
    float
        Seconds after the job's start of its last reading (0 for a job under ``short_s``).
    """
    until = SHORT_READINGS * short_s
    if wall_s < until:
        return math.floor(wall_s / short_s) * short_s
    return until + LONG_S * math.floor((wall_s - until) / LONG_S)
