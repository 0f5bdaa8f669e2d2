"""The benchmark collector on planted Snakemake benchmark files with known end times."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from brainalign.pipeline.benchmarks import (
    BENCHMARK_COLUMNS,
    benchmark_files,
    collect_jobs,
    last_cpu_reading,
    mark_latest_run,
    parse_benchmark_path,
    read_benchmark,
    summarise_benchmarks,
)
from brainalign.pipeline.sampling import SHORT_READINGS, SHORT_S, set_benchmark_sampling

#: A fixed clock: the latest planted run starts here.
T0 = 1_800_000_000.0


def _row(s: float, cpu: float | None, rss: float = 100.0, load: float = 90.0) -> str:
    hms = f"0:00:{int(s):02d}"
    cpu_text = "NA" if cpu is None else f"{cpu:.2f}"
    return (
        f"{s:.4f}\t{hms}\t{rss:.2f}\t{rss * 3:.2f}\t{rss * 0.9:.2f}\t{rss * 0.95:.2f}\t"
        f"1.50\t0.25\t{load:.2f}\t{cpu_text}"
    )


def _plant(root: Path, rel: str, rows: list[str], end: float) -> Path:
    """A benchmark file in Snakemake's format whose modification time (job end) is ``end``."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\t".join(BENCHMARK_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    os.utime(path, (end, end))
    return path


@pytest.fixture
def results(tmp_path) -> Path:
    """Two runs: an old one (one job, 1000 s earlier) and the latest (four jobs over 30 s)."""
    res = tmp_path / "results"
    tz = "truzzi2020/small/benchmarks"
    # the latest run: [0, 10], [2, 25], [23, 28] (two repeats), [25, 30] (no CPU reading)
    _plant(res, f"{tz}/noise_ceiling.tsv", [_row(10, 9.0)], T0 + 10)
    _plant(res, f"{tz}/compare_subjects/IT/alexnet_untrained.tsv", [_row(23, 38.0, 250)], T0 + 25)
    _plant(res, f"{tz}/figure_profiles/IT.tsv", [_row(2, 1.0), _row(3, 2.0)], T0 + 28)
    _plant(res, "dwivedi2021/simulated/benchmarks/fmaps_roi.tsv", [_row(5, None)], T0 + 30)
    # an earlier run
    _plant(res, f"{tz}/layer_rdms/alexnet_untrained.tsv", [_row(3, 3.0)], T0 - 1000)
    # the collector's own file (outside the searched roots) and a non-benchmark TSV
    _plant(res, "benchmarks/collect_benchmarks.tsv", [_row(1, 1.0)], T0 + 40)
    (res / "dwivedi2021" / "simulated" / "labels.tsv").write_text("a\tb\n")
    return res


def _roots(results: Path) -> list[Path]:
    return [results / "truzzi2020", results / "dwivedi2021", results / "downloads"]


def test_paths_name_study_dataset_rule_and_job(tmp_path):
    res = tmp_path / "results"
    cases = {
        "truzzi2020/small/benchmarks/noise_ceiling.tsv": (
            "truzzi2020",
            "small",
            "noise_ceiling",
            "",
        ),
        "truzzi2020/small/benchmarks/compare_subjects/IT/alexnet_untrained.tsv": (
            "truzzi2020",
            "small",
            "compare_subjects",
            "IT/alexnet_untrained",
        ),
        "downloads/benchmarks/download_file/weights/a.pth.tsv": (
            "downloads",
            "",
            "download_file",
            "weights/a.pth",
        ),
    }
    for rel, (study, dataset, rule, job) in cases.items():
        got = parse_benchmark_path(res / rel, res)
        assert got == {"study": study, "dataset": dataset, "rule": rule, "job": job}, rel
    with pytest.raises(ValueError, match="not a file under"):
        parse_benchmark_path(res / "benchmarks" / "collect_benchmarks.tsv", res)


def test_files_are_found_only_under_benchmark_folders_of_the_roots(results):
    found = [p.relative_to(results).as_posix() for p in benchmark_files(_roots(results))]
    assert len(found) == 5
    assert "benchmarks/collect_benchmarks.tsv" not in found
    assert all("/benchmarks/" in p for p in found)


def test_repeats_are_summed_and_a_missing_reading_is_nan(results):
    rec = read_benchmark(results / "truzzi2020/small/benchmarks/figure_profiles/IT.tsv")
    assert (rec["wall_s"], rec["cpu_s"], rec["repeats"]) == (5.0, 3.0, 2)
    assert rec["io_in_mb"] == 3.0 and rec["max_rss_mb"] == 100.0
    rec = read_benchmark(results / "dwivedi2021/simulated/benchmarks/fmaps_roi.tsv")
    assert math.isnan(rec["cpu_s"]) and rec["wall_s"] == 5.0


def test_start_is_the_end_time_minus_the_wall_time(results):
    jobs = collect_jobs(benchmark_files(_roots(results)), results)
    by_rule = jobs.set_index("rule")
    assert by_rule.loc["compare_subjects", "start"] == pytest.approx(T0 + 2)
    assert by_rule.loc["compare_subjects", "end"] == pytest.approx(T0 + 25)
    # CPU last read at 20 s of 23 (every 10 s): 38 CPU s extrapolated to 23 s
    assert by_rule.loc["compare_subjects", "cpu_est_s"] == pytest.approx(38 * 23 / 20)
    assert by_rule.loc["compare_subjects", "cores"] == pytest.approx(38 / 20)
    assert by_rule.loc["compare_subjects", "job"] == "IT/alexnet_untrained"
    assert list(jobs["rule"]) == [  # sorted by start
        "layer_rdms",
        "noise_ceiling",
        "compare_subjects",
        "figure_profiles",
        "fmaps_roi",
    ]


def test_summary_covers_only_the_latest_run(results):
    tables = summarise_benchmarks(_roots(results), results)
    summary = tables["summary"].iloc[0]
    # latest run: jobs over [0, 30]; CPU 9 + 38 + 3 + 0 (no reading); wall 10 + 23 + 5 + 5
    assert summary["jobs"] == 4
    assert summary["jobs_without_cpu"] == 1
    assert summary["span_s"] == pytest.approx(30.0)
    assert summary["cpu_s"] == pytest.approx(50.0)
    assert summary["cores_busy"] == pytest.approx(50.0 / 30.0)
    assert summary["jobs_running"] == pytest.approx(43.0 / 30.0)
    # extrapolated: 9 (read at 10 s of 10) + 38 * 23 / 20 + 3 (two repeats of 2.5 s on average,
    # read only at their start: kept as read)
    assert summary["cpu_est_s"] == pytest.approx(9 + 38 * 23 / 20 + 3)
    assert summary["cores_busy_est"] == pytest.approx((9 + 38 * 23 / 20 + 3) / 30)
    assert summary["longest_job"] == "truzzi2020:compare_subjects/IT/alexnet_untrained"
    jobs = tables["jobs"].set_index("rule")
    assert not jobs.loc["layer_rdms", "latest_run"]
    assert jobs.loc["layer_rdms", "end_s"] == pytest.approx(-1000.0)
    assert jobs.loc["fmaps_roi", "start_s"] == pytest.approx(25.0)
    rules = tables["rules"].set_index("rule")
    assert "layer_rdms" not in rules.index
    assert rules.loc["compare_subjects", "cpu_share"] == pytest.approx(
        (38 * 23 / 20) / (9 + 38 * 23 / 20 + 3)
    )
    assert list(tables["rules"]["rule"])[0] == "compare_subjects"  # most CPU first


@pytest.mark.parametrize(
    "wall, last", [(0.3, 0.0), (1.2, 1.0), (14.9, 14.5), (15.0, 15.0), (44.9, 15.0), (46, 45.0)]
)
def test_last_cpu_reading_follows_snakemakes_sampling(wall, last):
    # Snakemake's own schedule: every 0.5 s until 15 s, then every 30 s (snakemake.benchmark)
    assert last_cpu_reading(wall, short_s=0.5) == pytest.approx(last)


@pytest.mark.parametrize(
    "wall, last", [(9.9, 0.0), (10.0, 10.0), (299.9, 290.0), (300.0, 300.0), (331.0, 330.0)]
)
def test_last_cpu_reading_follows_the_workflows_sampling(wall, last):
    # every 10 s for 30 readings (until 300 s), then every 30 s (brainalign.pipeline.sampling)
    assert SHORT_S == 10.0
    assert last_cpu_reading(wall) == pytest.approx(last)


def test_the_sampling_interval_reaches_snakemakes_timers(monkeypatch):
    """set_benchmark_sampling changes the interval Snakemake's benchmark timer arms for its
    first readings (and so fails this test if a Snakemake release stops reading the global)."""
    import snakemake.benchmark as bench

    armed = []

    class Recorder:
        def __init__(self, interval, function, args=None, kwargs=None):
            armed.append(interval)

        def start(self):
            pass

        def cancel(self):
            pass

    monkeypatch.setattr(bench, "BENCHMARK_INTERVAL_SHORT", bench.BENCHMARK_INTERVAL_SHORT)
    monkeypatch.setattr(bench, "DaemonTimer", Recorder)
    assert set_benchmark_sampling(2.5)

    class Timer(bench.ScheduledPeriodicTimer):
        def work(self):
            pass

    timer = Timer(bench.BENCHMARK_INTERVAL)
    timer.start()
    for _ in range(SHORT_READINGS + 3):
        timer._action()
    assert armed[:SHORT_READINGS] == [2.5] * SHORT_READINGS
    assert armed[SHORT_READINGS:] == [bench.BENCHMARK_INTERVAL] * 4
    with pytest.raises(ValueError, match="positive"):
        set_benchmark_sampling(0)


@pytest.mark.parametrize("pause, together", [(59.0, True), (61.0, False)])
def test_a_pause_longer_than_the_gap_starts_a_new_run(tmp_path, pause, together):
    res = tmp_path / "results"
    _plant(res, "s/d/benchmarks/a.tsv", [_row(10, 10.0)], T0 + 10)
    _plant(res, "s/d/benchmarks/b.tsv", [_row(10, 10.0)], T0 + 20 + pause)
    jobs = collect_jobs(benchmark_files([res / "s"]), res)
    latest = mark_latest_run(jobs, gap_s=60.0)
    assert list(latest) == [together, True]


def _log(
    root: Path, rel: str, rule: str, wall: float, cpu: float, end: float, rss: float | None = None
) -> None:
    """A job log ending as rule_context ends it (without ``rss``: as older versions did)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    peak = "" if rss is None else f", peak RSS {rss:.0f} MB"
    path.write_text(
        f"x INFO start\nx INFO rule {rule} finished in {wall:.1f} s (CPU {cpu:.1f} s{peak})\n"
    )
    os.utime(path, (end, end))


def test_exact_logged_cpu_replaces_the_estimate(results):
    """A job whose log ends with the rule's exact CPU seconds (any log name) uses them; the
    others keep the extrapolated reading; the summary sums the exact values."""
    tz = results / "truzzi2020" / "small" / "logs"
    _log(tz, "noise_ceiling.log", "noise_ceiling", 9.6, 9.9, T0 + 10.5)
    _log(tz, "compare_IT_alexnet.log", "compare_subjects", 19.5, 39.5, T0 + 25.2, rss=900)
    _log(tz, "figure_profiles_IT.log", "figure_profiles", 2.9, 1.5, T0 + 28.1, rss=60)
    _log(tz, "old_compare.log", "compare_subjects", 3.0, 99.0, T0 - 500)  # another run: unused
    (tz / "other.log").write_text("no timing line\n")
    tables = summarise_benchmarks(_roots(results), results)
    jobs = tables["jobs"].set_index("rule")
    assert jobs.loc["noise_ceiling", "cpu_est_s"] == 9.9
    assert jobs.loc["compare_subjects", "cpu_est_s"] == 39.5
    assert bool(jobs.loc["noise_ceiling", "cpu_logged"])
    assert not jobs.loc[["fmaps_roi", "layer_rdms"], "cpu_logged"].any()
    # peak memory: the logged peak where it exceeds the sampled one (250 MB), the sampled one
    # where the log has a lower peak (60 < 100 MB) or none (an older log line)
    assert jobs.loc["compare_subjects", "max_rss_mb"] == 900.0
    assert jobs.loc["figure_profiles", "max_rss_mb"] == 100.0
    assert jobs.loc["noise_ceiling", "max_rss_mb"] == 100.0
    assert tables["rules"].set_index("rule").loc["compare_subjects", "max_rss_mb"] == 900.0
    summary = tables["summary"].iloc[0]
    latest = tables["jobs"][tables["jobs"]["latest_run"]]
    assert summary["cpu_est_s"] == pytest.approx(latest["cpu_est_s"].fillna(0).sum())
    assert summary["cores_busy_est"] == pytest.approx(summary["cpu_est_s"] / summary["span_s"])
