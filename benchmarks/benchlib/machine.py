"""The machine a benchmark ran on: CPU model and instruction sets, threads, versions, the
commit, and the peak resident memory of a process."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from dsae import __version__

HERE = Path(__file__).resolve().parent

# instruction set -> (torch's probe, /proc/cpuinfo flag): what torch sees, else the kernel's
INSTRUCTION_SETS = {
    "avx2": ("_is_avx2_supported", "avx2"),
    "avx512f": ("_is_avx512_supported", "avx512f"),
    "avx512_bf16": ("_is_avx512_bf16_supported", "avx512_bf16"),
    "amx": ("_is_amx_tile_supported", "amx_tile"),
}


def _cpuinfo() -> tuple[str | None, set[str]]:
    """(model name, flags) of the first CPU in /proc/cpuinfo; (None, {}) elsewhere."""
    model, flags = None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model is None:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return model, flags


def instruction_sets() -> dict[str, bool]:
    """Whether this CPU has AVX2, AVX-512F, AVX512-BF16 and AMX tiles."""
    _, flags = _cpuinfo()
    out = {}
    for name, (probe, flag) in INSTRUCTION_SETS.items():
        fn = getattr(torch.cpu, probe, None)
        out[name] = bool(fn()) if fn is not None else flag in flags
    return out


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=HERE).stdout
    except OSError:
        return None


def machine() -> dict:
    """CPU model, cores and library versions, for the record."""
    model, _ = _cpuinfo()
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "cores": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "dsae": __version__,
        "commit": (_git("rev-parse", "--short", "HEAD") or "").strip(),
        "date": time.strftime("%Y-%m-%d"),
    }


def machine_record(autocast: str) -> dict[str, Any]:
    """:func:`machine` plus logical CPUs, threads in use, the instruction sets, whether the
    training pass ran in bfloat16 (``autocast``: ``train.autocast`` as resolved) and a
    dirty-tree flag."""
    rec = machine()
    isa = instruction_sets()
    rec["logical_cpus"] = os.cpu_count()
    rec["threads"] = torch.get_num_threads()
    rec["instruction_sets"] = isa
    rec["amx"] = isa["amx"]
    rec["bf16_instructions"] = isa["amx"] or isa["avx512_bf16"]
    rec["autocast"] = autocast
    rec["bf16_autocast"] = autocast == "bf16"
    status = _git("status", "--porcelain", "--untracked-files=no")
    rec["commit_dirty"] = None if status is None else bool(status.strip())
    return rec


def peak_memory_mb() -> dict[str, float | None]:
    """This process's peak resident memory: VmHWM (its own address space) and ru_maxrss.

    On Linux a process started from a large parent reports at least the parent's peak as
    ru_maxrss (exec keeps it), so VmHWM is the figure of the process itself.
    """
    hwm = None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"vm_hwm_mb": hwm, "ru_maxrss_mb": ru}
