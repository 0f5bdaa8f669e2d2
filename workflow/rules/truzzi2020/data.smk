# Stage 1: the stimulus set and the subject RDMs.


if TZ["dataset"]["kind"] == "synthetic":

    rule simulate_dataset:
        output:
            fmri=f"{TZ_OUT}/data/{TZ_SYNTH_SET}/target_fmri.mat",
            stimuli=f"{TZ_OUT}/data/{TZ_SYNTH_SET}/{TZ_SYNTH_N}images.mat",
            images=directory(f"{TZ_OUT}/data/{TZ_SYNTH_SET}/{TZ_SYNTH_N}images"),
            truth=f"{TZ_OUT}/data/{TZ_SYNTH_SET}/ground_truth.json",
            truth_rdms=f"{TZ_OUT}/data/{TZ_SYNTH_SET}/ground_truth.npz",
        log:
            f"{TZ_OUT}/logs/simulate_dataset.log",
        group:
            "dataset"
        conda:
            "../../../envs/torch.yaml"
        resources:
            mem_mb=3000,
            runtime=15,
        params:
            code=code("truzzi2020/simulate_dataset.py"),
            synthetic=TZ["dataset"]["synthetic"],
            seed=derive_seed(config["seed"], "synthetic-dataset"),
        script:
            "../../scripts/truzzi2020/simulate_dataset.py"


rule prepare_dataset:
    input:
        tz_dataset_inputs,
    output:
        stimuli=f"{TZ_OUT}/dataset/stimuli.npz",
        rdms=f"{TZ_OUT}/dataset/brain_rdms.npz",
        info=f"{TZ_OUT}/dataset/dataset.json",
    log:
        f"{TZ_OUT}/logs/prepare_dataset.log",
    group:
        "dataset"
    conda:
        "../../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("truzzi2020/prepare_dataset.py"),
        kind=TZ["dataset"]["kind"],
        path=tz_dataset_path(),
        regions=TZ_REGIONS,
        options=TZ["dataset"]["options"],
        name=TZ_DS,
    script:
        "../../scripts/truzzi2020/prepare_dataset.py"
