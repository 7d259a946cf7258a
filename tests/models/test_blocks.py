import torch

from dsae.models.blocks import ConvFrameDecoder


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
