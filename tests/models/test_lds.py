"""Linear latent dynamics with a block tri-diagonal posterior (model ``lds``): the prior's
density, the KL estimate, the slow-dynamics regulariser, the prior's rollouts, resume and
the CLI end to end."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch
from conftest import REPO, assert_same_weights
from torch.distributions import MultivariateNormal, kl_divergence

from dsae.config import Config, ModelConfig, ObjectiveConfig, load_config
from dsae.errors import DsaeError
from dsae.models import MODELS, build_model
from dsae.models.lds import LinearDynamicsVAE
from dsae.models.linear_dynamics import LinearGaussianPrior, MarkovPosterior, Transition
from dsae.objectives.slow import slow_gammas, slow_penalty
from dsae.train import load_run, train
from dsae.train.checkpoint import load_checkpoint

SMALL = dict(f_dim=0, z_dim=3, frame_dim=16, hidden_dim=16, mlp_hidden=16)
VECTOR = (6,)


def _model(**kw) -> LinearDynamicsVAE:
    torch.manual_seed(0)
    cfg = ModelConfig(name="lds", frame_net="mlp", **{**SMALL, **kw})
    return build_model(cfg, VECTOR)


def _transition(
    lead: tuple[int, ...], d: int, rank: int, g: torch.Generator, jordan: int = 1
) -> Transition:
    def r(*s):
        return torch.randn(*lead, *s, generator=g, dtype=torch.float64)

    lam = (1.0 + 0.4 * r(d // jordan)).repeat_interleave(jordan, dim=-1)
    return Transition(lam, 0.3 * r(d, rank), 0.3 * r(d, rank), jordan)


def _random_prior(d: int, rank: int, seed: int = 0, jordan: int = 1) -> LinearGaussianPrior:
    g = torch.Generator().manual_seed(seed)
    prior = LinearGaussianPrior(d, rank, jordan).double()
    a = _transition((), d, rank, g, jordan)
    with torch.no_grad():
        prior.eigenvalues.copy_(a.eigenvalues[::jordan])
        if rank:
            prior.u.copy_(a.u)
            prior.v.copy_(a.v)
        prior.logvar.copy_(0.5 * torch.randn(d, generator=g, dtype=torch.float64))
    return prior


def _dense_prior(prior: LinearGaussianPrior, t: int) -> MultivariateNormal:
    """z = G e with z_1 = e_1, z_t = A z_{t-1} + sigma e_t: G[t, s] = A^(t-s) S_s."""
    a = prior.transition.matrix().detach()
    d = a.shape[0]
    scales = [torch.eye(d, dtype=a.dtype)] + [
        torch.diag(torch.exp(0.5 * prior.logvar.detach()))
    ] * (t - 1)
    g = torch.zeros(t * d, t * d, dtype=a.dtype)
    for i in range(t):
        for s in range(i + 1):
            block = torch.linalg.matrix_power(a, i - s) @ scales[s]
            g[i * d : (i + 1) * d, s * d : (s + 1) * d] = block
    return MultivariateNormal(torch.zeros(t * d, dtype=a.dtype), covariance_matrix=g @ g.T)


def test_registered_under_its_name():
    assert MODELS["lds"] is LinearDynamicsVAE and _model().name == "lds"


DYNAMICS = [(0, 1), (2, 1), (0, 2), (1, 2)]  # (rank, Jordan block size)


@pytest.mark.parametrize(("rank", "jordan"), DYNAMICS)
def test_prior_log_density_is_the_dense_gaussian_over_z_1_to_T(rank, jordan):
    prior, t, d = _random_prior(4, rank, jordan=jordan), 4, 4
    z = torch.randn(5, t, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = _dense_prior(prior, t).log_prob(z.reshape(5, -1))
    torch.testing.assert_close(prior.log_prob(z), expected)


@pytest.mark.parametrize(("rank", "jordan"), DYNAMICS)
def test_posterior_precision_is_that_of_its_markov_chain(rank, jordan):
    """J = U^T U with e = U (z - mu) the innovations e_1 = w_1 / s_1, e_t = (w_t - A_t w_{t-1}) / s_t."""
    g = torch.Generator().manual_seed(2)
    b, t, d = 2, 4, 4
    mean = torch.randn(b, t, d, generator=g, dtype=torch.float64)
    logvar = 0.5 * torch.randn(b, t, d, generator=g, dtype=torch.float64)
    a = _transition((b, t - 1), d, rank, g, jordan)
    q = MarkovPosterior(mean, logvar, a)
    inv_s = torch.exp(-0.5 * logvar)
    u = torch.zeros(b, t * d, t * d, dtype=torch.float64)
    for s in range(t):
        u[:, s * d : (s + 1) * d, s * d : (s + 1) * d] = torch.diag_embed(inv_s[:, s])
        if s:
            block = -inv_s[:, s].unsqueeze(-1) * a.matrix()[:, s - 1]
            u[:, s * d : (s + 1) * d, (s - 1) * d : s * d] = block
    dense = u.mT @ u
    torch.testing.assert_close(q.to_dense_precision(), dense)
    z = q.rsample((3,), torch.Generator().manual_seed(0))
    dist = MultivariateNormal(mean.reshape(b, -1), precision_matrix=dense)
    torch.testing.assert_close(q.log_prob(z), dist.log_prob(z.reshape(3, b, -1)))
    torch.testing.assert_close(q.entropy(), dist.entropy())
    cov = torch.linalg.inv(dense)
    marg = torch.diagonal(cov, dim1=-2, dim2=-1).reshape(b, t, d)
    torch.testing.assert_close(q.marginal_variances(), marg)


def test_kl_estimate_is_unbiased_against_the_closed_form():
    """-H[q] - log p(z), z ~ q, in float64 against KL(q || p) of the dense Gaussians."""
    g = torch.Generator().manual_seed(3)
    b, t, d = 2, 4, 3
    prior = _random_prior(d, 1, seed=5)
    mean = torch.randn(b, t, d, generator=g, dtype=torch.float64)
    logvar = 0.5 * torch.randn(b, t, d, generator=g, dtype=torch.float64)
    q = MarkovPosterior(mean, logvar, _transition((b, t - 1), d, 1, g))
    q_dense = MultivariateNormal(mean.reshape(b, -1), precision_matrix=q.to_dense_precision())
    exact = kl_divergence(q_dense, _dense_prior(prior, t))
    n = 20000
    with torch.no_grad():
        z = q.rsample((n,), torch.Generator().manual_seed(4))
        kl = -q.entropy() - prior.log_prob(z.reshape(n * b, t, d)).view(n, b)
    se = kl.std(0) / n**0.5
    assert bool(((kl.mean(0) - exact).abs() < 4 * se).all()), (kl.mean(0), exact, se)
    assert bool((4 * se < 0.02 * exact.abs()).all())  # a 2% bias would fail


def test_the_models_kl_of_z_is_that_estimate_on_its_own_posterior_and_prior():
    model = _model(lds_rank=1).eval()
    x = torch.rand(1, 4, *VECTOR, generator=torch.Generator().manual_seed(3))
    n = 20000
    with torch.no_grad():
        q, _ = model.posterior(x)
        q_dense = MultivariateNormal(
            q.mean.reshape(1, -1).double(), precision_matrix=q.to_dense_precision().double()
        )
        exact = kl_divergence(q_dense, _dense_prior(model.prior.double(), 4))[0]
        model.prior.float()
        torch.manual_seed(4)
        xs = x.expand(n, -1, -1)
        kl = model.loss_terms(xs, model(xs)).kl_z.double()
    se = float(kl.std()) / n**0.5
    assert abs(float(kl.mean()) - float(exact)) < 4 * se + 1e-3


def test_slow_weights_rise_with_the_latent_and_can_be_listed():
    cfg = ObjectiveConfig(slow_weight=2.0, slow_power=2.0)
    torch.testing.assert_close(slow_gammas(cfg, 3), torch.tensor([0.0, 0.5, 2.0]))
    assert slow_gammas(ObjectiveConfig(), 3) is None
    listed = slow_gammas(ObjectiveConfig(slow_weights=[1.0, 0.0, 3.0]), 3)
    torch.testing.assert_close(listed, torch.tensor([1.0, 0.0, 3.0]))
    with pytest.raises(DsaeError, match="slow_weights must list 3"):
        slow_gammas(ObjectiveConfig(slow_weights=[1.0]), 3)
    with pytest.raises(DsaeError, match="slow_weight must be >= 0"):
        slow_gammas(ObjectiveConfig(slow_weight=-1.0), 3)


def test_slow_penalty_is_zero_at_lambda_one_and_the_weighted_l1_otherwise():
    gammas = torch.tensor([0.0, 1.0, 3.0])
    assert float(slow_penalty(torch.zeros(2, 5, 3), gammas)) == 0.0
    lam = torch.tensor([[[1.0, 0.5, 1.2], [0.0, 1.0, 1.0]], [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]])
    # sequence 0: 0.5 * 1 + 0.2 * 3 + 1 * 0 = 1.1; sequence 1: 1 * 0 + 1 * 1 + 1 * 3 = 4
    torch.testing.assert_close(slow_penalty(lam - 1.0, gammas), torch.tensor((1.1 + 4.0) / 2))
    dense = torch.zeros(1, 1, 3, 3)
    dense[0, 0, 2, 0], dense[0, 0, 1, 1] = -2.0, 0.5  # rows 2 and 1 of A - I
    torch.testing.assert_close(slow_penalty(dense, gammas), torch.tensor(2.0 * 3 + 0.5 * 1))


@pytest.mark.parametrize("rank", [0, 2])
def test_gradients_reach_the_eigenvalue_network(rank):
    model = _model(lds_rank=rank).train()
    x = torch.rand(3, 5, *VECTOR, generator=torch.Generator().manual_seed(1))
    out = model(x)
    offset = out.transition_offset
    assert offset.shape == ((3, 4, 3) if rank == 0 else (3, 4, 3, 3))
    slow_penalty(offset, torch.ones(3)).backward(retain_graph=True)
    for n, p in model.transition_net.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, n
    model.zero_grad()
    model.loss_terms(x, out).kl_z.sum().backward()  # through q's precision alone
    for n, p in model.transition_net.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, n


def test_eigenvalues_are_reported_for_the_prior_and_per_step_for_the_posterior():
    model = _model().eval()
    x = torch.rand(2, 5, *VECTOR)
    ev = model.eigenvalues(x)
    assert ev["prior"].shape == (3,) and ev["posterior"].shape == (2, 4, 3)
    torch.testing.assert_close(ev["posterior"] - 1.0, model(x).transition_offset)
    assert set(model.eigenvalues()) == {"prior"}


def test_a_slow_latent_is_static_under_the_prior():
    model = _model(lds_rank=1).eval()
    with torch.no_grad():
        model.prior.eigenvalues.fill_(1.0)
        model.prior.u.zero_()
        model.prior.logvar.fill_(float("-inf"))  # zero transition noise
    z = model.sample_z(4, 6, torch.Generator().manual_seed(0))
    assert z.shape == (4, 6, 3) and not torch.equal(z[:, 0], torch.zeros(4, 3))
    assert torch.equal(z, z[:, :1].expand(-1, 6, -1))
    # with noise, imputation's most likely path still holds the last seen code
    with torch.no_grad():
        model.prior.logvar.fill_(0.0)
    seen = torch.randn(2, 3, 3)
    cont = model.continue_z(seen, 7, most_likely=True)
    assert torch.equal(cont[:, :3], seen) and torch.equal(
        cont[:, 3:], seen[:, -1:].expand(-1, 4, -1)
    )
    drawn = model.continue_z(seen, 7, torch.Generator().manual_seed(1))
    assert torch.equal(drawn[:, :3], seen) and not torch.equal(drawn, cont)


def test_jordan_blocks_share_an_eigenvalue_and_carry_a_velocity():
    a = _transition((), 6, 1, torch.Generator().manual_seed(3), jordan=3)
    dense = a.matrix()
    n = dense - torch.diag(a.eigenvalues) - a.u @ a.v.mT
    links = torch.zeros(6, 6, dtype=torch.float64)
    links[0, 1] = links[1, 2] = links[3, 4] = links[4, 5] = 1.0  # inside the two blocks only
    torch.testing.assert_close(n, links)
    z = torch.randn(5, 6, dtype=torch.float64)
    torch.testing.assert_close(a.apply(z), z @ dense.T)
    torch.testing.assert_close(
        a.shifted(), torch.diag(a.eigenvalues) + a.u @ a.v.mT - torch.eye(6, dtype=torch.float64)
    )
    model = _model(z_dim=4, lds_jordan=2).eval()
    ev = model.eigenvalues(torch.rand(2, 5, *VECTOR))
    assert model.prior.eigenvalues.shape == (2,)
    for lam in (ev["prior"], ev["posterior"]):
        assert lam.shape[-1] == 4 and torch.equal(lam[..., 0], lam[..., 1])
    with torch.no_grad():  # lambda = 1, no noise: position z_0 moves by the velocity z_1
        model.prior.eigenvalues.fill_(1.0)
        model.prior.logvar.fill_(float("-inf"))
    z = model.sample_z(3, 6, torch.Generator().manual_seed(0))
    steps = torch.arange(6, dtype=z.dtype)
    expected = z[:, :1, 0] + steps * z[:, :1, 1]
    torch.testing.assert_close(z[:, :, 0], expected)
    assert torch.equal(z[:, :, 1], z[:, :1, 1].expand(-1, 6))


def test_config_errors():
    with pytest.raises(ValueError, match="no static code f"):
        build_model(ModelConfig(name="lds", frame_net="mlp", z_dim=3), VECTOR)
    with pytest.raises(ValueError, match="lds_rank must be >= 0"):
        _model(lds_rank=-1)
    with pytest.raises(ValueError, match="lds_jordan must be >= 1 and divide z_dim"):
        _model(lds_jordan=2)  # z_dim 3


def _cfg(tiny_config: Config, **train_kw) -> Config:
    return dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(tiny_config.model, name="lds", f_dim=0, z_dim=4, lds_rank=1),
        objective=dataclasses.replace(tiny_config.objective, slow_weight=2.0),
        train=dataclasses.replace(tiny_config.train, max_steps=6, ckpt_every=3, **train_kw),
    )


def test_trains_with_the_slow_regulariser_and_resumes_exactly(tmp_path, tiny_config):
    cfg = _cfg(tiny_config, log_every=1)
    res = train(cfg, tmp_path / "whole")
    assert res.step == 6
    for key in ("loss", "recon", "kl_z", "slow"):
        assert torch.isfinite(torch.tensor(res.last[key])), key
    assert res.last["kl_f"] == 0.0
    train(cfg, tmp_path / "parts", stop_at=3)
    train(cfg, tmp_path / "parts", resume=True)
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "parts")
    assert_same_weights(a, b)
    run = load_run(tmp_path / "whole")
    assert run.model.name == "lds" and run.model.f_dim == 0
    assert run.model.generate(2, 5, fix="static").shape == (2, 5, 3, 32, 32)


def test_the_slow_regulariser_needs_linear_dynamics(tmp_path, tiny_config):
    cfg = dataclasses.replace(
        tiny_config, objective=dataclasses.replace(tiny_config.objective, slow_weight=1.0)
    )
    with pytest.raises(DsaeError, match="needs linear latent dynamics"):
        train(cfg, tmp_path / "run")


def _dsae(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "dsae.cli.main", *args], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"dsae {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_sprites_config_trains_swaps_generates_and_evaluates_from_the_cli(
    tmp_path, judged_toy_sprites
):
    toy_dir, judge = judged_toy_sprites["data"], judged_toy_sprites["judge"]
    path = REPO / "configs" / "sprites_lds.yaml"
    loaded = load_config(path)
    assert loaded.model.name == "lds" and loaded.model.f_dim == 0
    gammas = slow_gammas(loaded.objective, loaded.model.z_dim)
    assert gammas is not None and bool((gammas.diff() > 0).all())  # rising with i
    run = tmp_path / "run"
    _dsae("train", str(path), "--out", str(run), "--no-progress",
          "--set", f"data.root={toy_dir}", "--set", "data.name=toy_sprites",
          "--set", "model.channels=[8,16,32]", "--set", "model.frame_dim=32",
          "--set", "model.hidden_dim=32", "--set", "model.z_dim=6",
          "--set", "train.max_steps=3", "--set", "train.batch_size=8",
          "--set", "train.lr_warmup_steps=1", "--set", "train.log_every=1")  # fmt: skip
    assert load_run(run).model.name == "lds"
    _dsae("swap", str(run), "--out", str(tmp_path / "swap"), "--pairs", "2")
    assert (tmp_path / "swap" / "swaps.png").is_file()
    _dsae("generate", str(run), "--out", str(tmp_path / "gen"), "--fix", "static",
          "--n", "2", "--groups", "1")  # fmt: skip
    assert any((tmp_path / "gen").iterdir())
    _dsae("evaluate", str(run), "--out", str(tmp_path / "eval"), "--no-progress",
          "--judge", str(judge))  # fmt: skip
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["checkpoint_step"] == 3 and "reconstruction" in metrics
    assert {"table1", "generation", "swap", "trajectories"} <= set(metrics)  # judged too
    assert "static code f" in metrics["skipped"]["latent"]  # f_dim 0: nothing to compare
    slow = metrics["slowness"]  # the eigenvalues of every latent, ordered by slowness
    assert sorted(slow["posterior"]["order"]) == list(range(6))
    assert len(slow["eigenvalues"]["prior"]) == 6
    assert slow["plot"] == "slowness.png" and (tmp_path / "eval" / "slowness.png").is_file()
    assert slow["prior"]["swaps"]["curve"][-1]["k"] == 6  # judged slow-block swaps
    page = tmp_path / "page.html"
    _dsae("report", str(run), "--eval", str(tmp_path / "eval"), "--out", str(page))
    assert 'id="slowness-latents"' in page.read_text()
