# Stage 1: the Kay-format data set (simulated, or the real files) and its record.


if DR_SIMULATED:

    rule dr_simulate:
        output:
            images=f"{DR_OUT}/data/kay_images.npz",
            labels=f"{DR_OUT}/data/kay_labels.npy",
            labels_val=f"{DR_OUT}/data/kay_labels_val.npy",
            planted=f"{DR_OUT}/data/planted.json",
            latent=f"{DR_OUT}/data/planted_latent.npz",
        log:
            f"{DR_OUT}/logs/simulate.log",
        benchmark:
            f"{DR_OUT}/benchmarks/dr_simulate.tsv"
        priority: LONG_CHAIN_PRIORITY
        group:
            "dr_dataset"
        conda:
            "../../../envs/data.yaml"
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            code=code("decoding_robustness/simulate.py"),
            simulation=DR["dataset"]["simulation"],
            seed=dr_seed("simulate"),
        script:
            "../../scripts/decoding_robustness/simulate.py"


rule dr_dataset:
    input:
        dr_kay_files(),
    output:
        record=f"{DR_OUT}/dataset/dataset.json",
        item_table=report(
            f"{DR_OUT}/tables/items.csv",
            caption="../../report/decoding_robustness/items.rst",
            category="Robustness vs brain similarity",
            subcategory="Data",
        ),
    log:
        f"{DR_OUT}/logs/dataset.log",
    benchmark:
        f"{DR_OUT}/benchmarks/dr_dataset.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "dr_dataset"
    conda:
        "../../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        code=code("decoding_robustness/dataset.py"),
        name=_drd.dataset_name(DR),
        voxel_filter=DR["variants"]["voxel_filter"],
    script:
        "../../scripts/decoding_robustness/dataset.py"
