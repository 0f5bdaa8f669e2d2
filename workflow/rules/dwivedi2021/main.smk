# Functional maps of visual cortex (Dwivedi, Bonner, Cichy & Roig 2021): RDM regression of ROI and
# searchlight RDMs on model RDMs, variance partitioning of model groups, permutation inference
# with FDR, noise ceilings, NIfTI maps, interactive surface maps and ROI bar charts.
#
# Settings: config["dwivedi2021"] (workflow/schemas/dwivedi2021.schema.yaml), checked by
# brainalign.studies.dwivedi2021.complete_config in common.smk. Every seed derives from the root
# seed. Outputs: results/dwivedi2021/<study>/{data,models,searchlight,tables,maps,figures}/.
from brainalign.studies.dwivedi2021 import design as _fmd

FM = config["dwivedi2021"]
FM_OUT = "results/dwivedi2021"
FM_STUDIES = list(FM["studies"])
TARGETS += [t for s in FM_STUDIES for t in _fmd.study_targets(FM, s, FM_OUT)]


include: "data.smk"
include: "searchlight.smk"
include: "roi.smk"
include: "figures.smk"
