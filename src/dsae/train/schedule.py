"""The learning-rate schedule and the deadline a run's steps end by."""

from __future__ import annotations

import math
from collections.abc import Callable

from dsae.config import TrainConfig

FIT_SKIP_STEPS = 10  # steps of a run not timed for the pace a fitted horizon uses


def lr_lambda(cfg: TrainConfig, horizon: Callable[[], int] | None = None):  # type: ignore[no-untyped-def]
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


def from_step(factor: Callable[[int], float], start: int) -> Callable[[int], float]:
    """``factor``, held at 0 before step ``start``."""
    return lambda step: 0.0 if step < start else factor(step)


def fit_horizon(step: int, pace_s: float, remaining_s: float, cap: int) -> int:
    """The step a schedule fitted to a deadline ends at: ``step`` plus the whole steps of
    ``pace_s`` seconds that fit in ``remaining_s``, at most ``cap`` and at least ``step``."""
    fit = step + math.floor(max(0.0, remaining_s) / pace_s) if pace_s > 0 else cap
    return max(step, min(cap, fit))


class Deadline:
    """Ends the steps in time: no step starts once the deadline is nearer than the reserve
    plus the last step's time. With ``fit_schedule`` it also refits the schedule's last
    step to the pace measured after the first FIT_SKIP_STEPS steps. ``clock`` gives seconds
    on the deadline's scale (``time.monotonic`` unless a test injects one)."""

    def __init__(
        self,
        deadline: float | None,
        end_reserve_s: float,
        fit_schedule: bool,
        first_step: int,
        clock: Callable[[], float],
    ):
        self.stop_by = None if deadline is None else deadline - max(0.0, end_reserve_s)
        self.fitting = fit_schedule and self.stop_by is not None
        self.first_step, self.clock = first_step, clock
        self.prev_t: float | None = None  # the last step's start
        self.pace_from: tuple[int, float] | None = None  # (step, time) the pace is timed from

    def out_of_time(self) -> bool:
        """Called as a step starts: whether it would end past the deadline less the reserve."""
        if self.stop_by is None:
            return False
        now = self.clock()
        step_s = now - self.prev_t if self.prev_t is not None else 0.0
        self.prev_t = now
        return now + step_s >= self.stop_by

    def refit(self, step: int, log_every: int, horizon: int, cap: int) -> int:
        """Called after a step: the schedule's last step, refitted at logged steps."""
        if not self.fitting or self.stop_by is None:
            return horizon
        if step == self.first_step + FIT_SKIP_STEPS:  # timed after the warm-up steps
            self.pace_from = (step, self.clock())
        elif self.pace_from is not None and step % log_every == 0:
            now = self.clock()
            pace = (now - self.pace_from[1]) / (step - self.pace_from[0])
            return fit_horizon(step, pace, self.stop_by - now, cap)
        return horizon
