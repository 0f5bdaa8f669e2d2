"""The study design behind the functional-maps rules: per-study models, groups, inputs, targets."""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from brainalign.data.fmaps_files import searchlight_dir
from brainalign.pipeline.config import (
    ConfigError,
    check_networks,
    significance_floor,
    warn_config,
)
from brainalign.stats.fdr import permutations_for_share

__all__ = [
    "NEVER_MATCH",
    "PAPER_ROIS",
    "STUDY",
    "complete_config",
    "studies_of",
    "study_model_names",
    "study_groups",
    "study_model_dir",
    "study_model_inputs",
    "study_model_params",
    "study_searchlight",
    "study_neighbourhood",
    "study_volume_inputs",
    "study_precomputed_inputs",
    "study_has_rois",
    "study_roi_inputs",
    "study_targets",
]

STUDY = "dwivedi2021"
NEVER_MATCH = "(?!x)x"  # a wildcard constraint that matches nothing

#: the 15 ROIs plotted in the paper (Fig. 2 and 3b), in plotting order
PAPER_ROIS = ("V1v", "V2v", "V3v", "hV4", "VO1", "VO2", "PHC1", "PHC2",
              "V1d", "V2d", "V3d", "LO1", "LO2", "V3b", "V3a")  # fmt: skip


def _resolve_permutations(stats: dict) -> None:
    """``n_permutations: auto`` -> the count a map's FDR needs for ``detectable_share``; warn
    when a configured count is below it."""
    need = permutations_for_share(stats["alpha"], stats["detectable_share"])
    if stats["n_permutations"] == "auto":
        stats["n_permutations"] = need
    elif stats["n_permutations"] < need and not significance_floor(
        stats["n_permutations"], stats["alpha"]
    ):  # (below the floor, that warning says more)
        warn_config(
            f"config key '{STUDY}.statistics.n_permutations': {stats['n_permutations']} "
            f"permutations; a map's signal must cover at least "
            f"{1 / ((stats['n_permutations'] + 1) * stats['alpha']):.3g} of its test family to "
            f"pass the FDR, more than detectable_share = {stats['detectable_share']:g} (use "
            f"{need}, or 'auto')"
        )


def complete_config(cfg: dict) -> list[str]:
    """Check ``cfg['dwivedi2021']`` (validated, defaults filled in) beyond the schema.

    Returns
    -------
    list of str
        The network conditions the study uses as models (``models.source: networks``).

    Raises
    ------
    ConfigError
        Naming the offending key and what to write.
    """
    conditions: list[str] = []
    for name, st in cfg[STUDY]["studies"].items():
        key = f"config key '{STUDY}.studies.{name}"
        if st["source"] == "volumes" and not st["volumes"]["subjects"]:
            raise ConfigError(f"{key}.volumes.subjects': empty; map subject names to 4-D NIfTI")
        if st["source"] == "precomputed" and not st["data_dir"]:
            raise ConfigError(f"{key}.data_dir': not set; the folder of the data.zip layout")
        models = st["models"]
        if models["source"] == "rdm_dir" and not models["rdm_dir"]:
            raise ConfigError(f"{key}.models.rdm_dir': not set; the folder of model .mat RDMs")
        if models["source"] == "taskonomy" and not (
            st["taskonomy"]["weights_dir"] and st["taskonomy"]["stimuli_dir"]
        ):
            raise ConfigError(f"{key}.taskonomy': weights_dir and stimuli_dir are needed")
        if models["source"] == "networks":
            if not models["names"]:
                raise ConfigError(
                    f"{key}.models.names': list the network conditions (e.g. "
                    "[alexnet_untrained]) whose layer RDMs are the models"
                )
            if not isinstance(cfg.get("truzzi2020"), dict) or not cfg["truzzi2020"]["enabled"]:
                raise ConfigError(
                    f"{key}.models.source': 'networks' takes its images from the truzzi2020 "
                    "block's dataset; add a truzzi2020 block (its dataset) to the config"
                )
            check_networks(cfg, models["names"], f"{STUDY}.studies.{name}.models.names")
            conditions += [c for c in models["names"] if c not in conditions]
        if models["source"] == "study" and st["source"] == "volumes":
            raise ConfigError(
                f"{key}.models.source': 'study' needs a simulated or precomputed study; use "
                "rdm_dir or taskonomy"
            )
        _check_model_sizes(cfg[STUDY], name)
    stats = cfg[STUDY]["statistics"]
    _resolve_permutations(stats)
    floor = significance_floor(stats["n_permutations"], stats["alpha"])
    if floor:
        warn_config(
            f"config key '{STUDY}.statistics.n_permutations': {floor} (against "
            f"{STUDY}.statistics.alpha; the maps stay grey and no ROI test is significant)"
        )
    return conditions


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _brain_conditions(st: Mapping) -> tuple[int, str] | None:
    """Conditions of a study's brain data and where that number comes from; None while the
    files are not there (the rules then report them)."""
    import numpy as np

    from brainalign.data.base import file_error

    if st["source"] == "simulated":
        return int(st["simulation"]["n_conditions"]), "simulation.n_conditions"
    if st["source"] == "volumes":
        subjects = st["volumes"]["subjects"]
        path = Path(subjects[sorted(subjects)[0]])
        if not path.is_file():
            return None
        import nibabel as nib

        try:
            shape = nib.load(str(path)).shape
        except Exception as err:  # noqa: BLE001 - nibabel raises many kinds
            raise file_error(path, "NIfTI image", err) from err
        return (int(shape[3]), str(path)) if len(shape) == 4 else None
    path = searchlight_dir(st["data_dir"], 1, 2) / "all_sub_slrdms.npy"
    if not path.is_file():
        return None
    try:
        shape = np.load(path, mmap_mode="r").shape
    except (OSError, ValueError, EOFError) as err:
        raise file_error(path, "NumPy .npy file", err) from err
    return (int(shape[-1]), str(path)) if len(shape) == 4 else None


def _model_sizes(fm: Mapping, name: str) -> tuple[str, list[tuple[str, int]]] | None:
    """``(config key, [(file, n_conditions), ...])`` of the model RDMs that exist before the
    run (rdm_dir and precomputed .mat files, Taskonomy stimuli); None otherwise."""
    from brainalign.data.fmaps_files import find_model_rdm_files, mat_rdm_shape

    st = fm["studies"][name]
    src = st["models"]["source"]
    if src == "taskonomy":
        folder = Path(st["taskonomy"]["stimuli_dir"])
        if not folder.is_dir():
            return None
        n = sum(1 for f in folder.iterdir() if f.suffix.lower() in _IMAGE_SUFFIXES)
        return "taskonomy.stimuli_dir", [(f"{folder} ({n} images)", n)]
    if src == "rdm_dir" or (src == "study" and st["source"] == "precomputed"):
        folder = Path(study_model_dir(fm, name, ""))
        key = "models.rdm_dir" if src == "rdm_dir" else "data_dir"
        if not folder.is_dir():
            return None
        names, layers = study_model_names(fm, name), st["models"]["layers"]
        try:
            files = find_model_rdm_files(folder, names, layers)
        except ValueError:  # a model without its file: the rule names it
            return None
        paths = [str(f) for per_layer in files.values() for f in per_layer.values()]
        shapes = [(f, mat_rdm_shape(f)) for f in paths]
        return key, [(f, shape[-1]) for f, shape in shapes if shape]
    return None


def _check_model_sizes(fm: Mapping, name: str) -> None:
    """Model RDMs known before the run must have as many conditions as the brain data."""
    from brainalign.data.base import DataFileError

    key = f"config key '{STUDY}.studies.{name}"
    try:
        brain = _brain_conditions(fm["studies"][name])
        models = _model_sizes(fm, name) if brain else None
    except DataFileError as err:
        raise ConfigError(f"{key}': {err}") from None
    if not models:
        return
    where, sizes = models
    for path, n in sizes:
        if n != brain[0]:
            raise ConfigError(
                f"{key}.{where}': {path}: model RDM of {n} conditions; the study's brain data "
                f"have {brain[0]} ({brain[1]}); model RDMs must be RDMs of the study's "
                "conditions, in the same order"
            )


def studies_of(fm: Mapping, sources: Sequence[str]) -> str:
    """Wildcard-constraint regex of the studies whose source is in ``sources``."""
    names = [s for s, st in fm["studies"].items() if st["source"] in sources]
    return "|".join(names) if names else NEVER_MATCH


def study_model_names(fm: Mapping, study: str) -> list[str]:
    """Models of a study: configured names, the simulated models, or the 19 Taskonomy tasks."""
    from brainalign.data.volumes import DEFAULT_MODELS
    from brainalign.networks.taskonomy import TASK_LIST

    st = fm["studies"][study]
    if st["models"]["names"]:
        return list(st["models"]["names"])
    if st["source"] == "simulated" and st["models"]["source"] == "study":
        return list(DEFAULT_MODELS)
    return list(TASK_LIST)


def study_groups(fm: Mapping, study: str) -> dict[str, str]:
    """model -> group for the grouped analysis (models of no group are left out)."""
    from brainalign.data.volumes import DEFAULT_MODELS
    from brainalign.networks.taskonomy import TASK_GROUPS

    st = fm["studies"][study]
    if st["models"]["groups"]:
        groups = st["models"]["groups"]
    elif st["models"]["source"] == "networks":  # each network condition its own group
        groups = {m: [m] for m in study_model_names(fm, study)}
    elif st["source"] == "simulated" and st["models"]["source"] == "study":
        groups = {}
        for m, g in DEFAULT_MODELS.items():
            groups.setdefault(g, []).append(m)
    else:
        groups = {g: list(ms) for g, ms in TASK_GROUPS.items()}
    names = set(study_model_names(fm, study))
    return {m: g for g, ms in groups.items() for m in ms if m in names}


def study_model_dir(fm: Mapping, study: str, out: str) -> str:
    """Folder of the study's model RDM ``.mat`` files."""
    st = fm["studies"][study]
    src = st["models"]["source"]
    if src == "rdm_dir":
        return str(st["models"]["rdm_dir"])
    if src in ("taskonomy", "networks"):
        return f"{out}/{study}/models/{src}"
    if st["source"] == "simulated":
        return f"{out}/{study}/data/RDM_models"
    return os.path.join(st["data_dir"], "RDM_taskonomy_bonner50")


def study_model_inputs(fm: Mapping, study: str, out: str) -> list[str]:
    """Files (or generated folders) the model RDMs come from (rule inputs)."""
    st = fm["studies"][study]
    src = st["models"]["source"]
    if src in ("taskonomy", "networks"):
        return [f"{out}/{study}/models/{src}"]
    if src == "study" and st["source"] == "simulated":
        return [f"{out}/{study}/data"]
    return sorted(glob.glob(os.path.join(study_model_dir(fm, study, out), "*.mat")))


def study_model_params(fm: Mapping, study: str, out: str) -> dict:
    """Everything the analysis scripts need to load and group the model RDMs."""
    groups = study_groups(fm, study)
    return {
        "dir": study_model_dir(fm, study, out),
        "names": study_model_names(fm, study),
        "layers": list(fm["studies"][study]["models"]["layers"]),
        "groups": groups,
        "group_order": list(dict.fromkeys(groups.values())),
    }


def study_searchlight(fm: Mapping, study: str) -> dict:
    """Searchlight settings of a study, only the keys that apply to its kind.

    Precomputed data always use the original blocks (sl_rad 1, max_blk_edge 2).
    """
    sl = dict(fm["searchlight"])
    if fm["studies"][study]["source"] == "precomputed":
        sl.update(kind="blocks", sl_rad=1, max_blk_edge=2)
    unused = ("sl_rad", "max_blk_edge") if sl["kind"] == "sphere" else ("radius",)
    return {k: v for k, v in sl.items() if k not in unused}


def study_neighbourhood(fm: Mapping, study: str) -> dict:
    """The neighbourhood definition alone (kind and radius, or kind, sl_rad and max_blk_edge)."""
    sl = study_searchlight(fm, study)
    return {k: sl[k] for k in ("kind", "radius", "sl_rad", "max_blk_edge") if k in sl}


def study_volume_inputs(fm: Mapping, study: str, out: str) -> dict:
    """Inputs of the searchlight-RDM rule for simulated / volume studies."""
    st = fm["studies"][study]
    if st["source"] == "simulated":
        return {"data": f"{out}/{study}/data"}
    vol = st["volumes"]
    res: dict = {"subjects": [vol["subjects"][k] for k in sorted(vol["subjects"])]}
    if vol["mask"]:
        res["mask"] = vol["mask"]
    return res


def study_precomputed_inputs(fm: Mapping, study: str) -> dict:
    """``all_sub_slrdms.npy`` and ``mask.nii`` of a precomputed study."""
    d = Path(fm["studies"][study]["data_dir"])
    return {
        "slrdms": str(searchlight_dir(d, 1, 2) / "all_sub_slrdms.npy"),
        "mask": str(d / "mask.nii"),
    }


def study_has_rois(fm: Mapping, study: str) -> bool:
    """Whether the study has ROIs (volume studies need an atlas and its table)."""
    st = fm["studies"][study]
    if st["source"] == "volumes":
        return bool(st["volumes"]["rois"] and st["volumes"]["roi_table"])
    return True


def study_roi_inputs(fm: Mapping, study: str, out: str) -> dict:
    """Inputs of the ROI rule."""
    st = fm["studies"][study]
    if st["source"] == "simulated":
        return {"data": f"{out}/{study}/data"}
    if st["source"] == "precomputed":
        d = os.path.join(st["data_dir"], "kastner_ROIs_RDMs_pearson")
        return {"rois": sorted(glob.glob(os.path.join(d, "*.mat")))}
    vol = st["volumes"]
    return {
        "subjects": [vol["subjects"][k] for k in sorted(vol["subjects"])],
        "atlas": vol["rois"],
        "table": vol["roi_table"],
    }


def study_targets(fm: Mapping, study: str, out: str) -> list[str]:
    """Final files of one study."""
    base = f"{out}/{study}"
    res = [
        f"{base}/tables/searchlight_individual.csv",
        f"{base}/tables/searchlight_grouped.csv",
        f"{base}/searchlight/noise_ceiling.csv",
        f"{base}/maps/individual_best_model.nii.gz",
        f"{base}/maps/grouped_best_group.nii.gz",
        f"{base}/figures/individual_map.html",
        f"{base}/figures/grouped_map.html",
        f"{base}/figures/individual_best_model.png",
        f"{base}/figures/grouped_best_group.png",
        f"{base}/figures/individual_max_r2adj_glass.png",
        f"{base}/figures/grouped_total_r2adj.png",
    ]
    if study_has_rois(fm, study):
        res += [
            f"{base}/tables/roi_statistics.csv",
            f"{base}/figures/roi_top3.svg",
            f"{base}/figures/roi_grouped.svg",
        ]
    return res
