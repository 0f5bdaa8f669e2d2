# Figures
rule fmaps_figures_maps:
    input:
        ind_best=rules.fmaps_searchlight_individual.output.best,
        ind_legend=rules.fmaps_searchlight_individual.output.legend,
        ind_r2adj=rules.fmaps_searchlight_individual.output.r2adj,
        grp_best=rules.fmaps_searchlight_grouped.output.best,
        grp_legend=rules.fmaps_searchlight_grouped.output.legend,
        grp_total=rules.fmaps_searchlight_grouped.output.total,
    output:
        ind_html=report(
            f"{FM_OUT}/{{study}}/figures/individual_map.html",
            caption="../../report/dwivedi2021/individual_map.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        grp_html=report(
            f"{FM_OUT}/{{study}}/figures/grouped_map.html",
            caption="../../report/dwivedi2021/grouped_map.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        ind_png=report(
            f"{FM_OUT}/{{study}}/figures/individual_best_model.png",
            caption="../../report/dwivedi2021/individual_map.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        grp_png=report(
            f"{FM_OUT}/{{study}}/figures/grouped_best_group.png",
            caption="../../report/dwivedi2021/grouped_map.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        ind_glass=report(
            f"{FM_OUT}/{{study}}/figures/individual_max_r2adj_glass.png",
            caption="../../report/dwivedi2021/static.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        grp_stat=report(
            f"{FM_OUT}/{{study}}/figures/grouped_total_r2adj.png",
            caption="../../report/dwivedi2021/static.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
    log:
        f"{FM_OUT}/{{study}}/logs/figures_maps.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_figures_maps.tsv"
    conda:
        "../../../envs/fmaps.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        code=code("dwivedi2021/figures_maps.py"),
        study=lambda wc: wc.study,
    script:
        "../../scripts/dwivedi2021/figures_maps.py"


rule fmaps_figures_roi:
    input:
        table=rules.fmaps_roi.output.table,
    output:
        top3=report(
            f"{FM_OUT}/{{study}}/figures/roi_top3.svg",
            caption="../../report/dwivedi2021/roi_top3.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        grouped=report(
            f"{FM_OUT}/{{study}}/figures/roi_grouped.svg",
            caption="../../report/dwivedi2021/roi_grouped.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
    log:
        f"{FM_OUT}/{{study}}/logs/figures_roi.log",
    benchmark:
        f"{FM_OUT}/{{study}}/benchmarks/fmaps_figures_roi.tsv"
    conda:
        "../../../envs/fmaps.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("dwivedi2021/figures_roi.py"),
        models=lambda wc: _fmd.study_model_params(FM, wc.study, FM_OUT),
        rois=lambda wc: FM["studies"][wc.study]["rois"],
        alpha=FM["statistics"]["alpha"],
    script:
        "../../scripts/dwivedi2021/figures_roi.py"
