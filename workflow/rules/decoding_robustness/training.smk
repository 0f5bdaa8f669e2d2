# Stage 2: the fMRI decoder and the stimulus CNNs, trained once per training seed; test-set
# predictions (under every blur level for the CNNs) and the 100-d embeddings of the test items.


rule dr_decoder:
    input:
        kay=dr_kay_files(),
        record=rules.dr_dataset.output.record,
    output:
        embedding=f"{DR_OUT}/decoder/seed-{{dr_seed}}/embedding.npz",
        predictions=f"{DR_OUT}/decoder/seed-{{dr_seed}}/predictions.csv",
        history=f"{DR_OUT}/decoder/seed-{{dr_seed}}/history.csv",
    log:
        f"{DR_OUT}/logs/decoder_seed-{{dr_seed}}.log",
    benchmark:
        f"{DR_OUT}/benchmarks/dr_decoder/seed-{{dr_seed}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "dr_training"
    conda:
        "../../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        code=code("decoding_robustness/train_decoder.py"),
        voxel_filter=DR["variants"]["voxel_filter"],
        decoder=DR["decoder"],
        device=config["networks"]["device"],
        seed=lambda wc: dr_seed("decoder", wc.dr_seed),
    script:
        "../../scripts/decoding_robustness/train_decoder.py"


rule dr_network:
    input:
        kay=dr_kay_files(),
        record=rules.dr_dataset.output.record,
    output:
        embedding=f"{DR_OUT}/networks/{{dr_network}}/seed-{{dr_seed}}/embedding.npz",
        accuracy=f"{DR_OUT}/networks/{{dr_network}}/seed-{{dr_seed}}/accuracy.csv",
        predictions=f"{DR_OUT}/networks/{{dr_network}}/seed-{{dr_seed}}/predictions.csv",
        history=f"{DR_OUT}/networks/{{dr_network}}/seed-{{dr_seed}}/history.csv",
    log:
        f"{DR_OUT}/logs/network_{{dr_network}}_seed-{{dr_seed}}.log",
    benchmark:
        f"{DR_OUT}/benchmarks/dr_network/{{dr_network}}_seed-{{dr_seed}}.tsv"
    priority: LONG_CHAIN_PRIORITY
    group:
        "dr_training"
    conda:
        "../../../envs/torch.yaml"
    threads: 1
    resources:
        # the embedded study's jobs peak at 1.5 GB: two run side by side (and beside other
        # jobs) under the local profile's 8 GB; the real Kay images ask for more
        mem_mb=3000 if DR_SIMULATED else 6000,
        runtime=60,
    params:
        code=code("decoding_robustness/train_network.py"),
        voxel_filter=DR["variants"]["voxel_filter"],
        classifier=DR["classifier"],
        batchnorm=DR["variants"]["batchnorm"],
        blur=DR["variants"]["blur"],
        blur_levels=DR["blur_levels"],
        weights=lambda wc: config["networks"]["weights"].get(
            _drd.split_network(wc.dr_network)[0]
        ),
        device=config["networks"]["device"],
        batch_size=config["networks"]["batch_size"],
        seed=lambda wc: dr_seed("network", wc.dr_network, wc.dr_seed),
        blur_seed=dr_seed("blur"),
        ci=DR["comparison"]["ci"],
    script:
        "../../scripts/decoding_robustness/train_network.py"


if DR_REFERENCE:

    rule dr_reference:
        input:
            kay=dr_kay_files(),
            latent=rules.dr_simulate.output.latent,
        output:
            embedding=f"{DR_OUT}/networks/{_drd.REFERENCE}/embedding.npz",
        log:
            f"{DR_OUT}/logs/reference.log",
        benchmark:
            f"{DR_OUT}/benchmarks/dr_reference.tsv"
        group:
            "dr_training"
        conda:
            "../../../envs/data.yaml"
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            code=code("decoding_robustness/reference.py"),
        script:
            "../../scripts/decoding_robustness/reference.py"
