"""What a benchmark ran on: the device, its peak, and the versions, in one line."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

# Dense bf16 tensor-core peaks (TFLOP/s); the suites train in fp32 by default, so MFU
# against these is a lower bound of what mixed precision could reach.
PEAKS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name (from /proc/cpuinfo where there is one)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall clock around it means something."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_tflops(device: torch.device) -> float | None:
    name = device_name(device)
    return next((v for k, v in PEAKS.items() if k in name), None)


def describe(device: torch.device, threads: int | None = None) -> str:
    """device, its name, torch (and CUDA) version, CPU threads, python version."""
    cuda = f", CUDA {torch.version.cuda}" if device.type == "cuda" else ""
    return (f"device {device} ({device_name(device)}), torch {torch.__version__}{cuda}, "
            f"CPU threads {threads or torch.get_num_threads()}, "
            f"python {platform.python_version()}")
