"""Per-job wall and CPU time from Snakemake's ``benchmark:`` files, and how busy the cores were.

Every rule writes ``<output folder>/benchmarks/<rule>[/<wildcards>].tsv`` (Snakemake's
``benchmark:`` directive; the shared download rules write under ``results/downloads/``). This
module reads those files into one tidy table (a row per job), sums it per rule and summarises the
run: CPU seconds of all jobs, the run's wall span and the cores kept busy, CPU / span.

How the span is estimated, and its limits
-----------------------------------------
A benchmark file holds durations only (``s``: the job's wall seconds), no clock times. Snakemake
writes it when the job ends, so the file's modification time is the job's end and
``end - s`` its start; the span of a run is from its first start to its last end. This holds
while nothing else touches the files (copying them without ``cp -p`` or ``rsync -t`` loses it).

* **Only the latest run.** Files of earlier runs stay on disk. Jobs are grouped into runs by
  their time intervals: jobs whose intervals overlap or follow each other within ``gap_s``
  seconds (60 by default; Snakemake starts the next job at once) belong to one run, and the
  summary covers the last one. A partial rerun (an edited script, ``--forcerun``) therefore
  reports only the jobs it reran, which is what it spent; two runs started within ``gap_s`` of
  each other count as one.
* **CPU time and memory are sampled.** Snakemake reads the CPU time and memory of a job's
  processes at a short interval for its first 30 readings (0.5 s by default; this workflow sets
  10 s, :mod:`brainalign.pipeline.sampling`), then every 30 s, and keeps the last CPU reading
  and the largest memory reading: CPU after the last reading, and peaks between readings, are
  not counted. The CPU sum, and so ``cores_busy``, is a lower bound (``NA`` when a job ended
  before its first reading; counted as 0 and reported as ``jobs_without_cpu``). ``cpu_est_s``
  extrapolates each job's reading to its whole wall time at the rate it had until the last
  reading (:func:`last_cpu_reading`), and ``cores_busy_est`` uses it. Every brainalign job also
  logs its exact CPU seconds (``os.times`` of the job's process and finished children) and
  peak resident memory (the process's ``VmHWM``, or its largest finished child's
  ``ru_maxrss``) in its last log line (``rule <name> finished in W s (CPU C s, peak RSS R MB)``);
  each job takes the values of the log of its rule that ended closest to it
  (:func:`logged_cpu`), so ``cpu_est_s`` and ``cores_busy_est`` are measured, not estimated,
  for every job with such a log (``cpu_logged``; the shell-only download rules have none), and
  ``max_rss_mb`` is the larger of the sampled and the logged peak.
* The collecting rule itself, and the Snakemake process (DAG building, scheduling), are not
  jobs with a benchmark file and are not counted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.pipeline.sampling import last_cpu_reading

__all__ = [
    "BENCHMARK_COLUMNS",
    "JOB_COLUMNS",
    "benchmark_files",
    "parse_benchmark_path",
    "read_benchmark",
    "collect_jobs",
    "mark_latest_run",
    "rule_table",
    "run_summary",
    "last_cpu_reading",
    "logged_cpu",
    "summarise_benchmarks",
]

#: Columns of a Snakemake benchmark TSV (``--benchmark-extended`` adds more; they are ignored).
BENCHMARK_COLUMNS = (
    "s",
    "h:m:s",
    "max_rss",
    "max_vms",
    "max_uss",
    "max_pss",
    "io_in",
    "io_out",
    "mean_load",
    "cpu_time",
)

#: Columns of the job table (:func:`collect_jobs`), in order.
JOB_COLUMNS = (
    "study",
    "dataset",
    "rule",
    "job",
    "start",
    "end",
    "wall_s",
    "cpu_s",
    "cpu_est_s",
    "cpu_logged",
    "cores",
    "max_rss_mb",
    "max_uss_mb",
    "max_pss_mb",
    "max_vms_mb",
    "io_in_mb",
    "io_out_mb",
    "mean_load",
    "repeats",
    "path",
)

_FOLDER = "benchmarks"
_LOGGED_CPU = re.compile(
    r"rule (\S+) finished in ([0-9.]+) s \(CPU ([0-9.]+) s(?:, peak RSS ([0-9.]+) MB)?\)\s*$"
)
_MATCH_S = 10.0


def logged_cpu(
    logs: Iterable[str | os.PathLike],
) -> dict[str, list[tuple[float, float, float, float]]]:
    """The exact CPU seconds and peak memory brainalign jobs logged, by rule.

    Every rule script ends its log with
    ``rule <name> finished in W s (CPU C s, peak RSS R MB)``
    (:func:`brainalign.pipeline.rulekit.rule_context`; logs of older versions lack the
    ``peak RSS`` part).

    Parameters
    ----------
    logs : iterable of path-like
        Log files (others, and logs without that line, are skipped).

    Returns
    -------
    dict
        ``{rule: [(log modification time, W, C, R), ...]}``, R NaN where not logged.
    """
    found: dict[str, list[tuple[float, float, float, float]]] = {}
    for log in logs:
        log = Path(log)
        try:
            with open(log, "rb") as fh:
                size = log.stat().st_size
                fh.seek(max(0, size - 4096))
                tail = fh.read().decode("utf-8", "replace").rstrip().splitlines()
        except OSError:
            continue
        match = _LOGGED_CPU.search(tail[-1]) if tail else None
        if match:
            rule, wall, cpu = match.group(1), float(match.group(2)), float(match.group(3))
            rss = float(match.group(4)) if match.group(4) else np.nan
            found.setdefault(rule, []).append((log.stat().st_mtime, wall, cpu, rss))
    return found


def _match_logged(
    jobs: pd.DataFrame, logged: dict[str, list[tuple[float, float, float, float]]]
) -> tuple[np.ndarray, np.ndarray]:
    """Exact CPU and peak RSS of each job from the log of the same rule that ended closest to it
    (within ``_MATCH_S`` s of the job's end, its logged wall time no longer than the job's): NaN
    where none. Jobs of one rule ending within a second may swap values; sums are unaffected."""
    exact = np.full(len(jobs), np.nan)
    rss = np.full(len(jobs), np.nan)
    for rule, entries in logged.items():
        rows = np.flatnonzero(jobs["rule"].to_numpy() == rule)
        free = list(entries)
        for i in rows[np.argsort(jobs["end"].to_numpy()[rows])]:
            end, wall = jobs["end"].iat[i], jobs["wall_s"].iat[i]
            ok = [
                k
                for k, (t, w, _, _) in enumerate(free)
                if abs(t - end) <= _MATCH_S and w <= wall + 1
            ]
            if ok:
                k = min(ok, key=lambda k: abs(free[k][0] - end))
                _, _, exact[i], rss[i] = free.pop(k)
    return exact, rss


def benchmark_files(roots: Iterable[str | os.PathLike]) -> list[Path]:
    """Every benchmark file under ``roots`` (``**/benchmarks/**/*.tsv``), sorted.

    Parameters
    ----------
    roots : iterable of path-like
        Folders to search, e.g. ``results/<study>`` of each enabled study; a missing folder
        contributes nothing.

    Returns
    -------
    list of pathlib.Path
    """
    found: set[Path] = set()
    for root in roots:
        root = Path(root)
        if root.is_dir():
            found.update(p for p in root.rglob("*.tsv") if _FOLDER in p.relative_to(root).parts)
    return sorted(found)


def parse_benchmark_path(path: str | os.PathLike, results: str | os.PathLike) -> dict[str, str]:
    """Study, dataset, rule and job of a benchmark file, from where it lies.

    ``<results>/<study>/<dataset...>/benchmarks/<rule>.tsv`` is a rule without wildcards of
    their own; ``.../benchmarks/<rule>/<job...>.tsv`` one job of a rule with wildcards.

    Parameters
    ----------
    path : path-like
        The benchmark file.
    results : path-like
        The results folder the path lies under.

    Returns
    -------
    dict
        ``study``, ``dataset`` (the folders between study and ``benchmarks``, joined by ``/``;
        may be empty), ``rule`` and ``job`` (empty for a rule without wildcards).

    Raises
    ------
    ValueError
        If the path is not under ``results/<study>/.../benchmarks/``.
    """
    parts = Path(path).relative_to(results).parts
    if _FOLDER not in parts[1:-1]:
        raise ValueError(f"{path}: not a file under {results}/<study>/.../{_FOLDER}/")
    i = parts.index(_FOLDER, 1)
    rest = parts[i + 1 :]
    stem = Path(rest[-1]).name.removesuffix(".tsv")
    rule, job = (stem, "") if len(rest) == 1 else (rest[0], "/".join((*rest[1:-1], stem)))
    return {"study": parts[0], "dataset": "/".join(parts[1:i]), "rule": rule, "job": job}


def read_benchmark(path: str | os.PathLike) -> dict[str, float]:
    """One job's record from its benchmark file; repeats (``benchmark_repeats``) are summed.

    Parameters
    ----------
    path : path-like
        A Snakemake benchmark TSV.

    Returns
    -------
    dict
        ``wall_s`` and ``cpu_s`` (sums over repeats; ``cpu_s`` NaN when no repeat has a
        reading), memory peaks in MB (``max_*_mb``, the largest repeat), ``io_in_mb`` and
        ``io_out_mb`` (sums), ``mean_load`` (CPU percent, wall-weighted mean), ``repeats``.
    """
    rows = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    missing = {"s", "cpu_time", "max_rss"} - set(rows.columns)
    if missing or rows.empty:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no rows or no {missing})")
    wall = rows["s"].astype(float)
    cpu = rows["cpu_time"].astype(float)
    load = rows["mean_load"].astype(float) if "mean_load" in rows else pd.Series(np.nan)
    out = {
        "wall_s": float(wall.sum()),
        "cpu_s": float(cpu.sum()) if cpu.notna().any() else np.nan,
        "io_in_mb": _sum(rows, "io_in"),
        "io_out_mb": _sum(rows, "io_out"),
        "mean_load": float((load * wall).sum() / wall.sum()) if wall.sum() > 0 else np.nan,
        "repeats": len(rows),
    }
    for col in ("max_rss", "max_uss", "max_pss", "max_vms"):
        out[f"{col}_mb"] = float(rows[col].max()) if col in rows else np.nan
    return out


def _sum(rows: pd.DataFrame, col: str) -> float:
    if col not in rows or rows[col].isna().all():
        return np.nan
    return float(rows[col].astype(float).sum())


def collect_jobs(
    files: Iterable[str | os.PathLike],
    results: str | os.PathLike = "results",
    logs: Iterable[str | os.PathLike] = (),
) -> pd.DataFrame:
    """The job table: one row per benchmark file, with its start and end in Unix seconds.

    Parameters
    ----------
    files : iterable of path-like
        Benchmark files (:func:`benchmark_files`).
    results : path-like
        The results folder they lie under (for :func:`parse_benchmark_path`).
    logs : iterable of path-like
        The jobs' log files: a job's exact logged CPU seconds (:func:`logged_cpu`) replace its
        extrapolated ``cpu_est_s`` (``cpu_logged`` true), and its logged peak RSS raises
        ``max_rss_mb`` where the sampled peak is lower.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`JOB_COLUMNS`: ``end`` is the file's modification time, ``start`` is
        ``end - wall_s``, ``cpu_est_s`` the job's exact logged CPU seconds
        (:func:`logged_cpu`; ``cpu_logged`` true) or else its CPU reading extrapolated to the
        whole job (:func:`last_cpu_reading`), ``cores`` is ``cpu_est_s / wall_s`` (the cores
        the job kept busy), and ``path`` the file relative to ``results``. Sorted by start,
        then path.
    """
    rows = []
    for path in files:
        path = Path(path)
        record = read_benchmark(path)
        end = path.stat().st_mtime
        last = last_cpu_reading(record["wall_s"] / record["repeats"])
        est = record["cpu_s"] * record["wall_s"] / (last * record["repeats"]) if last > 0 else None
        record["cpu_est_s"] = record["cpu_s"] if est is None else est
        record["cpu_logged"] = False
        rows.append(
            {
                **parse_benchmark_path(path, results),
                "start": end - record["wall_s"],
                "end": end,
                **record,
                "cores": record["cpu_est_s"] / record["wall_s"] if record["wall_s"] > 0 else np.nan,
                "path": path.relative_to(results).as_posix(),
            }
        )
    jobs = pd.DataFrame(rows, columns=list(JOB_COLUMNS))
    exact, rss = _match_logged(jobs, logged_cpu(logs))
    jobs["max_rss_mb"] = np.fmax(jobs["max_rss_mb"].to_numpy(dtype=float), rss)
    jobs["cpu_logged"] = ~np.isnan(exact)
    jobs["cpu_est_s"] = jobs["cpu_est_s"].where(np.isnan(exact), exact)
    wall = jobs["wall_s"].where(jobs["wall_s"] > 0)
    jobs["cores"] = jobs["cpu_est_s"] / wall
    return jobs.sort_values(["start", "path"], ignore_index=True)


def mark_latest_run(jobs: pd.DataFrame, gap_s: float = 60.0) -> pd.Series:
    """Which jobs belong to the most recent run.

    The jobs' intervals ``[start, end]`` are merged wherever they overlap or lie less than
    ``gap_s`` apart; the last merged stretch is the latest run.

    Parameters
    ----------
    jobs : pandas.DataFrame
        With ``start`` and ``end`` columns (:func:`collect_jobs`).
    gap_s : float
        Longest pause between jobs of one run, in seconds.

    Returns
    -------
    pandas.Series of bool
        Aligned with ``jobs``.
    """
    if jobs.empty:
        return pd.Series(False, index=jobs.index, dtype=bool)
    order = jobs["start"].sort_values(kind="stable").index
    run_start = jobs.loc[order[0], "start"]
    reach = -np.inf
    for i in order:
        if jobs.at[i, "start"] > reach + gap_s:
            run_start = jobs.at[i, "start"]
        reach = max(reach, jobs.at[i, "end"])
    return jobs["start"] >= run_start


def rule_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: jobs, wall and CPU seconds, cores per job, memory peak, share of all CPU.

    Parameters
    ----------
    jobs : pandas.DataFrame
        The job table (:func:`collect_jobs`), usually only the latest run's rows.

    Returns
    -------
    pandas.DataFrame
        One row per (study, rule): ``jobs``, ``wall_s`` (sum over jobs), ``longest_s``,
        ``cpu_s`` and ``cpu_est_s`` (sums), ``cores`` (``cpu_est_s / wall_s``), ``max_rss_mb``
        and ``cpu_share`` (of the estimated CPU of all listed jobs); sorted by CPU, most first.
    """
    grouped = jobs.groupby(["study", "rule"], sort=True)
    table = grouped.agg(
        jobs=("wall_s", "size"),
        wall_s=("wall_s", "sum"),
        longest_s=("wall_s", "max"),
        cpu_s=("cpu_s", lambda x: x.fillna(0).sum()),
        cpu_est_s=("cpu_est_s", lambda x: x.fillna(0).sum()),
        max_rss_mb=("max_rss_mb", "max"),
    ).reset_index()
    table["cores"] = table["cpu_est_s"] / table["wall_s"].where(table["wall_s"] > 0)
    total = table["cpu_est_s"].sum()
    table["cpu_share"] = table["cpu_est_s"] / total if total > 0 else np.nan
    columns = ["study", "rule", "jobs", "wall_s", "longest_s", "cpu_s", "cpu_est_s", "cores"]
    table = table[[*columns, "max_rss_mb", "cpu_share"]]
    return table.sort_values(["cpu_s", "study", "rule"], ascending=[False, True, True]).reset_index(
        drop=True
    )


def run_summary(jobs: pd.DataFrame) -> pd.DataFrame:
    """One row: how busy the cores were over the jobs of one run.

    Parameters
    ----------
    jobs : pandas.DataFrame
        The job table rows of one run (:func:`collect_jobs`, :func:`mark_latest_run`).

    Returns
    -------
    pandas.DataFrame
        One row: ``jobs``, ``jobs_without_cpu`` (no CPU reading), ``first_start`` and
        ``last_end`` (UTC, ISO 8601), ``span_s`` (last end minus first start), ``cpu_s`` (sum of
        the jobs' CPU seconds), ``job_wall_s`` (sum of their wall seconds), ``cores_busy``
        (``cpu_s / span_s``, a lower bound), ``cpu_est_s`` and ``cores_busy_est`` (the same
        with each job's CPU extrapolated to its whole wall time), ``jobs_running``
        (``job_wall_s / span_s``: jobs running at once, on average), ``longest_s`` and
        ``longest_job`` (``rule[/job]`` of the longest job).
    """
    if jobs.empty:
        return pd.DataFrame(
            [{"jobs": 0, "jobs_without_cpu": 0, "span_s": 0.0, "cpu_s": 0.0, "cores_busy": np.nan}]
        )
    first, last = float(jobs["start"].min()), float(jobs["end"].max())
    span = last - first
    cpu = float(jobs["cpu_s"].fillna(0).sum())
    cpu_est = float(jobs["cpu_est_s"].fillna(0).sum())
    wall = float(jobs["wall_s"].sum())
    longest = jobs.loc[jobs["wall_s"].idxmax()]
    name = longest["rule"] + (f"/{longest['job']}" if longest["job"] else "")
    row = {
        "jobs": len(jobs),
        "jobs_without_cpu": int(jobs["cpu_s"].isna().sum()),
        "first_start": _iso(first),
        "last_end": _iso(last),
        "span_s": span,
        "cpu_s": cpu,
        "job_wall_s": wall,
        "cores_busy": cpu / span if span > 0 else np.nan,
        "cpu_est_s": cpu_est,
        "cores_busy_est": cpu_est / span if span > 0 else np.nan,
        "jobs_running": wall / span if span > 0 else np.nan,
        "longest_s": float(longest["wall_s"]),
        "longest_job": f"{longest['study']}:{name}",
    }
    return pd.DataFrame([row])


def _iso(t: float) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").isoformat(timespec="seconds")


def summarise_benchmarks(
    roots: Iterable[str | os.PathLike],
    results: str | os.PathLike = "results",
    gap_s: float = 60.0,
) -> dict[str, pd.DataFrame]:
    """The three benchmark tables of the workflow's report, from the files under ``roots``.

    Parameters
    ----------
    roots : iterable of path-like
        Folders under ``results`` to search (:func:`benchmark_files`).
    results : path-like
        The results folder.
    gap_s : float
        Longest pause between jobs of one run (:func:`mark_latest_run`).

    Returns
    -------
    dict of pandas.DataFrame
        ``jobs``: every job found, with ``latest_run`` and with ``start_s`` / ``end_s`` in
        seconds from the latest run's first start (negative for earlier runs) in place of the
        Unix times; ``rules``: :func:`rule_table` of the latest run; ``summary``:
        :func:`run_summary` of the latest run.
    """
    roots = [Path(r) for r in roots]
    logs = [p for r in roots if r.is_dir() for p in r.rglob("*.log") if "logs" in p.parts]
    jobs = collect_jobs(benchmark_files(roots), results, logs)
    latest = mark_latest_run(jobs, gap_s)
    run = jobs[latest]
    origin = float(run["start"].min()) if len(run) else 0.0
    table = jobs.assign(
        start=jobs["start"] - origin, end=jobs["end"] - origin, latest_run=latest
    ).rename(columns={"start": "start_s", "end": "end_s"})
    return {"jobs": table, "rules": rule_table(run), "summary": run_summary(run)}
