# brainalign: deep networks vs the visual brain, five published analyses as one DAG.
# Run: snakemake --cores 2   (see README.md; the layout is described in ARCHITECTURE.md)


# The config: config.yaml of the working directory, composed with --configfile overlays and
# --config settings by common.smk (a broken file stops with its name, line and column).
# Path set-up, config composition and validation (once), shared helpers.
include: "workflow/rules/common.smk"
# Shared rules: verified downloads, activations and layer RDMs per stimulus set, provenance.
include: "workflow/rules/download.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/legacy.smk"
include: "workflow/rules/provenance.smk"


# One folder of rules per study; a disabled study's rules are not defined at all.
if "truzzi2020" in STUDIES:

    include: "workflow/rules/truzzi2020/main.smk"


if "dwivedi2021" in STUDIES:

    include: "workflow/rules/dwivedi2021/main.smk"


if "decoding_robustness" in STUDIES:

    include: "workflow/rules/decoding_robustness/main.smk"


if "mouse_rsa" in STUDIES:

    include: "workflow/rules/mouse_rsa/main.smk"


if "gnet_encoding" in STUDIES:

    include: "workflow/rules/gnet_encoding/main.smk"


# Shared, after every study: wall and CPU time of each job of the run (the rules' benchmark files).
include: "workflow/rules/benchmarks.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        TARGETS,
        BENCHMARK_TABLES,
