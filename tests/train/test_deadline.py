import dataclasses
import time

from dsae.train import train
from dsae.train.checkpoint import load_checkpoint


def test_a_deadline_ends_the_steps_early_and_the_run_still_finishes(tmp_path, tiny_config):
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(tiny_config.model, f_prior="mixture", f_prior_components=2),
        train=dataclasses.replace(tiny_config.train, max_steps=100_000, ckpt_every=100_000),
    )
    start = time.monotonic()
    res = train(cfg, tmp_path / "run", deadline=start + 4.0, end_reserve_s=1.0)
    returned = time.monotonic()
    assert res.out_of_time and 0 < res.step < cfg.train.max_steps
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == res.step and state["out_of_time"] is True
    assert "f" in state["prior_fit"]  # the end-of-training work ran: p(f) was fitted
    # the steps ran up to about the deadline less the reserve (tiny steps: milliseconds),
    # not far past the deadline (the tiny prior fit takes well under its reserve)
    assert start + 4.0 - 1.0 - 0.5 < returned < start + 4.0 + 2.0
    # resuming goes on from there, as from an interruption
    more = train(cfg, tmp_path / "run", resume=True, stop_at=res.step + 3)
    assert more.step == res.step + 3 and not more.out_of_time


def test_without_a_deadline_nothing_changes(tmp_path, tiny_config):
    res = train(tiny_config, tmp_path / "run")
    assert res.step == tiny_config.train.max_steps and not res.out_of_time
    assert "out_of_time" not in load_checkpoint(tmp_path / "run")
