"""Training a judge of any family (:data:`dsae.eval.judge_archs.JUDGE_ARCHS`: ``rnn``, the
default, or ``tcn``) on a dataset's training split; its test split, when there is one,
measures it."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from dsae import __version__
from dsae.data.base import load_meta, load_split
from dsae.errors import DsaeError
from dsae.eval.judge_archs import DEFAULT_ARCH, AnyJudge, build_judge, judge_class
from dsae.eval.judge_model import evaluate_judge, judge_labels
from dsae.utils import seed_everything

__all__ = ["train_judge"]


def _loss(
    frame_logits: dict[str, Tensor], labels: dict[str, Tensor]
) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy of every factor, on the sequence logits and on every frame's logits."""
    total = torch.zeros(())
    correct = {}
    for k, fl in frame_logits.items():
        y = labels[k]
        b, t, n = fl.shape
        if y.dim() == 1:
            seq = fl.mean(dim=1)
            total = total + F.cross_entropy(seq, y)
            total = total + F.cross_entropy(fl.reshape(b * t, n), y.repeat_interleave(t))
            correct[k] = (seq.argmax(-1) == y).float().mean()
        else:  # per-frame labels (B, T)
            total = total + 2 * F.cross_entropy(fl.reshape(b * t, n), y.reshape(-1))
            correct[k] = (fl.argmax(-1) == y).float().mean()
    return total, correct


def train_judge(
    data_dir: str | os.PathLike,
    epochs: int = 3,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    max_minutes: float | None = None,
    arch: str = DEFAULT_ARCH,
) -> tuple[AnyJudge, dict]:
    """Train a judge of family ``arch`` on ``data_dir``'s training split; info holds the
    family, the train time and the per-factor accuracy on its test split (when there is one)."""
    judge_class(arch)  # an unknown family fails before the data is read
    if epochs <= 0 or batch_size <= 0 or lr <= 0:
        raise DsaeError(
            f"epochs, batch size and lr must be positive, got {epochs}, {batch_size}, {lr}"
        )
    if max_minutes is not None and max_minutes <= 0:
        raise DsaeError(f"max_minutes must be positive, got {max_minutes}")
    meta = load_meta(data_dir)
    split = load_split(data_dir, "train")
    seed_everything(seed)
    judge = build_judge(arch, meta.frame_shape, meta.static_factors, meta.dynamic_factors)
    labels = {k: torch.from_numpy(v) for k, v in judge_labels(split, judge).items()}
    n = len(split)
    if n == 0:
        raise DsaeError("the training split is empty")
    batch_size = min(batch_size, n)
    steps_per_epoch = max(1, n // batch_size)
    total_steps = epochs * steps_per_epoch
    opt = torch.optim.Adam(judge.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=total_steps, pct_start=0.15
    )
    rng = np.random.default_rng(seed)
    judge.train()
    deadline = None if max_minutes is None else time.perf_counter() + 60.0 * max_minutes
    t0 = time.perf_counter()
    step, stopped_early, last_loss = 0, False, float("nan")
    bar = tqdm(total=total_steps, disable=not progress, desc="judge", unit="step")
    for _ in range(epochs):
        perm = rng.permutation(n)
        for i in range(steps_per_epoch):
            idx = np.sort(perm[i * batch_size : (i + 1) * batch_size])
            x = meta.modality.to_tensor(split.x[idx])
            loss, correct = _loss(judge.frame_logits(x), {k: v[idx] for k, v in labels.items()})
            if not torch.isfinite(loss):
                raise DsaeError(f"judge training diverged at step {step}: lower the lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            last_loss = loss.item()
            bar.update(1)
            if step % 10 == 0:
                worst = min(float(c) for c in correct.values())
                bar.set_postfix(loss=f"{last_loss:.3f}", min_acc=f"{worst:.3f}")
            if deadline is not None and time.perf_counter() > deadline:
                stopped_early = True
                break
        if stopped_early:
            break
    bar.close()
    train_time = time.perf_counter() - t0
    judge.eval()
    info: dict[str, Any] = {
        "arch": arch,
        "train_time_s": round(train_time, 2),
        "steps": step,
        "total_steps": total_steps,
        "epochs": epochs,
        "stopped_early": stopped_early,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "final_loss": round(last_loss, 5),
        "n_train": n,
        "data_dir": str(Path(data_dir).resolve()),
        "threads": torch.get_num_threads(),
        "versions": {
            "dsae": __version__,
            "torch": str(torch.__version__),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "test_accuracy": {},
    }
    if (Path(data_dir) / "test.npz").is_file():
        test = load_split(data_dir, "test")
        t1 = time.perf_counter()
        info["test_accuracy"] = evaluate_judge(judge, test)
        info["n_test"] = len(test)
        info["test_time_s"] = round(time.perf_counter() - t1, 2)
    return judge, info
