"""The training loop, with resume, logs and checkpoints beside it as small functions.

A run directory holds ``config.yaml`` (the resolved config), ``metrics.jsonl`` (one JSON
record per logged step) and ``checkpoint.pt`` (the latest state). Batches come from a
stateless sampler (the permutation of epoch e is a function of the seed and e), and the
torch RNG state travels in the checkpoint, so a resumed run ends with exactly the weights
of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dsae.config import Config, DataConfig, TrainConfig
from dsae.data import build_dataset, fingerprint, load_meta, load_split
from dsae.data.base import DatasetMeta
from dsae.errors import DsaeError
from dsae.models import DSAE, build_model
from dsae.objectives.elbo import elbo_terms
from dsae.objectives.mi import MI_THROUGH, MICritic, adapt_weight, mi_terms
from dsae.train.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from dsae.utils import keep_heap_memory, seed_everything, set_threads

METRICS_FILE = "metrics.jsonl"
AUTOCAST = {"none": None, "bf16": torch.bfloat16}  # train.autocast: the forward pass's dtype
CONFIG_FILE = "config.yaml"


def prepare_data(cfg: DataConfig, progress: bool = True) -> Path:
    """Return the dataset directory, building it first when it is missing and allowed."""
    root = Path(cfg.root)
    if (root / "meta.json").is_file():
        return root
    if not cfg.build_if_missing:
        raise DsaeError(f"no dataset at {root} (build it with 'dsae data build {cfg.name}')")
    return build_dataset(
        cfg.name,
        root,
        source=cfg.source,
        image_size=cfg.image_size,
        n_train=cfg.n_train,
        n_test=cfg.n_test,
        seed=cfg.seed,
        progress=progress,
    )


class EpochSampler:
    """Batch indices for a global step: shuffled epochs, the last partial batch dropped."""

    def __init__(self, n: int, batch_size: int, seed: int):
        if n <= 0:
            raise DsaeError("the training split is empty")
        self.n, self.batch_size, self.seed = n, min(batch_size, n), seed
        self.steps_per_epoch = max(1, n // self.batch_size)
        self._epoch, self._perm = -1, np.arange(n)

    def indices(self, step: int) -> np.ndarray:
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._epoch = torch.randperm(self.n, generator=g).numpy(), epoch
        return np.sort(self._perm[i * self.batch_size : (i + 1) * self.batch_size])


def frames_to_tensor(x: np.ndarray) -> torch.Tensor:
    """(B, T, H, W, C) uint8 -> (B, T, C, H, W) float in [0, 1] (NHWC strides kept);
    (B, T, D) float vectors pass through as float32."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.dim() == 5:
        t = t.permute(0, 1, 4, 2, 3)
    if t.dtype == torch.uint8:
        return t.float().div_(255.0)
    return t.float()


def tensor_to_frames(x: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`frames_to_tensor` for images: -> (B, T, H, W, C) uint8."""
    if x.dim() == 5:
        return (x.clamp(0, 1).permute(0, 1, 3, 4, 2) * 255).round().to(torch.uint8).numpy()
    return x.float().numpy()


def lr_lambda(cfg: TrainConfig, horizon: Callable[[], int] | None = None):
    """Learning-rate factor per step: linear warm-up, then constant or cosine decay to the
    step ``horizon()`` (``train.max_steps`` without one; read at every step, so a horizon
    refitted during training reshapes the rest of the decay)."""

    def f(step: int) -> float:
        if cfg.lr_warmup_steps > 0 and step < cfg.lr_warmup_steps:
            return (step + 1) / cfg.lr_warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        end = cfg.max_steps if horizon is None else horizon()
        span = max(1, end - cfg.lr_warmup_steps)
        progress = min(1.0, (step - cfg.lr_warmup_steps) / span)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


FIT_SKIP_STEPS = 10  # steps of a run not timed for the pace a fitted horizon uses


def fit_horizon(step: int, pace_s: float, remaining_s: float, cap: int) -> int:
    """The step a schedule fitted to a deadline ends at: ``step`` plus the whole steps of
    ``pace_s`` seconds that fit in ``remaining_s``, at most ``cap`` and at least ``step``."""
    fit = step + math.floor(max(0.0, remaining_s) / pace_s) if pace_s > 0 else cap
    return max(step, min(cap, fit))


def _check_config(cfg: Config) -> None:
    t = cfg.train
    if t.schedule not in ("constant", "cosine"):
        raise DsaeError(f"train.schedule must be constant or cosine, got {t.schedule!r}")
    for key, v in (("train.max_steps", t.max_steps), ("train.batch_size", t.batch_size)):
        if v <= 0:
            raise DsaeError(f"{key} must be positive, got {v}")
    if t.lr <= 0:
        raise DsaeError(f"train.lr must be positive, got {t.lr}")
    if t.autocast != "auto" and t.autocast not in AUTOCAST:
        raise DsaeError(
            f"train.autocast must be auto or one of {', '.join(AUTOCAST)}, got {t.autocast!r}"
        )
    if not 0 <= t.ema_decay < 1:
        raise DsaeError(f"train.ema_decay must be in [0, 1), got {t.ema_decay}")
    if cfg.objective.mi_weight < 0:
        raise DsaeError(f"objective.mi_weight must be >= 0, got {cfg.objective.mi_weight}")
    if cfg.objective.mi_weight > 0 and t.batch_size < 2:
        raise DsaeError("objective.mi_weight needs train.batch_size >= 2 (mismatched pairs)")
    o = cfg.objective
    if o.edge_weight < 0:
        raise DsaeError(f"objective.edge_weight must be >= 0, got {o.edge_weight}")
    if o.edge_weight > 0 and cfg.model.likelihood == "bernoulli":
        raise DsaeError("objective.edge_weight needs model.likelihood gaussian or laplace")
    if o.mi_through not in MI_THROUGH:
        raise DsaeError(f"objective.mi_through must be one of {MI_THROUGH}, got {o.mi_through!r}")
    if o.mi_target < 0:
        raise DsaeError(f"objective.mi_target must be >= 0, got {o.mi_target}")
    if o.mi_target > 0:
        if o.mi_weight <= 0:
            raise DsaeError("objective.mi_target needs objective.mi_weight > 0 (the floor)")
        if o.mi_rate <= 0:
            raise DsaeError(f"objective.mi_rate must be positive, got {o.mi_rate}")
        if o.mi_weight_max < o.mi_weight:
            raise DsaeError(
                f"objective.mi_weight_max ({o.mi_weight_max}) must be >= "
                f"objective.mi_weight ({o.mi_weight})"
            )


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


def resolve_autocast(kind: str) -> str:
    """``train.autocast`` as run: ``auto`` is bf16 on a CPU with bfloat16 instructions and
    none elsewhere."""
    if kind == "auto":
        return "bf16" if bf16_available() else "none"
    return kind


def autocast_context(kind: str) -> contextlib.AbstractContextManager:
    """CPU autocast to ``AUTOCAST[kind]`` (matmuls and convolutions in bfloat16), or nothing;
    ``auto`` as :func:`resolve_autocast` decides."""
    dtype = AUTOCAST[resolve_autocast(kind)]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=dtype)


def make_model(cfg: Config, meta: DatasetMeta) -> DSAE:
    try:
        model = build_model(cfg.model, meta.frame_shape)
    except ValueError as e:
        raise DsaeError(f"model config: {e}") from None
    if cfg.train.channels_last and model.is_image:
        model.use_channels_last()
    return model


def _read_metrics(path: Path, upto_step: int) -> list[str]:
    if not path.is_file():
        return []
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= upto_step:
                keep.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return keep


class WeightAverage:
    """theta_ema <- d theta_ema + (1 - d) theta after every step, d = min(decay, (1+s)/(10+s)).

    The warm-up of d keeps the first steps' random weights from dominating short runs.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.names = [n for n, _ in model.named_parameters()]
        self.params = [p for _, p in model.named_parameters()]
        self.avg = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.avg, self.params, 1.0 - d)

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        """Write the average into ``model`` (the averaged one, or one of its architecture)."""
        named = dict(model.named_parameters())
        for n, a in zip(self.names, self.avg, strict=True):
            named[n].copy_(a)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, self.avg, strict=True))

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if set(state) != set(self.names):
            raise DsaeError("corrupt checkpoint: its weight average does not fit the model")
        self.avg = [state[n].clone() for n in self.names]


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    last: dict[str, float]
    wall_time: float
    out_of_time: bool = False  # the steps ended at the deadline, before train.max_steps
    schedule_steps: int = 0  # the last step of the schedule (train.max_steps unless fitted)
    finish_s: float = 0.0  # the work after the last step: prior fits, final checkpoint


def train(
    cfg: Config,
    run_dir: str | os.PathLike,
    resume: bool = False,
    progress: bool | None = None,
    stop_at: int | None = None,
    deadline: float | None = None,
    end_reserve_s: float = 0.0,
    fit_schedule: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> TrainResult:
    """Train ``cfg`` into ``run_dir``; ``resume`` continues from its checkpoint.

    ``stop_at`` ends the run early at that step with a checkpoint, as an interruption
    would (used to test that resuming is exact).
    ``deadline`` (a ``clock()`` value) ends the steps early, as finished: no step
    starts once the deadline is nearer than ``end_reserve_s`` plus the last step's time,
    and the end-of-training work (the average, the prior fits, the final checkpoint) still
    runs, so a time budget is kept and the model is whole (used by the benchmark's budget).
    ``fit_schedule`` (with a deadline) refits the schedule's last step, at most
    ``train.max_steps``, to the steps that fit before the deadline at the pace measured so
    far, at every logged step: the learning rate anneals to its floor as the time runs out,
    on a machine whose pace differs from any plan made before the run. The steps then
    depend on the machine's pace, so such a run is not reproducible step for step.
    ``clock`` is the time the deadline and the fitted schedule read (a fake clock that
    advances a fixed amount per call gives the same steps on every machine).
    """
    _check_config(cfg)
    run = Path(run_dir)
    progress = cfg.train.progress if progress is None else progress
    ckpt_path = run / CHECKPOINT_FILE
    state: dict[str, Any] | None = None
    if resume:
        if not ckpt_path.is_file():
            raise DsaeError(f"nothing to resume: {ckpt_path} not found")
        state = load_checkpoint(ckpt_path)
        saved = Config.from_dict(state["config"])
        for section in ("data", "model", "objective"):
            if getattr(saved, section) != getattr(cfg, section):
                raise DsaeError(
                    f"cannot resume: the {section} config differs from the checkpoint's"
                )
    elif ckpt_path.is_file():
        raise DsaeError(
            f"{run} already holds a run: pass --resume to continue it, or another --out"
        )

    set_threads(cfg.train.threads)
    keep_heap_memory(cfg.train.heap_keep_mb)
    autocast = resolve_autocast(cfg.train.autocast)  # once, not per step
    seed_everything(cfg.train.seed)
    data_dir = prepare_data(cfg.data, progress=progress)
    meta = load_meta(data_dir)
    split = load_split(data_dir, "train")
    model = make_model(cfg, meta)
    critic = None
    if cfg.objective.mi_weight > 0:
        critic = MICritic(cfg.model.f_dim, cfg.model.z_dim, cfg.objective.mi_hidden)
    params = [p for p in model.parameters() if p.requires_grad]
    if critic is not None:
        params += list(critic.parameters())
    opt = torch.optim.Adam(
        params,
        lr=cfg.train.lr,
        weight_decay=cfg.train.weight_decay,
    )
    horizon = cfg.train.max_steps  # the schedule's last step; refitted with fit_schedule
    if state is not None and "schedule_steps" in state:
        horizon = min(horizon, int(state["schedule_steps"]))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg.train, lambda: horizon))
    step, wall_offset = 0, 0.0
    mi_weight = cfg.objective.mi_weight  # adapted each step when objective.mi_target > 0
    ema: WeightAverage | None = None
    if state is not None:
        # a finished run with an average holds the averaged weights; training goes on from
        # the raw ones
        model.load_state_dict(state.get("model_raw", state["model"]))
        if critic is not None:
            critic.load_state_dict(state["critic"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = int(state["step"])
        wall_offset = float(state.get("wall_time", 0.0))
        mi_weight = float(state.get("mi_weight", mi_weight))
        torch.set_rng_state(state["rng"]["torch"])
    if cfg.train.ema_decay > 0:
        ema = WeightAverage(model, cfg.train.ema_decay)
        if state is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
    model_raw: dict[str, torch.Tensor] | None = None  # set when the average replaces them

    run.mkdir(parents=True, exist_ok=True)
    cfg.save(run / CONFIG_FILE)
    metrics_path = run / METRICS_FILE
    kept = _read_metrics(metrics_path, step) if resume else []
    metrics_path.write_text("".join(line + "\n" for line in kept))
    fp = fingerprint(data_dir)

    prior_fit: dict[str, Any] = dict(state.get("prior_fit", {})) if state else {}

    def checkpoint(at: int, elapsed: float, weights: dict | None = None) -> None:
        save_checkpoint(
            ckpt_path,
            {
                "model": model.state_dict() if weights is None else weights,
                **({"critic": critic.state_dict()} if critic is not None else {}),
                **({"mi_weight": mi_weight} if critic is not None else {}),
                **({"ema": ema.state_dict()} if ema is not None else {}),
                **({"model_raw": model_raw} if model_raw is not None else {}),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "step": at,
                "config": cfg.to_dict(),
                "rng": {"torch": torch.get_rng_state()},
                "wall_time": elapsed,
                **({"prior_fit": prior_fit} if prior_fit else {}),
                **({"out_of_time": True} if out_of_time else {}),
                **({"schedule_steps": horizon} if fitting else {}),
                "data": {
                    "root": str(data_dir),
                    "fingerprint": fp,
                    "meta": json.loads(meta.to_json()),
                },
            },
        )

    sampler = EpochSampler(len(split), cfg.train.batch_size, cfg.train.seed)
    end = cfg.train.max_steps if stop_at is None else min(stop_at, cfg.train.max_steps)
    model.train()
    t0 = time.perf_counter()
    window_t, window_n = t0, 0
    last: dict[str, float] = {}
    stop_by = None if deadline is None else deadline - max(0.0, end_reserve_s)
    prev_t, step_s = None, 0.0  # the last step's start and duration (for the deadline)
    out_of_time = False
    fitting = fit_schedule and stop_by is not None
    first_step = step
    pace_from: tuple[int, float] | None = None  # (step, time) the fitted pace is timed from
    bar = tqdm(total=horizon, initial=step, disable=not progress, desc="train", unit="step")
    try:
        with open(metrics_path, "a") as log:
            while step < min(end, horizon):
                if stop_by is not None:
                    now_m = clock()
                    step_s = now_m - prev_t if prev_t is not None else 0.0
                    prev_t = now_m
                    if now_m + step_s >= stop_by:
                        out_of_time = True
                        break
                x = frames_to_tensor(split.x[sampler.indices(step)])
                with autocast_context(autocast):
                    out = model(x)
                    terms = elbo_terms(
                        out, x, cfg.objective, cfg.model.likelihood, model.log_sigma, step
                    )
                if not torch.isfinite(terms.loss):
                    raise DsaeError(
                        f"training diverged at step {step} (loss is {float(terms.loss)}): "
                        "lower train.lr or raise model.sigma_x"
                    )
                loss = terms.loss
                mi_log: dict[str, float] = {}
                if critic is not None:
                    with autocast_context(autocast):
                        mi = mi_terms(critic, out.f, out.z, cfg.objective.mi_through)
                    loss = loss + mi_weight * mi.penalty + mi.critic_loss
                    mi_log = {
                        "mi": float(mi.estimate),
                        "critic_loss": float(mi.critic_loss.detach()),
                        "mi_weight": mi_weight,
                    }
                    o = cfg.objective
                    if o.mi_target > 0:
                        mi_weight = adapt_weight(
                            mi_weight,
                            mi_log["mi"],
                            o.mi_target,
                            o.mi_rate,
                            o.mi_weight,
                            o.mi_weight_max,
                        )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.train.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
                opt.step()
                sched.step()
                if ema is not None:
                    ema.update(step)
                step += 1
                window_n += x.shape[0]
                bar.update(1)
                if fitting and stop_by is not None:
                    if step == first_step + FIT_SKIP_STEPS:  # timed after the warm-up steps
                        pace_from = (step, clock())
                    elif pace_from is not None and step % cfg.train.log_every == 0:
                        now_m = clock()
                        pace = (now_m - pace_from[1]) / (step - pace_from[0])
                        horizon = fit_horizon(step, pace, stop_by - now_m, cfg.train.max_steps)
                        bar.total = horizon
                if step % cfg.train.log_every == 0 or step == horizon:
                    now = time.perf_counter()
                    last = {**terms.as_floats(), **mi_log}
                    rec = {
                        "step": step,
                        **{k: round(v, 6) for k, v in last.items()},
                        "lr": sched.get_last_lr()[0],
                        **({"schedule_steps": horizon} if fitting else {}),
                        "seq_per_s": round(window_n / max(now - window_t, 1e-9), 3),
                        "wall_time": round(wall_offset + now - t0, 3),
                        "epoch": round(step / sampler.steps_per_epoch, 4),
                    }
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    bar.set_postfix(
                        loss=f"{last['loss']:.1f}",
                        recon=f"{last['recon']:.1f}",
                        kl_f=f"{last['kl_f']:.1f}",
                        kl_z=f"{last['kl_z']:.1f}",
                        seq_s=f"{rec['seq_per_s']:.0f}",
                    )
                    window_t, window_n = now, 0
                if step % cfg.train.ckpt_every == 0 and step < min(end, horizon):
                    checkpoint(step, wall_offset + time.perf_counter() - t0)
    except KeyboardInterrupt:
        checkpoint(step, wall_offset + time.perf_counter() - t0)
        bar.close()
        raise
    bar.close()
    t_end = time.perf_counter()
    if step >= horizon or out_of_time:
        trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if ema is not None:  # the trained model is the average; the raw weights are kept
            model_raw = trained
            ema.copy_to(model)
        # the ex-post mixture priors, when configured
        from dsae.train.priors import fit_priors

        try:  # training-sized batches: the pass reuses the blocks the steps freed (heap_keep_mb)
            prior_fit.update(fit_priors(model, split, cfg.train.seed, cfg.train.batch_size))
        except KeyboardInterrupt:  # the steps are kept as they ended; resuming fits the priors
            model_raw = None
            checkpoint(step, wall_offset + time.perf_counter() - t0, weights=trained)
            raise
    elapsed = wall_offset + time.perf_counter() - t0
    checkpoint(step, elapsed)
    return TrainResult(
        run_dir=run,
        step=step,
        last=last,
        wall_time=elapsed,
        out_of_time=out_of_time,
        schedule_steps=horizon,
        finish_s=time.perf_counter() - t_end,
    )


@dataclass
class LoadedRun:
    model: DSAE
    config: Config
    state: dict[str, Any]
    meta: DatasetMeta


def load_run(run_dir: str | os.PathLike) -> LoadedRun:
    """A trained model in eval mode, with its config and data metadata."""
    state = load_checkpoint(run_dir)
    try:
        cfg = Config.from_dict(state["config"])
        meta = DatasetMeta.from_dict(state["data"]["meta"])
        model = make_model(cfg, meta)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError) as e:
        raise DsaeError(f"corrupt checkpoint in {run_dir}: {str(e).splitlines()[0]}") from None
    model.eval()
    return LoadedRun(model=model, config=cfg, state=state, meta=meta)
