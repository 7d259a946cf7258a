"""The variational-EM study's closed forms against independent estimates (Monte Carlo,
torch.distributions), and the study's properties: every ELBO below the log-likelihood,
the exact posterior reaching it, determinism, and the consistency of maximum likelihood."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from dsae.studies.vem import CASES, refined_argmax, run_vem_study
from dsae.studies.vem_model import (
    DTYPE,
    FAMILIES,
    amortised_optimum,
    elbo,
    fit_encoders,
    log_likelihood,
    marginal_cov,
    mean_elbo,
    optimal_q,
    per_coordinate,
    posterior,
    prior_precision,
    sample_sequences,
)

THETA = torch.tensor([1.0, 0.5, 0.8], dtype=DTYPE)


def _data(n: int, theta: torch.Tensor = THETA, seed: int = 0) -> torch.Tensor:
    return per_coordinate(sample_sequences(n, theta, torch.Generator().manual_seed(seed)))


def _log_joint(x: torch.Tensor, u: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """log p(x, u) written out from the model's conditionals: u (S, 4), x (3,) -> (S,)."""
    sf, sz, sx = theta
    f, z = u[:, 0], u[:, 1:]
    prev = torch.cat([torch.zeros_like(z[:, :1]), z[:, :-1]], 1)
    return (
        Normal(0.0, sf).log_prob(f)
        + Normal(prev, sz).log_prob(z).sum(-1)
        + Normal(f[:, None] + z, sx).log_prob(x).sum(-1)
    )


def test_log_likelihood_matches_importance_sampling_from_the_prior():
    x = _data(3, seed=1)
    g = torch.Generator().manual_seed(2)
    n = 400_000
    sf, sz, sx = THETA
    f = sf * torch.randn(n, 1, generator=g, dtype=DTYPE)
    z = sz * torch.randn(n, 3, generator=g, dtype=DTYPE).cumsum(1)
    exact = log_likelihood(x, THETA)
    for i in range(len(x)):
        w = Normal(f + z, sx).log_prob(x[i]).sum(-1).exp()  # p(x | u), u from the prior
        est = math.log(w.mean())
        se = float(w.std() / (w.mean() * math.sqrt(n)))  # delta method for log of a mean
        assert abs(est - float(exact[i])) < 5 * se + 1e-6, (est, float(exact[i]), se)


def test_marginal_covariance_matches_samples():
    x = _data(200_000, seed=3)
    emp = x.T @ x / len(x)
    assert torch.allclose(emp, marginal_cov(THETA), atol=0.03)


def test_closed_form_elbo_matches_monte_carlo_for_a_random_q():
    g = torch.Generator().manual_seed(4)
    x = _data(2, seed=5)
    for i in range(len(x)):
        mu = torch.randn(4, generator=g, dtype=DTYPE)
        a = torch.randn(4, 4, generator=g, dtype=DTYPE)
        cov = a @ a.T / 4 + 0.1 * torch.eye(4, dtype=DTYPE)
        q = MultivariateNormal(mu, cov)
        u = q.sample((200_000,))
        terms = _log_joint(x[i], u, THETA) - q.log_prob(u)
        se = float(terms.std() / math.sqrt(len(u)))
        exact = float(elbo(x[i : i + 1], mu[None], cov, THETA)[0])
        assert abs(float(terms.mean()) - exact) < 5 * se, (float(terms.mean()), exact, se)


def test_the_exact_posterior_attains_the_log_likelihood():
    x = _data(50)
    grid = THETA.repeat(7, 1)
    grid[:, 2] = torch.linspace(0.1, 2.0, 7, dtype=DTYPE)
    gain, cov = optimal_q(grid, "gaussian")
    got = elbo(x, x @ gain.mT, cov, grid)  # (7, 50)
    assert torch.allclose(got, log_likelihood(x, grid), atol=1e-9, rtol=0)
    # ... and the posterior is Bayes' rule: precision = prior precision + H^T H / sx^2
    g2, c2 = posterior(THETA)
    h = torch.cat([torch.ones(3, 1, dtype=DTYPE), torch.eye(3, dtype=DTYPE)], 1)
    prior_cov = torch.linalg.inv(prior_precision(THETA))
    gain_kalman = prior_cov @ h.T @ torch.linalg.inv(marginal_cov(THETA))
    assert torch.allclose(g2, gain_kalman, atol=1e-12)
    assert torch.allclose(c2, prior_cov - gain_kalman @ h @ prior_cov, atol=1e-12)


def test_mean_elbo_is_the_mean_of_the_per_sequence_elbo():
    x = _data(40)
    g = torch.Generator().manual_seed(6)
    gain = torch.randn(4, 3, generator=g, dtype=DTYPE)
    a = torch.randn(4, 4, generator=g, dtype=DTYPE)
    cov = a @ a.T + 0.1 * torch.eye(4, dtype=DTYPE)
    per_seq = elbo(x, x @ gain.T, cov, THETA).mean()
    assert torch.allclose(mean_elbo(x.T @ x / len(x), gain, cov, THETA), per_seq, atol=1e-10)


@pytest.mark.parametrize("family", ["factorised", "full"])
def test_optimal_q_in_family_beats_perturbations(family):
    x = _data(30)
    gain, cov = optimal_q(THETA, family)
    best = elbo(x, x @ gain.T, cov, THETA).mean()
    g = torch.Generator().manual_seed(7)
    for _ in range(20):
        if family == "factorised":  # another diagonal
            other = cov * torch.exp(0.2 * torch.randn(4, generator=g, dtype=DTYPE)).diag()
        else:  # another f variance, coupling c and conditional variances of z_t
            lam = cov.clone()
            var_f = lam[0, 0] * math.exp(0.2 * float(torch.randn(1, generator=g)))
            c = cov[1:, 0] / cov[0, 0] + 0.1 * torch.randn(3, generator=g, dtype=DTYPE)
            cond = torch.diagonal(cov[1:, 1:] - torch.outer(cov[1:, 0], cov[1:, 0]) / cov[0, 0])
            var_z = cond * torch.exp(0.2 * torch.randn(3, generator=g, dtype=DTYPE))
            lower = torch.eye(4, dtype=DTYPE)
            lower[1:, 0] = c
            other = lower @ torch.diag(torch.cat([var_f.reshape(1), var_z])) @ lower.T
        shifted = x @ gain.T + 0.05 * torch.randn(len(x), 4, generator=g, dtype=DTYPE)
        assert elbo(x, x @ gain.T, other, THETA).mean() < best
        assert elbo(x, shifted, cov, THETA).mean() < best


@pytest.mark.parametrize("family", FAMILIES)
def test_trained_encoders_reach_the_closed_form_optimum(family):
    x = _data(100)
    second = (x.T @ x / len(x)).expand(4, 3, 3)
    theta = THETA.repeat(4, 1)
    theta[:, 2] = torch.tensor([0.1, 0.3, 0.8, 2.0], dtype=DTYPE)
    value, grad = fit_encoders(second, theta, family)
    assert float(grad.max()) < 1e-6
    assert torch.allclose(value, amortised_optimum(second, theta, family), atol=1e-9)


@pytest.fixture(scope="module")
def small_study() -> dict:
    # one case of each figure
    return run_vem_study(seeds=2, grid=9, sequences=40, seed=3, progress=False,
                         cases=(CASES[0], CASES[4]))  # fmt: skip


def test_every_elbo_lies_below_the_log_likelihood(small_study):
    for case in small_study["cases"].values():
        ll = np.asarray(case["curves"]["log_likelihood"])
        for family in FAMILIES:
            amortised = np.asarray(case["curves"][f"elbo_{family}"])
            best = np.asarray(case["curves"][f"optimal_{family}"])
            assert (best <= ll + 1e-9).all()
            assert (amortised <= best + 1e-9).all()  # amortised is within the family
        # the full q family contains the factorised one
        assert (np.asarray(case["curves"]["optimal_factorised"])
                <= np.asarray(case["curves"]["optimal_full"]) + 1e-9).all()  # fmt: skip


def test_the_study_is_deterministic_under_its_seed(small_study):
    kw = {"seeds": 2, "grid": 9, "sequences": 40, "progress": False, "cases": (CASES[4],)}
    again, other = run_vem_study(seed=3, **kw), run_vem_study(seed=4, **kw)
    name = CASES[4].name
    assert again["cases"][name] == small_study["cases"][name]
    assert again["bias"][name] == small_study["bias"][name]
    assert other["cases"][name]["curves"] != small_study["cases"][name]["curves"]


def test_maximum_likelihood_finds_the_true_parameter_with_many_sequences():
    grid = np.linspace(0.1, 2.0, 191)
    for truth, index in (((2.0, 0.5, 0.3), 2), ((2.0, 0.5, 1.0), 2), ((2.0, 1.0, 0.5), 1)):
        t = torch.tensor(truth, dtype=DTYPE)
        x = _data(20_000, t, seed=8)
        theta = t.repeat(len(grid), 1)
        theta[:, index] = torch.as_tensor(grid, dtype=DTYPE)
        ll = log_likelihood(x, theta).mean(-1).numpy()
        assert abs(refined_argmax(grid, ll) - truth[index]) < 0.05 * truth[index] + 0.01


def test_refined_argmax_finds_a_parabolas_vertex():
    grid = np.linspace(0.0, 1.0, 11)
    assert refined_argmax(grid, -((grid - 0.437) ** 2)) == pytest.approx(0.437)
    assert refined_argmax(grid, grid) == 1.0  # at the end of the grid: the end
