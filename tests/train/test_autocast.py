import dataclasses

import pytest
import torch

import dsae.train.precision as precision
from dsae.errors import DsaeError
from dsae.models.dsae import DSAE
from dsae.train import bf16_usable, train
from dsae.train.checkpoint import load_checkpoint
from dsae.train.precision import autocast_context, resolve_autocast

needs_bf16 = pytest.mark.skipif(
    not bf16_usable(), reason="bfloat16 autocast fails on this CPU (the probe's LSTM pass)"
)


def _with(cfg, section: str, **kw):
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **kw)})


def _deconv_dtypes(model: DSAE, kind: str) -> list[torch.dtype]:
    seen: list[torch.dtype] = []
    hook = model.decoder.deconvs[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with autocast_context(kind):
        out = model(torch.rand(2, 3, 3, 32, 32))
    hook.remove()
    for t in (out.x_param, out.q_f.mean, out.q_f.logvar, out.q_z.mean, out.p_z.logvar):
        assert t.dtype == torch.float32  # what the likelihood and the KL terms sum
    return seen


@needs_bf16
def test_bf16_autocast_runs_the_pass_in_bfloat16_and_hands_float32_to_the_loss(tiny_config):
    torch.manual_seed(0)
    model = DSAE(_with(tiny_config, "model", decoder_film=True).model, (3, 32, 32))
    assert _deconv_dtypes(model, "bf16") == [torch.bfloat16]  # the convolutions ran in bf16


def test_without_autocast_the_pass_is_float32(tiny_config):
    torch.manual_seed(0)
    model = DSAE(tiny_config.model, (3, 32, 32))
    assert _deconv_dtypes(model, "none") == [torch.float32]


@needs_bf16
def test_training_with_bf16_autocast_and_decoded_frames_is_exact_on_resume(tmp_path, tiny_config):
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
    with pytest.raises(DsaeError, match="train.autocast"):
        train(_with(tiny_config, "train", autocast="fp16"), tmp_path / "run")


@pytest.mark.parametrize(
    "instructions, failure, expected",
    [(True, None, "bf16"), (True, "LSTM primitive", "none"), (False, None, "none")],
)
def test_auto_is_bf16_only_with_bf16_instructions_and_a_passing_probe(
    monkeypatch, instructions, failure, expected
):
    monkeypatch.setattr(precision, "bf16_available", lambda: instructions)
    monkeypatch.setattr(precision, "bf16_probe", lambda: failure)
    assert resolve_autocast("auto") == expected
    assert resolve_autocast("none") == "none"


def test_explicit_bf16_where_the_probe_fails_is_a_one_line_error_before_training(
    monkeypatch, tmp_path, tiny_config
):
    monkeypatch.setattr(precision, "bf16_probe", lambda: "could not create a primitive")
    with pytest.raises(DsaeError, match="bf16 does not run on this CPU") as err:
        resolve_autocast("bf16")
    assert "\n" not in str(err.value) and "could not create a primitive" in str(err.value)
    with pytest.raises(DsaeError, match="bf16 does not run"):
        train(_with(tiny_config, "train", autocast="bf16"), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # raised before any work
    monkeypatch.setattr(precision, "bf16_probe", lambda: None)
    assert resolve_autocast("bf16") == "bf16"


def test_the_probe_runs_once_and_agrees_with_bf16_usable():
    first = precision.bf16_probe()
    assert first is None or (isinstance(first, str) and "\n" not in first)
    assert precision.bf16_probe() == first and bf16_usable() == (first is None)
    assert precision._probe.cache_info().hits >= 1


@pytest.mark.parametrize(
    "amx, avx512_bf16, expected", [(True, False, True), (False, True, True), (False, False, False)]
)
def test_bf16_is_available_with_amx_or_avx512_bf16(monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert precision.bf16_available() is expected
