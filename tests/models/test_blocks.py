import pytest
import torch

from dsae.models.decoders import ConvFrameDecoder


def test_film_decoder_starts_as_the_plain_decoder_and_lets_f_reach_every_layer():
    torch.manual_seed(0)
    plain = ConvFrameDecoder(10, 3, 16, [8, 16], "none")
    film = ConvFrameDecoder(10, 3, 16, [8, 16], "none", film_dim=6)
    missing = film.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["film.bias", "film.weight"]
    h = torch.randn(4, 10)
    assert torch.allclose(film(h), plain(h), atol=1e-6)  # FiLM starts as the identity

    # cut f (the first 6 inputs) out of the first layer: only FiLM can carry it now
    for dec in (plain, film):
        with torch.no_grad():
            dec.fc[0].weight[:, :6] = 0
    torch.nn.init.normal_(film.film.weight)
    h2 = h.clone()
    h2[:, :6] = torch.randn(4, 6)
    assert torch.allclose(plain(h), plain(h2), atol=1e-6)
    assert not torch.allclose(film(h), film(h2), atol=1e-3)
    h3 = h.clone()
    h3[:, 6:] = torch.randn(4, 4)  # z still reaches the output through the first layer
    assert not torch.allclose(film(h), film(h3), atol=1e-3)


def test_film_mlp_starts_as_the_identity_and_is_nonlinear_in_f():
    torch.manual_seed(0)
    plain = ConvFrameDecoder(10, 3, 16, [8, 16], "none")
    film = ConvFrameDecoder(10, 3, 16, [8, 16], "none", film_dim=6, film_hidden=12)
    film.load_state_dict(plain.state_dict(), strict=False)
    h = torch.randn(4, 10)
    assert torch.allclose(film(h), plain(h), atol=1e-6)
    torch.nn.init.normal_(film.film[-1].weight)
    # gamma(f), beta(f): an MLP of f, so the modulation of f and of -f are not opposite
    mods = film.film(h[:, :6])
    assert mods.shape == (4, 2 * 8)  # one gamma and one beta per hidden channel (8)
    lin = film.film[-1].bias
    assert not torch.allclose(mods - lin, -(film.film(-h[:, :6]) - lin), atol=1e-3)
    with pytest.raises(ValueError, match="film_hidden"):
        ConvFrameDecoder(10, 3, 16, [8, 16], "none", film_dim=6, film_hidden=-1)


def test_film_mix_starts_as_the_identity_and_mixes_channels_by_a_matrix_of_f():
    torch.manual_seed(0)
    plain = ConvFrameDecoder(10, 3, 16, [8, 16], "none", film_dim=6)
    mix = ConvFrameDecoder(10, 3, 16, [8, 16], "none", film_dim=6, film_mix=1)
    mix.load_state_dict(plain.state_dict(), strict=False)
    h = torch.randn(4, 10)
    torch.testing.assert_close(mix(h), plain(h))
    assert mix.mix is not None and mix.mix.out_features == 8 * 8  # last hidden width 8
    x = torch.randn(4, 8, 5, 5, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    s, b, a = torch.randn(4, 8).double(), torch.randn(4, 8).double(), torch.randn(4, 64).double()
    y = ConvFrameDecoder.modulate_and_mix(x, s, b, a)
    film = x * s[:, :, None, None] + b[:, :, None, None]  # then h + A h, per pixel
    expected = film + torch.einsum("nij,njhw->nihw", a.view(4, 8, 8), film)
    torch.testing.assert_close(y, expected)
    assert y.is_contiguous(memory_format=torch.channels_last)
    # with a non-zero A(f) the output moves, and only through f
    torch.nn.init.normal_(mix.mix.weight)
    assert not torch.allclose(mix(h), plain(h), atol=1e-4)
    mix.mix.weight.grad = None
    mix(h).sum().backward()
    assert mix.mix.weight.grad is not None and float(mix.mix.weight.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="film_mix"):
        ConvFrameDecoder(10, 3, 16, [8, 16], "none", film_mix=1)
    with pytest.raises(ValueError, match="film_mix must be in"):
        ConvFrameDecoder(10, 3, 16, [8, 16], "none", film_dim=6, film_mix=2)


def test_film_mix_over_two_layers_mixes_each_at_its_width():
    torch.manual_seed(0)
    plain = ConvFrameDecoder(10, 3, 16, [4, 8, 16], "none", film_dim=6)
    mix = ConvFrameDecoder(10, 3, 16, [4, 8, 16], "none", film_dim=6, film_mix=2)
    mix.load_state_dict(plain.state_dict(), strict=False)
    h = torch.randn(3, 10)
    torch.testing.assert_close(mix(h), plain(h))
    assert mix.mixed == [8, 4] and mix.mix.out_features == 8 * 8 + 4 * 4
    # only the second-to-last layer's block of A(f) non-zero: the output still moves
    with torch.no_grad():
        mix.mix.weight[:64].normal_()
    assert not torch.allclose(mix(h), plain(h), atol=1e-4)


def test_indexed_colour_decoder_paints_only_colours_made_from_f():
    torch.manual_seed(0)
    dec = ConvFrameDecoder(10, 3, 16, [8, 16], "none", film_dim=6, colours=4, colour_dim=6)
    h = torch.randn(5, 10)
    x = dec(h).detach()
    assert dec.outputs_mean and x.shape == (5, 3, 16, 16)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # every pixel is a convex combination of the palette c_k(f): one colour everywhere
    # when all K colours are the same
    with torch.no_grad():
        dec.palette.weight.zero_()
        dec.palette.bias.copy_(torch.tensor([0.0, 1.0, -1.0] * 4))
    x = dec(h)
    expected = torch.sigmoid(torch.tensor([0.0, 1.0, -1.0]))[None, :, None, None]
    assert torch.allclose(x, expected.expand_as(x), atol=1e-6)
    # the palette reads f (the first colour_dim inputs) and nothing else
    torch.nn.init.normal_(dec.palette.weight)
    h2 = h.clone()
    h2[:, 6:] = torch.randn(5, 4)
    assert torch.equal(dec.colour_palette(h), dec.colour_palette(h2))
    h3 = h.clone()
    h3[:, 0] += 1.0
    assert not torch.allclose(dec.colour_palette(h), dec.colour_palette(h3))
    # a pixel whose logits pick one slot takes exactly that slot's colour
    logits = torch.full((1, 4, 2, 2), -30.0)
    logits[0, 2] = 30.0
    pal = torch.rand(1, 4, 3)
    out = ConvFrameDecoder.index_colours(logits, pal)
    assert torch.allclose(out, pal[0, 2][None, :, None, None].expand(1, 3, 2, 2), atol=1e-6)
