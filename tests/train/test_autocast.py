import dataclasses

import pytest
import torch

from dsae.errors import DsaeError
from dsae.models.dsae import DSAE
from dsae.train.loop import autocast_context


def _with(cfg, section: str, **kw):
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **kw)})


def test_bf16_autocast_runs_the_pass_in_bfloat16_and_hands_float32_to_the_loss(tiny_config):
    torch.manual_seed(0)
    model = DSAE(_with(tiny_config, "model", decoder_film=True).model, (32, 32, 3))
    x = torch.rand(2, 3, 3, 32, 32)
    seen: list[torch.dtype] = []
    hook = model.decoder.deconvs[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with autocast_context("bf16"):
        out = model(x)
    hook.remove()
    assert seen == [torch.bfloat16]  # the convolutions ran in bfloat16
    for t in (out.x_param, out.q_f.mean, out.q_f.logvar, out.q_z.mean, out.p_z.logvar):
        assert t.dtype == torch.float32  # what the likelihood and the KL terms sum
    with autocast_context("none"):
        assert model(x).x_param.dtype == torch.float32


def test_training_with_bf16_autocast_and_decoded_frames_is_exact_on_resume(tmp_path, tiny_config):
    from dsae.train import train
    from dsae.train.checkpoint import load_checkpoint

    cfg = _with(tiny_config, "train", autocast="bf16")
    cfg = _with(cfg, "model", decode_frames=2)
    whole = train(cfg, tmp_path / "whole")
    assert torch.isfinite(torch.tensor(whole.last["loss"]))
    train(cfg, tmp_path / "parts", stop_at=5)
    train(cfg, tmp_path / "parts", resume=True)
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "parts")
    for k, v in a["model"].items():
        assert v.dtype == b["model"][k].dtype and torch.equal(v, b["model"][k]), k
    assert all(v.dtype == torch.float32 for v in a["model"].values() if v.is_floating_point())
    # the same run in float32 ends elsewhere: the autocast was on
    plain = load_checkpoint(train(_with(cfg, "train", autocast="none"), tmp_path / "fp32").run_dir)
    assert any(not torch.equal(v, plain["model"][k]) for k, v in a["model"].items())


def test_unknown_autocast_is_a_user_error(tmp_path, tiny_config):
    from dsae.train import train

    with pytest.raises(DsaeError, match="train.autocast"):
        train(_with(tiny_config, "train", autocast="fp16"), tmp_path / "run")


@pytest.mark.parametrize("amx", [True, False])
def test_auto_autocast_is_bf16_exactly_where_the_cpu_has_bf16(monkeypatch, tiny_config, amx):
    import dsae.train.loop as loop

    monkeypatch.setattr(loop, "bf16_available", lambda: amx)
    assert loop.resolve_autocast("auto") == ("bf16" if amx else "none")
    assert loop.resolve_autocast("none") == "none" and loop.resolve_autocast("bf16") == "bf16"
    torch.manual_seed(0)
    model = DSAE(tiny_config.model, (32, 32, 3))
    seen: list[torch.dtype] = []
    hook = model.decoder.deconvs[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with loop.autocast_context("auto"):
        model(torch.rand(2, 3, 3, 32, 32))
    hook.remove()
    assert seen == [torch.bfloat16 if amx else torch.float32]


@pytest.mark.parametrize(
    "amx, avx512_bf16, expected", [(True, False, True), (False, True, True), (False, False, False)]
)
def test_bf16_is_available_with_amx_or_avx512_bf16(monkeypatch, amx, avx512_bf16, expected):
    import dsae.train.loop as loop

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert loop.bf16_available() is expected
