"""Collect the benchmark files of every job into the job, per-rule and summary tables."""

from brainalign.io.files import write_table
from brainalign.pipeline.benchmarks import summarise_benchmarks
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    tables = summarise_benchmarks(p.roots, p.results, p.gap_s)
    for name in ("jobs", "rules", "summary"):
        write_table(tables[name], snakemake.output[name])
    jobs = tables["jobs"]
    log.info("%d benchmark files, %d of the latest run", len(jobs), int(jobs["latest_run"].sum()))
    for key, value in tables["summary"].iloc[0].items():
        log.info("%s: %s", key, value)
