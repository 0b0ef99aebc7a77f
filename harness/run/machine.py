"""The machine a cell ran on: its model in words, and its *machine class*, the parts of the
hardware and kernel stack that decide a result's last bits.

Two runs of the same code and seed give identical bits only when every kernel sums in
the same order: the same CPU vendor and model (their SIMD widths), the same ISA level
ATen dispatches to, the same BLAS and oneDNN builds and the same overrides of them
(``MKL_CBWR``, ``ONEDNN_MAX_CPU_ISA``, ``ATEN_CPU_CAPABILITY``), or the same GPU, compute
capability, CUDA and cuDNN. Measured: an Intel Xeon (AVX-512) and an AMD EPYC with the
same torch build differ in hundreds of trained numbers, and pinning MKL to AVX2 does not
bring the bits back. A trained network amplifies the last bit of a kernel into a
seed-sized difference, so regress and verify compare exactly only within one class
(:func:`comparison`) and by distribution across classes. Threads, torch and the device
are in :func:`harness.determinism.platform_key`; the class adds the rest.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

# Environment variables that change which kernels run (and so the bits), recorded when set.
KERNEL_OVERRIDES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR",
                    "MKL_ENABLE_INSTRUCTIONS", "OPENBLAS_CORETYPE")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


@cache
def cpu_model() -> str:
    """'AMD EPYC 9B14 (2 cores)': the CPU's model name and the cores this process sees."""
    name = _cpuinfo().get("model name", "")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name or platform.processor() or platform.machine()} ({cores} cores)"


@cache
def _builds() -> str:
    """'MKL 2024.2, oneDNN v3.12.0': the BLAS and oneDNN builds torch was compiled with."""
    config = torch.__config__.show()
    parts = []
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", config)
    if mkl:
        parts.append(f"MKL {mkl.group(1)}")
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    if blas and not mkl:
        parts.append(f"BLAS {blas.group(1)}")
    dnn = re.search(r"MKL-DNN (v[\w.]+)", config)
    if dnn:
        parts.append(f"oneDNN {dnn.group(1)}")
    return ", ".join(parts) or "no BLAS recorded"


@cache
def _cpu_class() -> str:
    info = _cpuinfo()
    vendor = info.get("vendor_id") or platform.machine()
    family_model = "/".join(info[k] for k in ("cpu family", "model") if k in info)
    name = info.get("model name") or platform.processor() or platform.machine()
    capability = torch.backends.cpu.get_cpu_capability()
    return f"{vendor} {family_model} {name}; ATen {capability}; {_builds()}".replace("  ", " ")


def machine_class(device: torch.device) -> str:
    """The machine class of a cell run on ``device``: within one class a rerun gives the
    same bits (with the platform key's torch, threads and device equal)."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        where = (f"{torch.cuda.get_device_name(device)} sm_{major}{minor}; CUDA "
                 f"{torch.version.cuda}; cuDNN {torch.backends.cudnn.version()}")
    elif device.type == "mps":
        where = f"Apple MPS {platform.machine()} {platform.mac_ver()[0]}"
    else:
        where = _cpu_class()
    overrides = [f"{k}={os.environ[k]}" for k in KERNEL_OVERRIDES if os.environ.get(k)]
    return where + ("; " + ", ".join(overrides) if overrides else "")


@dataclass(frozen=True)
class Comparison:
    """How stored numbers and a new run of them compare: ``exact`` within one machine class
    (and platform key), else by distribution; ``why`` says which classes, in words."""

    exact: bool
    why: str

    @property
    def mode(self) -> str:
        return "exact" if self.exact else "statistical"

    def line(self) -> str:
        return f"{self.mode}: {self.why}"


def where(fp: dict) -> str:
    """A fingerprint's machine in words: its class, else its CPU's name, else its device."""
    device = fp.get("device") or "cpu"
    return fp.get("machine_class") or fp.get("cpu") or (
        "an unrecorded CPU" if device == "cpu" else device)


def comparison(stored: dict, new: dict) -> Comparison:
    """Exact when both fingerprints name the same machine class and the same platform key
    (torch, platform, device, CUDA, threads); statistical otherwise, with the reason. Numbers
    stored before the class was recorded are compared statistically: which kernels made
    them is unknown (the CPU's name alone does not say, e.g. "AMD EPYC" covers several ISA
    levels)."""
    from ..determinism import platform_key

    if not stored:
        return Comparison(False, "the stored numbers record no environment")
    if platform_key(stored) != platform_key(new):
        keys = ("torch", "platform", "device", "cuda", "threads")
        what = ", ".join(f"{k} {stored.get(k)} -> {new.get(k)}" for k in keys
                         if stored.get(k) != new.get(k))
        return Comparison(False, f"another platform ({what})")
    if not stored.get("machine_class"):
        return Comparison(False, f"stored on {where(stored)} without a recorded machine "
                                 f"class; running on {where(new)}")
    if stored["machine_class"] != new.get("machine_class"):
        return Comparison(False, f"stored on {stored['machine_class']}; running on "
                                 f"{where(new)}")
    return Comparison(True, f"the same machine class ({stored['machine_class']})")
