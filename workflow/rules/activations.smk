# Stage 2: per-network activation extraction (7 ReLU layers).


rule extract_activations:
    input:
        stimuli=f"{OUT}/dataset/stimuli.npz",
        weights=lambda wc: weights_for(wc.condition),
    output:
        f"{OUT}/activations/{{condition}}.npz",
    log:
        f"{OUT}/logs/extract_activations/{{condition}}.log",
    group:
        "network"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        network=lambda wc: network_of(wc.condition),
        training=lambda wc: wc.condition.rpartition("_")[2],
        seed=lambda wc: condition_seed(wc.condition),
        weights=lambda wc: weights_for(wc.condition),
        unsafe=lambda wc: network_of(wc.condition)
        in config["networks"]["allow_unsafe_pickle"],
        conv_pooling=config["networks"]["conv_pooling"],
        device=config["networks"]["device"],
        batch_size=config["networks"]["batch_size"],
    script:
        "../scripts/extract_activations.py"
