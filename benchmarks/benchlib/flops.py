"""FLOPs of one training step of a config, and the float32 matmul peak they are set against.

The step is the library's own: one step of ``dsae.train.train`` (``stop_at=1``, so the end of
a run, the prior fits, does not run) under ``torch.utils.flop_counter.FlopCounterMode``, plus
a formula for the fused CPU LSTM, which the counter does not know. The peak is a timed
``torch.mm`` loop at the same thread count.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from dsae.config import Config
from dsae.train import load_run, train


def _rnn_layer_flops(inp: Any, w_ih: Any, w_hh: Any, *args: Any, **kwargs: Any) -> int:
    """Forward FLOPs of one fused recurrent layer: 2 per multiply-add of both weight matrices
    at every (sequence, step) of the input."""
    tokens = int(inp[0]) * int(inp[1])
    return 2 * tokens * (int(w_ih[0]) * int(w_ih[1]) + int(w_hh[0]) * int(w_hh[1]))


def _rnn_layer_backward_flops(inp: Any, w_ih: Any, w_hh: Any, *args: Any, **kwargs: Any) -> int:
    """Backward FLOPs of a fused recurrent layer: twice the forward (inputs and weights)."""
    return 2 * _rnn_layer_flops(inp, w_ih, w_hh)


def _extra_flop_formulas() -> dict[Any, Callable[..., int]]:
    """Formulas for the fused oneDNN LSTM/GRU layers that CPU torch dispatches to."""
    aten = torch.ops.aten
    out: dict[Any, Callable[..., int]] = {}
    if hasattr(aten, "mkldnn_rnn_layer"):
        out[aten.mkldnn_rnn_layer] = _rnn_layer_flops
    if hasattr(aten, "mkldnn_rnn_layer_backward"):
        out[aten.mkldnn_rnn_layer_backward] = _rnn_layer_backward_flops
    return out


def count_flops(fn: Callable[[], Any]) -> tuple[int, dict[str, int]]:
    """FLOPs of ``fn()`` (matmuls, convolutions, recurrent layers): total and per op."""
    with FlopCounterMode(display=False, custom_mapping=_extra_flop_formulas()) as fc:
        fn()
    by_op = {str(k): int(v) for k, v in fc.get_flop_counts().get("Global", {}).items()}
    return int(fc.get_total_flops()), by_op


def step_flops(cfg: Config) -> dict:
    """FLOPs of the first training step of ``cfg`` (forward and backward of its objective,
    with any critic it trains) and the model's parameters."""
    trial = dataclasses.replace(
        cfg,
        train=dataclasses.replace(
            cfg.train, max_steps=2, log_every=2, ckpt_every=3, progress=False
        ),
    )
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        total, by_op = count_flops(lambda: train(trial, run, progress=False, stop_at=1))
        model = load_run(run).model
    params = sum(p.numel() for p in model.parameters())
    return {"flops_per_step": total, "flops_by_op": by_op, "parameters": params}


def matmul_peak(size: int, seconds: float) -> dict:
    """float32 matmul rate at the current thread count: ``size`` x ``size`` torch.mm timed
    one by one for ``seconds`` (at least 3 times); the peak is the fastest one."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g)
    b = torch.randn(size, size, generator=g)
    c = torch.empty(size, size)
    torch.mm(a, b, out=c)  # warm-up
    times: list[float] = []
    end = time.perf_counter() + seconds
    while len(times) < 3 or time.perf_counter() < end:
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        times.append(time.perf_counter() - t0)
    flop = 2.0 * size**3
    return {
        "size": size,
        "threads": torch.get_num_threads(),
        "reps": len(times),
        "seconds": round(sum(times), 3),
        "peak_flops_per_s": flop / min(times),
        "median_flops_per_s": flop / statistics.median(times),
    }


def combine_peaks(*peaks: dict) -> dict:
    """One peak from several timings of the same loop (before and after training): the
    fastest, so that a slow moment of a busy machine neither lowers the peak nor flatters
    the efficiency measured against it; every timing is kept under ``timings``."""
    best = max(peaks, key=lambda p: p["peak_flops_per_s"])
    median = max(p["median_flops_per_s"] for p in peaks)
    return {**best, "median_flops_per_s": median, "timings": [dict(p) for p in peaks]}


def efficiency(flops_per_step: int, seq_per_s: float, batch: int, peak: float) -> dict:
    """Achieved FLOP rate of training at ``seq_per_s`` and its share (%) of ``peak``."""
    achieved = flops_per_step * seq_per_s / batch
    return {
        "seq_per_s": seq_per_s,
        "achieved_flops_per_s": achieved,
        "efficiency_pct": 100.0 * achieved / peak if peak > 0 else None,
    }
