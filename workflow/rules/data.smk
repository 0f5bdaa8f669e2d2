# Stage 1: the stimulus set and the subject RDMs.


if config["dataset"]["kind"] == "synthetic":

    rule simulate_dataset:
        output:
            fmri=f"{OUT}/data/{SYNTH_SET}/target_fmri.mat",
            stimuli=f"{OUT}/data/{SYNTH_SET}/{SYNTH_N}images.mat",
            images=directory(f"{OUT}/data/{SYNTH_SET}/{SYNTH_N}images"),
            truth=f"{OUT}/data/{SYNTH_SET}/ground_truth.json",
            truth_rdms=f"{OUT}/data/{SYNTH_SET}/ground_truth.npz",
        log:
            f"{OUT}/logs/simulate_dataset.log",
        group:
            "dataset"
        conda:
            "../../envs/torch.yaml"
        resources:
            mem_mb=3000,
            runtime=15,
        params:
            synthetic=config["dataset"]["synthetic"],
            seed=derive_seed(config["seed"], "synthetic-dataset"),
        script:
            "../scripts/simulate_dataset.py"


rule prepare_dataset:
    input:
        dataset_inputs,
    output:
        stimuli=f"{OUT}/dataset/stimuli.npz",
        rdms=f"{OUT}/dataset/brain_rdms.npz",
        info=f"{OUT}/dataset/dataset.json",
    log:
        f"{OUT}/logs/prepare_dataset.log",
    group:
        "dataset"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        kind=config["dataset"]["kind"],
        path=dataset_path(config["dataset"], OUT),
        regions=REGIONS,
        options=config["dataset"]["options"],
        name=DS,
    script:
        "../scripts/prepare_dataset.py"
