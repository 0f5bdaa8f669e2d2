# Stage 3: model layer RDMs (one job per model and seed; the pixel baseline).


rule mr_model_rdms:
    input:
        rules.mr_stimuli.output[0],
    output:
        f"{MR_OUT}/rdms/model_{{mr_run}}.npz",
    log:
        f"{MR_OUT}/logs/model_rdms_{{mr_run}}.log",
    benchmark:
        f"{MR_OUT}/benchmarks/mr_model_rdms/{{mr_run}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "mr_models"
    conda:
        "../../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=code("mouse_rsa/model_rdms.py"),
        model=lambda wc: mr_model_of(wc.mr_run) if wc.mr_run != _mrn.PIXEL else None,
        stimuli=MR_STIMULI,
        normalisation=MR["normalisation"],
        device=config["networks"]["device"],
        seed=lambda wc: mr_seed("model", wc.mr_run),
    script:
        "../../scripts/mouse_rsa/model_rdms.py"
