# Shared rule, included after every study: the wall and CPU time of each job of the run, read from
# the files of the rules' benchmark: directives (src/brainalign/pipeline/benchmarks.py).
#
# Snakemake accepts a benchmark file as the input of another rule, but a missing one then reruns
# its job, and listing every job's file would repeat the DAG by hand. This rule takes the final
# outputs of the run (TARGETS) as input instead, so it runs last and again after any rerun, and
# finds the benchmark files under results/<study>/ of the enabled studies and results/downloads/.
# The summary covers the latest run only (jobs without a pause of more than gap_s seconds).


rule collect_benchmarks:
    input:
        TARGETS,
    output:
        jobs=report(
            "results/benchmarks/jobs.csv",
            caption="../report/benchmarks_jobs.rst",
            category="Benchmarks",
        ),
        rules=report(
            "results/benchmarks/rules.csv",
            caption="../report/benchmarks_rules.rst",
            category="Benchmarks",
        ),
        summary=report(
            "results/benchmarks/summary.csv",
            caption="../report/benchmarks_summary.rst",
            category="Benchmarks",
        ),
    log:
        "results/benchmarks/logs/collect_benchmarks.log",
    benchmark:
        "results/benchmarks/collect_benchmarks.tsv"
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        code=code("benchmarks.py"),
        # the results folder (two levels above results/benchmarks/jobs.csv) and in it the
        # folders of the enabled studies and of the downloads
        results=lambda wildcards, output: str(Path(output.jobs).parents[1]),
        roots=lambda wildcards, output: [
            str(Path(output.jobs).parents[1] / folder)
            for folder in [*STUDIES, "downloads"]
        ],
        gap_s=60,
    script:
        "../scripts/benchmarks.py"


BENCHMARK_TABLES = [
    f"results/benchmarks/{name}.csv" for name in ("jobs", "rules", "summary")
]
