# Stage 4: per-subject comparison (Mantel test) and the noise ceiling of each region.


rule compare_subjects:
    input:
        model=f"{OUT}/rdms/{{condition}}.npz",
        brain=f"{OUT}/dataset/brain_rdms.npz",
    output:
        f"{OUT}/comparison/{{region}}/{{condition}}.csv",
    log:
        f"{OUT}/logs/compare_subjects/{{region}}/{{condition}}.log",
    group:
        "inference"
    conda:
        "../../envs/rsa.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        method=config["comparison"]["method"],
        permutations=config["comparison"]["permutations"],
        alternative=config["comparison"]["alternative"],
        seed=lambda wc: derive_seed(config["seed"], "mantel", wc.condition, wc.region),
        dataset=DS,
    script:
        "../scripts/compare_subjects.py"


rule noise_ceiling:
    input:
        f"{OUT}/dataset/brain_rdms.npz",
    output:
        report(
            f"{OUT}/tables/noise_ceiling.csv",
            caption="../report/noise_ceiling_table.rst",
            category="Tables",
        ),
    log:
        f"{OUT}/logs/noise_ceiling.log",
    group:
        "dataset"
    conda:
        "../../envs/rsa.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        method=config["comparison"]["method"],
        regions=REGIONS,
        dataset=DS,
    script:
        "../scripts/noise_ceiling.py"


rule collect_tables:
    input:
        comparison=expand(
            f"{OUT}/comparison/{{region}}/{{condition}}.csv",
            region=REGIONS,
            condition=CONDITIONS,
        ),
    output:
        comparison=report(
            f"{OUT}/tables/comparison.csv",
            caption="../report/comparison_table.rst",
            category="Tables",
        ),
    log:
        f"{OUT}/logs/collect_tables.log",
    group:
        "inference"
    conda:
        "../../envs/rsa.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/collect_tables.py"
