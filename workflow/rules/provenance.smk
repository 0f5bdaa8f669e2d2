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
    benchmark:
        "results/{study}/{dataset}/benchmarks/provenance.tsv"
    wildcard_constraints:
        study=STUDY_IDS,
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        code=code("provenance.py"),
        config_hash=CONFIG_HASH,
        source_sha256=SOURCE_SHA256,
        workflow_sha256=WORKFLOW_SHA256,
        git_commit=GIT_COMMIT,
        seeds=lambda wc: {c: condition_seed(c) for c in STUDY_CONDITIONS[wc.study]},
    script:
        "../scripts/provenance.py"
