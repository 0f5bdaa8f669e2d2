# Stage 1: the stimulus set and the subject RDMs, in two chains so that a change on the brain side
# (regions, subjects, simulated noise) leaves the stimuli, and so the networks, untouched.


if TZ["dataset"]["kind"] == "synthetic":

    rule simulate_stimuli:
        output:
            stimuli=f"{TZ_OUT}/data/{TZ_SYNTH_SET}/{TZ_SYNTH_N}images.mat",
            images=directory(f"{TZ_OUT}/data/{TZ_SYNTH_SET}/{TZ_SYNTH_N}images"),
        log:
            f"{TZ_OUT}/logs/simulate_stimuli.log",
        benchmark:
            f"{TZ_OUT}/benchmarks/simulate_stimuli.tsv"
        # first link of the training chain (tz_training_set needs the test images)
        priority: LONG_CHAIN_PRIORITY
        group:
            "dataset"
        conda:
            "../../../envs/torch.yaml"
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            code=code("truzzi2020/simulate_stimuli.py"),
            n_images=TZ_SYNTH_N,
            seed=derive_seed(config["seed"], "synthetic-dataset"),
        script:
            "../../scripts/truzzi2020/simulate_stimuli.py"

    rule simulate_dataset:
        input:
            stimuli=rules.simulate_stimuli.output.stimuli,
            images=rules.simulate_stimuli.output.images,
        output:
            fmri=f"{TZ_OUT}/data/{TZ_SYNTH_SET}/target_fmri.mat",
            truth=f"{TZ_OUT}/data/{TZ_SYNTH_SET}/ground_truth.json",
            truth_rdms=f"{TZ_OUT}/data/{TZ_SYNTH_SET}/ground_truth.npz",
        log:
            f"{TZ_OUT}/logs/simulate_dataset.log",
        benchmark:
            f"{TZ_OUT}/benchmarks/simulate_dataset.tsv"
        priority: LONG_CHAIN_PRIORITY
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


rule prepare_stimuli:
    input:
        tz_stimulus_inputs,
    output:
        f"{TZ_OUT}/dataset/stimuli.npz",
    log:
        f"{TZ_OUT}/logs/prepare_stimuli.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/prepare_stimuli.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "dataset"
    conda:
        "../../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("truzzi2020/prepare_stimuli.py"),
        kind=TZ["dataset"]["kind"],
        path=tz_dataset_path(),
    script:
        "../../scripts/truzzi2020/prepare_stimuli.py"


rule prepare_dataset:
    input:
        tz_dataset_inputs,
    output:
        rdms=f"{TZ_OUT}/dataset/brain_rdms.npz",
        info=f"{TZ_OUT}/dataset/dataset.json",
    log:
        f"{TZ_OUT}/logs/prepare_dataset.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/prepare_dataset.tsv"
    priority: LONG_CHAIN_PRIORITY
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
