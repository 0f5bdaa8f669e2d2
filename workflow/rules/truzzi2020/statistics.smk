# Stage 5: group statistics (repeated-measures ANOVA and post-hoc tests, pingouin).


rule group_statistics:
    input:
        f"{TZ_OUT}/tables/comparison.csv",
    output:
        anova=report(
            f"{TZ_OUT}/tables/anova.csv",
            caption="../../report/truzzi2020/anova_table.rst",
            category="Tables",
        ),
        posthoc=report(
            f"{TZ_OUT}/tables/posthoc.csv",
            caption="../../report/truzzi2020/posthoc_table.rst",
            category="Tables",
        ),
    log:
        f"{TZ_OUT}/logs/group_statistics.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/group_statistics.tsv"
    group:
        "inference"
    conda:
        "../../../envs/stats.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("truzzi2020/group_statistics.py"),
        comparisons=TZ["statistics"]["comparisons"],
        mode=TZ["statistics"]["mode"],
        alpha=TZ["statistics"]["alpha"],
    script:
        "../../scripts/truzzi2020/group_statistics.py"
