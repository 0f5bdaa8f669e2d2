"""Import files written by the original Truzzi & Cusack (2020) code, safely.

The Cusack lab's open data (``s3://cusacklab/2020ICLR_BAICS_ATRC_opendata/``) ships Python
pickles (several written by Python 2):

``niko92_activations_{pretrained,untrained}_{DC,alexnet,torchalexnet}.pickle``
    dict ``{image path: [7 arrays]}``: the outputs of every ReLU in ``features`` (5, shape
    (1, C, H, W)) then ``classifier`` (2, shape (1, 4096)), batch size 1.
``singlesubj_corr_{net}_niko92_{training}_mantelonly_{layer}_{region}.pickle``
    a list of per-subject Kendall taus (15 for the Algonauts fMRI data), ``layer`` 0–6.

Pickles can execute arbitrary code when loaded. :func:`restricted_load` uses an unpickler that
resolves only numpy's array/dtype/scalar reconstructors and builtin containers and scalars;
anything else (``os.system``, ``builtins.eval``, ``subprocess``, arbitrary classes) raises
:class:`UnsafePickleError` before it can run.

Imported activations are written in the workflow's own ``.npz`` layout (one float32 array per
layer, ``(n_images, n_features)``, plus ``layer_names``), never as pickles.
"""

from __future__ import annotations

import io
import os
import pickle
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.networks.registry import LAYER_NAMES

__all__ = [
    "UnsafePickleError",
    "RestrictedUnpickler",
    "restricted_load",
    "restricted_loads",
    "CUSACK_NETWORKS",
    "CUSACK_TRAININGS",
    "image_index",
    "load_niko92_activations",
    "import_niko92_activations",
    "parse_tau_filename",
    "load_singlesubj_taus",
    "import_tau_pickles",
]


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle refers to something other than numpy arrays and builtin containers."""


#: Globals a pickle may refer to (module, name), after Python 2 → 3 renaming.
_ALLOWED: dict[tuple[str, str], Any] = {}


def _allow() -> None:
    import builtins
    import collections

    for name in (
        "list",
        "dict",
        "tuple",
        "set",
        "frozenset",
        "bytearray",
        "bytes",
        "str",
        "int",
        "float",
        "complex",
        "bool",
        "slice",
        "range",
    ):
        _ALLOWED[("builtins", name)] = getattr(builtins, name)
    _ALLOWED[("collections", "OrderedDict")] = collections.OrderedDict
    # Python 3 pickles bytes as _codecs.encode(text, "latin1") under protocols 0-2; codecs only
    # transform data.
    import _codecs

    _ALLOWED[("_codecs", "encode")] = _codecs.encode
    from numpy._core import multiarray

    _ALLOWED[("numpy._core.multiarray", "_reconstruct")] = multiarray._reconstruct
    _ALLOWED[("numpy._core.multiarray", "scalar")] = multiarray.scalar
    _ALLOWED[("numpy", "ndarray")] = np.ndarray
    # pickle protocol 5 rebuilds arrays from their raw buffer
    from numpy._core import numeric

    _ALLOWED[("numpy._core.numeric", "_frombuffer")] = numeric._frombuffer
    _ALLOWED[("numpy", "dtype")] = np.dtype
    # numpy >= 1.25 pickles dtypes as numpy.dtypes.<Name>DType classes.
    import numpy.dtypes

    for name in dir(numpy.dtypes):
        obj = getattr(numpy.dtypes, name)
        if isinstance(obj, type) and issubclass(obj, np.dtype):
            _ALLOWED[("numpy.dtypes", name)] = obj


_allow()
# Python 2 and old-numpy module names → their Python 3 / numpy 2 equivalents.
_MODULE_ALIASES = {
    "__builtin__": "builtins",
    "numpy.core.multiarray": "numpy._core.multiarray",
    "numpy.core.numeric": "numpy._core.numeric",
    "numpy.core._multiarray_umath": "numpy._core.multiarray",
    "numpy._core._multiarray_umath": "numpy._core.multiarray",
}
# Python 2 builtin type names.
_NAME_ALIASES = {
    ("builtins", "unicode"): "str",
    ("builtins", "long"): "int",
    ("builtins", "xrange"): "range",
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds numpy arrays, dtypes, scalars and builtin containers.

    Python 2 pickles are read with ``encoding="latin1"`` (numpy's array byte strings survive).
    """

    def find_class(self, module: str, name: str) -> Any:
        mod = _MODULE_ALIASES.get(module, module)
        name = _NAME_ALIASES.get((mod, name), name)
        try:
            return _ALLOWED[(mod, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load {module}.{name}: only numpy arrays and builtin containers "
                f"are allowed in imported pickles"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refusing a pickle with persistent ids")


def restricted_loads(data: bytes) -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler` (latin1 for Python 2 strings)."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def restricted_load(path: str | os.PathLike) -> Any:
    """Unpickle a file with :class:`RestrictedUnpickler`.

    Raises
    ------
    UnsafePickleError
        Naming the file and the refused global.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pickle file not found: {path}")
    try:
        with open(path, "rb") as fh:
            return RestrictedUnpickler(fh, encoding="latin1").load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable pickle ({exc})") from exc


# --- activations ----------------------------------------------------------------------------

#: The original code's network names → this project's network names.
CUSACK_NETWORKS = {
    "DC": "deepcluster",
    "alexnet": "modified_alexnet",
    "torchalexnet": "alexnet",
    "torchalexnetINonly": "alexnet",
}
#: The original code's training labels → this project's.
CUSACK_TRAININGS = {"pretrained": "trained", "untrained": "untrained"}
_INDEX = re.compile(r"(\d+)\.(?:jpe?g|png)$", re.IGNORECASE)


def image_index(key: str) -> int:
    """The image number at the end of a file name (``…/image_07.jpg`` → 7)."""
    name = os.path.basename(str(key).replace("\\", "/"))
    m = _INDEX.search(name)
    if not m:
        raise ValueError(
            f"cannot read an image number from {key!r} (expected a name ending in "
            f"a number before .jpg, e.g. image_07.jpg)"
        )
    return int(m.group(1))


def load_niko92_activations(
    path: str | os.PathLike, conv_pooling: str = "mean"
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Read an original ``niko92_activations_*.pickle`` into the workflow's layout.

    Parameters
    ----------
    path : path-like
    conv_pooling : {"mean", "none"}
        ``"mean"`` averages conv maps over space (as the original analysis did), ``"none"``
        flattens them (C·H·W).

    Returns
    -------
    image_keys : list of str
        The pickle's keys, sorted by the image number in the file name (presentation order).
    activations : dict of str to ndarray
        ``conv1 … fc7`` → (n_images, n_features) float32.
    """
    if conv_pooling not in ("mean", "none"):
        raise ValueError(f"conv_pooling must be 'mean' or 'none', got {conv_pooling!r}")
    path = Path(path)
    obj = restricted_load(path)
    if not isinstance(obj, dict) or not obj:
        raise ValueError(
            f"{path}: expected a non-empty dict {{image path: [7 arrays]}}, got "
            f"{type(obj).__name__}"
        )
    keys = [k.decode("latin1") if isinstance(k, bytes) else str(k) for k in obj]
    order = sorted(range(len(keys)), key=lambda i: image_index(keys[i]))
    numbers = [image_index(keys[i]) for i in order]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"{path}: duplicate image numbers in the keys")
    values = list(obj.values())
    layers: dict[str, list[np.ndarray]] = {name: [] for name in LAYER_NAMES}
    for i in order:
        acts = values[i]
        if not isinstance(acts, (list, tuple)) or len(acts) != len(LAYER_NAMES):
            raise ValueError(
                f"{path}: entry {keys[i]!r} should be a list of "
                f"{len(LAYER_NAMES)} arrays, got {type(acts).__name__} of length "
                f"{len(acts) if hasattr(acts, '__len__') else '?'}"
            )
        for name, a in zip(LAYER_NAMES, acts, strict=True):
            a = np.asarray(a, dtype=np.float32)
            if a.ndim >= 1 and a.shape[0] == 1:
                a = a[0]  # batch of one
            if a.ndim == 3 and conv_pooling == "mean":
                a = a.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
            layers[name].append(a.reshape(-1))
    out = {}
    for name, rows in layers.items():
        sizes = {r.size for r in rows}
        if len(sizes) != 1:
            raise ValueError(
                f"{path}: layer {name} has different sizes across images: {sorted(sizes)}"
            )
        out[name] = np.stack(rows)
    return [keys[i] for i in order], out


def import_niko92_activations(
    path: str | os.PathLike, out: str | os.PathLike, conv_pooling: str = "mean"
) -> dict[str, np.ndarray]:
    """Convert a ``niko92_activations_*.pickle`` into an activation ``.npz`` (atomic write).

    The ``.npz`` holds one float32 array per layer (``conv1 … fc7``), ``layer_names`` and
    ``image_keys`` (the original keys in presentation order).
    """
    from brainalign.io.files import write_npz

    keys, acts = load_niko92_activations(path, conv_pooling)
    write_npz(out, layer_names=np.array(list(acts)), image_keys=np.array(keys), **acts)
    return acts


# --- per-subject taus -----------------------------------------------------------------------


def parse_tau_filename(path: str | os.PathLike) -> dict[str, Any]:
    """Parse ``singlesubj_corr_{net}_{stimuli}_{training}_mantelonly_{layer}_{region}.pickle``.

    Uses the original code's ``split('_')`` positions (2 network, 3 stimuli, 4 training,
    −2 layer, −1 region).

    Returns
    -------
    dict
        ``source_network``, ``network`` (this project's name), ``stimuli``, ``source_training``,
        ``training``, ``layer_index`` (0–6), ``layer`` (``conv1`` …), ``region``.
    """
    name = Path(path).name
    stem = name[: -len(".pickle")] if name.endswith(".pickle") else name
    parts = stem.split("_")
    if len(parts) < 8 or parts[:2] != ["singlesubj", "corr"] or not parts[-2].isdigit():
        raise ValueError(
            f"{name}: expected singlesubj_corr_<net>_<stimuli>_<training>_"
            f"mantelonly_<layer 0-6>_<region>.pickle"
        )
    net, stimuli, training = parts[2], parts[3], parts[4]
    layer = int(parts[-2])
    if not 0 <= layer < len(LAYER_NAMES):
        raise ValueError(f"{name}: layer index {layer} is not in 0–{len(LAYER_NAMES) - 1}")
    return {
        "source_network": net,
        "network": CUSACK_NETWORKS.get(net, net),
        "stimuli": stimuli,
        "source_training": training,
        "training": CUSACK_TRAININGS.get(training, training),
        "layer_index": layer,
        "layer": LAYER_NAMES[layer],
        "region": parts[-1],
    }


def load_singlesubj_taus(path: str | os.PathLike) -> np.ndarray:
    """Read a ``singlesubj_corr_*.pickle``: per-subject taus → (n_subjects,) float64."""
    path = Path(path)
    obj = restricted_load(path)
    try:
        arr = np.asarray(obj, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: expected a list of per-subject taus, got {type(obj).__name__}"
        ) from exc
    if arr.size == 0:
        raise ValueError(f"{path}: holds no taus")
    return arr


def import_tau_pickles(paths: Iterable[str | os.PathLike], subjects: list[str] | None = None):
    """Collect ``singlesubj_corr_*.pickle`` files into one tidy table.

    Parameters
    ----------
    paths : iterable of path-like
    subjects : list of str, optional
        Subject labels; default ``"01"``, ``"02"``, … (the Algonauts order).

    Returns
    -------
    pandas.DataFrame
        Columns ``condition, network, training, layer, layer_index, region, stimuli, subject,
        tau, source_file``; sorted by condition, region, layer, subject.
    """
    import pandas as pd

    rows = []
    for p in paths:
        meta = parse_tau_filename(p)
        taus = load_singlesubj_taus(p)
        labels = subjects or [f"{k + 1:02d}" for k in range(taus.size)]
        if len(labels) != taus.size:
            raise ValueError(f"{p}: {taus.size} taus but {len(labels)} subject labels")
        for subj, tau in zip(labels, taus, strict=True):
            rows.append(
                {
                    "condition": f"{meta['network']}_{meta['training']}",
                    "network": meta["network"],
                    "training": meta["training"],
                    "layer": meta["layer"],
                    "layer_index": meta["layer_index"],
                    "region": meta["region"],
                    "stimuli": meta["stimuli"],
                    "subject": subj,
                    "tau": float(tau),
                    "source_file": Path(p).name,
                }
            )
    if not rows:
        raise ValueError("no tau pickles given")
    df = pd.DataFrame(rows)
    return df.sort_values(
        ["condition", "region", "layer_index", "subject"], kind="stable"
    ).reset_index(drop=True)
