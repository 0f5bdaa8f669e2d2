"""Device handling: where networks run, and running them reproducibly."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["deterministic_forward", "pick_device", "sub_seed", "retain_freed_memory"]


def pick_device(device: str = "auto") -> torch.device:
    """The torch device to run on.

    Parameters
    ----------
    device : str
        ``"auto"`` gives CUDA when available, else CPU; anything else is passed to
        ``torch.device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, …).

    Returns
    -------
    torch.device
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextlib.contextmanager
def deterministic_forward() -> Iterator[None]:
    """Bit-reproducible forward passes while the block runs, whatever the machine's load.

    On the CPU, convolution and reduction kernels split their work by the number of intra-op
    threads, and floating-point sums in another order differ in the last bit (issue 10: 1 ulp in
    100 of 480 conv1 values between two processes). The block runs with one intra-op thread and
    deterministic cuDNN kernels (no autotuning); the previous settings come back afterwards.
    """
    threads = torch.get_num_threads()
    cudnn = torch.backends.cudnn
    saved = (cudnn.deterministic, cudnn.benchmark)
    torch.set_num_threads(1)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        cudnn.deterministic, cudnn.benchmark = saved


def sub_seed(seed: int, *labels: int) -> int:
    """A 32-bit seed for one purpose (``labels``: integers such as an epoch), derived from
    ``seed`` by NumPy's ``SeedSequence``: independent streams, the same on every machine."""
    return int(np.random.SeedSequence([int(seed), *(int(x) for x in labels)]).generate_state(1)[0])


def retain_freed_memory(limit_bytes: int = 1 << 30) -> bool:
    """Keep freed memory in the process instead of handing it back to the OS (glibc only).

    Training allocates and frees the same large buffers (weights' gradients, activations) on
    every step; glibc serves blocks above 32 MB by ``mmap`` and unmaps them on ``free``, so
    every step faults the pages in again (on the 2-core machine about a fifth of a training
    job's time went to the kernel). Raising the mmap and trim thresholds to ``limit_bytes``
    serves such blocks from the heap and keeps them. Numbers do not change: torch aligns its
    buffers itself (64 bytes). Peak memory is unchanged; memory is not returned before exit.

    Returns
    -------
    bool
        False where there is no glibc ``mallopt`` (nothing changed).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, limit_bytes)) and bool(
        mallopt(m_trim_threshold, limit_bytes)
    )
