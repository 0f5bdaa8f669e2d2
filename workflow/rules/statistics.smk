# Stage 5: group statistics (repeated-measures ANOVA and post-hoc tests, pingouin).


rule group_statistics:
    input:
        f"{OUT}/tables/comparison.csv",
    output:
        anova=report(
            f"{OUT}/tables/anova.csv",
            caption="../report/anova_table.rst",
            category="Tables",
        ),
        posthoc=report(
            f"{OUT}/tables/posthoc.csv",
            caption="../report/posthoc_table.rst",
            category="Tables",
        ),
    log:
        f"{OUT}/logs/group_statistics.log",
    group:
        "inference"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        comparisons=config["statistics"]["comparisons"],
        mode=config["statistics"]["mode"],
        alpha=config["statistics"]["alpha"],
    script:
        "../scripts/group_statistics.py"
