# Shared rules: per-network activation extraction (7 ReLU layers) and one RDM per layer, for the
# stimulus set of any study that writes results/<study>/<dataset>/dataset/stimuli.npz.
# Settings: networks.* (extraction) and rdm.metric (layer RDMs), shared by every study.


rule extract_activations:
    input:
        stimuli="results/{study}/{dataset}/dataset/stimuli.npz",
        weights=lambda wc: weights_for(wc.condition, wc.study),
    output:
        "results/{study}/{dataset}/activations/{condition}.npz",
    log:
        "results/{study}/{dataset}/logs/extract_activations/{condition}.log",
    benchmark:
        "results/{study}/{dataset}/benchmarks/extract_activations/{condition}.tsv"
    wildcard_constraints:
        study=STUDY_IDS,
    priority: LONG_CHAIN_PRIORITY
    group:
        "network"
    conda:
        "../../envs/torch.yaml"
    # one core: the forward pass runs on one intra-op thread (networks.device), so a second one
    # would only keep another job waiting (profiles/slurm sets its own)
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        code=code("extract_activations.py"),
        network=lambda wc: network_of(wc.condition),
        training=lambda wc: wc.condition.rpartition("_")[2],
        seed=lambda wc: condition_seed(wc.condition),
        weights=lambda wc: weights_for(wc.condition, wc.study),
        unsafe=lambda wc: network_of(wc.condition)
        in config["networks"]["allow_unsafe_pickle"],
        conv_pooling=config["networks"]["conv_pooling"],
        device=config["networks"]["device"],
        batch_size=config["networks"]["batch_size"],
    script:
        "../scripts/extract_activations.py"


rule layer_rdms:
    input:
        "results/{study}/{dataset}/activations/{condition}.npz",
    output:
        "results/{study}/{dataset}/rdms/{condition}.npz",
    log:
        "results/{study}/{dataset}/logs/layer_rdms/{condition}.log",
    benchmark:
        "results/{study}/{dataset}/benchmarks/layer_rdms/{condition}.tsv"
    wildcard_constraints:
        study=STUDY_IDS,
    priority: LONG_CHAIN_PRIORITY
    group:
        "network"
    conda:
        "../../envs/rsa.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code("layer_rdms.py"),
        metric=config["rdm"]["metric"],
    script:
        "../scripts/layer_rdms.py"
