# Stage 3: one RDM per layer.


rule layer_rdms:
    input:
        f"{OUT}/activations/{{condition}}.npz",
    output:
        f"{OUT}/rdms/{{condition}}.npz",
    params:
        metric=config["rdm"]["metric"],
    resources:
        mem_mb=4000,
        runtime=10,
    log:
        f"{OUT}/logs/layer_rdms/{{condition}}.log",
    conda:
        "../../envs/rsa.yaml"
    script:
        "../scripts/layer_rdms.py"
