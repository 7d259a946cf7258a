"""Training throughput of named configs: sequences per second of the real training loop.

Runs ``dsae.train.train`` for a few steps of each config into a temporary run directory and
reads the loop's own ``metrics.jsonl`` (sequences/s per logged window), dropping the first
window as warm-up. Writes ``benchmarks/results/throughput.json`` with the machine, versions
and commit beside the figures.

    python benchmarks/throughput.py configs/sprites_dsae.yaml configs/sprites_dsae_full.yaml
    python benchmarks/throughput.py configs/quickstart.yaml --steps 60 --set data.root=/tmp/toy
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
from pathlib import Path

from benchlib.machine import machine

from dsae.config import load_config
from dsae.train import METRICS_FILE, load_run, train

HERE = Path(__file__).resolve().parent


def measure(config: str, steps: int, log_every: int, overrides: list[str]) -> dict:
    """Train ``steps`` steps of ``config``; sequences/s over the windows after the first."""
    cfg = load_config(
        config,
        [
            f"train.max_steps={steps}",
            f"train.log_every={log_every}",
            f"train.ckpt_every={steps + 1}",
            "train.lr_warmup_steps=0",
            *overrides,
        ],
    )
    with tempfile.TemporaryDirectory() as tmp:
        res = train(cfg, Path(tmp) / "run", progress=False)
        records = [json.loads(x) for x in (Path(tmp) / "run" / METRICS_FILE).open()]
        model = load_run(Path(tmp) / "run").model
    rates = [r["seq_per_s"] for r in records[1:]] or [records[-1]["seq_per_s"]]
    return {
        "config": config,
        "overrides": overrides,
        "encoder": cfg.model.encoder,
        "batch_size": cfg.train.batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": res.step,
        "seq_per_s": round(statistics.median(rates), 2),
        "seq_per_s_windows": rates,
        "wall_time_s": round(res.wall_time, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("configs", nargs="+", help="YAML configs to time")
    p.add_argument("--steps", type=int, default=80, help="training steps per config")
    p.add_argument("--log-every", type=int, default=20, help="steps per timed window")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=str(HERE / "results" / "throughput.json"))
    args = p.parse_args(argv)
    rows = []
    for config in args.configs:
        row = measure(config, args.steps, args.log_every, args.overrides)
        print(
            f"{config}: {row['seq_per_s']:.1f} sequences/s ({row['encoder']} q, batch "
            f"{row['batch_size']}, {row['parameters'] / 1e6:.2f} M parameters)",
            flush=True,
        )
        rows.append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "runs": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
