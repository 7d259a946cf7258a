import itertools
import math

import pytest
import torch

from dsae.config import ModelConfig
from dsae.models import MODELS, SequentialVAE, build_model
from dsae.models.dsae import DSAE, PriorLSTM
from dsae.models.framed import MEAN_ACTIVATIONS


def _cfg(**kw) -> ModelConfig:
    base = dict(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=6, z_dim=3)
    base.update(kw)
    return ModelConfig(**base)


@pytest.mark.parametrize("encoder", ["factorised", "full"])
def test_shapes_for_both_encoders(encoder):
    torch.manual_seed(0)
    model = DSAE(_cfg(encoder=encoder), (3, 16, 16))
    x = torch.rand(2, 5, 3, 16, 16)
    out = model(x)
    assert out.x_param.shape == x.shape
    assert out.q_f.mean.shape == (2, 6) and out.f.shape == (2, 6)
    assert out.q_z.mean.shape == (2, 5, 3) and out.z.shape == (2, 5, 3)
    assert out.p_z.mean.shape == (2, 5, 3)
    enc = model.encode(x)
    assert enc.f_mean.shape == (2, 6) and enc.z_logvar.shape == (2, 5, 3)
    rec = model.reconstruct(x)
    assert rec.shape == x.shape and 0 <= rec.min() and rec.max() <= 1
    assert model.swap(x, x.flip(0)).shape == x.shape


def test_vector_frames_use_mlp():
    model = DSAE(_cfg(frame_net="mlp"), (20,))
    out = model(torch.randn(3, 7, 20))
    assert out.x_param.shape == (3, 7, 20)
    with pytest.raises(ValueError, match="frame_net"):
        DSAE(_cfg(frame_net="conv"), (20,))
    with pytest.raises(ValueError, match="square"):
        DSAE(_cfg(), (3, 16, 12))


def test_bad_input_shape_is_a_clear_error():
    model = DSAE(_cfg(), (3, 16, 16))
    with pytest.raises(ValueError, match="expected input of shape"):
        model(torch.rand(2, 5, 16, 16, 3))


def test_prior_is_fed_the_given_samples():
    """p(z_t | z_<t) depends on z_<t only: changing z_t changes the prior at t+1, not at t."""
    torch.manual_seed(0)
    prior = PriorLSTM(3, 8)
    z = torch.randn(2, 6, 3)
    p1 = prior(z)
    z2 = z.clone()
    z2[:, 3] += 1.0
    p2 = prior(z2)
    torch.testing.assert_close(p1.mean[:, :4], p2.mean[:, :4])
    assert not torch.allclose(p1.mean[:, 4], p2.mean[:, 4])
    # and z_1's prior is the same for every sequence (z_0 = 0)
    torch.testing.assert_close(p1.mean[0, 0], p1.mean[1, 0])


def test_training_pass_evaluates_prior_on_posterior_samples():
    torch.manual_seed(0)
    model = DSAE(_cfg(), (3, 16, 16))
    out = model(torch.rand(2, 5, 3, 16, 16))
    expected = model.prior(out.z)
    torch.testing.assert_close(out.p_z.mean, expected.mean)
    torch.testing.assert_close(out.p_z.logvar, expected.logvar)


def test_generate_fixes_the_right_code():
    torch.manual_seed(0)
    model = DSAE(_cfg(), (3, 16, 16)).eval()
    g = torch.Generator().manual_seed(0)
    f = model.sample_f(1, g)
    z = model.sample_z(1, 5, g)
    # fixing both codes: every sequence identical
    same = model.generate(3, 5, fix="static", f=f, z=z.expand(3, -1, -1))
    torch.testing.assert_close(same[0], same[1])
    static = model.generate(3, 5, fix="static", f=f, generator=g)
    assert not torch.allclose(static[0], static[1])
    dyn = model.generate(3, 5, fix="dynamic", z=z, generator=g)
    assert not torch.allclose(dyn[0], dyn[1])
    with pytest.raises(ValueError):
        model.generate(2, 5, fix="both")


def test_registry_and_channels_last_agree():
    assert MODELS["dsae"] is DSAE and issubclass(DSAE, SequentialVAE)
    torch.manual_seed(0)
    a = build_model(_cfg(), (3, 16, 16))
    b = build_model(_cfg(), (3, 16, 16))
    b.load_state_dict(a.state_dict())
    b.use_channels_last()
    x = torch.rand(2, 4, 3, 16, 16)
    e1, e2 = a.encode(x), b.encode(x)
    torch.testing.assert_close(e1.f_mean, e2.f_mean, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        a.decode(e1.f_mean, e1.z_mean), b.decode(e1.f_mean, e1.z_mean), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("encoder", ["factorised", "full"])
def test_luminance_input_hides_colour_from_z(encoder):
    """With dynamic_input luminance, z's posterior cannot tell a permutation of the colour
    channels apart (the frame it reads is their mean); with plain frames it can."""
    torch.manual_seed(0)
    x = torch.rand(3, 4, 3, 16, 16)
    x_perm = x[:, :, [2, 0, 1]]
    lum = DSAE(_cfg(encoder=encoder, dynamic_input="luminance"), (3, 16, 16)).eval()
    plain = DSAE(_cfg(encoder=encoder), (3, 16, 16)).eval()
    if encoder == "full":  # full q also conditions z on f, which does see colour
        a = lum.dynamic_encoder(lum.dynamic_input(x, None, lum._frames_in), torch.zeros(3, 6))
        b = lum.dynamic_encoder(lum.dynamic_input(x_perm, None, lum._frames_in), torch.zeros(3, 6))
        assert torch.allclose(a.mean, b.mean, atol=1e-5)
    else:
        assert torch.allclose(lum.encode(x).z_mean, lum.encode(x_perm).z_mean, atol=1e-5)
        assert not torch.allclose(plain.encode(x).z_mean, plain.encode(x_perm).z_mean, atol=1e-3)
    # f still sees colour in both
    assert not torch.allclose(lum.encode(x).f_mean, lum.encode(x_perm).f_mean, atol=1e-3)
    lum.train()
    out = lum(x)  # training draws random channel weights and still gives every shape
    assert out.x_param.shape == x.shape and out.q_z.mean.shape == (3, 4, 3)


def test_static_frames_picks_k_distinct_frames_in_order_in_training_only():
    model = DSAE(_cfg(static_frames=3), (3, 16, 16))
    h = torch.arange(6.0).view(1, 6, 1).expand(50, 6, 2).contiguous()
    model.train()
    torch.manual_seed(1)
    picked = model.static_view(h, model.training)[..., 0]  # (50, 3) frame indices
    assert picked.shape == (50, 3)
    assert (picked.diff(dim=1) > 0).all()  # distinct, in time order
    assert len({tuple(r.tolist()) for r in picked}) > 5  # random across sequences
    model.eval()
    assert torch.equal(model.static_view(h, model.training), h)  # inference reads every frame
    with pytest.raises(ValueError, match="static_frames"):
        DSAE(_cfg(static_frames=-1), (3, 16, 16))
    with pytest.raises(ValueError, match="dynamic_input"):
        DSAE(_cfg(dynamic_input="hue"), (3, 16, 16))


@pytest.mark.parametrize("dynamic_input", ["frames", "figure"])
def test_shared_encoder_reads_only_the_frames_it_must(dynamic_input):
    """In training, when q(z_t | .) has a view of its own, the shared frame encoder sees
    only the k frames q(f) reads; when q(z_t) reads its features, every frame. q(f) is
    the same either way."""
    torch.manual_seed(0)
    model = DSAE(
        _cfg(static_encoder="mean", static_frames=2, dynamic_input=dynamic_input), (3, 16, 16)
    )
    x = torch.rand(4, 6, 3, 16, 16)
    seen = []
    model.frame_encoder.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    model.train()
    torch.manual_seed(3)
    q_f, _ = model._q_f(x)
    torch.manual_seed(3)
    expected = model.static_encoder(model.static_view(model.frame_features(x), True))
    assert seen[0] == 4 * (6 if dynamic_input == "frames" else 2)
    torch.testing.assert_close(q_f.mean, expected.mean)
    torch.testing.assert_close(q_f.logvar, expected.logvar)
    model.eval()
    seen.clear()
    model.encode(x)
    assert seen == [4 * 6]  # inference reads every frame


def test_mean_static_encoder_ignores_frame_order_and_lstm_does_not():
    torch.manual_seed(0)
    x = torch.rand(2, 5, 3, 16, 16)
    shuffled = x[:, [3, 0, 4, 1, 2]]
    mean = DSAE(_cfg(static_encoder="mean"), (3, 16, 16)).eval()
    lstm = DSAE(_cfg(), (3, 16, 16)).eval()
    assert torch.allclose(mean.encode(x).f_mean, mean.encode(shuffled).f_mean, atol=1e-5)
    assert not torch.allclose(lstm.encode(x).f_mean, lstm.encode(shuffled).f_mean, atol=1e-4)
    with pytest.raises(ValueError, match="static_encoder"):
        DSAE(_cfg(static_encoder="gru"), (3, 16, 16))


def _two_colour_frames(red_cols: int, green: bool = False) -> torch.Tensor:
    """A (1, 2, 3, 16, 16) sequence: red in the first ``red_cols`` columns, blue elsewhere."""
    x = torch.zeros(1, 2, 3, 16, 16)
    x[:, :, 0, :, :red_cols] = 1.0
    x[:, :, 2, :, red_cols:] = 1.0
    if green:
        x[:, 1, :, 4, 6] = torch.tensor([0.0, 1.0, 0.0])
    return x


def test_palette_static_encoder_sees_which_colours_not_where_or_how_much():
    torch.manual_seed(0)
    model = DSAE(_cfg(static_encoder="palette", dynamic_input="luminance"), (3, 16, 16)).eval()
    f = model.encode(_two_colour_frames(4)).f_mean
    # the same two colours in other places and amounts: the same f
    moved = model.encode(_two_colour_frames(10)).f_mean
    assert torch.allclose(f, moved, atol=1e-6)
    assert torch.allclose(f, model.encode(_two_colour_frames(4).flip(-1, 1)).f_mean, atol=1e-6)
    # one pixel of a new colour changes it
    assert not torch.allclose(f, model.encode(_two_colour_frames(4, green=True)).f_mean, atol=1e-3)
    # the cells seen: 8 levels per channel, red (7, 0, 0) = 448, blue (0, 0, 7) = 7
    cells = model.static_encoder.palette(_two_colour_frames(4)).squeeze(0)
    assert cells.shape == (512,) and cells.nonzero().flatten().tolist() == [7, 448]


def test_local_static_encoder_sees_what_the_frames_hold_not_where():
    torch.manual_seed(0)
    model = DSAE(_cfg(static_encoder="local", dynamic_input="recolour"), (3, 16, 16)).eval()
    assert not hasattr(model, "frame_encoder")  # neither posterior reads shared features
    x = torch.zeros(1, 3, 3, 16, 16)  # a black background
    x[:, 0, :, 4:8, 4:7] = torch.tensor([0.9, 0.2, 0.1]).view(3, 1, 1)
    x[:, 1, :, 6:10, 5:9] = torch.tensor([0.1, 0.3, 0.8]).view(3, 1, 1)
    x[:, 2, 1, 3:5, 8:12] = 0.6
    f = model.encode(x).f_mean
    # the figure moved by an even number of pixels in each frame, the frames in another order
    moved = x.roll((2, -2), dims=(-2, -1)).flip(1)
    torch.testing.assert_close(model.encode(moved).f_mean, f, atol=1e-5, rtol=1e-5)
    recoloured = x.clone()
    recoloured[:, 0, :, 4:8, 4:7] = torch.tensor([0.2, 0.9, 0.1]).view(3, 1, 1)
    assert not torch.allclose(model.encode(recoloured).f_mean, f, atol=1e-4)
    with pytest.raises(ValueError, match="local needs image"):
        DSAE(_cfg(static_encoder="local", frame_net="mlp"), (20,))


def test_palette_with_luminance_drops_the_unused_rgb_encoder_and_trains():
    torch.manual_seed(0)
    model = DSAE(_cfg(static_encoder="palette", dynamic_input="luminance"), (3, 16, 16))
    assert not hasattr(model, "frame_encoder")
    out = model(torch.rand(2, 4, 3, 16, 16))
    out.x_param.sum().backward()
    assert all(p.grad is not None for p in model.static_encoder.parameters())
    with_rgb = DSAE(_cfg(static_encoder="palette"), (3, 16, 16))
    assert with_rgb(torch.rand(2, 4, 3, 16, 16)).x_param.shape == (2, 4, 3, 16, 16)
    with pytest.raises(ValueError, match="palette needs image"):
        DSAE(_cfg(static_encoder="palette", frame_net="mlp"), (20,))


def test_silhouette_input_shows_z_the_figure_shape_only():
    """With dynamic_input silhouette, recolouring or reshading the figure leaves z's posterior
    unchanged; moving the figure changes it."""
    torch.manual_seed(0)
    model = DSAE(_cfg(dynamic_input="silhouette"), (3, 16, 16)).eval()
    x = torch.zeros(2, 3, 3, 16, 16)
    x[..., 4:12, 5:9] = torch.rand(2, 3, 3, 8, 4) * 0.9 + 0.1
    recoloured = torch.zeros_like(x)
    recoloured[..., 4:12, 5:9] = torch.rand(2, 3, 3, 8, 4) * 0.9 + 0.1
    moved = torch.roll(x, 3, dims=-1)
    z = model.encode(x).z_mean
    assert torch.allclose(z, model.encode(recoloured).z_mean, atol=1e-6)
    assert not torch.allclose(z, model.encode(moved).z_mean, atol=1e-3)
    with pytest.raises(ValueError, match="silhouette needs image"):
        DSAE(_cfg(dynamic_input="silhouette", frame_net="mlp"), (20,))


def test_palette_levels_set_the_colour_cells():
    model = DSAE(_cfg(static_encoder="palette", palette_levels=16), (3, 16, 16))
    cells = model.static_encoder.palette(_two_colour_frames(4)).squeeze(0)
    # 16 levels per channel: red (15, 0, 0) = 15 * 256, blue (0, 0, 15) = 15
    assert cells.shape == (4096,) and cells.nonzero().flatten().tolist() == [15, 3840]
    with pytest.raises(ValueError, match="palette_levels"):
        DSAE(_cfg(static_encoder="palette", palette_levels=1), (3, 16, 16))


def test_palette_marks_exactly_the_cells_of_the_pixels_present():
    model = DSAE(_cfg(static_encoder="palette", palette_levels=5), (3, 8, 8))
    g = torch.Generator().manual_seed(3)
    x = torch.rand(3, 2, 3, 8, 8, generator=g)
    x[0, 0, :, 0, 0] = 1.0  # the top edge falls in the last level, not past it
    x[1, 1, :, 2, 2] = 0.0
    expected = torch.zeros(3, 125)
    for b, t, i, j in itertools.product(range(3), range(2), range(8), range(8)):
        r, gr, bl = (min(int(v * 5), 4) for v in x[b, t, :, i, j].tolist())
        expected[b, r * 25 + gr * 5 + bl] = 1.0
    assert torch.equal(model.static_encoder.palette(x), expected)


def test_indexed_colour_decoder_gives_means_in_the_unit_interval_and_trains():
    torch.manual_seed(0)
    model = DSAE(_cfg(decoder_colours=5, decoder_film=True), (3, 16, 16))
    x = torch.rand(2, 4, 3, 16, 16)
    out = model(x)
    assert out.x_param.shape == x.shape
    assert float(out.x_param.detach().min()) >= 0 and float(out.x_param.detach().max()) <= 1
    # the palette alone sets the colours: with one colour everywhere, every pixel has it,
    # with no sigmoid applied after it
    with torch.no_grad():
        model.decoder.palette.weight.zero_()
        model.decoder.palette.bias.fill_(2.0)
    e = model.encode(x)
    assert torch.allclose(model.decode(e.f_mean, e.z_mean), torch.sigmoid(torch.tensor(2.0)))
    out = model(x)
    out.x_param.sum().backward()
    assert model.decoder.palette.weight.grad is not None
    with pytest.raises(ValueError, match="gaussian or laplace"):
        DSAE(_cfg(decoder_colours=4, likelihood="bernoulli"), (3, 16, 16))
    with pytest.raises(ValueError, match="image frames"):
        DSAE(_cfg(decoder_colours=4, frame_net="mlp"), (20,))


def test_linear_mean_is_the_raw_output_clamped_only_when_decoding():
    torch.manual_seed(0)
    x = torch.rand(2, 4, 3, 16, 16)
    lin = DSAE(_cfg(mean_activation="linear"), (3, 16, 16))
    sig = DSAE(_cfg(), (3, 16, 16))
    sig.load_state_dict(lin.state_dict())  # same weights, only the link differs
    with torch.no_grad():  # push the output far outside [0, 1]
        lin.decoder.deconvs[-1].bias.copy_(torch.tensor([3.0, -3.0, 0.5]))
        sig.decoder.deconvs[-1].bias.copy_(torch.tensor([3.0, -3.0, 0.5]))
    e = lin.encode(x)
    with torch.no_grad():
        raw = lin.decode_param(e.f_mean, e.z_mean)
        assert torch.allclose(sig.decode_param(e.f_mean, e.z_mean), torch.sigmoid(raw), atol=1e-6)
    assert float(raw.max()) > 1 and float(raw.min()) < 0  # the loss sees the raw mean
    mean = lin.decode(e.f_mean, e.z_mean)
    assert torch.equal(mean, raw.clamp(0, 1))
    # the gradient of a pixel mean does not vanish where the sigmoid saturates
    out = lin(x)
    g = torch.autograd.grad(out.x_param[..., 0, :, :].sum(), lin.decoder.deconvs[-1].bias)[0]
    assert float(g[0]) == pytest.approx(out.x_param[..., 0, :, :].numel())
    with pytest.raises(ValueError, match="mean_activation"):
        DSAE(_cfg(mean_activation="tanh"), (3, 16, 16))
    with pytest.raises(ValueError, match="gaussian or laplace"):
        DSAE(_cfg(mean_activation="linear", likelihood="bernoulli"), (3, 16, 16))


def test_decoder_channels_widen_the_decoder_only():
    same = DSAE(_cfg(), (3, 16, 16))
    wide = DSAE(_cfg(decoder_channels=[12, 16]), (3, 16, 16))
    enc = [m.out_channels for m in wide.frame_encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert enc == [
        m.out_channels for m in same.frame_encoder.modules() if isinstance(m, torch.nn.Conv2d)
    ]
    dec = [
        m.out_channels for m in wide.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)
    ]
    assert dec == [12, 3]  # 16 -> 12 -> pixels
    assert [
        m.out_channels for m in same.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)
    ] == [8, 3]
    x = torch.rand(2, 4, 3, 16, 16)
    assert wide(x).x_param.shape == x.shape


def _raw_and_mean(activation: str):
    """(the decoder's raw output, the pixel means under ``activation``, the shown frames)
    of two models with the same weights on the same codes."""
    torch.manual_seed(0)
    x = torch.rand(2, 4, 3, 16, 16)
    lin = DSAE(_cfg(mean_activation="linear"), (3, 16, 16))
    other = DSAE(_cfg(mean_activation=activation), (3, 16, 16))
    other.load_state_dict(lin.state_dict())
    e = lin.encode(x)
    with torch.no_grad():
        raw = lin.decode_param(e.f_mean, e.z_mean)
        mean = other.decode_param(e.f_mean, e.z_mean)
    return raw, mean, other.decode(e.f_mean, e.z_mean)


def test_softplus_mean_saturates_toward_black_only():
    raw, mean, shown = _raw_and_mean("softplus")
    assert torch.allclose(mean, torch.log1p(raw.exp()), atol=1e-6)
    assert torch.equal(shown, mean.clamp(0, 1))
    # slope at a bright output (o = 3, mean ~ 3): ~0.95, where a sigmoid's is ~0.045
    o = torch.tensor([3.0, -6.0], requires_grad=True)
    (g,) = torch.autograd.grad(MEAN_ACTIVATIONS["softplus"](o).sum(), o)
    assert float(g[0]) > 0.9 and float(g[1]) < 0.01
    with pytest.raises(ValueError, match="gaussian or laplace"):
        DSAE(_cfg(mean_activation="softplus", likelihood="bernoulli"), (3, 16, 16))


def test_wide_sigmoid_reaches_black_and_white_at_finite_outputs():
    raw, mean, shown = _raw_and_mean("wide_sigmoid")
    assert torch.allclose(mean, 1.1 * torch.sigmoid(raw) - 0.05, atol=1e-6)
    assert torch.equal(shown, mean.clamp(0, 1))
    # a black pixel's squared error has its minimum at a finite output (logit(0.05 / 1.1))
    # with zero gradient there; under a sigmoid the gradient toward -inf never vanishes
    o = torch.full((1,), -1.0, requires_grad=True)
    opt = torch.optim.SGD([o], lr=20.0)
    for _ in range(500):
        opt.zero_grad()
        MEAN_ACTIVATIONS["wide_sigmoid"](o).pow(2).sum().backward()
        opt.step()
    assert float(o.detach()) == pytest.approx(math.log(0.05 / 1.05), abs=1e-4)
    black = torch.tensor([math.log(0.05 / 1.05), math.log(1.05 / 0.05)])
    assert torch.allclose(
        MEAN_ACTIVATIONS["wide_sigmoid"](black), torch.tensor([0.0, 1.0]), atol=1e-6
    )
    at = black[:1].clone().requires_grad_()
    (g,) = torch.autograd.grad(torch.sigmoid(at).pow(2).sum(), at)
    assert float(g[0]) > 1e-3  # where a sigmoid still pulls toward -inf
    with pytest.raises(ValueError, match="gaussian or laplace"):
        DSAE(_cfg(mean_activation="wide_sigmoid", likelihood="bernoulli"), (3, 16, 16))


def test_decode_frames_draws_k_distinct_frames_in_training_only():
    model = DSAE(_cfg(decode_frames=2), (3, 16, 16))
    x = torch.rand(40, 5, 3, 16, 16)
    model.train()
    torch.manual_seed(3)
    out = model(x)
    assert out.frames is not None and out.frames.shape == (40, 2)
    assert (out.frames.diff(dim=1) > 0).all()  # distinct, in time order
    assert len({tuple(r.tolist()) for r in out.frames}) > 3  # random across sequences
    assert out.x_param.shape == (40, 2, 3, 16, 16)
    assert out.z.shape == (40, 5, 3)  # every frame is still encoded
    # the drawn frames are decoded from their own z_t
    ar = torch.arange(40).unsqueeze(1)
    full = model.decode_param(out.f, out.z)[ar, out.frames]
    torch.testing.assert_close(out.x_param, full)
    model.eval()
    out = model(x)
    assert out.frames is None and out.x_param.shape == x.shape
    with pytest.raises(ValueError, match="decode_frames"):
        DSAE(_cfg(decode_frames=-1), (3, 16, 16))


@pytest.mark.parametrize(
    "kw", [{}, {"encoder": "full", "static_encoder": "mean"}, {"static_encoder": "palette"}]
)
def test_posterior_init_logvar_starts_both_posteriors_at_that_variance_and_trains(kw):
    x = torch.rand(3, 4, 3, 16, 16)
    torch.manual_seed(0)
    plain = DSAE(_cfg(**kw), (3, 16, 16))
    torch.manual_seed(0)
    same = DSAE(_cfg(posterior_init_logvar=0.0, **kw), (3, 16, 16))
    torch.manual_seed(0)
    narrow = DSAE(_cfg(posterior_init_logvar=-6.0, **kw), (3, 16, 16))
    for a, b in zip(plain.state_dict().values(), same.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # 0 leaves the default initialisation alone
    out = narrow(x)
    assert torch.allclose(out.q_f.logvar, torch.full_like(out.q_f.logvar, -6.0))
    assert torch.allclose(out.q_z.logvar, torch.full_like(out.q_z.logvar, -6.0))
    assert not torch.allclose(plain(x).q_f.logvar, out.q_f.logvar)
    # the means and everything else start as in the default model; the prior is untouched
    assert torch.allclose(out.q_f.mean, plain(x).q_f.mean)
    assert torch.equal(narrow.prior.head.proj.bias, plain.prior.head.proj.bias)
    # the log-variances still learn
    out.q_f.logvar.sum().add(out.q_z.logvar.sum()).backward()
    assert narrow.static_encoder.head.proj.weight.grad[6:].abs().sum() > 0


def _sample_as_before(prior: PriorLSTM, batch: int, steps: int, generator) -> torch.Tensor:
    """PriorLSTM.sample as first written (one LSTM step per draw), the reference that
    benchmarks' generations were made with."""
    p = next(prior.parameters())
    z_prev = torch.zeros(batch, 1, prior.z_dim, device=p.device, dtype=p.dtype)
    state, zs = None, []
    for _ in range(steps):
        out, state = prior.lstm(z_prev, state)
        g = prior.head(out)
        eps = torch.randn(g.mean.shape, generator=generator, dtype=p.dtype)
        z_prev = g.mean + eps * torch.exp(0.5 * g.logvar)
        zs.append(z_prev)
    return torch.cat(zs, dim=1)


def test_prior_sample_keeps_its_numbers_for_a_seed():
    torch.manual_seed(3)
    prior = PriorLSTM(5, 16)
    with torch.no_grad():
        expected = _sample_as_before(prior, 4, 9, torch.Generator().manual_seed(11))
    assert torch.equal(prior.sample(4, 9, torch.Generator().manual_seed(11)), expected)


def test_continue_z_most_likely_follows_the_prior_mean_after_the_seen_codes():
    torch.manual_seed(0)
    model = DSAE(_cfg(), (3, 16, 16)).eval()
    z_seen = torch.randn(2, 3, 3)
    a = model.continue_z(z_seen, 6, torch.Generator().manual_seed(0), most_likely=True)
    b = model.continue_z(z_seen, 6, torch.Generator().manual_seed(1), most_likely=True)
    assert torch.equal(a, b) and a.shape == (2, 6, 3)
    assert torch.equal(a[:, :3], z_seen)
    # one step by hand: the LSTM over z_0 = 0, z_1..z_3, its output through the head
    with torch.no_grad():
        out, _ = model.prior.lstm(torch.cat([torch.zeros(2, 1, 3), z_seen], 1))
        torch.testing.assert_close(a[:, 3], model.prior.head(out[:, -1]).mean)
        # every later step is the prior's mean given all the codes before it
        torch.testing.assert_close(a[:, 3:], model.prior(a).mean[:, 3:])


def test_continue_z_samples_keep_the_seen_part_and_vary_after_it():
    torch.manual_seed(0)
    model = DSAE(_cfg(), (3, 16, 16)).eval()
    z_seen = torch.randn(2, 4, 3)
    a = model.continue_z(z_seen, 7, torch.Generator().manual_seed(0))
    b = model.continue_z(z_seen, 7, torch.Generator().manual_seed(1))
    assert torch.equal(a[:, :4], z_seen) and torch.equal(b[:, :4], z_seen)
    assert not torch.allclose(a[:, 4:], b[:, 4:])
    assert torch.equal(model.continue_z(z_seen, 4), z_seen)
    with pytest.raises(ValueError, match="steps"):
        model.continue_z(z_seen, 3)
    x = torch.rand(2, 4, 3, 16, 16)
    assert model.impute(x, 7, torch.Generator().manual_seed(0)).shape == (2, 7, 3, 16, 16)


def test_continue_z_from_nothing_is_the_prior():
    torch.manual_seed(0)
    model = DSAE(_cfg(), (3, 16, 16)).eval()
    empty = torch.zeros(3000, 0, 3)
    c = model.continue_z(empty, 4, torch.Generator().manual_seed(0))
    s = model.sample_z(3000, 4, torch.Generator().manual_seed(1))
    assert c.shape == s.shape == (3000, 4, 3)
    torch.testing.assert_close(c.mean(0), s.mean(0), atol=0.08, rtol=0)
    torch.testing.assert_close(c.std(0), s.std(0), atol=0.0, rtol=0.08)
    # and with the same generator, the same draws
    same = model.continue_z(empty[:5], 4, torch.Generator().manual_seed(2))
    assert torch.equal(same, model.sample_z(5, 4, torch.Generator().manual_seed(2)))
