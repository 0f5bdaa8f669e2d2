# Stage 6: figures (PNG + PDF), all in the Snakemake report.


rule figure_profiles:
    input:
        comparison=f"{TZ_OUT}/tables/comparison.csv",
        noise_ceiling=f"{TZ_OUT}/tables/noise_ceiling.csv",
        posthoc=f"{TZ_OUT}/tables/posthoc.csv",
    output:
        profiles=report(
            expand(
                f"{TZ_OUT}/figures/profiles_{{{{region}}}}.{{ext}}", ext=TZ_FORMATS
            ),
            caption="../../report/truzzi2020/profiles.rst",
            category="Figures",
            subcategory="{region}",
        ),
        comparisons=report(
            (
                expand(
                    f"{TZ_OUT}/figures/comparisons_{{{{region}}}}.{{ext}}",
                    ext=TZ_FORMATS,
                )
                if TZ_COMPARISONS
                else []
            ),
            caption="../../report/truzzi2020/comparisons.rst",
            category="Figures",
            subcategory="{region}",
        ),
    log:
        f"{TZ_OUT}/logs/figure_profiles/{{region}}.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/figure_profiles/{{region}}.tsv"
    group:
        "inference"
    conda:
        "../../../envs/figures.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("truzzi2020/figure_profiles.py"),
        comparisons=TZ["statistics"]["comparisons"],
        conditions=TZ_CONDITIONS,
        noise_ceiling=TZ["figures"]["noise_ceiling"],
        context=TZ["figures"]["context"],
        method=TZ["comparison"]["method"],
    script:
        "../../scripts/truzzi2020/figure_profiles.py"


rule figure_layer_rdms:
    input:
        f"{TZ_OUT}/rdms/{{condition}}.npz",
    output:
        report(
            expand(
                f"{TZ_OUT}/figures/layer_rdms_{{{{condition}}}}.{{ext}}",
                ext=TZ_FORMATS,
            ),
            caption="../../report/truzzi2020/layer_rdms.rst",
            category="RDMs",
        ),
    log:
        f"{TZ_OUT}/logs/figure_layer_rdms/{{condition}}.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/figure_layer_rdms/{{condition}}.tsv"
    group:
        "network"
    conda:
        "../../../envs/figures.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("truzzi2020/figure_layer_rdms.py"),
        context=TZ["figures"]["context"],
    script:
        "../../scripts/truzzi2020/figure_layer_rdms.py"


rule figure_brain_rdm:
    input:
        f"{TZ_OUT}/dataset/brain_rdms.npz",
    output:
        report(
            expand(
                f"{TZ_OUT}/figures/brain_rdm_{{region}}.{{ext}}",
                region=TZ_REGIONS,
                ext=TZ_FORMATS,
            ),
            caption="../../report/truzzi2020/brain_rdm.rst",
            category="RDMs",
        ),
    log:
        f"{TZ_OUT}/logs/figure_brain_rdm.log",
    benchmark:
        f"{TZ_OUT}/benchmarks/figure_brain_rdm.tsv"
    group:
        "dataset"
    conda:
        "../../../envs/figures.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("truzzi2020/figure_brain_rdm.py"),
        regions=TZ_REGIONS,
        formats=TZ_FORMATS,
        context=TZ["figures"]["context"],
    script:
        "../../scripts/truzzi2020/figure_brain_rdm.py"
