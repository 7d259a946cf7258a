"""The training loop, with resume, logs and checkpoints beside it as small functions.

Batches come from a stateless sampler (the permutation of epoch e is a function of the seed
and e), and the torch RNG state travels in the checkpoint, so a resumed run ends with
exactly the weights of an uninterrupted one. After the last step the configured generation
sampler is fitted and saved (``samplers.pt``), then the final checkpoint.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from dsae.config import Config
from dsae.data import fingerprint, load_meta, load_split
from dsae.data.modality import Modality
from dsae.errors import DsaeError
from dsae.objectives.dip import DIP_KINDS
from dsae.objectives.elbo import elbo_terms
from dsae.objectives.mi import MI_THROUGH
from dsae.objectives.slow import slow_gammas
from dsae.samplers import SAMPLERS_FILE, encode_split, fit_sampler, save_samplers, wants_sampler
from dsae.train.batches import EpochSampler
from dsae.train.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from dsae.train.extras import Regularisers, WeightAverage
from dsae.train.precision import autocast_context, resolve_autocast
from dsae.train.runs import CONFIG_FILE, METRICS_FILE, make_model, prepare_data
from dsae.train.schedule import Deadline, from_step, lr_lambda
from dsae.train.warm_start import read_init, warm_start
from dsae.utils import keep_heap_memory, seed_everything, set_threads


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    last: dict[str, float]
    wall_time: float
    out_of_time: bool = False  # the steps ended at the deadline, before train.max_steps
    schedule_steps: int = 0  # the last step of the schedule (train.max_steps unless fitted)
    finish_s: float = 0.0  # the work after the last step: sampler fit, final checkpoint


def check_config(cfg: Config) -> None:
    """One-line errors for the train and objective settings, before any work."""
    t, o = cfg.train, cfg.objective
    if t.schedule not in ("constant", "cosine"):
        raise DsaeError(f"train.schedule must be constant or cosine, got {t.schedule!r}")
    for key, v in (("train.max_steps", t.max_steps), ("train.batch_size", t.batch_size)):
        if v <= 0:
            raise DsaeError(f"{key} must be positive, got {v}")
    if t.lr <= 0:
        raise DsaeError(f"train.lr must be positive, got {t.lr}")
    if t.prior_lr_scale <= 0 or t.p_z_lr_scale <= 0:
        raise DsaeError("train.prior_lr_scale and train.p_z_lr_scale must be positive")
    if t.prior_start_step < 0:
        raise DsaeError(f"train.prior_start_step must be >= 0, got {t.prior_start_step}")
    if not 0 <= t.ema_decay < 1:
        raise DsaeError(f"train.ema_decay must be in [0, 1), got {t.ema_decay}")
    if o.mi_weight < 0:
        raise DsaeError(f"objective.mi_weight must be >= 0, got {o.mi_weight}")
    if o.mi_weight > 0 and t.batch_size < 2:
        raise DsaeError("objective.mi_weight needs train.batch_size >= 2 (mismatched pairs)")
    if o.edge_weight < 0:
        raise DsaeError(f"objective.edge_weight must be >= 0, got {o.edge_weight}")
    if o.edge_weight > 0 and cfg.model.likelihood == "bernoulli":
        raise DsaeError("objective.edge_weight needs model.likelihood gaussian or laplace")
    if o.mi_through not in MI_THROUGH:
        raise DsaeError(f"objective.mi_through must be one of {MI_THROUGH}, got {o.mi_through!r}")
    nonnegative = ("capacity_gamma", "capacity_f", "capacity_z", "tc_weight")
    for key in (*nonnegative, "dip_lambda_od", "dip_lambda_d"):
        if getattr(o, key) < 0:
            raise DsaeError(f"objective.{key} must be >= 0, got {getattr(o, key)}")
    if o.capacity_steps < 0:
        raise DsaeError(f"objective.capacity_steps must be >= 0, got {o.capacity_steps}")
    if o.tc_weight > 0 and t.batch_size < 2:
        raise DsaeError("objective.tc_weight needs train.batch_size >= 2 (permuted codes)")
    if o.swap_weight > 0 and t.batch_size < 2:
        raise DsaeError("objective.swap_weight needs train.batch_size >= 2 (swapped codes)")
    if o.swap_weight < 0 or o.swap_frames < 1:
        raise DsaeError("objective.swap_weight must be >= 0 and objective.swap_frames >= 1")
    if o.tc_weight > 0 and (o.tc_lr <= 0 or o.tc_hidden <= 0):
        raise DsaeError("objective.tc_lr and objective.tc_hidden must be positive")
    if o.dip not in DIP_KINDS:
        raise DsaeError(f"objective.dip must be one of {DIP_KINDS}, got {o.dip!r}")
    slow_gammas(o, cfg.model.z_dim)  # its settings' one-line errors
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


def _resume_state(cfg: Config, ckpt_path: Path, resume: bool) -> dict[str, Any] | None:
    """The checkpoint to go on from (resume), after checking it fits ``cfg``."""
    if not resume:
        if ckpt_path.is_file():
            raise DsaeError(
                f"{ckpt_path.parent} already holds a run: pass --resume to continue it, "
                "or another --out"
            )
        return None
    if not ckpt_path.is_file():
        raise DsaeError(f"nothing to resume: {ckpt_path} not found")
    state = load_checkpoint(ckpt_path)
    saved = Config.from_dict(state["config"])
    for section in ("data", "model", "objective"):
        if getattr(saved, section) != getattr(cfg, section):
            raise DsaeError(f"cannot resume: the {section} config differs from the checkpoint's")
    return state


def param_groups(
    model: torch.nn.Module,
    more: list[torch.nn.Parameter],
    lr: float,
    prior_scale: float,
    p_z_scale: float = 1.0,
    p_f_own_group: bool = False,
) -> list[dict]:
    """Adam's parameter groups: everything at ``lr``; a learnt p(f) (``model.p_f``) at
    ``lr * prior_scale`` and the learnt p(z_t | z_<t) (``model.prior``) at ``lr * p_z_scale``,
    each in a group of its own (named ``p_f``, ``prior``) when its scale is not 1, p(f)'s
    also with ``p_f_own_group``."""
    trained = [p for p in model.parameters() if p.requires_grad]
    taken: set[int] = set()
    own: list[dict] = []
    for prefix, scale in (("p_f.", prior_scale), ("prior.", p_z_scale)):
        mine = [p for n, p in model.named_parameters() if n.startswith(prefix) and p.requires_grad]
        if mine and (scale != 1.0 or (prefix == "p_f." and p_f_own_group)):
            own.append({"params": mine, "lr": lr * scale, "name": prefix[:-1]})
            taken |= {id(p) for p in mine}
    return [{"params": [p for p in trained if id(p) not in taken] + more}, *own]


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
    ``deadline`` (a ``clock()`` value) ends the steps early, as finished: no step starts
    once the deadline is nearer than ``end_reserve_s`` plus the last step's time, and the
    end-of-training work (the average, the sampler fit, the final checkpoint) still runs.
    ``fit_schedule`` (with a deadline) refits the schedule's last step, at most
    ``train.max_steps``, to the steps that fit before the deadline at the pace measured so
    far, at every logged step; the steps then depend on the pace of ``clock``.
    """
    check_config(cfg)
    run = Path(run_dir)
    progress = cfg.train.progress if progress is None else progress
    ckpt_path = run / CHECKPOINT_FILE
    autocast = resolve_autocast(cfg.train.autocast)  # once, and before any work
    state = _resume_state(cfg, ckpt_path, resume)
    init = read_init(cfg.train.init_from) if cfg.train.init_from and state is None else None

    set_threads(cfg.train.threads)
    keep_heap_memory(cfg.train.heap_keep_mb)
    seed_everything(cfg.train.seed)
    data_dir = prepare_data(cfg.data, progress=progress)
    meta = load_meta(data_dir)
    frames = meta.modality  # stored frames -> model inputs
    split = load_split(data_dir, "train")
    model = make_model(cfg, meta)
    if init is not None:
        warm_start(model, init, cfg.train.init_params)
    extras = Regularisers(cfg.objective, cfg.model.f_dim, cfg.model.z_dim, model)
    groups = param_groups(
        model,
        extras.critic_params(),
        cfg.train.lr,
        cfg.train.prior_lr_scale,
        cfg.train.p_z_lr_scale,
        p_f_own_group=cfg.train.prior_start_step > 0,
    )
    params = [p for g in groups for p in g["params"]]
    opt = torch.optim.Adam(
        groups,
        lr=cfg.train.lr,
        weight_decay=cfg.train.weight_decay,
    )
    horizon = cfg.train.max_steps  # the schedule's last step; refitted with fit_schedule
    if state is not None and "schedule_steps" in state:
        horizon = min(horizon, int(state["schedule_steps"]))
    factor = lr_lambda(cfg.train, lambda: horizon)
    start = cfg.train.prior_start_step
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, [from_step(factor, start) if g.get("name") == "p_f" else factor for g in groups]
    )
    step, wall_offset = 0, 0.0
    ema: WeightAverage | None = None
    if state is not None:
        # a finished run with an average holds the averaged weights; training goes on from
        # the raw ones
        model.load_state_dict(state.get("model_raw", state["model"]))
        extras.load(state)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = int(state["step"])
        wall_offset = float(state.get("wall_time", 0.0))
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
    timer = Deadline(deadline, end_reserve_s, fit_schedule, step, clock)

    def checkpoint(at: int, elapsed: float, weights: dict | None = None) -> None:
        save_checkpoint(
            ckpt_path,
            {
                "model": model.state_dict() if weights is None else weights,
                **extras.state(),
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
                **({"schedule_steps": horizon} if timer.fitting else {}),
                "data": {
                    "root": str(data_dir),
                    "fingerprint": fp,
                    "meta": json.loads(meta.to_json()),
                },
            },
        )

    batches = EpochSampler(len(split), cfg.train.batch_size, cfg.train.seed)
    end = cfg.train.max_steps if stop_at is None else min(stop_at, cfg.train.max_steps)
    model.train()
    t0 = time.perf_counter()
    window_t, window_n = t0, 0
    last: dict[str, float] = {}
    logged = step  # the last step in the log
    latest: tuple[Any, dict[str, float]] | None = None  # the last step's terms

    def log_step(log, values: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
        nonlocal window_t, window_n, logged
        now = time.perf_counter()
        rec = {
            "step": step,
            **{k: round(v, 6) for k, v in values.items()},
            "lr": sched.get_last_lr()[0],
            **({"schedule_steps": horizon} if timer.fitting else {}),
            "seq_per_s": round(window_n / max(now - window_t, 1e-9), 3),
            "wall_time": round(wall_offset + now - t0, 3),
            "epoch": round(step / batches.steps_per_epoch, 4),
        }
        log.write(json.dumps(rec) + "\n")
        log.flush()
        bar.set_postfix(
            loss=f"{values['loss']:.1f}",
            recon=f"{values['recon']:.1f}",
            kl_f=f"{values['kl_f']:.1f}",
            kl_z=f"{values['kl_z']:.1f}",
            seq_s=f"{rec['seq_per_s']:.0f}",
        )
        window_t, window_n, logged = now, 0, step

    out_of_time = False
    bar = tqdm(total=horizon, initial=step, disable=not progress, desc="train", unit="step")
    try:
        with open(metrics_path, "a") as log:
            while step < min(end, horizon):
                if timer.out_of_time():
                    out_of_time = True
                    if latest is not None and step > logged:  # the log ends at the last step
                        last = {**latest[0].as_floats(), **latest[1]}
                        log_step(log, last)
                    break
                x = frames.to_tensor(split.x[batches.indices(step)])
                with autocast_context(autocast):
                    out = model(x)
                    terms = elbo_terms(model, x, out, cfg.objective, step)
                if not torch.isfinite(terms.loss):
                    raise DsaeError(
                        f"training diverged at step {step} (loss is {float(terms.loss)}): "
                        "lower train.lr or raise model.sigma_x"
                    )
                with autocast_context(autocast):
                    penalties, extras_log = extras(out)
                loss = terms.loss + penalties
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.train.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
                opt.step()
                extras.step()
                sched.step()
                if ema is not None:
                    ema.update(step)
                step += 1
                latest = (terms, extras_log)
                window_n += x.shape[0]
                bar.update(1)
                horizon = timer.refit(step, cfg.train.log_every, horizon, cfg.train.max_steps)
                bar.total = horizon
                if step % cfg.train.log_every == 0 or step == horizon:
                    last = {**terms.as_floats(), **extras_log}
                    log_step(log, last)
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
        try:  # training-sized batches: the pass reuses the blocks the steps freed (heap_keep_mb)
            prior_fit.update(finish_sampler(model, cfg, frames, split.x, run))
        except KeyboardInterrupt:  # the steps are kept as they ended; resuming fits the sampler
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


def finish_sampler(  # type: ignore[no-untyped-def]
    model, cfg: Config, modality: Modality, x, run: Path
) -> dict:
    """Fit the configured sampler to the training split and save it beside the checkpoint;
    returns the fit's report ({} when the config has only the learnt prior)."""
    if not wants_sampler(cfg.model):
        return {}
    t0 = time.perf_counter()
    encoding = encode_split(model, modality, x, cfg.train.batch_size)
    report: dict = {"encode_s": round(time.perf_counter() - t0, 3)}
    sampler, fitted = fit_sampler(model, cfg.model, encoding, cfg.train.seed, cfg.train.batch_size)
    if sampler is not None:
        save_samplers(run / SAMPLERS_FILE, sampler)
    return {**report, **fitted}
