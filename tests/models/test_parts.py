"""Each part of a model on its own: Gaussians, likelihoods, input views, decoder add-ons."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Laplace, Normal, kl_divergence

from dsae.config import ModelConfig
from dsae.models.blocks import Gaussian
from dsae.models.decoders import ConvFrameDecoder, MLPFrameDecoder
from dsae.models.frame_nets import build_decoder
from dsae.models.likelihoods import LIKELIHOODS
from dsae.models.views import (
    DYNAMIC_INPUTS,
    SILHOUETTE_THRESHOLD,
    STATIC_READERS,
    ContourInput,
    EnvelopeInput,
    FigureInput,
    FramesInput,
    FrameSubset,
    LuminanceInput,
    RecolourInput,
    RemixInput,
    SilhouetteInput,
    build_dynamic_input,
    build_static_reader,
    envelope,
)

CFG = ModelConfig(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=6, z_dim=3)


def _normal(g: Gaussian) -> Independent:
    return Independent(Normal(g.mean, torch.exp(0.5 * g.logvar)), 1)


def _fold(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, *x.shape[2:])


def test_gaussian_kl_log_prob_and_sample_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    q = Gaussian(torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g))
    p = Gaussian(torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g))
    torch.testing.assert_close(q.kl(p), kl_divergence(_normal(q), _normal(p)), rtol=1e-5, atol=1e-5)
    std = Gaussian(torch.zeros(5, 7), torch.zeros(5, 7))
    torch.testing.assert_close(q.kl(), kl_divergence(_normal(q), _normal(std)))
    x = torch.randn(5, 7, generator=g)
    torch.testing.assert_close(q.log_prob(x), _normal(q).log_prob(x))
    big = Gaussian(torch.full((20000, 2), 3.0), torch.full((20000, 2), math.log(0.25)))
    s = big.sample(torch.Generator().manual_seed(1))
    assert abs(float(s.mean()) - 3.0) < 0.02 and abs(float(s.std()) - 0.5) < 0.02
    assert torch.equal(s, big.sample(torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("name", ["gaussian", "laplace", "bernoulli"])
def test_likelihoods_match_torch_distributions(name):
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 2, 5, generator=g)
    param = torch.rand(3, 2, 5, generator=g)
    lik = LIKELIHOODS[name]()
    scale = torch.tensor(math.log(0.3))
    if name == "bernoulli":
        x = (x > 0.5).float()
        expected = -Bernoulli(logits=param).log_prob(x).sum((1, 2))
        torch.testing.assert_close(lik.mean(param), torch.sigmoid(param))
        with pytest.raises(ValueError, match="pixel weight"):
            lik.nll(x, param, scale, torch.ones_like(x))
    else:
        dist = Normal(param, 0.3) if name == "gaussian" else Laplace(param, 0.3)
        expected = -dist.log_prob(x).sum((1, 2))
        assert torch.equal(lik.mean(param), param)
        # a weight of 1 everywhere changes nothing; a weight of 2 doubles the error term
        torch.testing.assert_close(lik.nll(x, param, scale, torch.ones_like(x)), expected)
        const = lik.nll(param, param, scale)
        torch.testing.assert_close(
            lik.nll(x, param, scale, torch.full_like(x, 2.0)) - const, 2 * (expected - const)
        )
    torch.testing.assert_close(lik.nll(x, param, scale), expected)


def test_frame_subset_reads_k_frames_in_order_in_training_only():
    view = FrameSubset(3)
    h = torch.arange(6.0).view(1, 6, 1).expand(40, 6, 2)
    torch.manual_seed(0)
    picked = view(h, training=True)[..., 0]
    assert picked.shape == (40, 3) and (picked.diff(dim=1) > 0).all()
    assert torch.equal(view(h, training=False), h)
    assert torch.equal(FrameSubset(0)(h, training=True), h)
    with pytest.raises(ValueError, match="static_frames"):
        FrameSubset(-1)


def test_luminance_view_is_a_convex_mix_of_channels():
    part = LuminanceInput(CFG, (3, 16, 16))
    x = torch.rand(2, 3, 3, 16, 16)
    part.eval()
    torch.testing.assert_close(part.view(x), x.mean(2, keepdim=True))
    part.train()
    torch.manual_seed(0)
    v = part.view(x)
    assert v.shape == (2, 3, 1, 16, 16)
    assert (v >= x.amin(2, keepdim=True) - 1e-6).all() and (
        v <= x.amax(2, keepdim=True) + 1e-6
    ).all()
    assert part(x, None, _fold).shape == (2, 3, CFG.frame_dim)


def test_silhouette_view_is_the_figure_mask():
    part = SilhouetteInput(CFG, (3, 16, 16))
    x = torch.zeros(1, 2, 3, 16, 16)
    x[0, :, 1, 4:8, 4:8] = 0.5
    x[0, 1, 2, 0, 0] = 0.01  # below the threshold: background
    mask = part.view(x)
    assert mask.shape == (1, 2, 1, 16, 16) and float(mask.sum()) == 2 * 16
    assert part(x, None, _fold).shape == (1, 2, CFG.frame_dim)


def test_figure_view_is_the_mask_against_any_plain_background():
    part = FigureInput(CFG, (3, 16, 16))
    figure = torch.zeros(2, 3, 1, 16, 16, dtype=torch.bool)
    figure[0, :, :, 4:8, 4:8] = True
    figure[1, :, :, 0:6, 0:6] = True  # the figure covers a corner: three corners are left
    torch.manual_seed(0)
    colours = torch.rand(2, 3, 3, 1, 1)
    background = torch.tensor([0.78, 0.84, 0.90]).view(1, 1, 3, 1, 1)
    x = torch.where(figure, colours, background).clone()
    x[:, :, 0, 10, 12] += 0.01  # a background pixel within the threshold
    differs = (colours - background).abs().amax(2, keepdim=True) > SILHOUETTE_THRESHOLD
    torch.testing.assert_close(part.view(x), (figure & differs).float())
    # the same figure on another background, shaded otherwise: the same view
    y = torch.where(figure, 0.5 * colours, torch.zeros(1, 1, 3, 1, 1))
    shaded = (0.5 * colours).amax(2, keepdim=True) > SILHOUETTE_THRESHOLD
    torch.testing.assert_close(part.view(y), (figure & shaded).float())
    # on black it is the silhouette
    torch.testing.assert_close(part.view(y), SilhouetteInput(CFG, (3, 16, 16)).view(y))
    assert part(x, None, _fold).shape == (2, 3, CFG.frame_dim)


def test_recolour_permutes_and_scales_channels_per_sequence_in_training_only():
    part = RecolourInput(CFG, (3, 16, 16))
    x = torch.rand(4, 3, 3, 16, 16)
    x[..., :4, :] = 0.0  # background rows
    part.eval()
    assert torch.equal(part.view(x), x)
    part.train()
    torch.manual_seed(0)
    v = part.view(x)
    assert v.shape == x.shape and (v[..., :4, :] == 0).all()  # dark stays dark
    perms = set()
    for b in range(4):
        src = []
        for c in range(3):  # each output channel is one input channel times one gain
            ratio = v[b, :, c, 4:] / x[b, :, :, 4:].clamp_min(1e-6).movedim(1, 0)
            spread = ratio.flatten(1).amax(1) - ratio.flatten(1).amin(1)
            (k,) = torch.nonzero(spread < 1e-4).flatten().tolist()
            gain = float(ratio[k].flatten()[0])
            assert 0.4 - 1e-6 <= gain <= 1.0 + 1e-6
            src.append(k)
        assert sorted(src) == [0, 1, 2]  # a permutation, the same for every frame
        perms.add(tuple(src))
    assert len(perms) > 1  # drawn per sequence
    assert part(x, None, _fold).shape == (4, 3, CFG.frame_dim)


def test_remix_mixes_channels_per_sequence_in_training_and_averages_them_otherwise():
    part = RemixInput(CFG, (3, 16, 16))
    x = torch.rand(3, 4, 3, 16, 16)
    x[..., :4, :] = 0.0  # background rows
    x[:, 1] = x[:, 0]  # two equal frames in every sequence
    x[1] = x[0]  # two equal sequences
    part.eval()
    torch.testing.assert_close(part.view(x), x.mean(2, keepdim=True).expand_as(x))
    part.train()
    torch.manual_seed(0)
    v = part.view(x)
    assert v.shape == x.shape and (v[..., :4, :] == 0).all()  # dark stays dark
    assert v.min() >= 0 and v.max() <= 1
    torch.testing.assert_close(v[:, 1], v[:, 0])  # one map for every frame of a sequence
    assert not torch.allclose(v[1], v[0], atol=1e-3)  # drawn per sequence
    assert part(x, None, _fold).shape == (3, 4, CFG.frame_dim)
    # the rows of the mix sum to 1: a grey g becomes g^gamma_c, gamma_c in [1/2, 2]
    y = torch.zeros(64, 1, 3, 2, 2)
    y[..., 0, 0], y[..., 0, 1] = 0.25, 0.81
    y[..., 1, 0] = torch.tensor([0.9, 0.0, 0.0])  # red against a darker blue
    y[..., 1, 1] = torch.tensor([0.0, 0.0, 0.6])
    w = part.view(y)
    for g, out in ((0.25, w[..., 0, 0]), (0.81, w[..., 0, 1])):
        assert out.min() >= g**2 - 1e-6 and out.max() <= g**0.5 + 1e-6
    red_brighter = w[:, 0, 0, 1, 0] > w[:, 0, 0, 1, 1]
    assert 0 < int(red_brighter.sum()) < 64  # which is the brighter changes by sequence


def test_dynamic_inputs_by_name():
    assert set(DYNAMIC_INPUTS) == {
        "frames",
        "luminance",
        "silhouette",
        "figure",
        "recolour",
        "remix",
        "envelope",
        "contour",
    }
    h = torch.randn(2, 3, 16)
    frames = build_dynamic_input(CFG, (3, 16, 16))
    assert isinstance(frames, FramesInput) and frames(torch.rand(2, 3, 3, 16, 16), h, _fold) is h
    for kind in ("luminance", "silhouette", "figure", "recolour", "remix"):
        cfg = dataclasses.replace(CFG, dynamic_input=kind)
        assert not build_dynamic_input(cfg, (3, 16, 16)).uses_shared
        with pytest.raises(ValueError, match=f"dynamic_input {kind} needs image frames"):
            build_dynamic_input(dataclasses.replace(cfg, frame_net="mlp"), (20,))
        with pytest.raises(ValueError, match="frame_net conv needs image frames"):
            build_dynamic_input(cfg, (20,))
    with pytest.raises(ValueError, match="unknown dynamic_input"):
        build_dynamic_input(dataclasses.replace(CFG, dynamic_input="hue"), (3, 16, 16))


def test_static_readers_by_name():
    assert set(STATIC_READERS) == {"lstm", "mean", "palette", "local", "harmonics"}
    h = torch.randn(2, 5, CFG.frame_dim)
    for kind in ("lstm", "mean"):
        reader = build_static_reader(dataclasses.replace(CFG, static_encoder=kind), (3, 16, 16))
        assert reader.reads == "features" and reader(h).mean.shape == (2, CFG.f_dim)
    mean = build_static_reader(dataclasses.replace(CFG, static_encoder="mean"), (3, 16, 16))
    torch.testing.assert_close(mean(h).mean, mean(h.flip(1)).mean)  # blind to frame order
    palette = build_static_reader(dataclasses.replace(CFG, static_encoder="palette"), (3, 16, 16))
    assert palette.reads == "pixels" and palette.cells == 8**3
    assert palette(torch.rand(2, 5, 3, 16, 16)).mean.shape == (2, CFG.f_dim)
    with pytest.raises(ValueError, match="palette needs image"):
        build_static_reader(
            dataclasses.replace(CFG, static_encoder="palette", frame_net="mlp"), (20,)
        )
    local = build_static_reader(dataclasses.replace(CFG, static_encoder="local"), (3, 16, 16))
    assert local.reads == "pixels"
    assert local(torch.rand(2, 5, 3, 16, 16)).mean.shape == (2, CFG.f_dim)
    with pytest.raises(ValueError, match="unknown static_encoder"):
        build_static_reader(dataclasses.replace(CFG, static_encoder="gru"), (3, 16, 16))


def test_build_decoder_maps_the_config_to_the_add_ons():
    plain = build_decoder(CFG, (3, 16, 16), 9)
    assert isinstance(plain, ConvFrameDecoder) and plain.film is None and plain.mix is None
    cfg = dataclasses.replace(CFG, decoder_film=True, film_mix=True, decoder_colours=4)
    dec = build_decoder(cfg, (3, 16, 16), 9)
    assert dec.film is not None and dec.mix is not None and dec.colours == 4 and dec.outputs_mean
    assert dec(torch.randn(2, 9)).shape == (2, 3, 16, 16)
    vectors = dataclasses.replace(CFG, frame_net="mlp")
    assert isinstance(build_decoder(vectors, (20,), 9), MLPFrameDecoder)
    with pytest.raises(ValueError, match="frame_net conv needs image frames"):
        build_decoder(CFG, (20,), 9)
    with pytest.raises(ValueError, match="frame_net mlp needs vector frames"):
        build_decoder(vectors, (3, 16, 16), 9)
    for over, match in [
        ({"film_mix": True}, "film_mix needs decoder_film"),
        ({"decoder_film": True, "film_mix": True, "film_mix_layers": 0}, "film_mix_layers"),
        ({"decoder_colours": -1}, "decoder_colours must be"),
        ({"decoder_colours": 2, "likelihood": "bernoulli"}, "gaussian or laplace"),
    ]:
        with pytest.raises(ValueError, match=match):
            build_decoder(dataclasses.replace(CFG, **over), (3, 16, 16), 9)
    with pytest.raises(ValueError, match="image frames"):
        build_decoder(dataclasses.replace(vectors, decoder_colours=2), (20,), 9)


def _harmonic_spectrum(f0_bins: int, formant: float, d: int = 120) -> torch.Tensor:
    """A log spectrum: a smooth envelope peaking at ``formant`` plus a comb of harmonics."""
    k = torch.arange(d, dtype=torch.float32)
    env = -(((k - formant) / 25.0) ** 2)
    comb = 2.0 * (k % f0_bins == 0).float()
    return env + comb


def test_spectral_views_split_the_pitch_from_the_envelope():
    cfg = dataclasses.replace(CFG, frame_net="mlp", envelope_bins=9)
    low, high = _harmonic_spectrum(3, 40.0), _harmonic_spectrum(4, 40.0)  # two pitches
    x = torch.stack([low, high]).view(2, 1, -1).expand(2, 4, -1)
    env = envelope(x, 9)
    # one formant under two pitches: the envelopes differ by little more than a level (the
    # combs' mean), the spectra by the whole comb
    diff = env[0] - env[1]
    assert (diff - diff.mean()).abs().mean() < 0.3 * (x[0] - x[1]).abs().mean()
    residual = x - env  # what the harmonics reader sees: the comb, not the formant
    moved = torch.stack([_harmonic_spectrum(3, 80.0)]).view(1, 1, -1).expand(1, 4, -1)
    assert (residual[0] - (moved - envelope(moved, 9))[0]).abs().mean() < 0.3 * (
        x[0] - moved[0]
    ).abs().mean()
    contour = ContourInput(cfg, (120,))
    v = contour.view(x)
    torch.testing.assert_close(v, torch.zeros_like(v))  # constant frames: nothing moves
    part = EnvelopeInput(cfg, (120,))
    assert part(x, None, _fold).shape == (2, 4, cfg.frame_dim)
    reader = build_static_reader(dataclasses.replace(cfg, static_encoder="harmonics"), (120,))
    assert reader.reads == "pixels" and reader(x).mean.shape == (2, cfg.f_dim)
    for kind in ("envelope", "contour"):
        with pytest.raises(ValueError, match=f"dynamic_input {kind} needs vector frames"):
            build_dynamic_input(dataclasses.replace(CFG, dynamic_input=kind), (3, 16, 16))
    with pytest.raises(ValueError, match="harmonics needs vector frames"):
        build_static_reader(dataclasses.replace(CFG, static_encoder="harmonics"), (3, 16, 16))
    with pytest.raises(ValueError, match="odd and positive"):
        EnvelopeInput(dataclasses.replace(cfg, envelope_bins=4), (120,))
