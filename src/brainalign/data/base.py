"""The dataset interface every loader returns."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.rsa.rdm import validate_rdm_stack

__all__ = [
    "Dataset",
    "DataFileError",
    "CATEGORY_BLOCKS_92",
    "categories_92",
    "file_error",
    "validate_dataset",
]

#: HDF5's "truncated file: eof = ..., sblock->base_addr = ..., stored_eof = <expected size>".
_HDF5_EOF = re.compile(r"truncated file: .*stored_eof = (\d+)")


class DataFileError(ValueError):
    """A data file cannot be read (truncated, corrupt, or not of its format); names the file."""


def file_error(path: str | os.PathLike, what: str, err: BaseException | str) -> DataFileError:
    """The one-line error for an unreadable data file.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        Its expected format, e.g. ``"MATLAB v7.3 (HDF5) file"``.
    err : exception or str
        What the reader said (kept at the end of the message).

    Returns
    -------
    DataFileError
        ``<path>: cannot be read as a <what>: the file is truncated or corrupt (<size> bytes;
        <reader's error>); replace it with a complete copy`` ("truncated (<size> of <expected>
        bytes; ..." when HDF5 says so, "empty (0 bytes; ..." for an empty file).
    """
    path = Path(path)
    size = path.stat().st_size if path.exists() else 0
    detail = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    detail = " ".join(str(detail).split())
    state, sizes = "truncated or corrupt", f"{size} bytes"
    if size == 0:
        state = "empty"
    elif m := _HDF5_EOF.search(detail):
        state, sizes = "truncated", f"{size} of {m.group(1)} bytes"
    return DataFileError(
        f"{path}: cannot be read as a {what}: the file is {state} ({sizes}; {detail}); "
        "replace it with a complete copy"
    )


#: Category blocks of the 92-image set (Kriegeskorte et al. 2008; Cichy et al. 2014), in order.
CATEGORY_BLOCKS_92 = (
    ("human body", 12),
    ("human face", 12),
    ("animal body", 12),
    ("animal face", 12),
    ("natural object", 23),
    ("artificial object", 21),
)


def categories_92() -> list[str]:
    """Category label of each of the 92 images, in presentation order."""
    return [name for name, count in CATEGORY_BLOCKS_92 for _ in range(count)]


@dataclass
class Dataset:
    """Images in presentation order plus subject RDMs per brain region.

    Attributes
    ----------
    name : str
        Dataset name (results go under ``results/<name>/``).
    images : ndarray, shape (n_images, height, width, 3), uint8
        Stimuli in presentation order (the order of the RDM rows).
    image_names : list of str, length n_images
    categories : list of str, length n_images
    rdms : dict of str to ndarray, each shape (n_subjects, n_images, n_images)
        Subject RDMs per region (e.g. ``"EVC"``, ``"IT"``), float64.
    subjects : list of str, length n_subjects
    metadata : dict
        Free-form provenance (source files, set name, options).
    """

    name: str
    images: np.ndarray
    image_names: list[str]
    categories: list[str]
    rdms: dict[str, np.ndarray]
    subjects: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        return int(self.images.shape[0])

    @property
    def regions(self) -> list[str]:
        return list(self.rdms)


def validate_dataset(ds: Dataset) -> Dataset:
    """Check image/RDM counts, RDM shapes, symmetry, zero diagonals and NaNs.

    Returns the dataset with every RDM stack validated (float64, exactly symmetric).

    Raises
    ------
    ValueError
        With one message naming the dataset, region, subject and problem.
    """
    imgs = np.asarray(ds.images)
    if imgs.ndim != 4 or imgs.shape[3] != 3 or imgs.dtype != np.uint8:
        raise ValueError(
            f"dataset {ds.name!r}: images must be (n, H, W, 3) uint8, got "
            f"shape {imgs.shape} dtype {imgs.dtype}"
        )
    n = imgs.shape[0]
    if len(ds.image_names) != n or len(ds.categories) != n:
        raise ValueError(
            f"dataset {ds.name!r}: {n} images but {len(ds.image_names)} names and "
            f"{len(ds.categories)} category labels"
        )
    if not ds.rdms:
        raise ValueError(f"dataset {ds.name!r}: no brain RDMs")
    out = {}
    for region, stack in ds.rdms.items():
        stack = np.asarray(stack)
        if stack.ndim == 3 and stack.shape[1] != n:
            raise ValueError(
                f"dataset {ds.name!r}: {n} images but the {region} RDMs are "
                f"{stack.shape[1]}×{stack.shape[2]}; image count and RDM size must match"
            )
        out[region] = validate_rdm_stack(stack, f"dataset {ds.name!r} region {region}", n)
        if out[region].shape[0] != len(ds.subjects):
            raise ValueError(
                f"dataset {ds.name!r}: region {region} has {out[region].shape[0]} "
                f"subjects, expected {len(ds.subjects)}"
            )
    ds.rdms = out
    return ds
