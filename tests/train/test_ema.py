import dataclasses

import pytest
import torch

from dsae.errors import DsaeError
from dsae.train.extras import WeightAverage


def test_weight_average_follows_its_formula_with_a_warm_up():
    lin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.fill_(0.0)
    avg = WeightAverage(lin, decay=0.9)
    with torch.no_grad():
        lin.weight.fill_(3.0)
    avg.update(0)  # d = min(0.9, 1 / 10) = 0.1: 0.1 * 1 + 0.9 * 3
    assert torch.allclose(avg.state_dict()["weight"], torch.full((1, 2), 2.8))
    avg.update(1000)  # d = 0.9: 0.9 * 2.8 + 0.1 * 3
    assert torch.allclose(avg.state_dict()["weight"], torch.full((1, 2), 2.82))
    other = torch.nn.Linear(2, 1)
    avg.copy_to(other)
    assert torch.allclose(other.weight, torch.full((1, 2), 2.82))
    assert torch.equal(other.bias, lin.bias)
    with pytest.raises(DsaeError, match="weight average"):
        avg.load_state_dict({"weight": torch.zeros(1, 2)})


def test_training_with_an_average_ends_on_it_and_resumes_exactly(tmp_path, tiny_config):
    from dsae.train import load_run, train
    from dsae.train.checkpoint import load_checkpoint

    cfg = dataclasses.replace(
        tiny_config, train=dataclasses.replace(tiny_config.train, ema_decay=0.8)
    )
    train(cfg, tmp_path / "whole")
    train(cfg, tmp_path / "parts", stop_at=7)
    mid = load_checkpoint(tmp_path / "parts")
    assert "model_raw" not in mid and set(mid["ema"]) <= set(mid["model"])
    train(cfg, tmp_path / "parts", resume=True)
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "parts")
    for key in ("model", "model_raw", "ema"):
        assert a[key].keys() == b[key].keys()
        for k in a[key]:
            assert torch.equal(a[key][k], b[key][k]), (key, k)
    # the trained model is the average, not the last step's weights
    for k, v in a["ema"].items():
        assert torch.equal(a["model"][k], v), k
    assert any(not torch.equal(a["model_raw"][k], v) for k, v in a["ema"].items())
    model = load_run(tmp_path / "whole").model
    assert torch.equal(dict(model.named_parameters())[k].detach(), a["ema"][k])
    # without an average the run ends on its raw weights and stores neither
    train(tiny_config, tmp_path / "plain")
    plain = load_checkpoint(tmp_path / "plain")
    assert "ema" not in plain and "model_raw" not in plain


def test_ema_decay_out_of_range_is_a_user_error(tmp_path, tiny_config):
    from dsae.train import train

    cfg = dataclasses.replace(
        tiny_config, train=dataclasses.replace(tiny_config.train, ema_decay=1.0)
    )
    with pytest.raises(DsaeError, match="ema_decay"):
        train(cfg, tmp_path / "x")
