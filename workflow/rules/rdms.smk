# Stage 3: one RDM per layer.


rule layer_rdms:
    input:
        f"{OUT}/activations/{{condition}}.npz",
    output:
        f"{OUT}/rdms/{{condition}}.npz",
    log:
        f"{OUT}/logs/layer_rdms/{{condition}}.log",
    group:
        "network"
    conda:
        "../../envs/rsa.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        metric=config["rdm"]["metric"],
    script:
        "../scripts/layer_rdms.py"
