#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Record the 7 ReLU outputs of the DeepCluster AlexNet for a set of stimuli.

Standalone on purpose: it runs under the legacy environment of the original DeepCluster code
(Python 2.7, PyTorch 0.3/0.4; envs/deepcluster-py27.yaml) and under Python 3 with a modern
PyTorch alike. It imports nothing from brainalign, uses no f-strings, and is called by the
workflow with `shell:` (Snakemake's `script:` preamble is Python 3 only).

Input   --images: an .npz with `images`, (n_images, H, W, 3) uint8 (the workflow's stimuli.npz).
Output  --out:    an .npz with one float32 array per layer (conv1..conv5, fc6, fc7), each
                  (n_images, n_features), plus `layer_names` -- the layout of the modern
                  activation files. Written to a temporary file and renamed into place.

Under Python 3 with the same torch it gives the same numbers as brainalign's modern path
(`build_network("deepcluster", ...)` + `preprocess` + `extract_activations`): same module
order and initialisation for the untrained network, the same preprocessing (resize the short
side to 256 with bilinear PIL resampling, centre-crop 224, scale to [0, 1], ImageNet
normalisation) and the same spatial averaging of conv maps.

Weights (--weights) are read with torch.load(weights_only=True) where torch has it, else with a
restricted unpickler that only rebuilds tensors and containers; --allow-unsafe-pickle opts in
to full unpickling for a file you trust.
"""

from __future__ import absolute_import, division, print_function

import argparse
import math
import os
import pickle
import sys
import tempfile

import numpy as np
import torch
from PIL import Image
from torch import nn

LAYER_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CFG = [(96, 11, 4, 2), "M", (256, 5, 1, 2), "M", (384, 3, 1, 1), (384, 3, 1, 1),
       (256, 3, 1, 1), "M"]
PY2 = sys.version_info[0] == 2
TEXT = unicode if PY2 else str  # noqa: F821 (Python 2 only)


class DeepClusterAlexNet(nn.Module):
    """DeepCluster AlexNet (Sobel + BatchNorm); module names match the original checkpoints."""

    def __init__(self, num_classes=10000, sobel=True, bn=True, width=1.0):
        super(DeepClusterAlexNet, self).__init__()
        layers = []
        in_ch = 2 if sobel else 3
        for v in CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
                continue
            out, k, s, p = v
            out = max(1, int(round(out * width)))
            layers.append(nn.Conv2d(in_ch, out, kernel_size=k, stride=s, padding=p))
            if bn:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            in_ch = out
        self.features = nn.Sequential(*layers)
        self.flat = in_ch * 6 * 6
        fc = max(1, int(round(4096 * width)))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(self.flat, fc), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(fc, fc), nn.ReLU(inplace=True))
        self.top_layer = nn.Linear(fc, num_classes)
        self._initialize_weights()
        if sobel:
            grayscale = nn.Conv2d(3, 1, kernel_size=1, stride=1, padding=0)
            sobel_filter = nn.Conv2d(1, 2, kernel_size=3, stride=1, padding=1)
            grayscale.weight.data.fill_(1.0 / 3.0)
            grayscale.bias.data.zero_()
            sobel_filter.weight.data[0, 0].copy_(torch.FloatTensor(
                [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]))
            sobel_filter.weight.data[1, 0].copy_(torch.FloatTensor(
                [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]))
            sobel_filter.bias.data.zero_()
            self.sobel = nn.Sequential(grayscale, sobel_filter)
            for p in self.sobel.parameters():
                p.requires_grad = False
        else:
            self.sobel = None

    def forward(self, x):
        if self.sobel is not None:
            x = self.sobel(x)
        x = self.features(x)
        x = x.view(x.size(0), self.flat)
        x = self.classifier(x)
        return self.top_layer(x)

    def _initialize_weights(self):
        # conv ~ N(0, sqrt(2 / (k*k*out))), bias 0; BN weight 1, bias 0; linear ~ N(0, 0.01).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0.0, math.sqrt(2.0 / n))
                m.bias.data.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1.0)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.data.normal_(0.0, 0.01)
                m.bias.data.zero_()


# --- safe checkpoint reading ----------------------------------------------------------------

_SAFE_BUILTINS = ("list", "dict", "tuple", "set", "frozenset", "int", "float", "bool", "str",
                  "bytes", "bytearray", "unicode", "long", "complex", "slice")


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds only tensors, storages and containers (for torch versions without weights_only)."""

    def find_class(self, module, name):
        ok = False
        if module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS:
            ok = True
        elif module == "collections" and name == "OrderedDict":
            ok = True
        elif module == "_codecs" and name == "encode":
            ok = True
        elif module == "torch" and name.endswith("Storage"):
            ok = True
        elif module == "torch._utils" and (name.startswith("_rebuild_tensor")
                                           or name == "_rebuild_parameter"):
            ok = True
        elif module == "torch" and name in ("Size", "float32", "float64", "int64"):
            ok = True
        if not ok:
            raise pickle.UnpicklingError(
                "refusing to load %s.%s from a weights file (only tensors and containers are "
                "allowed; pass --allow-unsafe-pickle for a file you trust)" % (module, name))
        return pickle.Unpickler.find_class(self, module, name)


class _RestrictedPickleModule(object):
    """A `pickle_module` for torch.load that uses :class:`_RestrictedUnpickler`."""

    Unpickler = _RestrictedUnpickler
    Pickler = pickle.Pickler
    UnpicklingError = pickle.UnpicklingError

    @staticmethod
    def load(f, **kwargs):
        return _RestrictedUnpickler(f, **kwargs).load()

    @staticmethod
    def loads(data, **kwargs):
        import io
        return _RestrictedUnpickler(io.BytesIO(data), **kwargs).load()


def _cpu(storage, location):
    return storage


def _has_weights_only():
    try:
        import inspect
        if hasattr(inspect, "signature"):
            return "weights_only" in inspect.signature(torch.load).parameters
    except (TypeError, ValueError):
        pass
    return False


def read_checkpoint(path, loader="auto"):
    """Load a checkpoint: 'weights_only' (modern torch), 'restricted', or 'unsafe'."""
    if loader == "auto":
        loader = "weights_only" if _has_weights_only() else "restricted"
    kwargs = {}
    if not PY2:
        kwargs["encoding"] = "latin1"  # Python 2 checkpoints; ASCII keys decode the same
    if loader == "weights_only":
        try:
            return torch.load(path, map_location=_cpu, weights_only=True, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise SystemExit("error: %s cannot be read with torch.load(weights_only=True) (%s); "
                             "pass --allow-unsafe-pickle if you trust it" % (path, exc))
    if loader == "restricted":
        if _has_weights_only():
            kwargs["weights_only"] = False
        try:
            return torch.load(path, map_location=_cpu, pickle_module=_RestrictedPickleModule,
                              **kwargs)
        except pickle.UnpicklingError as exc:
            raise SystemExit("error: %s: %s" % (path, exc))
    if loader == "unsafe":
        if _has_weights_only():
            kwargs["weights_only"] = False
        return torch.load(path, map_location=_cpu, **kwargs)
    raise SystemExit("error: unknown loader %r" % (loader,))


def load_weights(model, path, loader="auto"):
    """Load a DeepCluster-style checkpoint (strips DataParallel prefixes, resizes top_layer)."""
    obj = read_checkpoint(path, loader)
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    state = {}
    for key, value in obj.items():
        key = key.replace(".module", "")
        if key.startswith("module."):
            key = key[len("module."):]
        state[key] = value
    if "features.0.weight" not in state:
        raise SystemExit("error: %s: no features.0.weight; not a DeepCluster AlexNet "
                         "checkpoint" % path)
    has_sobel = "sobel.0.weight" in state or state["features.0.weight"].size(1) == 2
    if has_sobel != (model.sobel is not None):
        raise SystemExit("error: %s: checkpoint %s the Sobel front end but the network %s"
                         % (path, "has" if has_sobel else "lacks",
                            "has it" if model.sobel is not None else "does not"))
    top = state.get("top_layer.bias")
    if top is not None and top.size(0) != model.top_layer.out_features:
        model.top_layer = nn.Linear(model.top_layer.in_features, top.size(0))
    own = model.state_dict()
    for key in own:
        if (key.startswith("sobel.") or key.startswith("top_layer.")) and key not in state:
            state[key] = own[key]
    for key in list(state):
        if key.endswith("num_batches_tracked") and key not in own:  # torch < 0.4.1
            del state[key]
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError) as exc:
        raise SystemExit("error: %s: weights do not fit the DeepCluster AlexNet: %s"
                         % (path, exc))
    return model


# --- preprocessing --------------------------------------------------------------------------

def _round_half_even(x):
    """Python 3's round() (banker's rounding) under Python 2 as well."""
    f = math.floor(x)
    d = x - f
    if d > 0.5 or (d == 0.5 and int(f) % 2 == 1):
        return int(f) + 1
    return int(f)


def preprocess_image(arr, resize=256, crop=224):
    """(H, W, 3) uint8 -> (3, crop, crop) float32 tensor, as torchvision's Resize/CenterCrop/
    ToTensor/Normalize on a PIL image."""
    arr = np.asarray(arr)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise SystemExit("error: images must be (H, W, 3) uint8, got %s %s"
                         % (arr.shape, arr.dtype))
    img = Image.fromarray(arr)
    w, h = img.size
    short, long_ = (w, h) if w <= h else (h, w)
    new_short, new_long = resize, int(resize * long_ / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), getattr(Image, "BILINEAR", 2))
    w, h = img.size
    if crop > w or crop > h:
        raise SystemExit("error: image of %dx%d is smaller than the %d crop" % (w, h, crop))
    top = _round_half_even((h - crop) / 2.0)
    left = _round_half_even((w - crop) / 2.0)
    img = img.crop((left, top, left + crop, top + crop))
    data = np.array(img, dtype=np.uint8, copy=True)
    t = torch.from_numpy(data).view(crop, crop, 3).permute(2, 0, 1).contiguous()
    t = t.float().div(255)
    mean = torch.FloatTensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.FloatTensor(IMAGENET_STD).view(3, 1, 1)
    return t.sub_(mean).div_(std)


# --- extraction -----------------------------------------------------------------------------

def relu_modules(model):
    mods = []
    for part in (model.features, model.classifier):
        for m in part.children():
            if isinstance(m, nn.ReLU):
                mods.append(m)
    if len(mods) != len(LAYER_NAMES):
        raise SystemExit("error: expected %d ReLU modules, found %d"
                         % (len(LAYER_NAMES), len(mods)))
    return list(zip(LAYER_NAMES, mods))


def _spatial_mean(out):
    try:
        return out.mean(dim=(2, 3))
    except (TypeError, RuntimeError):  # torch < 0.4.1: one dimension at a time
        return out.contiguous().view(out.size(0), out.size(1), -1).mean(2)


def extract(model, inputs, conv_pooling="mean", batch_size=16, device="cpu"):
    store = dict((name, []) for name in LAYER_NAMES)
    handles = []

    def make_hook(name):
        def hook(module, inp, out):
            out = out.data if hasattr(out, "data") else out
            if out.dim() == 4 and conv_pooling == "mean":
                out = _spatial_mean(out)
            store[name].append(out.contiguous().view(out.size(0), -1).float().cpu().numpy().copy())
        return hook

    for name, module in relu_modules(model):
        handles.append(module.register_forward_hook(make_hook(name)))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    old_torch = not hasattr(model, "to")  # torch 0.3: .cuda() instead of .to()
    if old_torch:
        model = model.cuda() if device.startswith("cuda") else model
    else:
        model = model.to(device)
    model.eval()
    n = inputs.size(0)
    # One intra-op thread: CPU kernels split sums by thread count, so more threads would make the
    # last bit depend on the machine's load (brainalign.networks.device.deterministic_forward).
    threads = torch.get_num_threads() if hasattr(torch, "get_num_threads") else None
    torch.set_num_threads(1)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    try:
        for start in range(0, n, batch_size):
            batch = inputs[start:start + batch_size]
            if not old_torch:
                batch = batch.to(device)
            elif device.startswith("cuda"):
                batch = batch.cuda()
            if hasattr(torch, "no_grad"):
                with torch.no_grad():
                    model(batch)
            else:  # torch 0.3
                from torch.autograd import Variable
                model(Variable(batch, volatile=True))
    finally:
        for h in handles:
            h.remove()
        if threads:
            torch.set_num_threads(threads)
    return dict((name, np.concatenate(store[name], axis=0).astype(np.float32))
                for name in LAYER_NAMES)


def write_npz(path, arrays):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".npz",
                               dir=folder)
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        mask = os.umask(0o022)  # read the umask: the file gets the mode open() would give
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.rename(tmp, path)  # atomic on POSIX, replaces an existing file
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def build(args):
    if hasattr(torch.random, "fork_rng"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(args.seed)
            model = DeepClusterAlexNet(args.top, sobel=not args.no_sobel, bn=True,
                                       width=args.width)
    else:
        torch.manual_seed(args.seed)
        model = DeepClusterAlexNet(args.top, sobel=not args.no_sobel, bn=True, width=args.width)
    if args.training == "trained":
        load_weights(model, args.weights, "unsafe" if args.allow_unsafe_pickle else args.loader)
    return model.eval()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", required=True, help=".npz with 'images' (n, H, W, 3) uint8")
    p.add_argument("--out", required=True, help="output .npz (one array per layer)")
    p.add_argument("--training", choices=("trained", "untrained"), default="untrained")
    p.add_argument("--seed", type=int, default=0, help="initialisation seed (untrained)")
    p.add_argument("--weights", default=None, help="checkpoint.pth.tar (trained)")
    p.add_argument("--top", type=int, default=10000, help="top_layer size (10000 DeepCluster, "
                   "1000 modified AlexNet)")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier (tests)")
    p.add_argument("--no-sobel", action="store_true", help="no Sobel front end")
    p.add_argument("--conv-pooling", choices=("mean", "none"), default="mean")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cpu", help="cpu, cuda[:i] or auto")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--loader", choices=("auto", "weights_only", "restricted"), default="auto")
    p.add_argument("--allow-unsafe-pickle", action="store_true",
                   help="fully unpickle the weights file (only for a file you trust)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.training == "trained" and (not args.weights or not os.path.isfile(args.weights)):
        raise SystemExit("error: trained weights not found at %r; get the DeepCluster "
                         "checkpoint from https://dl.fbaipublicfiles.com/deepcluster/alexnet/"
                         "checkpoint.pth.tar and pass its path with --weights" % (args.weights,))
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with np.load(args.images, allow_pickle=False) as data:
        if "images" not in data.files:
            raise SystemExit("error: %s has no 'images' array (has %s)"
                             % (args.images, ", ".join(data.files)))
        images = data["images"]
    if images.ndim != 4 or images.shape[3] != 3:
        raise SystemExit("error: %s: images must be (n, H, W, 3), got %s"
                         % (args.images, images.shape))
    inputs = torch.stack([preprocess_image(img) for img in images])
    model = build(args)
    acts = extract(model, inputs, args.conv_pooling, args.batch_size, args.device)
    arrays = dict(acts)
    arrays["layer_names"] = np.array([TEXT(n) for n in LAYER_NAMES])
    write_npz(args.out, arrays)
    print("python %d.%d, torch %s: %d images -> %s (%s)"
          % (sys.version_info[0], sys.version_info[1], torch.__version__, images.shape[0],
             args.out, ", ".join("%s %s" % (n, acts[n].shape) for n in LAYER_NAMES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
