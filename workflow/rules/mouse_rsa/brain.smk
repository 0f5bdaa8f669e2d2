# Stage 2: pseudo-population responses per area x depth, half-trial brain RDMs, split-half
# noise ceilings (one job per stimulus, vectorised over the resamples).


rule mr_responses:
    input:
        experiments=rules.mr_select.output.experiments,
    output:
        responses=f"{MR_OUT}/responses/{{mr_stimulus}}.npz",
        cells=f"{MR_OUT}/responses/cells_{{mr_stimulus}}.csv",
    log:
        f"{MR_OUT}/logs/responses_{{mr_stimulus}}.log",
    benchmark:
        f"{MR_OUT}/benchmarks/mr_responses/{{mr_stimulus}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "mr_brain"
    conda:
        "../../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        code=code("mouse_rsa/responses.py"),
        combos=MR_COMBOS,
    script:
        "../../scripts/mouse_rsa/responses.py"


rule mr_brain_rdms:
    input:
        rules.mr_responses.output.responses,
    output:
        f"{MR_OUT}/rdms/brain_{{mr_stimulus}}.npz",
    log:
        f"{MR_OUT}/logs/brain_rdms_{{mr_stimulus}}.log",
    benchmark:
        f"{MR_OUT}/benchmarks/mr_brain_rdms/{{mr_stimulus}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "mr_brain"
    conda:
        "../../../envs/rsa.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        code=code("mouse_rsa/brain_rdms.py"),
        n_bootstrap=MR["rsa"]["n_bootstrap"],
        seed=lambda wc: mr_seed("brain_rdms", wc.mr_stimulus),
    script:
        "../../scripts/mouse_rsa/brain_rdms.py"


rule mr_ceilings:
    input:
        rules.mr_responses.output.responses,
    output:
        f"{MR_OUT}/ceilings/{{mr_stimulus}}.csv",
    log:
        f"{MR_OUT}/logs/ceilings_{{mr_stimulus}}.log",
    benchmark:
        f"{MR_OUT}/benchmarks/mr_ceilings/{{mr_stimulus}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "mr_brain"
    conda:
        "../../../envs/rsa.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        code=code("mouse_rsa/ceilings.py"),
        n_splits=MR["rsa"]["n_splits"],
        seed=lambda wc: mr_seed("ceilings", wc.mr_stimulus),
    script:
        "../../scripts/mouse_rsa/ceilings.py"
