# Stage 1: the Allen-format cache (generated, or fetched with AllenSDK in its own environment),
# the selected experiments and the stimulus clips.


if MR_SIM:

    rule mr_simulate:
        output:
            cache=directory(MR_CACHE),
            planted=f"{MR_OUT}/data/planted.json",
        log:
            f"{MR_OUT}/logs/simulate.log",
        benchmark:
            f"{MR_OUT}/benchmarks/mr_simulate.tsv"
        priority: LONG_CHAIN_PRIORITY
        group:
            "mr_dataset"
        conda:
            "../../../envs/torch.yaml"
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            code=code("mouse_rsa/simulate.py"),
            areas=MR["areas"],
            depths=MR["depths"],
            cre_line=MR["cre_line"],
            simulation=MR["dataset"]["simulation"],
            seed=mr_seed("simulate"),
        script:
            "../../scripts/mouse_rsa/simulate.py"

else:

    rule mr_download:
        output:
            listing=f"{MR_OUT}/data/allen_listing.json",
        log:
            f"{MR_OUT}/logs/download.log",
        benchmark:
            f"{MR_OUT}/benchmarks/mr_download.tsv"
        conda:
            "../../../envs/allensdk.yaml"
        resources:
            mem_mb=4000,
            runtime=600,
        params:
            code=code("mouse_rsa/download_allen.py"),
            python=lambda wc: (
                "python"
                if "conda"
                in str(workflow.deployment_settings.deployment_method).lower()
                else MR["dataset"]["sdk_python"]
            ),
            script=workflow.source_path("../../scripts/mouse_rsa/download_allen.py"),
            manifest=f"{MR_CACHE}/manifest.json",
            areas=" ".join(MR["areas"]),
            depths=" ".join(str(d) for d in MR["depths"]),
            stimuli=" ".join(MR_STIMULI),
            cre_line=MR["cre_line"],
        shell:
            "{params.python} {params.script} --manifest {params.manifest:q}"
            " --areas {params.areas} --depths {params.depths}"
            " --cre-line {params.cre_line:q} --stimuli {params.stimuli}"
            " --out {output.listing:q} > {log:q} 2>&1"


rule mr_select:
    input:
        rules.mr_simulate.output.cache if MR_SIM else rules.mr_download.output.listing,
    output:
        experiments=f"{MR_OUT}/dataset/experiments.csv",
        record=f"{MR_OUT}/dataset/dataset.json",
    log:
        f"{MR_OUT}/logs/select.log",
    benchmark:
        f"{MR_OUT}/benchmarks/mr_select.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "mr_dataset"
    conda:
        "../../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("mouse_rsa/selection.py"),
        cache=lambda wc, input: input[0] if MR_SIM else MR_CACHE,
        name=_mrn.dataset_name(MR),
        areas=MR["areas"],
        depths=MR["depths"],
        cre_line=MR["cre_line"],
        stimuli=MR_STIMULI,
    script:
        "../../scripts/mouse_rsa/selection.py"


rule mr_stimuli:
    input:
        experiments=rules.mr_select.output.experiments,
    output:
        f"{MR_OUT}/dataset/stimuli.npz",
    log:
        f"{MR_OUT}/logs/stimuli.log",
    benchmark:
        f"{MR_OUT}/benchmarks/mr_stimuli.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "mr_dataset"
    conda:
        "../../../envs/torch.yaml"
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        code=code("mouse_rsa/stimuli.py"),
    script:
        "../../scripts/mouse_rsa/stimuli.py"
