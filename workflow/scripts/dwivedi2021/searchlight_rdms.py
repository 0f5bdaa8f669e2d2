"""Subject-averaged searchlight RDMs and noise ceilings of one study."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainalign import searchlight
from brainalign.data import fmaps_files as fmaps_io
from brainalign.io import write_table
from brainalign.io.files import atomic_path
from brainalign.maps import save_nifti, values_image
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.rsa.noise_ceiling import noise_ceiling_condensed as noise_ceiling


def neighbourhoods(mask, p):
    if p["kind"] == "blocks":
        return searchlight.block_neighbourhoods(mask, p["sl_rad"], p["max_blk_edge"])
    return searchlight.sphere_neighbourhoods(mask, p["radius"])


def save_npy(arr, path):
    with atomic_path(path) as tmp:
        np.save(tmp, arr)


with rule_context(snakemake) as log:
    p = snakemake.params
    out = snakemake.output
    sl = dict(p.searchlight)
    dtype = np.dtype(sl["dtype"]).type
    if p.source == "precomputed":
        mimg = nib.load(snakemake.input.mask)
        mask = np.asarray(mimg.dataobj) > 0
        nbh = searchlight.block_neighbourhoods(mask, 1, 2)
        means, los, ups = [], [], []
        for _, R in fmaps_io.iter_searchlight_rdms(snakemake.input.slrdms, sl["chunk_size"]):
            lo, up = noise_ceiling(R, statistic=p.ceiling_statistic, n_jobs=snakemake.threads)
            means.append(R.mean(axis=0).astype(dtype))
            los.append(lo)
            ups.append(up)
        mean, lower, upper = np.concatenate(means), np.concatenate(los), np.concatenate(ups)
        if mean.shape[0] != nbh.n_centres:
            raise ValueError(
                f"all_sub_slrdms.npy has {mean.shape[0]} blocks; the mask gives {nbh.n_centres}"
            )
        n_subjects = None
    else:
        if p.source == "simulated":
            data = Path(snakemake.input.data)
            subs = sorted(data.glob("sub-*_conditions.nii.gz"))
            mask_path = data / "mask.nii.gz"
        else:
            subs = list(snakemake.input.subjects)
            mask_path = snakemake.input.get("mask")
        vols, mimg = fmaps_io.load_volumes(subs, mask_path)
        mask = np.asarray(mimg.dataobj) > 0
        nbh = neighbourhoods(mask, sl)
        log.info("%d subjects, %d conditions, %d searchlights (%s)", len(vols),
                 vols[0].shape[3], nbh.n_centres, sl["kind"])  # fmt: skip
        g = searchlight.group_searchlight_rdms(
            vols, mask,
            radius=sl["radius"] if sl["kind"] == "sphere" else None,
            neighbourhoods=None if sl["kind"] == "sphere" else nbh,
            ceiling_statistic=p.ceiling_statistic, chunk_size=sl["chunk_size"],
            n_jobs=snakemake.threads, dtype=dtype, min_voxels=sl["min_voxels"],
        )  # fmt: skip
        mean, lower, upper = g.mean_rdms, g.lower, g.upper
        n_subjects = g.n_subjects
    save_npy(mean, out.rdms)
    save_nifti(nib.Nifti1Image(mask.astype(np.int8), mimg.affine), out.mask)
    save_nifti(values_image(lower, nbh, mimg), out.lower)
    save_nifti(values_image(upper, nbh, mimg), out.upper)
    c = nbh.centres
    table = pd.DataFrame({
        "study": snakemake.wildcards.study, "centre": np.arange(nbh.n_centres),
        "i": c[:, 0], "j": c[:, 1], "k": c[:, 2], "n_voxels": nbh.sizes(),
        "statistic": p.ceiling_statistic, "lower": lower, "upper": upper,
    })  # fmt: skip
    provenance = rule_provenance(snakemake.config, snakemake.input)
    write_table(with_provenance(table, provenance), out.ceiling)
    log.info("valid searchlights %d; median lower ceiling %.4f",
             int(np.isfinite(lower).sum()), float(np.nanmedian(lower)))  # fmt: skip
