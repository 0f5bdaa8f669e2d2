# Stage 6: figures (PNG + PDF), all in the Snakemake report.


rule figure_profiles:
    input:
        comparison=f"{OUT}/tables/comparison.csv",
        noise_ceiling=f"{OUT}/tables/noise_ceiling.csv",
        posthoc=f"{OUT}/tables/posthoc.csv",
    output:
        profiles=report(
            expand(f"{OUT}/figures/profiles_{{{{region}}}}.{{ext}}", ext=FORMATS),
            caption="../report/profiles.rst",
            category="Figures",
            subcategory="{region}",
        ),
        comparisons=report(
            (
                expand(
                    f"{OUT}/figures/comparisons_{{{{region}}}}.{{ext}}", ext=FORMATS
                )
                if COMPARISONS
                else []
            ),
            caption="../report/comparisons.rst",
            category="Figures",
            subcategory="{region}",
        ),
    log:
        f"{OUT}/logs/figure_profiles/{{region}}.log",
    group:
        "inference"
    conda:
        "../../envs/figures.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        comparisons=config["statistics"]["comparisons"],
        conditions=CONDITIONS,
        noise_ceiling=config["figures"]["noise_ceiling"],
        context=config["figures"]["context"],
        method=config["comparison"]["method"],
    script:
        "../scripts/figure_profiles.py"


rule figure_layer_rdms:
    input:
        f"{OUT}/rdms/{{condition}}.npz",
    output:
        report(
            expand(f"{OUT}/figures/layer_rdms_{{{{condition}}}}.{{ext}}", ext=FORMATS),
            caption="../report/layer_rdms.rst",
            category="RDMs",
        ),
    log:
        f"{OUT}/logs/figure_layer_rdms/{{condition}}.log",
    group:
        "network"
    conda:
        "../../envs/figures.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        context=config["figures"]["context"],
    script:
        "../scripts/figure_layer_rdms.py"


rule figure_brain_rdm:
    input:
        f"{OUT}/dataset/brain_rdms.npz",
    output:
        report(
            expand(
                f"{OUT}/figures/brain_rdm_{{region}}.{{ext}}",
                region=REGIONS,
                ext=FORMATS,
            ),
            caption="../report/brain_rdm.rst",
            category="RDMs",
        ),
    log:
        f"{OUT}/logs/figure_brain_rdm.log",
    group:
        "dataset"
    conda:
        "../../envs/figures.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        regions=REGIONS,
        formats=FORMATS,
        context=config["figures"]["context"],
    script:
        "../scripts/figure_brain_rdm.py"
