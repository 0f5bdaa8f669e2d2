"""Readers for the original study's files (Dwivedi et al. 2021, ``data.zip``) and for volumes.

Original layout (``methods.md`` §2.1, inferred from ``library/rdm_loader.py``)::

    data/RDM_taskonomy_bonner50/*{block4,encoder_output}.mat  key 'rdm' (50, 50); task: substring
    data/kastner_ROIs_RDMs_pearson/<roi>.mat                   key 'subject_rdm' (S, 50, 50)
    data/ROIfiles_Labeling.txt                                 CSV with columns roi, id
    data/sl_rad=1__max_blk_edge=2/all_sub_slrdms.npy           (S, n_blocks, 50, 50)
    data/mask.nii                                              brain mask

All RDMs are returned condensed (strict upper triangle, row-major).  Tables are written
atomically (:func:`write_table`).
"""

from __future__ import annotations

import copy
import glob
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from brainalign.io.files import atomic_path
from brainalign.rsa.regression import rdm_to_vector

__all__ = [
    "PAPER_ROIS",
    "fill_defaults",
    "find_model_rdm_files",
    "iter_searchlight_rdms",
    "load_mat_rdm",
    "load_model_rdms",
    "load_roi_labels",
    "load_roi_rdms",
    "load_searchlight_rdms",
    "load_fmaps_config",
    "load_volumes",
    "read_table",
    "searchlight_dir",
    "studies_of",
    "study_groups",
    "study_has_rois",
    "study_model_dir",
    "study_model_inputs",
    "study_model_names",
    "study_model_params",
    "study_precomputed_inputs",
    "study_roi_inputs",
    "study_searchlight",
    "study_targets",
    "study_volume_inputs",
    "write_table",
]


def _check_square(a: np.ndarray, what: str) -> np.ndarray:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{what}: expected square RDM(s); got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: contains NaN or infinite values")
    return a


def load_mat_rdm(path: str | os.PathLike, key: str = "rdm") -> np.ndarray:
    """One RDM (or a stack) from a MATLAB v5 ``.mat`` file (``scipy.io.loadmat``)."""
    from scipy.io import loadmat

    d = loadmat(path)
    if key not in d:
        keys = sorted(k for k in d if not k.startswith("__"))
        raise ValueError(f"{path}: no key {key!r} (keys: {keys})")
    return _check_square(np.asarray(d[key], dtype=np.float64), f"{path}[{key}]")


def find_model_rdm_files(
    directory: str | os.PathLike, tasks: Sequence[str], layers: Sequence[str]
) -> dict[str, dict[str, Path]]:
    """``{task: {layer: path}}`` as the original: files ``*<layer>.mat``, task by substring.

    Raises
    ------
    ValueError
        If a task matches no file or more than one file for a layer.
    """
    out: dict[str, dict[str, Path]] = {t: {} for t in tasks}
    for layer in layers:
        paths = sorted(glob.glob(os.path.join(str(directory), f"*{layer}.mat")))
        for task in tasks:
            hits = [p for p in paths if task in os.path.basename(p)]
            if len(hits) > 1:  # prefer an exact '{task}_{layer}.mat'
                exact = [p for p in hits if os.path.basename(p) == f"{task}_{layer}.mat"]
                hits = exact if len(exact) == 1 else hits
            if len(hits) != 1:
                raise ValueError(
                    f"task {task!r}, layer {layer!r}: {len(hits)} matching files in {directory}"
                )
            out[task][layer] = Path(hits[0])
    return out


def write_model_rdms(
    directory: str | os.PathLike,
    model: str,
    rdms: Mapping[str, np.ndarray],
    layers: Sequence[str],
    key: str = "rdm",
) -> list[Path]:
    """Write ``{model}_{layer}.mat`` files (key ``rdm``, the original layout) for ``layers``.

    Parameters
    ----------
    directory : path
        Output folder (created).
    model : str
        Model (task or network condition) name.
    rdms : mapping of str to ndarray, shape (n, n)
        Square RDM of every available layer.
    layers : sequence of str
        Layers to write, in order.

    Returns
    -------
    list of Path
        The files written (each renamed into place when complete).

    Raises
    ------
    ValueError
        If a layer is not in ``rdms`` or an RDM is not square.
    """
    from scipy.io import savemat

    missing = [layer for layer in layers if layer not in rdms]
    if missing:
        raise ValueError(f"model {model!r}: layers {missing} not available; it has {list(rdms)}")
    written = []
    for layer in layers:
        rdm = _check_square(np.asarray(rdms[layer], dtype=np.float64), f"{model} {layer}")
        dst = Path(directory) / f"{model}_{layer}.mat"
        with atomic_path(dst) as tmp:
            savemat(tmp, {key: rdm})
        written.append(dst)
    return written


def load_model_rdms(
    directory: str | os.PathLike,
    tasks: Sequence[str],
    layers: Sequence[str] = ("block4", "encoder_output"),
    key: str = "rdm",
) -> dict[str, np.ndarray]:
    """Predictor matrices ``{task: (n_pairs, n_layers)}`` from ``RDM_taskonomy_bonner50``-style
    files (original ``get_taskonomy_RDMs_all_blocks_lt``)."""
    files = find_model_rdm_files(directory, tasks, layers)
    out = {}
    n_pairs = None
    for task in tasks:
        cols = [rdm_to_vector(load_mat_rdm(files[task][layer], key)) for layer in layers]
        X = np.stack(cols, axis=1)
        if n_pairs is None:
            n_pairs = X.shape[0]
        elif X.shape[0] != n_pairs:
            raise ValueError(f"task {task!r}: {X.shape[0]} pairs; others have {n_pairs}")
        out[task] = X
    return out


def load_roi_rdms(
    directory: str | os.PathLike, rois: Sequence[str], key: str = "subject_rdm"
) -> dict[str, np.ndarray]:
    """``{roi: (n_subjects, n_pairs)}`` from ``kastner_ROIs_RDMs_pearson/<roi>.mat``."""
    out = {}
    for roi in rois:
        p = Path(directory) / f"{roi}.mat"
        if not p.exists():
            raise ValueError(f"ROI {roi!r}: file {p} not found")
        R = load_mat_rdm(p, key)
        if R.ndim == 2:
            R = R[None]
        if R.ndim != 3:
            raise ValueError(f"ROI {roi!r}: {key} must be (S, n, n); got {R.shape}")
        out[roi] = rdm_to_vector(R)
    return out


def load_roi_labels(path: str | os.PathLike):
    """``ROIfiles_Labeling.txt``: CSV with columns ``roi`` and ``id``."""
    import pandas as pd

    df = pd.read_csv(path)
    missing = {"roi", "id"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    return df


def searchlight_dir(data_dir: str | os.PathLike, sl_rad: int = 1, max_blk_edge: int = 2) -> Path:
    """``<data>/sl_rad=<r>__max_blk_edge=<e>`` (original naming)."""
    return Path(data_dir) / f"sl_rad={int(sl_rad)}__max_blk_edge={int(max_blk_edge)}"


def iter_searchlight_rdms(
    path: str | os.PathLike, chunk_size: int = 4096
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(block_slice, rdms)`` with ``rdms`` ``(n_subjects, n_in_chunk, n_pairs)`` float64
    from ``all_sub_slrdms.npy`` ``(S, n_blocks, n, n)`` (memory-mapped, chunk by chunk)."""
    A = np.load(path, mmap_mode="r")
    if A.ndim != 4 or A.shape[2] != A.shape[3]:
        raise ValueError(f"{path}: expected (n_subjects, n_blocks, n, n); got {A.shape}")
    n = A.shape[2]
    iu = np.triu_indices(n, 1)
    for b0 in range(0, A.shape[1], int(chunk_size)):
        b1 = min(A.shape[1], b0 + int(chunk_size))
        block = np.asarray(A[:, b0:b1], dtype=np.float64)
        yield slice(b0, b1), block[:, :, iu[0], iu[1]]


def load_searchlight_rdms(path: str | os.PathLike) -> np.ndarray:
    """All of ``all_sub_slrdms.npy`` condensed: ``(n_subjects, n_blocks, n_pairs)``."""
    return np.concatenate([r for _, r in iter_searchlight_rdms(path)], axis=1)


def load_volumes(paths: Sequence[str | os.PathLike], mask_path: str | os.PathLike | None = None):
    """Subject 4-D NIfTI volumes (float32) and the mask image; checks grids agree.

    Returns
    -------
    volumes : list of arrays ``(X, Y, Z, n_conditions)``
    mask_img : nibabel image (the given mask, or all voxels finite in every subject)
    """
    import nibabel as nib

    vols, aff, shape = [], None, None
    for p in paths:
        img = nib.load(str(p))
        if img.ndim != 4:
            raise ValueError(f"{p}: expected a 4-D (x, y, z, condition) image; got {img.shape}")
        if aff is None:
            aff, shape = img.affine, img.shape
        elif img.shape != shape or not np.allclose(img.affine, aff, atol=1e-4):
            raise ValueError(f"{p}: grid {img.shape} differs from the first subject {shape}")
        vols.append(np.asarray(img.dataobj, dtype=np.float32))
    if not vols:
        raise ValueError("no subject volumes given")
    if mask_path is not None:
        mimg = nib.load(str(mask_path))
        if mimg.shape[:3] != shape[:3] or not np.allclose(mimg.affine, aff, atol=1e-4):
            raise ValueError(f"{mask_path}: mask grid {mimg.shape} differs from the data {shape}")
    else:
        m = np.all([np.all(np.isfinite(v), axis=3) for v in vols], axis=0)
        mimg = nib.Nifti1Image(m.astype(np.int8), aff)
    return vols, mimg


def write_table(df, path: str | os.PathLike) -> Path:
    """Write a DataFrame as CSV atomically (:func:`brainalign.io.files.atomic_path`)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def read_table(path: str | os.PathLike):
    """CSV -> DataFrame."""
    import pandas as pd

    return pd.read_csv(path)


# --------------------------------------------------------------------------------------------
# Workflow helpers (used by workflow/rules/functional_maps.smk)
# --------------------------------------------------------------------------------------------
NEVER_MATCH = "(?!x)x"  # a wildcard constraint that matches nothing

#: the 15 ROIs plotted in the paper (Fig. 2 and 3b), in plotting order
PAPER_ROIS = ("V1v", "V2v", "V3v", "hV4", "VO1", "VO2", "PHC1", "PHC2",
              "V1d", "V2d", "V3d", "LO1", "LO2", "V3b", "V3a")  # fmt: skip


def fill_defaults(inst, schema: Mapping) -> object:
    """Fill JSON-schema ``default`` values into ``inst`` in place (through ``properties`` and
    object-valued ``additionalProperties``)."""
    if not isinstance(inst, dict):
        return inst
    props = schema.get("properties", {})
    for key, sub in props.items():
        if key not in inst and "default" in sub:
            inst[key] = copy.deepcopy(sub["default"])
        if key in inst:
            fill_defaults(inst[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, val in inst.items():
            if key not in props:
                fill_defaults(val, extra)
    return inst


def load_fmaps_config(cfg: Mapping | None, schema_path: str | os.PathLike) -> dict:
    """``functional_maps`` settings validated against the schema fragment, defaults filled in.

    Raises
    ------
    ValueError
        Naming the offending key.
    """
    import yaml
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    schema = yaml.safe_load(Path(schema_path).read_text())
    filled = fill_defaults(copy.deepcopy(dict(cfg or {})), schema)
    err = best_match(Draft202012Validator(schema).iter_errors(filled))
    if err is not None:
        where = ".".join(str(p) for p in err.absolute_path) or "functional_maps"
        raise ValueError(f"functional_maps.{where}: {err.message}")
    for name, st in filled["studies"].items():
        if st["source"] == "volumes" and not st["volumes"]["subjects"]:
            raise ValueError(f"functional_maps.studies.{name}.volumes.subjects is empty")
        if st["source"] == "precomputed" and not st["data_dir"]:
            raise ValueError(f"functional_maps.studies.{name}.data_dir is not set")
        models = st["models"]
        if models["source"] == "rdm_dir" and not models["rdm_dir"]:
            raise ValueError(f"functional_maps.studies.{name}.models.rdm_dir is not set")
        if models["source"] == "taskonomy" and not (
            st["taskonomy"]["weights_dir"] and st["taskonomy"]["stimuli_dir"]
        ):
            raise ValueError(
                f"functional_maps.studies.{name}.taskonomy: weights_dir and stimuli_dir are needed"
            )
        if models["source"] == "networks" and not models["names"]:
            raise ValueError(
                f"functional_maps.studies.{name}.models.names: list the network conditions "
                "(e.g. [alexnet_untrained]) whose layer RDMs are the models"
            )
        if models["source"] == "study" and st["source"] == "volumes":
            raise ValueError(
                f"functional_maps.studies.{name}.models.source 'study' needs a simulated or "
                "precomputed study; use rdm_dir or taskonomy"
            )
    return filled


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
    """Searchlight settings of a study (precomputed data always use the original blocks)."""
    sl = dict(fm["searchlight"])
    if fm["studies"][study]["source"] == "precomputed":
        sl.update(kind="blocks", sl_rad=1, max_blk_edge=2)
    return sl


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
