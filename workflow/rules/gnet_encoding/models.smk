# Stage 2: GNet8j and one GNet8r per ROI (methods 4.3), each with its per-voxel validation
# accuracy; the transfer readouts of each frozen GNet8r encoder; the ridge baseline.


rule ge_train:
    input:
        expand(f"{GE_OUT}/prepared/{{s}}.npz", s=GE_SUBJECTS),
    output:
        model=f"{GE_OUT}/models/{{ge_model}}.pt",
        accuracy=f"{GE_OUT}/accuracy/{{ge_model}}.csv",
        history=f"{GE_OUT}/models/{{ge_model}}_history.csv",
    log:
        f"{GE_OUT}/logs/train_{{ge_model}}.log",
    benchmark:
        f"{GE_OUT}/benchmarks/ge_train/{{ge_model}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=GE["resources"]["mem_mb"],
        runtime=GE["resources"]["runtime"],
        gpu=GE["resources"]["gpu"],
        slurm_extra=GE["resources"]["slurm_extra"] or "",
    params:
        code=code("gnet_encoding/train.py"),
        training=GE["training"],
        weights=GE_WEIGHTS,
        prefilter_seed=ge_seed("prefilter"),
        device=config["networks"]["device"],
        seed=lambda wc: ge_seed("train", wc.ge_model),
    script:
        "../../scripts/gnet_encoding/train.py"


rule ge_transfer:
    input:
        prepared=expand(f"{GE_OUT}/prepared/{{s}}.npz", s=GE_SUBJECTS),
        model=f"{GE_OUT}/models/gnet8r_{{ge_source}}.pt",
    output:
        accuracy=f"{GE_OUT}/transfer/{{ge_source}}.csv",
        history=f"{GE_OUT}/transfer/{{ge_source}}_history.csv",
    log:
        f"{GE_OUT}/logs/transfer_{{ge_source}}.log",
    benchmark:
        f"{GE_OUT}/benchmarks/ge_transfer/{{ge_source}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=GE["resources"]["mem_mb"],
        runtime=GE["resources"]["runtime"],
        gpu=GE["resources"]["gpu"],
        slurm_extra=GE["resources"]["slurm_extra"] or "",
    params:
        code=code("gnet_encoding/transfer.py"),
        training=GE["training"],
        epochs=GE["transfer"]["epochs"] or GE["training"]["epochs"],
        weights=GE_WEIGHTS,
        prefilter_seed=ge_seed("prefilter"),
        device=config["networks"]["device"],
        seed=lambda wc: ge_seed("transfer", wc.ge_source),
    script:
        "../../scripts/gnet_encoding/transfer.py"


rule ge_ridge:
    input:
        f"{GE_OUT}/prepared/{{ge_subject}}.npz",
    output:
        f"{GE_OUT}/accuracy/ridge_{{ge_subject}}.csv",
    log:
        f"{GE_OUT}/logs/ridge_{{ge_subject}}.log",
    benchmark:
        f"{GE_OUT}/benchmarks/ge_ridge/{{ge_subject}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: 2000 if GE_SIM else 32000,
        runtime=lambda wc: 10 if GE_SIM else 600,
    params:
        code=code("gnet_encoding/ridge.py"),
        ridge=GE["ridge"],
        holdout=GE["training"]["holdout"],
        weights=GE_WEIGHTS,
        prefilter_seed=ge_seed("prefilter"),
    script:
        "../../scripts/gnet_encoding/ridge.py"
