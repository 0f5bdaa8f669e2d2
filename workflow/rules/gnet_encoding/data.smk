# Stage 1: the NSD-format study (generated, or the pre-placed real files) and one prepared
# archive per subject (ROI voxels' z-scored single-trial betas, resized images, the split).


if GE_SIM:

    rule ge_simulate:
        output:
            root=directory(GE_ROOT),
            planted=f"{GE_OUT}/data/planted.json",
        log:
            f"{GE_OUT}/logs/simulate.log",
        benchmark:
            f"{GE_OUT}/benchmarks/ge_simulate.tsv"
        priority: LONG_CHAIN_PRIORITY
        conda:
            "../../../envs/torch.yaml"
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            code=code("gnet_encoding/simulate.py"),
            simulation=GE["dataset"]["simulation"],
            seed=ge_seed("simulate"),
        script:
            "../../scripts/gnet_encoding/simulate.py"


rule ge_prepare:
    input:
        ge_subject_files,
    output:
        f"{GE_OUT}/prepared/{{ge_subject}}.npz",
    log:
        f"{GE_OUT}/logs/prepare_{{ge_subject}}.log",
    benchmark:
        f"{GE_OUT}/benchmarks/ge_prepare/{{ge_subject}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/torch.yaml"
    resources:
        mem_mb=lambda wc: 2000 if GE_SIM else 24000,
        runtime=lambda wc: 10 if GE_SIM else 120,
    params:
        code=code("gnet_encoding/prepare.py"),
        root=GE_ROOT,
        sessions=lambda wc: ge_sessions(wc.ge_subject),
        rois=GE["rois"],
        image_size=GE["image_size"],
        pool_size=None if GE_SIM else 73000,
        brainmask=GE["dataset"]["brainmask"],
    script:
        "../../scripts/gnet_encoding/prepare.py"


rule ge_dataset:
    input:
        expand(f"{GE_OUT}/prepared/{{s}}.npz", s=GE_SUBJECTS),
    output:
        f"{GE_OUT}/dataset/dataset.json",
    log:
        f"{GE_OUT}/logs/dataset.log",
    benchmark:
        f"{GE_OUT}/benchmarks/ge_dataset.tsv"
    localrule: True
    conda:
        "../../../envs/data.yaml"
    params:
        code=code("gnet_encoding/dataset.py"),
        name=_gen.dataset_name(GE),
        source=GE["dataset"]["source"],
        subjects=GE_SUBJECTS,
    script:
        "../../scripts/gnet_encoding/dataset.py"
