# Stage 4: per-subject comparison (Mantel test) and the noise ceiling of each region.


rule compare_subjects:
    input:
        model=f"{TZ_OUT}/rdms/{{condition}}.npz",
        brain=f"{TZ_OUT}/dataset/brain_rdms.npz",
    output:
        f"{TZ_OUT}/comparison/{{region}}/{{condition}}.csv",
    log:
        f"{TZ_OUT}/logs/compare_subjects/{{region}}/{{condition}}.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/compare_subjects/{{region}}/{{condition}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "inference"
    conda:
        "../../../envs/rsa.yaml"
    # one core per job: the six region x condition jobs run side by side instead
    threads: 1
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        code=code("truzzi2020/compare_subjects.py"),
        method=TZ["comparison"]["method"],
        permutations=TZ["comparison"]["permutations"],
        alternative=TZ["comparison"]["alternative"],
        seed=lambda wc: derive_seed(config["seed"], "mantel", wc.condition, wc.region),
        dataset=TZ_DS,
    script:
        "../../scripts/truzzi2020/compare_subjects.py"


rule noise_ceiling:
    input:
        f"{TZ_OUT}/dataset/brain_rdms.npz",
    output:
        report(
            f"{TZ_OUT}/tables/noise_ceiling.csv",
            caption="../../report/truzzi2020/noise_ceiling_table.rst",
            category="Tables",
        ),
    log:
        f"{TZ_OUT}/logs/noise_ceiling.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/noise_ceiling.tsv"
    group:
        "dataset"
    conda:
        "../../../envs/rsa.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("truzzi2020/noise_ceiling.py"),
        method=TZ["comparison"]["method"],
        regions=TZ_REGIONS,
        dataset=TZ_DS,
    script:
        "../../scripts/truzzi2020/noise_ceiling.py"


rule collect_tables:
    input:
        comparison=expand(
            f"{TZ_OUT}/comparison/{{region}}/{{condition}}.csv",
            region=TZ_REGIONS,
            condition=TZ_CONDITIONS,
        ),
    output:
        comparison=report(
            f"{TZ_OUT}/tables/comparison.csv",
            caption="../../report/truzzi2020/comparison_table.rst",
            category="Tables",
        ),
    log:
        f"{TZ_OUT}/logs/collect_tables.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/collect_tables.tsv"
    group:
        "inference"
    conda:
        "../../../envs/rsa.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code("truzzi2020/collect_tables.py"),
    script:
        "../../scripts/truzzi2020/collect_tables.py"
