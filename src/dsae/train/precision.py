"""The training pass's precision: float32, or CPU autocast to bfloat16.

Whether bfloat16 works is decided by trying it: once per process, a small convolution,
LSTM and linear layer run forward and backward under CPU autocast (an LSTM fed float32
inputs under autocast fails in oneDNN on some CPUs). ``auto`` takes bfloat16 only where the
CPU has bfloat16 instructions (where it pays) and the trial passes.
"""

from __future__ import annotations

import contextlib
import functools

import torch

from dsae.errors import DsaeError

AUTOCAST = {"none": None, "bf16": torch.bfloat16}  # train.autocast: the forward pass's dtype
KINDS = ("auto", *AUTOCAST)


def _cpu_has(feature: str) -> bool:
    probe = getattr(torch.cpu, f"_is_{feature}_supported", None)
    return bool(probe is not None and probe())


def amx_available() -> bool:
    """Whether this CPU has bfloat16 matrix units (Intel AMX tiles)."""
    return _cpu_has("amx_tile")


def bf16_available() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX tiles or AVX512-BF16 dot
    products, as on AMD Zen 4), where bf16 autocast pays."""
    return amx_available() or _cpu_has("avx512_bf16")


def bf16_probe() -> str | None:
    """None if a conv + LSTM + linear pass and its backward run under bf16 autocast here,
    else the first line of the error."""
    return _probe()


@functools.cache
def _probe() -> str | None:
    g = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    lstm = torch.nn.LSTM(4, 4, batch_first=True)
    lin = torch.nn.Linear(4, 2)
    x = torch.rand(2, 3, 3, 4, 4, generator=g)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            h = conv(x.flatten(0, 1)).mean((2, 3)).view(2, 3, 4)
            out, _ = lstm(h.float())  # float32 inputs, as the models' priors read
            y = lin(out).float().sum()
        y.backward()
    except RuntimeError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return msg.split(". ")[0]
    return None


def bf16_usable() -> bool:
    """Whether bf16 autocast runs here (the CPU may still lack bfloat16 instructions)."""
    return bf16_probe() is None


def resolve_autocast(kind: str) -> str:
    """``train.autocast`` as run: ``auto`` is bf16 where the CPU has bfloat16 instructions
    and the trial passes, none elsewhere; ``bf16`` where the trial fails is a user error."""
    if kind not in KINDS:
        raise DsaeError(f"train.autocast must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "auto":
        return "bf16" if bf16_available() and bf16_usable() else "none"
    if kind == "bf16":
        failure = bf16_probe()
        if failure is not None:
            raise DsaeError(
                f"train.autocast bf16 does not run on this CPU ({failure}); use none or auto"
            )
    return kind


def autocast_context(kind: str) -> contextlib.AbstractContextManager:
    """CPU autocast to ``AUTOCAST[kind]`` (matmuls and convolutions in bfloat16), or nothing;
    ``kind`` as :func:`resolve_autocast` gives it."""
    dtype = AUTOCAST[kind]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=dtype)
