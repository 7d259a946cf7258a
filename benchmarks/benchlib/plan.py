"""The training run of the benchmark: its plan from the calibration, and the child process
that trains under a deadline with a watchdog over it.

Every moment is read on the benchmark's clock (:mod:`benchlib.clock`), shared by the parent
and the child: the loop's deadline, the child's wall time and the watchdog's moment. Only the
delivery of an interrupt (``RESEND_S``, ``GRACE_S``) waits in real seconds.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchlib.clock import MONOTONIC, Clock
from benchlib.machine import peak_memory_mb
from dsae.config import Config
from dsae.errors import DsaeError
from dsae.train import CHECKPOINT_FILE, load_checkpoint, train

SAFETY = 0.92  # plan the steps to fill this share of the budget (the watchdog guards the rest)
# the end of a run (prior fit, checkpoint) took 8.4-14.5 s on one 2-core machine for one model:
# reserved at twice its calibrated time
FINISH_MARGIN = 2.0
END_STEPS = 2  # and at least two steps: the last step can take longer than the one before
GRACE_S = 300.0  # real time the interrupted child gets to checkpoint and report
RESEND_S = 15.0  # a child that has not answered an interrupt in this time gets another


def plan_steps(
    budget_s: float, requested: int, step_s: float, overhead_s: float, finish_s: float = 0.0
) -> dict:
    """The steps to train: the config's, or fewer when they would not fit ``SAFETY`` of the
    budget at ``step_s`` per step after the run's fixed cost. The loop's steps end early
    enough for the work after them (``finish_s`` as timed, the prior fit over the training
    set) to take up to ``FINISH_MARGIN`` times as long, at least the fixed cost and at least
    ``END_STEPS`` steps."""
    usable = budget_s * SAFETY - overhead_s
    fit = max(0, math.floor(usable / step_s + 1e-9)) if step_s > 0 else requested
    planned = min(requested, fit)
    if planned < 1:
        raise DsaeError(
            f"not one training step fits the budget of {budget_s:.1f} s "
            f"({step_s:.2f} s per step, {overhead_s:.1f} s to start): raise --budget-minutes"
        )
    return {
        "budget_s": budget_s,
        "safety": SAFETY,
        "requested_steps": requested,
        "fit_steps": fit,
        "planned_steps": planned,
        "limited_by": "budget" if fit < requested else "config",
        "expected_wall_time_s": round(overhead_s + planned * step_s, 3),
        "watchdog_reserve_s": round(watchdog_reserve(budget_s, step_s), 3),
        # held back at the loop's end for the prior fits and checkpoint (see the docstring)
        "end_reserve_s": round(max(overhead_s, FINISH_MARGIN * finish_s, END_STEPS * step_s), 3),
    }


def watchdog_reserve(budget_s: float, step_s: float) -> float:
    """How long before the budget ends the watchdog interrupts training: three steps plus
    1% of the budget (at least 0.5 s) for the interrupted step, the final checkpoint and the
    child's exit, within the planning margin. (Three steps alone, 3 s, let a 20-minute run
    end 4.5 s late: the last step and checkpoint took longer than planned.)"""
    return min(max(3.0 * step_s + 0.01 * budget_s, 0.5), 0.5 * (1.0 - SAFETY) * budget_s)


def warm_imports() -> None:
    """Import what the loop imports lazily: the first optimizer pulls in torch._dynamo
    (seconds on a small machine), process start-up like importing torch, not training."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def _die_with_parent() -> None:
    """On Linux, ask for SIGTERM when the benchmark process dies (killed, not interrupted),
    so that a training child is never left running on its own."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _train_child(
    cfg_dict: dict,
    run_dir: str,
    progress: bool,
    q: Any,
    deadline_s: float,
    end_reserve_s: float,
    fit_schedule: bool,
    clock: Clock,
) -> None:
    """Child process: train, then report steps, wall times and peak memory on ``q``.

    The loop takes no step that would end later than ``end_reserve_s`` (the prior fits and
    final checkpoint) before ``deadline_s`` after the start it reports, the moment from which
    the parent's watchdog counts: a run slower than its calibration ends early, whole,
    instead of being interrupted. Without a loop deadline (``deadline_s`` infinite) the loop
    still reads the clock at every step, and never stops for it."""
    _die_with_parent()
    # a benchmark started in the background of a shell (`cmd &`) inherits SIGINT ignored,
    # and Python then installs no handler: the watchdog's interrupt must still reach the loop
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        t_enter = time.perf_counter()
        cfg = Config.from_dict(cfg_dict)
        warm_imports()
        startup_s = time.perf_counter() - t_enter
        t0 = clock.now()
        q.put(("started", t0))
        interrupted, out_of_time = False, False
        try:
            res = train(
                cfg,
                run_dir,
                progress=progress,
                deadline=t0 + deadline_s,
                end_reserve_s=end_reserve_s,
                fit_schedule=fit_schedule,
                clock=clock,
            )
            step, loop_s, out_of_time = res.step, res.wall_time, res.out_of_time
            schedule_steps: int | None = res.schedule_steps
        except KeyboardInterrupt:
            interrupted = True
            step, loop_s, schedule_steps = _checkpoint_progress(Path(run_dir))
            schedule_steps = schedule_steps or cfg.train.max_steps
        wall_s = clock.now() - t0
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        q.put(
            (
                "done",
                {
                    "steps": step,
                    "wall_time_s": wall_s,
                    "loop_wall_time_s": loop_s,
                    "interrupted": interrupted,
                    "stopped_at_deadline": out_of_time,
                    "schedule_steps": schedule_steps,
                    "child_startup_s": startup_s,
                    **peak_memory_mb(),
                },
            )
        )
    except KeyboardInterrupt:
        q.put(("error", "interrupted before training started"))
    except Exception as e:  # reported to the parent, which raises it as a DsaeError
        q.put(("error", f"{type(e).__name__}: {e}"))


def _checkpoint_progress(run_dir: Path) -> tuple[int, float | None, int | None]:
    """(step, loop wall time, fitted schedule's last step or None) of the run's checkpoint;
    (0, None, None) when there is none."""
    if not (run_dir / CHECKPOINT_FILE).is_file():
        return 0, None, None
    state = load_checkpoint(run_dir)
    fitted = state.get("schedule_steps")
    return (
        int(state.get("step", 0)),
        float(state.get("wall_time", 0.0)),
        None if fitted is None else int(fitted),
    )


def _receive(
    q: Any, proc: Any, deadline: float | None, now: Callable[[], float]
) -> tuple[str, Any]:
    """The child's next message, ("timeout", None) once ``now()`` reaches ``deadline``; a dead
    child is an error."""
    while True:
        wait = 0.2 if deadline is None else min(0.2, deadline - now())
        if wait <= 0:
            return "timeout", None
        try:
            return q.get(timeout=wait)
        except queue.Empty:
            if not proc.is_alive():
                try:
                    return q.get(timeout=1.0)
                except queue.Empty:
                    raise DsaeError(
                        f"the training process died (exit code {proc.exitcode})"
                    ) from None


def _interrupt(q: Any, proc: Any) -> tuple[str, Any]:
    """SIGINT the training child (its loop checkpoints and stops) and wait for its report.
    An interrupt can be lost (it once landed where a library swallowed it, and the child
    trained on), so it is repeated every ``RESEND_S`` until the child answers or ``GRACE_S``
    has passed."""
    give_up = time.perf_counter() + GRACE_S
    while True:
        try:
            os.kill(proc.pid, signal.SIGINT)
        except ProcessLookupError:  # it has just finished
            pass
        resend = min(give_up, time.perf_counter() + RESEND_S)
        kind, payload = _receive(q, proc, resend, time.perf_counter)
        if kind != "timeout" or time.perf_counter() >= give_up:
            return kind, payload


def run_training(
    cfg: Config,
    run_dir: Path,
    budget_s: float,
    reserve_s: float,
    progress: bool,
    end_reserve_s: float = 0.0,
    loop_deadline: bool = True,
    fit_schedule: bool = False,
    clock: Clock = MONOTONIC,
) -> dict:
    """Train ``cfg`` into ``run_dir`` in a child process whose loop ends its steps in time
    for its end-of-training work (``end_reserve_s``) to finish ``reserve_s`` before the
    budget ends; interrupt it then if it has not (the loop checkpoints on an interrupt).
    Returns the child's report. ``loop_deadline`` False leaves only the watchdog;
    ``fit_schedule`` fits the learning-rate schedule to the loop's deadline; ``clock`` is
    the time of the loop's deadline, the child's wall time and the watchdog."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    deadline_s = budget_s - reserve_s if loop_deadline else math.inf
    args = (
        cfg.to_dict(), str(run_dir), progress, q, deadline_s, end_reserve_s, fit_schedule, clock
    )  # fmt: skip
    proc = ctx.Process(target=_train_child, args=args)
    proc.start()
    fired = False
    try:
        kind, payload = _receive(q, proc, None, clock.now)
        if kind == "started":
            kind, payload = _receive(q, proc, payload + budget_s - reserve_s, clock.now)
            if kind == "timeout":
                fired = True
                kind, payload = _interrupt(q, proc)
        if kind == "timeout":
            raise DsaeError("the interrupted training process did not report back")
        if kind == "error":
            raise DsaeError(f"training failed: {payload}")
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return {**payload, "watchdog_fired": fired}
