"""BlockTridiagGaussian against dense linear algebra and torch.distributions."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import MultivariateNormal
from torch.overrides import TorchFunctionMode

from dsae.models.tridiag import BlockTridiagGaussian


def random_parts(b, t, d, dtype=torch.float64, seed=0):
    """mean (B, T, D), a valid Cholesky diagonal (B, T, D, D) and off-diagonal (B, T-1, D, D)."""
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(b, t, d, generator=g, dtype=dtype)
    lower = 0.5 * torch.tril(torch.randn(b, t, d, d, generator=g, dtype=dtype), -1)
    diag = 0.5 + torch.rand(b, t, d, generator=g, dtype=dtype)
    off = 0.5 * torch.randn(b, t - 1, d, d, generator=g, dtype=dtype)
    return mean, lower + torch.diag_embed(diag), off


def dense_factor(chol_diag, chol_off):
    """R as a dense (B, T D, T D) lower-triangular matrix, built independently of the class."""
    b, t, d, _ = chol_diag.shape
    r = chol_diag.new_zeros(b, t * d, t * d)
    for s in range(t):
        r[:, s * d : (s + 1) * d, s * d : (s + 1) * d] = chol_diag[:, s]
    for s in range(t - 1):
        r[:, (s + 1) * d : (s + 2) * d, s * d : (s + 1) * d] = chol_off[:, s]
    return r


def block_diagonal(dense, t, d):
    """The (B, T, D, D) diagonal blocks of a dense (B, T D, T D) matrix."""
    return torch.stack([dense[:, s * d : (s + 1) * d, s * d : (s + 1) * d] for s in range(t)], 1)


@pytest.mark.parametrize("t", [1, 2, 5])
@pytest.mark.parametrize("d", [1, 3])
def test_matches_a_dense_gaussian_with_the_same_precision(t, d):
    mean, chol_diag, chol_off = random_parts(3, t, d, seed=10 * t + d)
    q = BlockTridiagGaussian(mean, chol_diag, chol_off)
    dense_j = q.to_dense_precision()
    r = dense_factor(chol_diag, chol_off)
    # the blocks are those of R R^T, and R is the (unique) Cholesky factor of J
    assert torch.allclose(dense_j, r @ r.mT, atol=1e-12)
    assert torch.allclose(torch.linalg.cholesky(dense_j), r, atol=1e-10)

    ref = MultivariateNormal(mean.flatten(1), precision_matrix=dense_j)
    z = torch.randn(2, 3, t, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert q.log_prob(z).shape == (2, 3)
    assert torch.allclose(q.log_prob(z), ref.log_prob(z.flatten(2)), atol=1e-10, rtol=1e-10)
    assert torch.allclose(q.entropy(), ref.entropy(), atol=1e-10, rtol=1e-10)

    cov = torch.linalg.inv(dense_j)
    assert torch.allclose(q.marginal_covariances(), block_diagonal(cov, t, d), atol=1e-10)
    assert torch.allclose(q.marginal_variances(), block_diagonal(cov, t, d).diagonal(0, -2, -1))

    # z = mean + R^-T eps, and to_noise inverts it
    eps = torch.randn(2, 3, t, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    want = mean.flatten(1) + torch.linalg.solve_triangular(
        r.mT, eps.flatten(2).unsqueeze(-1), upper=True
    ).squeeze(-1)
    assert torch.allclose(q.from_noise(eps).flatten(2), want, atol=1e-10)
    assert torch.allclose(q.to_noise(q.from_noise(eps)), eps, atol=1e-10)
    assert q.rsample().shape == (3, t, d)
    assert q.rsample((4,)).shape == (4, 3, t, d)


@pytest.mark.parametrize("t", [1, 4])
def test_from_precision_factorises_the_blocks_and_rejects_indefinite_ones(t):
    mean, chol_diag, chol_off = random_parts(2, t, 3, seed=3)
    q = BlockTridiagGaussian(mean, chol_diag, chol_off)
    again = BlockTridiagGaussian.from_precision(mean, *q.precision_blocks())
    assert torch.allclose(again.chol_diag, q.chol_diag, atol=1e-10)
    assert torch.allclose(again.chol_off, q.chol_off, atol=1e-10)

    diag, off = q.precision_blocks()
    bad = diag.clone()
    bad[1, -1] = -torch.eye(3, dtype=torch.float64)
    with pytest.raises(ValueError, match=f"not positive definite .*step {t - 1}"):
        BlockTridiagGaussian.from_precision(mean, bad, off)


def test_from_raw_gives_a_valid_factor_for_any_encoder_output():
    g = torch.Generator().manual_seed(4)
    mean = torch.randn(2, 3, 2, generator=g)
    raw_diag = 30 * torch.randn(2, 3, 2, 2, generator=g)  # wild values, float32
    raw_off = torch.randn(2, 2, 2, 2, generator=g)
    q = BlockTridiagGaussian.from_raw(mean, raw_diag, raw_off, min_diag=1e-2)
    diag = q.chol_diag.diagonal(0, -2, -1)
    assert bool((diag >= 1e-2).all())
    assert torch.equal(q.chol_diag, torch.tril(q.chol_diag))
    assert torch.equal(torch.tril(q.chol_diag, -1), torch.tril(raw_diag, -1))
    assert torch.equal(q.chol_off, raw_off)
    assert torch.isfinite(q.log_prob(q.rsample((2,)))).all()
    assert torch.isfinite(q.entropy()).all()
    raw_diag.requires_grad_()
    q = BlockTridiagGaussian.from_raw(mean, raw_diag, raw_off)
    assert q.entropy().requires_grad and not q.detach().entropy().requires_grad
    assert q.shape == (2, 3, 2)


def test_float32_agrees_with_float64():
    parts = random_parts(2, 6, 3, seed=5)
    q64 = BlockTridiagGaussian(*parts)
    q32 = BlockTridiagGaussian(*(p.float() for p in parts))
    eps = torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(6))
    z = q32.from_noise(eps)
    assert z.dtype == torch.float32
    assert torch.allclose(z.double(), q64.from_noise(eps.double()), atol=1e-4)
    assert torch.allclose(q32.log_prob(z).double(), q64.log_prob(z.double()), atol=1e-3)
    assert torch.allclose(q32.entropy().double(), q64.entropy(), atol=1e-4)


def test_sample_moments_match_mean_and_inverse_precision():
    n = 100_000
    mean, chol_diag, chol_off = random_parts(2, 3, 2, seed=7)
    q = BlockTridiagGaussian(mean, chol_diag, chol_off)
    z = q.rsample((n,), generator=torch.Generator().manual_seed(8)).flatten(2)  # (n, B, T D)
    cov = torch.linalg.inv(q.to_dense_precision())
    var = cov.diagonal(0, -2, -1)
    # 6 standard errors: of a mean sqrt(S_ii / n), of a covariance sqrt((S_ii S_jj + S_ij^2) / n)
    assert bool(((z.mean(0) - mean.flatten(1)).abs() <= 6 * (var / n).sqrt()).all())
    centred = z - z.mean(0)
    sample_cov = torch.einsum("nbi,nbj->bij", centred, centred) / (n - 1)
    se = ((var.unsqueeze(-1) * var.unsqueeze(-2) + cov.pow(2)) / n).sqrt()
    assert bool(((sample_cov - cov).abs() <= 6 * se).all())


def test_gradients_match_finite_differences():
    mean, chol_diag, chol_off = random_parts(2, 3, 2, seed=9)
    g = torch.Generator().manual_seed(10)
    z = torch.randn(2, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    eps = torch.randn(2, 3, 2, generator=g, dtype=torch.float64)
    params = [p.clone().requires_grad_() for p in (mean, chol_diag, chol_off)]
    gradcheck = torch.autograd.gradcheck
    assert gradcheck(lambda m, a, b, x: BlockTridiagGaussian(m, a, b).log_prob(x), (*params, z))
    assert gradcheck(lambda m, a, b: BlockTridiagGaussian(m, a, b).entropy(), params)
    assert gradcheck(lambda m, a, b: BlockTridiagGaussian(m, a, b).from_noise(eps), params)
    assert gradcheck(lambda m, a, b: BlockTridiagGaussian(m, a, b).marginal_covariances(), params)
    raw = [p.clone().requires_grad_() for p in (chol_diag, chol_off)]
    assert gradcheck(lambda a, b: BlockTridiagGaussian.from_raw(mean, a, b).log_prob(z), raw)

    prec = [
        p.detach().clone().requires_grad_()
        for p in BlockTridiagGaussian(*params).precision_blocks()
    ]

    def via_precision(diag, off):
        q = BlockTridiagGaussian.from_precision(mean, 0.5 * (diag + diag.mT), off)
        return q.log_prob(z.detach())

    assert gradcheck(via_precision, prec)


class LargestTensor(TorchFunctionMode):
    """Records the most elements of any tensor a torch call returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for x in out if isinstance(out, tuple | list) else (out,):
            if isinstance(x, torch.Tensor):
                self.largest = max(self.largest, x.numel())
        return out


def test_no_method_builds_a_dense_matrix():
    s, b, t, d = 3, 2, 200, 3
    q = BlockTridiagGaussian(*random_parts(b, t, d, seed=11))
    inputs = max(s * b * t * d, b * t * d * d)  # a batch of draws, or the factor's blocks
    with LargestTensor() as seen:
        z = q.rsample((s,))
        q.log_prob(z)
        q.entropy()
        q.marginal_covariances()
        BlockTridiagGaussian.from_precision(q.mean, *q.precision_blocks())
    assert seen.largest <= inputs
    with LargestTensor() as seen:  # the probe does see a dense (T D)^2 matrix
        q.to_dense_precision()
    assert seen.largest >= b * (t * d) ** 2 > 100 * inputs


def test_a_long_chain_cut_in_two_is_two_independent_chains():
    b, t, d, cut = 2, 2000, 2, 1200
    mean, chol_diag, chol_off = random_parts(b, t, d, seed=12)
    chol_off[:, cut - 1] = 0  # R[cut, cut-1] = 0: z_<cut and z_>=cut independent
    whole = BlockTridiagGaussian(mean, chol_diag, chol_off)
    head = BlockTridiagGaussian(mean[:, :cut], chol_diag[:, :cut], chol_off[:, : cut - 1])
    tail = BlockTridiagGaussian(mean[:, cut:], chol_diag[:, cut:], chol_off[:, cut:])
    eps = torch.randn(b, t, d, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    z = whole.from_noise(eps)
    assert torch.allclose(
        z, torch.cat([head.from_noise(eps[:, :cut]), tail.from_noise(eps[:, cut:])], 1)
    )
    assert torch.allclose(whole.log_prob(z), head.log_prob(z[:, :cut]) + tail.log_prob(z[:, cut:]))
    assert torch.allclose(whole.entropy(), head.entropy() + tail.entropy())
    marg = torch.cat([head.marginal_covariances(), tail.marginal_covariances()], 1)
    assert torch.allclose(whole.marginal_covariances(), marg)
    assert torch.isfinite(z).all()


def test_shape_errors_are_one_line():
    mean, chol_diag, chol_off = random_parts(2, 4, 3)
    cases = [
        (lambda: BlockTridiagGaussian(mean[0], chol_diag, chol_off), "mean must be"),
        (lambda: BlockTridiagGaussian(mean, chol_diag[:, :3], chol_off), "chol_diag must be"),
        (lambda: BlockTridiagGaussian(mean, chol_diag, chol_off[:, :2]), "chol_off must be"),
        (lambda: BlockTridiagGaussian(mean, chol_diag.float(), chol_off), "one float dtype"),
        (lambda: BlockTridiagGaussian.from_raw(mean, chol_diag[..., :2], chol_off), "raw_diag"),
        (lambda: BlockTridiagGaussian.from_precision(mean, chol_diag, chol_off[:1]), "prec_off"),
        (lambda: BlockTridiagGaussian(mean, chol_diag, chol_off).log_prob(mean[:, :3]), "z must"),
        (lambda: BlockTridiagGaussian(mean, chol_diag, chol_off).from_noise(mean[0]), "eps must"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message) as err:
            make()
        assert "\n" not in str(err.value)
