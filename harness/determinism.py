"""Pinned determinism and the environment fingerprint recorded with every cell."""

from __future__ import annotations

import os
import platform
import random
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .errors import SparsebenchError

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Must be set before CUDA initialises for deterministic cuBLAS.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels only."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def available_devices() -> list[str]:
    """The device names this machine's torch can run cells on."""
    names = ["auto", "cpu"]
    if torch.cuda.is_available():
        names += ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    if torch.backends.mps.is_available():
        names.append("mps")
    return names


def resolve_device(name: str | None, here: bool = True) -> torch.device:
    """'auto' picks CUDA when present; otherwise the device named, which must exist here.

    A name torch does not know, or a device this machine lacks (``cuda`` on a CPU-only
    torch, ``cuda:3`` on one GPU), is bad input: SparsebenchError naming ``--device`` and
    the devices available. With ``here=False`` (cells run on other machines: Dask
    workers, SLURM jobs) only the name is checked; each worker checks its own devices.
    """
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    available = ", ".join(available_devices())
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise SparsebenchError(f"--device {name}: not a device name; available here: "
                               f"{available}") from None
    if not here:
        return device
    usable = (
        (device.type == "cpu" and device.index in (None, 0))
        or (device.type == "cuda" and torch.cuda.is_available()
            and (device.index or 0) < torch.cuda.device_count())
        or (device.type == "mps" and torch.backends.mps.is_available())
    )
    if not usable:
        raise SparsebenchError(f"--device {name}: not available on this machine (torch "
                               f"{torch.__version__}); available here: {available}")
    return device


@lru_cache(maxsize=8)
def git_commit(root: Path = PROJECT_ROOT) -> str:
    """HEAD of the checkout at ``root``, with ``+dirty`` when anything differs from it:
    a modified file or a new one that git does not ignore (an uncommitted suite folder
    counts)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout
        return out + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def fingerprint(device: torch.device) -> dict:
    """What can change a cell's bits: versions, device, threads, platform, commit."""
    cuda = device.type == "cuda"
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()}-{platform.machine()}",
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "threads": torch.get_num_threads(),
        "git_commit": git_commit(),
    }


def platform_key(fp: dict) -> tuple:
    """The parts of a fingerprint under which two runs must give identical bits."""
    return (fp.get("torch"), fp.get("platform"), fp.get("device"), fp.get("cuda"),
            fp.get("threads"))
