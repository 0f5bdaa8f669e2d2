# brainalign: network vs brain representations (Truzzi & Cusack 2020 and related studies).
# Run: snakemake --cores 2   (see README.md)


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/rdms.smk"
include: "workflow/rules/comparison.smk"
include: "workflow/rules/statistics.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/legacy.smk"


if config["functional_maps"]["enabled"]:

    include: "workflow/rules/functional_maps.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        all_targets(),
        FMAPS_TARGETS if config["functional_maps"]["enabled"] else [],
