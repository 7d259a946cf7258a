"""Adam's parameter groups: the learnt priors at their own learning rates."""

from __future__ import annotations

import torch

from dsae.cli.main import main
from dsae.config import Config, ModelConfig
from dsae.models import build_model
from dsae.train import load_checkpoint
from dsae.train.loop import param_groups, train

SMALL = dict(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=6, z_dim=3)


def _ids(params) -> set[int]:
    return {id(p) for p in params}


def test_a_learnt_prior_gets_its_own_learning_rate():
    model = build_model(ModelConfig(**SMALL, p_f="mixture", p_f_components=3), (3, 16, 16))
    extra = [torch.nn.Parameter(torch.zeros(2))]
    groups = param_groups(model, extra, 0.01, 20.0)
    assert len(groups) == 2 and groups[1]["lr"] == 0.2
    assert _ids(groups[1]["params"]) == _ids(model.p_f.parameters())
    every = _ids(p for p in model.parameters() if p.requires_grad) | _ids(extra)
    assert _ids(groups[0]["params"]) | _ids(groups[1]["params"]) == every
    assert not _ids(groups[0]["params"]) & _ids(groups[1]["params"])
    # Adam moves the prior's means 20 times as far in its first step (|step| = lr)
    opt = torch.optim.Adam(groups, lr=0.01)
    before = {id(p): p.detach().clone() for p in model.parameters()}
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    moved = (model.p_f.mean - before[id(model.p_f.mean)]).abs().max()
    torch.testing.assert_close(moved, torch.tensor(0.2))


def test_one_group_without_a_learnt_prior_or_scale():
    plain = build_model(ModelConfig(**SMALL), (3, 16, 16))
    assert len(param_groups(plain, [], 0.01, 20.0)) == 1
    mix = build_model(ModelConfig(**SMALL, p_f="mixture"), (3, 16, 16))
    assert len(param_groups(mix, [], 0.01, 1.0)) == 1


def test_the_lstm_prior_gets_its_own_learning_rate_beside_p_f():
    model = build_model(ModelConfig(**SMALL, p_f="mixture", p_z="mixture"), (3, 16, 16))
    groups = param_groups(model, [], 0.01, 20.0, 5.0)
    assert [g.get("lr") for g in groups] == [None, 0.2, 0.05]
    assert _ids(groups[1]["params"]) == _ids(model.p_f.parameters())
    assert _ids(groups[2]["params"]) == _ids(model.prior.parameters())
    every = _ids(p for p in model.parameters() if p.requires_grad)
    assert set().union(*(_ids(g["params"]) for g in groups)) == every
    assert sum(len(g["params"]) for g in groups) == len(every)  # no parameter twice
    alone = param_groups(build_model(ModelConfig(**SMALL), (3, 16, 16)), [], 0.01, 1.0, 5.0)
    assert len(alone) == 2 and alone[1]["lr"] == 0.05


def test_a_scale_that_is_not_positive_is_refused(tmp_path, capsys):
    for key in ("prior_lr_scale", "p_z_lr_scale"):
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"train:\n  {key}: 0\n  max_steps: 1\ndata:\n  root: {tmp_path}/d\n")
        assert main(["train", str(cfg), "--out", str(tmp_path / "r")]) == 2
        assert "must be positive" in capsys.readouterr().err
        assert not (tmp_path / "r" / "checkpoint.pt").exists()


def _trained_p_f(cfg: Config, run_dir, start: int) -> dict[str, torch.Tensor]:
    d = cfg.to_dict()
    d["model"].update(p_f="learnt")
    d["train"].update(max_steps=5, prior_start_step=start, prior_lr_scale=5.0)
    train(Config.from_dict(d), run_dir)
    return {k: v for k, v in load_checkpoint(run_dir)["model"].items() if k.startswith("p_f.")}


def test_a_learnt_p_f_is_held_at_n01_until_its_start_step(tiny_config, tmp_path):
    held = _trained_p_f(tiny_config, tmp_path / "held", start=6)
    assert sorted(held) == ["p_f.logvar", "p_f.mean"]
    assert all(torch.equal(v, torch.zeros_like(v)) for v in held.values())  # N(0, I) still
    moved = _trained_p_f(tiny_config, tmp_path / "moved", start=2)
    assert all(v.abs().max() > 0 for v in moved.values())
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"train:\n  prior_start_step: -1\n  max_steps: 1\ndata:\n  root: {tmp_path}/d\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "r")]) == 2
