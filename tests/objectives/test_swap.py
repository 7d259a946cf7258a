"""Swap consistency: zero for codes that survive a swap, the closed-form distance for a z
that carries the appearance, and a gradient that reaches the decoder and both encoders."""

from __future__ import annotations

import torch

from dsae.config import ModelConfig
from dsae.models.base import random_frames
from dsae.models.blocks import Gaussian
from dsae.models.dsae import DSAE
from dsae.objectives.swap import swap_terms


class VectorModel:
    """Frames are the vectors [appearance, z_t]; q(f) reads the appearance (mean over the
    frames), q(z_t) reads the frame's z part. ``leak``: the decoder draws the appearance
    that z_t carries in its last f_dim entries instead of f."""

    def __init__(self, f_dim: int, leak: bool):
        self.f_dim, self.leak = f_dim, leak

    def decode_param(self, f: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        look = h[..., -self.f_dim :] if self.leak else f.unsqueeze(1).expand(-1, h.shape[1], -1)
        return torch.cat([look, h], dim=-1)

    def frame_mean(self, param: torch.Tensor) -> torch.Tensor:
        return param

    def posteriors(self, x: torch.Tensor) -> tuple[Gaussian, Gaussian]:
        mu_f, mu_z = x[..., : self.f_dim].mean(1), x[..., self.f_dim :]
        return Gaussian(mu_f, torch.zeros_like(mu_f)), Gaussian(mu_z, torch.zeros_like(mu_z))


def _codes(b: int = 6, t: int = 5, f_dim: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    f = torch.randn(b, f_dim, generator=g)
    motion = torch.randn(b, t, 2, generator=g)
    z = torch.cat([motion, f.unsqueeze(1).expand(-1, t, -1)], dim=-1)  # z_t also holds f
    return f, z


def test_codes_that_survive_a_swap_pay_nothing():
    f, z = _codes()
    s = swap_terms(VectorModel(3, leak=False), f, z, k=2)
    assert float(s.penalty) == 0.0 and float(s.f_error) == 0.0 and float(s.z_error) == 0.0


def test_a_z_that_carries_the_appearance_pays_the_distance_between_the_fs():
    f, z = _codes()
    s = swap_terms(VectorModel(3, leak=True), f, z, k=2)
    other = torch.roll(torch.arange(6), 1)
    spread = (f - f.mean(0)).pow(2).sum(-1).mean()
    expected = (f[other] - f).pow(2).sum(-1).mean() / spread  # q(f) reads the source's f
    torch.testing.assert_close(s.penalty, expected)
    torch.testing.assert_close(s.f_error, expected)
    assert float(s.z_error) == 0.0  # z_t itself reads back exactly


def test_the_term_does_not_fall_when_the_codes_shrink():
    f, z = _codes()
    model = VectorModel(3, leak=True)
    torch.testing.assert_close(
        swap_terms(model, f / 10, z / 10, k=2).penalty, swap_terms(model, f, z, k=2).penalty
    )


def test_random_frames_are_distinct_and_in_order():
    torch.manual_seed(0)
    idx = random_frames(50, 8, 3, torch.device("cpu"))
    assert idx.shape == (50, 3) and bool((idx.diff(dim=1) > 0).all())
    assert set(idx.flatten().tolist()) == set(range(8))  # every frame can be drawn
    assert random_frames(4, 3, 5, torch.device("cpu")).tolist() == [[0, 1, 2]] * 4


def test_the_gradient_reaches_the_decoder_and_both_encoders():
    torch.manual_seed(0)
    cfg = ModelConfig(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=4, z_dim=3)
    cfg.dynamic_input = "recolour"  # q(z_t | .) with an encoder of its own
    model = DSAE(cfg, (3, 16, 16)).train()
    out = model(torch.rand(4, 5, 3, 16, 16))
    model.zero_grad()
    s = swap_terms(model, out.f.detach(), out.z.detach(), k=2)  # the codes as constants
    s.penalty.backward()
    assert float(s.penalty.detach()) > 0
    for part in (model.decoder, model.frame_encoder, model.dynamic_input, model.dynamic_encoder):
        grads = [p.grad for p in part.parameters() if p.requires_grad]
        assert grads and any(g is not None and float(g.abs().sum()) > 0 for g in grads), part
