import dataclasses
import itertools
import json
import time

import pytest
import torch

import dsae.train.loop as loop
from dsae.train import METRICS_FILE, train
from dsae.train.checkpoint import load_checkpoint
from dsae.train.schedule import fit_horizon, lr_lambda


def fake_clock(tick: float = 0.1):
    """Seconds that advance by ``tick`` at every reading: the same steps on any machine."""
    counter = itertools.count()
    return lambda: next(counter) * tick


def test_a_deadline_ends_the_steps_early_and_the_run_still_finishes(tmp_path, tiny_config):
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(tiny_config.model, f_prior="mixture", f_prior_components=2),
        train=dataclasses.replace(tiny_config.train, max_steps=100_000, ckpt_every=100_000),
    )
    # steps of 0.1 s on the fake clock; none starts once it would end past 4.0 - 1.0
    res = train(cfg, tmp_path / "run", deadline=4.0, end_reserve_s=1.0, clock=fake_clock())
    assert res.out_of_time and res.step == 29
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == res.step and state["out_of_time"] is True
    assert "f" in state["prior_fit"]  # the end-of-training work ran: p(f) was fitted
    assert (tmp_path / "run" / "samplers.pt").is_file()
    # resuming goes on from there, as from an interruption
    more = train(cfg, tmp_path / "run", resume=True, stop_at=res.step + 3)
    assert more.step == res.step + 3 and not more.out_of_time


def test_a_deadline_on_the_wall_clock_is_kept(tmp_path, tiny_config):
    cfg = dataclasses.replace(
        tiny_config,
        train=dataclasses.replace(tiny_config.train, max_steps=100_000, ckpt_every=100_000),
    )
    start = time.monotonic()
    res = train(cfg, tmp_path / "run", deadline=start + 2.0)
    assert res.out_of_time and res.step < cfg.train.max_steps


def test_a_fake_clock_ends_the_steps_at_the_same_step_every_time(tmp_path, tiny_config):
    cfg = dataclasses.replace(
        tiny_config,
        train=dataclasses.replace(tiny_config.train, max_steps=1000, ckpt_every=1000),
    )
    # one reading per step start: the step takes 0.1 s, and a step that would end past
    # 3.0 - 0.5 does not start: steps start at t = 0.0, ..., 2.3
    res = train(cfg, tmp_path / "a", deadline=3.0, end_reserve_s=0.5, clock=fake_clock())
    again = train(cfg, tmp_path / "b", deadline=3.0, end_reserve_s=0.5, clock=fake_clock())
    assert res.out_of_time and res.step == again.step == 24
    fitted = train(
        dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, log_every=5)),
        tmp_path / "c",
        deadline=10.0,
        fit_schedule=True,
        clock=fake_clock(),
    )
    assert fitted.step == fitted.schedule_steps < cfg.train.max_steps


def test_without_a_deadline_nothing_changes(tmp_path, tiny_config):
    res = train(tiny_config, tmp_path / "run")
    assert res.step == tiny_config.train.max_steps and not res.out_of_time
    assert "out_of_time" not in load_checkpoint(tmp_path / "run")


def test_a_schedule_fitted_to_a_deadline_anneals_as_the_time_runs_out(tmp_path, tiny_config):
    cfg = dataclasses.replace(
        tiny_config,
        train=dataclasses.replace(
            tiny_config.train, max_steps=100_000, ckpt_every=100_000, log_every=5
        ),
    )
    res = train(
        cfg,
        tmp_path / "run",
        deadline=6.0,
        end_reserve_s=0.5,
        fit_schedule=True,
        clock=fake_clock(),
    )
    assert 20 < res.step <= res.schedule_steps < cfg.train.max_steps
    state = load_checkpoint(tmp_path / "run")
    assert state["schedule_steps"] == res.schedule_steps and state["step"] == res.step
    # the learning rate reached its floor as the time ran out (an unfitted schedule to
    # 100000 steps would still be at its peak)
    records = [json.loads(x) for x in (tmp_path / "run" / METRICS_FILE).open()]
    floor = cfg.train.lr * cfg.train.min_lr_ratio
    assert records[-1]["lr"] < floor + 0.05 * (cfg.train.lr - floor)
    assert max(r["lr"] for r in records) > 0.5 * cfg.train.lr
    assert records[-1]["schedule_steps"] == res.schedule_steps  # logged as it was refitted


def test_a_fitted_horizon_is_the_steps_that_fit_within_its_bounds():
    assert fit_horizon(100, 0.5, 10.0, 10_000) == 120
    assert fit_horizon(100, 0.3, 1.0, 10_000) == 103  # whole steps only
    assert fit_horizon(100, 0.5, 1e6, 1_000) == 1_000  # never past train.max_steps
    assert fit_horizon(100, 0.5, -3.0, 10_000) == 100  # past the deadline: stop here


def test_the_cosine_decay_follows_a_moving_horizon(tiny_config):
    t = dataclasses.replace(tiny_config.train, max_steps=1000, lr_warmup_steps=10)
    horizon = [1000]
    f = lr_lambda(t, lambda: horizon[0])
    assert f(1000) == pytest.approx(t.min_lr_ratio)
    before = f(300)
    horizon[0] = 400  # refitted: the same step is now nearer the end
    assert f(300) < before and f(400) == pytest.approx(t.min_lr_ratio)
    assert lr_lambda(t)(300) == pytest.approx(before)  # without a horizon: train.max_steps


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_an_interrupt_during_the_prior_fit_keeps_the_steps(
    tmp_path, tiny_config, monkeypatch, ema_decay
):
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(tiny_config.model, f_prior="mixture", f_prior_components=2),
        train=dataclasses.replace(tiny_config.train, ckpt_every=2, ema_decay=ema_decay),
    )
    steps = cfg.train.max_steps
    real_fit = loop.fit_sampler

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # as the benchmark's watchdog does at its deadline

    monkeypatch.setattr(loop, "fit_sampler", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "run")
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == steps and "prior_fit" not in state and "model_raw" not in state
    monkeypatch.setattr(loop, "fit_sampler", real_fit)
    resumed = train(cfg, tmp_path / "run", resume=True)  # fits the priors, takes no step
    again = train(cfg, tmp_path / "whole")
    assert resumed.step == again.step == steps and resumed.finish_s > 0
    a, b = load_checkpoint(tmp_path / "run"), load_checkpoint(tmp_path / "whole")
    assert "f" in a["prior_fit"]
    for k, v in b["model"].items():  # the same weights (the average, with EMA) as a whole run
        assert torch.equal(a["model"][k], v), k
