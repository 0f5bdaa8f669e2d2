# Stage 2b: networks trained from images (truzzi2020.training.networks). Their checkpoints feed
# the <network>_trained conditions through the shared extract_activations rule (weights_for).
# One job per network; a killed job resumes from its last epoch (training/<network>/state/).

TZ_TRAINING = TZ["training"]
TZ_TRAINED = TZ_TRAINING["networks"]
TZ_TRAIN_OUT = f"{TZ_OUT}/training"
WORKFLOW_WEIGHTS["truzzi2020"] = {
    net: f"{TZ_TRAIN_OUT}/{net}/checkpoint.pth.tar" for net in TZ_TRAINED
}


#: The ImageNet-layout folder the training reads (embedded: drawn by tz_training_set).
TZ_TRAINING_IMAGES = (
    f"{TZ_TRAIN_OUT}/images"
    if TZ_TRAINING["images"]["kind"] == "embedded"
    else TZ_TRAINING["images"]["path"]
)


if TZ_TRAINED:
    TARGETS += [f"{TZ_OUT}/tables/training.csv"]
    TARGETS += figure_paths(TZ_OUT, "training_curves", TZ_FORMATS)


wildcard_constraints:
    tnet="|".join(TZ_TRAINED) or "(?!)",


rule tz_training_set:
    input:
        stimuli=f"{TZ_OUT}/dataset/stimuli.npz",
    output:
        directory(f"{TZ_TRAIN_OUT}/images"),
    log:
        f"{TZ_OUT}/logs/tz_training_set.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/tz_training_set.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/torch.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("truzzi2020/training_set.py"),
        train_per_category=TZ_TRAINING["images"]["train_per_category"],
        val_per_category=TZ_TRAINING["images"]["val_per_category"],
        seed=derive_seed(config["seed"], "training-images"),
    script:
        "../../scripts/truzzi2020/training_set.py"


rule tz_train:
    input:
        images=TZ_TRAINING_IMAGES,
    output:
        checkpoint=f"{TZ_TRAIN_OUT}/{{tnet}}/checkpoint.pth.tar",
        history=f"{TZ_TRAIN_OUT}/{{tnet}}/history.csv",
    log:
        f"{TZ_OUT}/logs/tz_train/{{tnet}}.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/tz_train/{{tnet}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    conda:
        "../../../envs/torch.yaml"
    # one core for the (deterministic, one-thread) training, one per image-decoding worker
    threads: 1 + TZ_TRAINING["workers"]
    resources:
        mem_mb=TZ_TRAINING["resources"]["mem_mb"],
        runtime=TZ_TRAINING["resources"]["runtime"],
        gpu=TZ_TRAINING["resources"]["gpu"],
        slurm_extra=TZ_TRAINING["resources"]["slurm_extra"] or "",
    params:
        code=code("truzzi2020/train_network.py"),
        training={
            k: v for k, v in TZ_TRAINING.items() if k not in ("networks", "resources")
        },
        seed=lambda wc: derive_seed(config["seed"], "training", wc.tnet),
        state=lambda wc: f"{TZ_TRAIN_OUT}/{wc.tnet}/state",
    script:
        "../../scripts/truzzi2020/train_network.py"


rule tz_training_table:
    input:
        expand(f"{TZ_TRAIN_OUT}/{{tnet}}/history.csv", tnet=TZ_TRAINED),
    output:
        report(
            f"{TZ_OUT}/tables/training.csv",
            caption="../../report/truzzi2020/training_table.rst",
            category="Tables",
        ),
    log:
        f"{TZ_OUT}/logs/tz_training_table.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/tz_training_table.tsv"
    localrule: True
    conda:
        "../../../envs/data.yaml"
    params:
        code=code("truzzi2020/training_table.py"),
    script:
        "../../scripts/truzzi2020/training_table.py"


rule tz_training_figure:
    input:
        f"{TZ_OUT}/tables/training.csv",
    output:
        report(
            expand(f"{TZ_OUT}/figures/training_curves.{{ext}}", ext=TZ_FORMATS),
            caption="../../report/truzzi2020/training_curves.rst",
            category="Figures",
            subcategory="training",
        ),
    log:
        f"{TZ_OUT}/logs/tz_training_figure.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/tz_training_figure.tsv"
    conda:
        "../../../envs/figures.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("truzzi2020/figure_training.py"),
        context=TZ["figures"]["context"],
    script:
        "../../scripts/truzzi2020/figure_training.py"
