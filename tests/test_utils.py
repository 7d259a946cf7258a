"""dsae.utils: keeping freed heap memory mapped."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from dsae.utils import keep_heap_memory

# Minor page faults of 20 fresh 32 MiB tensors (8192 pages each), in a new process.
_FAULTS = """
import json, resource, sys, torch
from dsae.utils import keep_heap_memory
kept = keep_heap_memory(int(sys.argv[1]))
x = torch.ones(8 * 2**20)
y = x * 2
del y
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    y = x * 2
    del y
print(json.dumps({"kept": kept, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _faults(mb: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS, str(mb)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_keep_heap_memory_off_changes_nothing():
    assert keep_heap_memory(0) is False
    assert keep_heap_memory(-5) is False


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_kept_heap_stops_page_faults_of_fresh_tensors():
    plain, kept = _faults(0), [_faults(256) for _ in range(3)]
    assert not plain["kept"] and all(k["kept"] for k in kept)
    assert plain["faults"] > 20 * 8192 // 2  # every fresh tensor faults its pages in
    # freed blocks are reused while still mapped: most fresh tensors fault nothing (the
    # kernel's own reclaim may still take back a few blocks in any one run)
    least = min(k["faults"] for k in kept)
    assert least < plain["faults"] / 2, (plain, kept)
