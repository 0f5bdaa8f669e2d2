"""Importing the original code's pickles with the restricted unpickler."""

from __future__ import annotations

import builtins
import os
import pickle
import struct
import subprocess

import numpy as np
import pytest

from brainalign.io.files import read_npz
from brainalign.studies.truzzi2020.legacy import (
    UnsafePickleError,
    image_index,
    import_niko92_activations,
    import_tau_pickles,
    load_niko92_activations,
    load_singlesubj_taus,
    parse_tau_filename,
    restricted_load,
    restricted_loads,
)

# --- a Python 2 pickler, to build files the way Python 2.7 + numpy wrote them ----------------


def py2_pickle(obj) -> bytes:  # noqa: C901 - an opcode writer, one branch per type
    """Protocol-2 pickle with Python 2 opcodes: byte strings as (SHORT_)BINSTRING, numpy arrays
    via ``numpy.core.multiarray._reconstruct`` and ``numpy.core.multiarray.scalar``."""
    out = bytearray(b"\x80\x02")

    def glob(module, name):
        out.extend(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def s(data: bytes):
        if len(data) < 256:
            out.extend(b"U" + bytes([len(data)]) + data)
        else:
            out.extend(b"T" + struct.pack("<i", len(data)) + data)

    def dtype(dt):
        glob("numpy", "dtype")
        s(dt.str[1:].encode())
        out.extend(b"K\x00K\x01\x87R")
        out.extend(b"(K\x03")
        s(b"<" if dt.itemsize > 1 else b"|")
        out.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")

    def emit(o):
        if isinstance(o, dict):
            out.extend(b"}(")
            for k, v in o.items():
                emit(k)
                emit(v)
            out.extend(b"u")
        elif isinstance(o, list):
            out.extend(b"](")
            for v in o:
                emit(v)
            out.extend(b"e")
        elif isinstance(o, str):
            s(o.encode("latin1"))
        elif isinstance(o, np.generic):
            glob("numpy.core.multiarray", "scalar")
            dtype(o.dtype)
            s(o.tobytes())
            out.extend(b"\x86R")
        elif isinstance(o, float):
            out.extend(b"G" + struct.pack(">d", o))
        elif isinstance(o, int):
            out.extend(b"J" + struct.pack("<i", o))
        elif isinstance(o, np.ndarray):
            a = np.ascontiguousarray(o)
            glob("numpy.core.multiarray", "_reconstruct")
            glob("numpy", "ndarray")
            out.extend(b"K\x00\x85")
            s(b"b")
            out.extend(b"\x87R(K\x01")
            out.extend(b"(" + b"".join(b"J" + struct.pack("<i", d) for d in a.shape) + b"t")
            dtype(a.dtype)
            out.extend(b"\x89")
            s(a.tobytes())
            out.extend(b"tb")
        else:
            raise TypeError(type(o))

    emit(obj)
    out.extend(b".")
    return bytes(out)


def test_py2_pickles_of_arrays_and_scalars_load():
    a = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)
    data = py2_pickle({"k": [a, np.float64(0.25), 1.5, 3]})
    assert b"numpy.core.multiarray" in data
    obj = restricted_loads(data)
    np.testing.assert_array_equal(obj["k"][0], a)
    assert obj["k"][0].dtype == np.float32
    assert obj["k"][1] == 0.25 and isinstance(obj["k"][1], np.float64)
    assert obj["k"][2:] == [1.5, 3]


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_python3_pickles_load(protocol):
    obj = {
        "a": np.arange(6.0).reshape(2, 3),
        "b": (1, "x", b"y", {2, 3}),
        "c": [np.int64(4)],
        "d": np.array(["u", "v"]),
        "e": np.zeros(3, dtype=[("f", "<f4")]),
    }
    back = restricted_loads(pickle.dumps(obj, protocol=protocol))
    np.testing.assert_array_equal(back["a"], obj["a"])
    assert back["b"] == obj["b"] and back["c"] == [4]
    np.testing.assert_array_equal(back["d"], obj["d"])
    assert back["e"].dtype == obj["e"].dtype


class _System:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class _Eval:
    def __reduce__(self):
        return (builtins.eval, ("__import__('os').system('true')",))


class _Popen:
    def __reduce__(self):
        return (subprocess.Popen, (["true"],))


class _Getattr:
    def __reduce__(self):
        return (getattr, (dict, "fromkeys"))


@pytest.mark.parametrize("payload", [_Eval(), _Popen(), _Getattr(), pickle.Pickler])
def test_code_executing_pickles_are_refused(tmp_path, payload):
    with pytest.raises(UnsafePickleError, match="refusing"):
        restricted_loads(pickle.dumps({"x": [payload]}, protocol=2))


def test_os_system_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "niko92_activations_pretrained_DC.pickle"
    path.write_bytes(pickle.dumps({"a": _System(f"touch {marker}")}, protocol=2))
    with pytest.raises(UnsafePickleError) as err:
        restricted_load(path)
    assert str(path) in str(err.value) and "system" in str(err.value)
    assert not marker.exists()
    with pytest.raises(UnsafePickleError):
        load_niko92_activations(path)
    assert not marker.exists()


def _activation_pickle(rng, n=5, py2=True):
    shapes = [(4, 6, 6), (5, 3, 3), (6, 2, 2), (6, 2, 2), (4, 2, 2), (8,), (8,)]
    truth = {}
    entries = {}
    order = rng.permutation(n)  # dict insertion order is not presentation order
    for k in order:
        key = f"/data/92images/jpg_images/image_{k + 1:02d}.jpg"
        acts = [rng.normal(size=(1, *s)).astype(np.float32) for s in shapes]
        entries[key] = acts
        truth[k] = acts
    data = py2_pickle(entries) if py2 else pickle.dumps(entries, protocol=2)
    return data, truth


@pytest.mark.parametrize("py2", [True, False])
def test_niko92_activations_import(tmp_path, py2):
    rng = np.random.default_rng(0)
    data, truth = _activation_pickle(rng, py2=py2)
    path = tmp_path / "niko92_activations_untrained_DC.pickle"
    path.write_bytes(data)
    keys, acts = load_niko92_activations(path)
    assert [image_index(k) for k in keys] == [1, 2, 3, 4, 5]
    assert list(acts) == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"]
    for k in range(5):
        expected = truth[k][0][0].astype(np.float64).mean(axis=(1, 2))
        np.testing.assert_allclose(acts["conv1"][k], expected, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(acts["fc7"][k], truth[k][6][0])
    assert acts["conv2"].shape == (5, 5) and acts["fc6"].shape == (5, 8)
    _, flat = load_niko92_activations(path, conv_pooling="none")
    assert flat["conv1"].shape == (5, 4 * 6 * 6)
    np.testing.assert_array_equal(flat["conv1"][2], truth[2][0].reshape(-1))
    out = tmp_path / "activations" / "deepcluster_untrained.npz"
    import_niko92_activations(path, out)
    saved = read_npz(out)  # allow_pickle=False: no pickled objects in our output
    assert list(saved["layer_names"]) == list(acts)
    assert saved["fc6"].dtype == np.float32
    np.testing.assert_array_equal(saved["conv3"], acts["conv3"])
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_activation_pickle_shape_errors(tmp_path):
    path = tmp_path / "bad.pickle"
    path.write_bytes(pickle.dumps({"image_01.jpg": [np.zeros((1, 3))] * 6}, protocol=2))
    with pytest.raises(ValueError, match="list of 7 arrays"):
        load_niko92_activations(path)
    path.write_bytes(pickle.dumps({"no_number.jpg": [np.zeros((1, 3))] * 7}, protocol=2))
    with pytest.raises(ValueError, match="image number"):
        load_niko92_activations(path)


def test_tau_pickles(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    expected = {}
    for net, training, layer in [
        ("DC", "pretrained", 0),
        ("torchalexnet", "untrained", 6),
        ("alexnet", "pretrained", 3),
    ]:
        taus = [np.float64(t) for t in rng.uniform(-0.1, 0.4, size=15)]
        p = tmp_path / f"singlesubj_corr_{net}_niko92_{training}_mantelonly_{layer}_IT.pickle"
        p.write_bytes(py2_pickle(taus))
        paths.append(p)
        expected[(net, layer)] = np.array(taus)
    meta = parse_tau_filename(paths[0])
    assert meta == {
        "source_network": "DC",
        "network": "deepcluster",
        "stimuli": "niko92",
        "source_training": "pretrained",
        "training": "trained",
        "layer_index": 0,
        "layer": "conv1",
        "region": "IT",
    }
    np.testing.assert_array_equal(load_singlesubj_taus(paths[0]), expected[("DC", 0)])
    table = import_tau_pickles(paths)
    assert len(table) == 45
    assert set(table["condition"]) == {
        "deepcluster_trained",
        "alexnet_untrained",
        "modified_alexnet_trained",
    }
    rows = table[table["condition"] == "alexnet_untrained"]
    assert set(rows["layer"]) == {"fc7"} and list(rows["subject"])[:2] == ["01", "02"]
    np.testing.assert_array_equal(rows["tau"].to_numpy(), expected[("torchalexnet", 6)])
    with pytest.raises(ValueError, match="expected singlesubj_corr"):
        parse_tau_filename("rdm_DC_niko92_presentation_ReLu1_pretrained_values.pickle")
    with pytest.raises(ValueError, match="layer index 7"):
        parse_tau_filename("singlesubj_corr_DC_niko92_pretrained_mantelonly_7_IT.pickle")
