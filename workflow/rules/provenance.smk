# Provenance of the whole run (config hash, seeds, dataset checksums, software versions).


rule provenance:
    input:
        f"{OUT}/dataset/dataset.json",
    output:
        report(
            f"{OUT}/tables/provenance.csv",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        f"{OUT}/logs/provenance.log",
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        config_hash=CONFIG_HASH,
        seeds={c: condition_seed(c) for c in CONDITIONS},
    script:
        "../scripts/provenance.py"
