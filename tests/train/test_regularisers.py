"""Training with capacity annealing, the total correlation discriminator, DIP-VAE and swap
consistency: each switch trains to a finite loss and logs its quantities; bad settings are
one-line errors."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from dsae.config import Config, load_config
from dsae.errors import DsaeError
from dsae.train import train
from dsae.train.checkpoint import load_checkpoint


def _records(run) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().split("\n") if x]


@pytest.mark.parametrize(
    ("change", "logged"),
    [
        (
            {"capacity_gamma": 10.0, "capacity_f": 3.0, "capacity_z": 6.0, "capacity_steps": 6},
            ("capacity_f", "capacity_z"),
        ),
        ({"tc_weight": 2.0, "tc_hidden": 16}, ("tc", "tc_disc_loss")),
        ({"dip": "i", "dip_lambda_od": 10.0, "dip_lambda_d": 100.0}, ("dip_f", "dip_z")),
        ({"dip": "ii", "dip_lambda_od": 5.0, "dip_lambda_d": 5.0}, ("dip_f", "dip_z")),
        ({"swap_weight": 1.0, "swap_frames": 2}, ("swap_f", "swap_z")),
    ],
    ids=["capacity", "tc", "dip_i", "dip_ii", "swap"],
)
def test_each_objective_part_trains_and_logs_its_quantities(tmp_path, tiny_config, change, logged):
    cfg = dataclasses.replace(
        tiny_config, objective=dataclasses.replace(tiny_config.objective, **change)
    )
    res = train(cfg, tmp_path / "run")
    assert res.step == cfg.train.max_steps and math.isfinite(res.last["loss"])
    rec = _records(tmp_path / "run")
    assert rec and all(all(math.isfinite(r[k]) for k in logged) for r in rec)
    if "capacity_steps" in change:  # C rises with the step and stops at its target
        c_f = [r["capacity_f"] for r in rec]
        assert c_f == [pytest.approx(3.0 * min(1.0, (r["step"] - 1) / 6)) for r in rec]
        assert c_f[-1] == 3.0 and rec[-1]["capacity_z"] == 6.0
    if "dip" in change:
        assert all(r["dip_f"] > 0 and r["dip_z"] > 0 for r in rec)
    # the discriminator and its optimiser are in the checkpoint when (and only when) on
    ckpt = load_checkpoint(tmp_path / "run")
    assert ("tc_disc" in ckpt) == ("tc_optimizer" in ckpt) == ("tc_weight" in change)
    if "swap_weight" in change:
        assert all(r["swap_f"] >= 0 and r["swap_z"] >= 0 for r in rec)
    others = {"capacity_f", "tc", "dip_f", "swap_f"} - set(logged)
    assert not others & set(res.last)  # the parts that are off log nothing


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dip": "iii"}, "objective.dip must be one of"),
        ({"dip_lambda_od": -1.0}, "dip_lambda_od must be >= 0"),
        ({"dip_lambda_d": -1.0}, "dip_lambda_d must be >= 0"),
        ({"tc_weight": -0.5}, "tc_weight must be >= 0"),
        ({"capacity_gamma": -1.0}, "capacity_gamma must be >= 0"),
        ({"capacity_f": -2.0}, "capacity_f must be >= 0"),
        ({"capacity_z": -2.0}, "capacity_z must be >= 0"),
        ({"capacity_steps": -1}, "capacity_steps must be >= 0"),
        ({"tc_weight": 1.0, "tc_lr": 0.0}, "tc_lr"),
        ({"swap_weight": -1.0}, "swap_weight must be >= 0"),
        ({"swap_weight": 1.0, "swap_frames": 0}, "swap_frames >= 1"),
    ],
)
def test_bad_objective_settings_are_user_errors(tmp_path, tiny_config, change, message):
    cfg = dataclasses.replace(
        tiny_config, objective=dataclasses.replace(tiny_config.objective, **change)
    )
    with pytest.raises(DsaeError, match=message):
        train(cfg, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()  # checked before any work


def test_tc_needs_two_sequences_a_batch(tmp_path, tiny_config):
    cfg = dataclasses.replace(
        tiny_config,
        objective=dataclasses.replace(tiny_config.objective, tc_weight=1.0),
        train=dataclasses.replace(tiny_config.train, batch_size=1),
    )
    with pytest.raises(DsaeError, match="tc_weight needs train.batch_size >= 2"):
        train(cfg, tmp_path / "bad")


def test_swap_consistency_needs_a_model_that_encodes_frames(tmp_path, tiny_config):
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(tiny_config.model, name="dvrnn"),
        objective=dataclasses.replace(tiny_config.objective, swap_weight=1.0),
    )
    with pytest.raises(DsaeError, match="swap_weight needs a model that encodes frames"):
        train(cfg, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_new_objective_keys_round_trip_yaml_and_default_off(tmp_path):
    o = Config().objective
    assert o.capacity_gamma == 0 and o.tc_weight == 0 and o.dip == "none"
    cfg = load_config(
        None,
        [
            "objective.capacity_gamma=1000",
            "objective.capacity_f=25",
            "objective.capacity_z=5.5",
            "objective.capacity_steps=10000",
            "objective.tc_weight=6.4",
            "objective.tc_hidden=64",
            "objective.tc_lr=0.0001",
            "objective.dip=ii",
            "objective.dip_lambda_od=3",
            "objective.dip_lambda_d=3",
        ],
    )
    assert cfg.objective.capacity_gamma == 1000.0 and cfg.objective.dip == "ii"
    cfg.save(tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg
    with pytest.raises(DsaeError, match="objective.capacity_steps"):
        load_config(None, ["objective.capacity_steps=1.5"])
