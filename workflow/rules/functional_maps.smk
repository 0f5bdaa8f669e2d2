# Functional maps of visual cortex (Dwivedi, Bonner, Cichy & Roig 2021): RDM regression of ROI and
# searchlight RDMs on model RDMs, variance partitioning of model groups, permutation inference
# with FDR, noise ceilings, NIfTI maps, interactive surface maps and ROI bar charts.
#
# Settings: config["functional_maps"] (workflow/schemas/functional_maps.schema.yaml; missing keys
# get the schema defaults here, so the embedded simulated study runs with no settings at all).
# Outputs: results/functional_maps/<study>/{data,models,searchlight,tables,maps,figures}/.
# Final files: FMAPS_TARGETS (a list) for `rule all`.
import sys as _fm_sys
from pathlib import Path as _FmPath

from snakemake.exceptions import WorkflowError as _FmWorkflowError

_FM_SRC = str((_FmPath(workflow.current_basedir) / ".." / ".." / "src").resolve())
if _FM_SRC not in _fm_sys.path:
    _fm_sys.path.insert(0, _FM_SRC)

from brainalign.studies.dwivedi2021 import io as _fmio

FM_OUT = "results/functional_maps"
try:
    FM = _fmio.load_fmaps_config(
        config.get("functional_maps", {}),
        _FmPath(workflow.current_basedir)
        / ".."
        / "schemas"
        / "functional_maps.schema.yaml",
    )
except ValueError as _fm_err:
    raise _FmWorkflowError(f"Invalid configuration: {_fm_err}") from None
FM_STUDIES = list(FM["studies"])
for _fm_study, _fm_st in FM["studies"].items():
    _fm_unknown = [
        c
        for c in (_fm_st["models"]["names"] or [])
        if _fm_st["models"]["source"] == "networks" and c not in CONDITIONS
    ]
    if _fm_unknown:
        raise _FmWorkflowError(
            f"Invalid configuration: functional_maps.studies.{_fm_study}.models.names: "
            f"{_fm_unknown} not in networks.conditions {CONDITIONS}"
        )
FMAPS_TARGETS = [t for s in FM_STUDIES for t in _fmio.study_targets(FM, s, FM_OUT)]


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
rule fmaps_simulate:
    output:
        directory(f"{FM_OUT}/{{study}}/data"),
    log:
        f"{FM_OUT}/{{study}}/logs/simulate.log",
    wildcard_constraints:
        study=_fmio.studies_of(FM, ("simulated",)),
    conda:
        "../../envs/fmaps.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        simulation=lambda wc: FM["studies"][wc.study]["simulation"],
    script:
        "../scripts/fmaps_simulate.py"


rule fmaps_taskonomy_rdms:
    input:
        weights=lambda wc: FM["studies"][wc.study]["taskonomy"]["weights_dir"],
        stimuli=lambda wc: FM["studies"][wc.study]["taskonomy"]["stimuli_dir"],
    output:
        directory(f"{FM_OUT}/{{study}}/models/taskonomy"),
    log:
        f"{FM_OUT}/{{study}}/logs/taskonomy_rdms.log",
    conda:
        "../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=120,
    params:
        tasks=lambda wc: _fmio.study_model_names(FM, wc.study),
        layers=lambda wc: FM["studies"][wc.study]["models"]["layers"],
        verify_hash=lambda wc: FM["studies"][wc.study]["taskonomy"]["verify_hash"],
        batch_size=lambda wc: FM["studies"][wc.study]["taskonomy"]["batch_size"],
        seed=FM["statistics"]["seed"],
    script:
        "../scripts/fmaps_taskonomy_rdms.py"


rule fmaps_network_rdms:
    input:
        lambda wc: [
            f"{OUT}/rdms/{c}.npz" for c in _fmio.study_model_names(FM, wc.study)
        ],
    output:
        directory(f"{FM_OUT}/{{study}}/models/networks"),
    log:
        f"{FM_OUT}/{{study}}/logs/network_rdms.log",
    conda:
        "../../envs/fmaps.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        names=lambda wc: _fmio.study_model_names(FM, wc.study),
        layers=lambda wc: FM["studies"][wc.study]["models"]["layers"],
    script:
        "../scripts/fmaps_network_rdms.py"


# ---------------------------------------------------------------------------------------------
# Searchlight RDMs and noise ceilings
# ---------------------------------------------------------------------------------------------
_FM_SL_OUTPUTS = dict(
    rdms=f"{FM_OUT}/{{study}}/searchlight/mean_rdms.npy",
    ceiling=f"{FM_OUT}/{{study}}/searchlight/noise_ceiling.csv",
    mask=f"{FM_OUT}/{{study}}/searchlight/mask.nii.gz",
    lower=f"{FM_OUT}/{{study}}/maps/noise_ceiling_lower.nii.gz",
    upper=f"{FM_OUT}/{{study}}/maps/noise_ceiling_upper.nii.gz",
)


rule fmaps_searchlight_rdms:
    input:
        unpack(lambda wc: _fmio.study_volume_inputs(FM, wc.study, FM_OUT)),
    output:
        **_FM_SL_OUTPUTS,
    log:
        f"{FM_OUT}/{{study}}/logs/searchlight_rdms.log",
    wildcard_constraints:
        study=_fmio.studies_of(FM, ("simulated", "volumes")),
    conda:
        "../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=60,
    params:
        source=lambda wc: FM["studies"][wc.study]["source"],
        searchlight=lambda wc: _fmio.study_searchlight(FM, wc.study),
        ceiling_statistic=FM["statistics"]["ceiling_statistic"],
    script:
        "../scripts/fmaps_searchlight_rdms.py"


rule fmaps_searchlight_rdms_precomputed:
    input:
        unpack(lambda wc: _fmio.study_precomputed_inputs(FM, wc.study)),
    output:
        **_FM_SL_OUTPUTS,
    log:
        f"{FM_OUT}/{{study}}/logs/searchlight_rdms.log",
    wildcard_constraints:
        study=_fmio.studies_of(FM, ("precomputed",)),
    conda:
        "../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=60,
    params:
        source="precomputed",
        searchlight=lambda wc: _fmio.study_searchlight(FM, wc.study),
        ceiling_statistic=FM["statistics"]["ceiling_statistic"],
    script:
        "../scripts/fmaps_searchlight_rdms.py"


# ---------------------------------------------------------------------------------------------
# Searchlight statistics and maps
# ---------------------------------------------------------------------------------------------
rule fmaps_searchlight_individual:
    input:
        rdms=rules.fmaps_searchlight_rdms.output.rdms,
        ceiling=rules.fmaps_searchlight_rdms.output.ceiling,
        mask=rules.fmaps_searchlight_rdms.output.mask,
        models=lambda wc: _fmio.study_model_inputs(FM, wc.study, FM_OUT),
    output:
        table=report(
            f"{FM_OUT}/{{study}}/tables/searchlight_individual.csv",
            caption="../report/fmaps_tables.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        r2adj=f"{FM_OUT}/{{study}}/maps/individual_r2adj.nii.gz",
        best=f"{FM_OUT}/{{study}}/maps/individual_best_model.nii.gz",
        significant=f"{FM_OUT}/{{study}}/maps/individual_significant.nii.gz",
        legend=f"{FM_OUT}/{{study}}/maps/individual_labels.tsv",
    log:
        f"{FM_OUT}/{{study}}/logs/searchlight_individual.log",
    conda:
        "../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=60,
    params:
        analysis="individual",
        models=lambda wc: _fmio.study_model_params(FM, wc.study, FM_OUT),
        searchlight=lambda wc: _fmio.study_searchlight(FM, wc.study),
        statistics=FM["statistics"],
    script:
        "../scripts/fmaps_searchlight_stats.py"


rule fmaps_searchlight_grouped:
    input:
        rdms=rules.fmaps_searchlight_rdms.output.rdms,
        ceiling=rules.fmaps_searchlight_rdms.output.ceiling,
        mask=rules.fmaps_searchlight_rdms.output.mask,
        models=lambda wc: _fmio.study_model_inputs(FM, wc.study, FM_OUT),
    output:
        table=report(
            f"{FM_OUT}/{{study}}/tables/searchlight_grouped.csv",
            caption="../report/fmaps_tables.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        unique=f"{FM_OUT}/{{study}}/maps/grouped_unique_r2adj.nii.gz",
        total=f"{FM_OUT}/{{study}}/maps/grouped_total_r2adj.nii.gz",
        best=f"{FM_OUT}/{{study}}/maps/grouped_best_group.nii.gz",
        significant=f"{FM_OUT}/{{study}}/maps/grouped_significant.nii.gz",
        legend=f"{FM_OUT}/{{study}}/maps/grouped_labels.tsv",
    log:
        f"{FM_OUT}/{{study}}/logs/searchlight_grouped.log",
    conda:
        "../../envs/fmaps.yaml"
    threads: FM["threads"]
    resources:
        mem_mb=FM["mem_mb"],
        runtime=60,
    params:
        analysis="partition",
        models=lambda wc: _fmio.study_model_params(FM, wc.study, FM_OUT),
        searchlight=lambda wc: _fmio.study_searchlight(FM, wc.study),
        statistics=FM["statistics"],
    script:
        "../scripts/fmaps_searchlight_stats.py"


# ---------------------------------------------------------------------------------------------
# ROIs
# ---------------------------------------------------------------------------------------------
rule fmaps_roi:
    input:
        unpack(lambda wc: _fmio.study_roi_inputs(FM, wc.study, FM_OUT)),
        models=lambda wc: _fmio.study_model_inputs(FM, wc.study, FM_OUT),
    output:
        table=report(
            f"{FM_OUT}/{{study}}/tables/roi_statistics.csv",
            caption="../report/fmaps_roi_table.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
    log:
        f"{FM_OUT}/{{study}}/logs/roi.log",
    conda:
        "../../envs/fmaps.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        source=lambda wc: FM["studies"][wc.study]["source"],
        rois=lambda wc: FM["studies"][wc.study]["rois"],
        models=lambda wc: _fmio.study_model_params(FM, wc.study, FM_OUT),
        statistics=FM["statistics"],
    script:
        "../scripts/fmaps_roi.py"


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
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
            caption="../report/fmaps_individual_map.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        grp_html=report(
            f"{FM_OUT}/{{study}}/figures/grouped_map.html",
            caption="../report/fmaps_grouped_map.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        ind_png=report(
            f"{FM_OUT}/{{study}}/figures/individual_best_model.png",
            caption="../report/fmaps_individual_map.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        grp_png=report(
            f"{FM_OUT}/{{study}}/figures/grouped_best_group.png",
            caption="../report/fmaps_grouped_map.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        ind_glass=report(
            f"{FM_OUT}/{{study}}/figures/individual_max_r2adj_glass.png",
            caption="../report/fmaps_static.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        grp_stat=report(
            f"{FM_OUT}/{{study}}/figures/grouped_total_r2adj.png",
            caption="../report/fmaps_static.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
    log:
        f"{FM_OUT}/{{study}}/logs/figures_maps.log",
    conda:
        "../../envs/fmaps.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        study=lambda wc: wc.study,
    script:
        "../scripts/fmaps_figures_maps.py"


rule fmaps_figures_roi:
    input:
        table=rules.fmaps_roi.output.table,
    output:
        top3=report(
            f"{FM_OUT}/{{study}}/figures/roi_top3.svg",
            caption="../report/fmaps_roi_top3.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
        grouped=report(
            f"{FM_OUT}/{{study}}/figures/roi_grouped.svg",
            caption="../report/fmaps_roi_grouped.rst",
            category="Functional maps",
            subcategory="{study}",
        ),
    log:
        f"{FM_OUT}/{{study}}/logs/figures_roi.log",
    conda:
        "../../envs/fmaps.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        models=lambda wc: _fmio.study_model_params(FM, wc.study, FM_OUT),
        rois=lambda wc: FM["studies"][wc.study]["rois"],
        alpha=FM["statistics"]["alpha"],
    script:
        "../scripts/fmaps_figures_roi.py"
