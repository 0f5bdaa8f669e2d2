# Shared rule: the provenance of a study's run on one dataset (config hash, seeds, dataset
# checksums, software versions), for any study that writes
# results/<study>/<dataset>/dataset/dataset.json.


rule provenance:
    input:
        "results/{study}/{dataset}/dataset/dataset.json",
    output:
        report(
            "results/{study}/{dataset}/tables/provenance.csv",
            caption="../report/provenance.rst",
            category="Provenance",
            subcategory="{study}",
        ),
    log:
        "results/{study}/{dataset}/logs/provenance.log",
    wildcard_constraints:
        study=STUDY_IDS,
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        config_hash=CONFIG_HASH,
        seeds=lambda wc: {c: condition_seed(c) for c in STUDY_CONDITIONS[wc.study]},
    script:
        "../scripts/provenance.py"
