"""A Gaussian over z_1:T whose precision is block tri-diagonal (after Archer et al. 2016).

    q(z_1:T) = N(mu, J^-1),   J = R R^T,

where R is the lower block-bidiagonal Cholesky factor of J: its diagonal blocks L_t (D x D)
are lower triangular with a positive diagonal, its blocks below the diagonal M_t = R[t+1, t]
are free. Then

    J[t, t] = L_t L_t^T + M_{t-1} M_{t-1}^T,    J[t+1, t] = M_t L_t^T,

so z_t interacts only with its neighbours z_{t-1} and z_{t+1}. Sampling, log-density,
entropy and per-step marginal covariances all take O(T D^3) time and O(T D^2) memory: no
(T D x T D) matrix is built except by ``to_dense_precision``, which exists for tests.

Where this departs from Archer et al. 2016: they let the encoder emit the precision blocks
and factorise them; here the encoder emits the Cholesky factor (``from_raw``), so J is
positive definite by construction and no factorisation can fail during training. Their
parameterisation is still available through ``from_precision``, which factorises the blocks
by the block-banded Cholesky recursion. The mean is given directly, not as J^-1 h.

Shapes: mean (B, T, D); chol_diag (B, T, D, D); chol_off (B, T-1, D, D), chol_off[:, t] being
the block R[t+1, t]. Samples and log-density arguments may carry leading sample dims (*S).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def _check_shapes(
    mean: torch.Tensor, diag: torch.Tensor, off: torch.Tensor, diag_name: str, off_name: str
) -> None:
    """One-line ValueError unless mean (B, T, D), diag (B, T, D, D), off (B, T-1, D, D), one dtype."""
    if mean.dim() != 3 or mean.shape[1] < 1 or mean.shape[2] < 1:
        raise ValueError(f"mean must be (B, T, D) with T, D >= 1, got {tuple(mean.shape)}")
    if not mean.is_floating_point() or diag.dtype != mean.dtype or off.dtype != mean.dtype:
        raise ValueError(
            f"mean, {diag_name}, {off_name} must share one float dtype, "
            f"got {mean.dtype}, {diag.dtype}, {off.dtype}"
        )
    b, t, d = mean.shape
    if tuple(diag.shape) != (b, t, d, d):
        raise ValueError(
            f"{diag_name} must be (B, T, D, D) = {(b, t, d, d)}, got {tuple(diag.shape)}"
        )
    if tuple(off.shape) != (b, t - 1, d, d):
        raise ValueError(
            f"{off_name} must be (B, T-1, D, D) = {(b, t - 1, d, d)}, got {tuple(off.shape)}"
        )


def _mat_t_vec(a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """a^T v per step: a (B, T, D, D), v (*S, B, T, D) -> (*S, B, T, D)."""
    return torch.einsum("btji,...btj->...bti", a, v)


class BlockTridiagGaussian:
    """q(z_1:T) = N(mean, (R R^T)^-1), R lower block-bidiagonal with blocks L_t, M_t."""

    def __init__(self, mean: torch.Tensor, chol_diag: torch.Tensor, chol_off: torch.Tensor):
        """mean (B, T, D); chol_diag (B, T, D, D), lower triangle read, diagonal > 0;
        chol_off (B, T-1, D, D) = R[t+1, t]."""
        _check_shapes(mean, chol_diag, chol_off, "chol_diag", "chol_off")
        self.mean = mean
        self.chol_diag = torch.tril(chol_diag)
        self.chol_off = chol_off

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_raw(
        cls,
        mean: torch.Tensor,
        raw_diag: torch.Tensor,
        raw_off: torch.Tensor,
        min_diag: float = 1e-3,
    ) -> BlockTridiagGaussian:
        """Unconstrained encoder outputs -> q: L_t = tril(raw, -1) + diag(softplus(raw) + min_diag).

        raw_diag (B, T, D, D) (upper triangle ignored), raw_off (B, T-1, D, D) used as M_t.
        ``min_diag`` bounds each diagonal entry of R below, so log|J| >= 2 T D log(min_diag)
        and the entropy stays bounded above.
        """
        _check_shapes(mean, raw_diag, raw_off, "raw_diag", "raw_off")
        diag = F.softplus(torch.diagonal(raw_diag, dim1=-2, dim2=-1)) + min_diag
        chol_diag = torch.tril(raw_diag, -1) + torch.diag_embed(diag)
        return cls(mean, chol_diag, raw_off)

    @classmethod
    def from_precision(
        cls, mean: torch.Tensor, prec_diag: torch.Tensor, prec_off: torch.Tensor
    ) -> BlockTridiagGaussian:
        """q = N(mean, J^-1) from J's blocks: prec_diag[:, t] = J[t, t], prec_off[:, t] = J[t+1, t].

        Block-banded Cholesky: L_0 L_0^T = J[0, 0], M_t = J[t+1, t] L_t^-T,
        L_{t+1} L_{t+1}^T = J[t+1, t+1] - M_t M_t^T. Raises ValueError if J is not positive
        definite.
        """
        _check_shapes(mean, prec_diag, prec_off, "prec_diag", "prec_off")
        t_len = mean.shape[1]
        chol, info = torch.linalg.cholesky_ex(prec_diag[:, 0])
        diags, offs, infos = [chol], [], [info]
        for t in range(t_len - 1):
            # M_t L_t^T = J[t+1, t]
            m = torch.linalg.solve_triangular(diags[-1].mT, prec_off[:, t], upper=True, left=False)
            chol, info = torch.linalg.cholesky_ex(prec_diag[:, t + 1] - m @ m.mT)
            diags.append(chol)
            offs.append(m)
            infos.append(info)
        bad = torch.stack(infos, dim=1).ne(0)
        if bool(bad.any()):
            step = int(bad.any(dim=0).nonzero()[0])
            raise ValueError(f"precision is not positive definite (fails at step {step})")
        chol_off = torch.stack(offs, dim=1) if offs else prec_off
        return cls(mean, torch.stack(diags, dim=1), chol_off)

    # -- shapes -----------------------------------------------------------------------------

    @property
    def shape(self) -> torch.Size:
        """(B, T, D), the shape of one draw."""
        return self.mean.shape

    def detach(self) -> BlockTridiagGaussian:
        """The same distribution, cut from the graph."""
        return BlockTridiagGaussian(
            self.mean.detach(), self.chol_diag.detach(), self.chol_off.detach()
        )

    def _check_sample(self, z: torch.Tensor, name: str) -> None:
        if z.dim() < 3 or z.shape[-3:] != self.mean.shape:
            raise ValueError(
                f"{name} must be (*S, B, T, D) with (B, T, D) = {tuple(self.mean.shape)}, "
                f"got {tuple(z.shape)}"
            )

    # -- sampling and density -------------------------------------------------------------

    def from_noise(self, eps: torch.Tensor) -> torch.Tensor:
        """z = mean + R^-T eps by block back-substitution; eps, z (*S, B, T, D)."""
        self._check_sample(eps, "eps")
        # x_t = L_t^-T eps_t - G_t x_{t+1},  G_t = L_t^-T M_t^T
        a = torch.linalg.solve_triangular(self.chol_diag.mT, eps.unsqueeze(-1), upper=True).squeeze(
            -1
        )
        g = torch.linalg.solve_triangular(self.chol_diag[:, :-1].mT, self.chol_off.mT, upper=True)
        xs = [a[..., -1, :]]
        for t in range(self.mean.shape[1] - 2, -1, -1):
            xs.append(a[..., t, :] - (g[:, t] @ xs[-1].unsqueeze(-1)).squeeze(-1))
        return self.mean + torch.stack(xs[::-1], dim=-2)

    def to_noise(self, z: torch.Tensor) -> torch.Tensor:
        """eps = R^T (z - mean), the inverse of ``from_noise``; z, eps (*S, B, T, D)."""
        self._check_sample(z, "z")
        d = z - self.mean
        # (R^T d)_t = L_t^T d_t + M_t^T d_{t+1}
        y = _mat_t_vec(self.chol_diag, d)
        if self.mean.shape[1] == 1:
            return y
        ahead = _mat_t_vec(self.chol_off, d[..., 1:, :])
        return torch.cat([y[..., :-1, :] + ahead, y[..., -1:, :]], dim=-2)

    def rsample(
        self, sample_shape: tuple[int, ...] = (), generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """A reparameterised draw z ~ q, (*sample_shape, B, T, D); noise from ``generator``."""
        eps = torch.randn(
            (*sample_shape, *self.mean.shape),
            generator=generator,
            dtype=self.mean.dtype,
            device=self.mean.device,
        )
        return self.from_noise(eps)

    def half_log_det_precision(self) -> torch.Tensor:
        """0.5 log|J| = sum_t log diag(L_t), (B,)."""
        return torch.diagonal(self.chol_diag, dim1=-2, dim2=-1).log().sum((-1, -2))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z) = 0.5 log|J| - 0.5 |R^T (z - mean)|^2 - TD/2 log 2 pi; (*S, B, T, D) -> (*S, B)."""
        eps = self.to_noise(z)
        _, t, d = self.mean.shape
        const = 0.5 * t * d * math.log(2 * math.pi)
        return self.half_log_det_precision() - 0.5 * eps.pow(2).sum((-1, -2)) - const

    def entropy(self) -> torch.Tensor:
        """H[q] = TD/2 (1 + log 2 pi) - 0.5 log|J|, (B,)."""
        _, t, d = self.mean.shape
        return 0.5 * t * d * (1.0 + math.log(2 * math.pi)) - self.half_log_det_precision()

    # -- moments ----------------------------------------------------------------------------

    def marginal_covariances(self) -> torch.Tensor:
        """Cov[z_t] = (J^-1)[t, t] per step, (B, T, D, D), by the backward recursion
        S_t = (L_t L_t^T)^-1 + G_t S_{t+1} G_t^T with G_t = L_t^-T M_t^T."""
        eye = torch.eye(self.mean.shape[-1], dtype=self.mean.dtype, device=self.mean.device)
        inv_l = torch.linalg.solve_triangular(self.chol_diag, eye, upper=False)  # L_t^-1
        own = inv_l.mT @ inv_l
        g = torch.linalg.solve_triangular(self.chol_diag[:, :-1].mT, self.chol_off.mT, upper=True)
        covs = [own[:, -1]]
        for t in range(self.mean.shape[1] - 2, -1, -1):
            covs.append(own[:, t] + g[:, t] @ covs[-1] @ g[:, t].mT)
        return torch.stack(covs[::-1], dim=1)

    def marginal_variances(self) -> torch.Tensor:
        """Var[z_t,i] = diag((J^-1)[t, t]), (B, T, D)."""
        return torch.diagonal(self.marginal_covariances(), dim1=-2, dim2=-1)

    # -- precision, for tests and inspection ------------------------------------------------

    def precision_blocks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(J[t, t] (B, T, D, D), J[t+1, t] (B, T-1, D, D)) with J = R R^T."""
        ll = self.chol_diag @ self.chol_diag.mT
        mm = self.chol_off @ self.chol_off.mT
        diag = torch.cat([ll[:, :1], ll[:, 1:] + mm], dim=1)
        off = self.chol_off @ self.chol_diag[:, :-1].mT
        return diag, off

    def to_dense_precision(self) -> torch.Tensor:
        """J as a dense (B, T D, T D) matrix: O(T^2 D^2) memory, for tests and small T."""
        b, t, d = self.mean.shape
        diag, off = self.precision_blocks()
        dense = self.mean.new_zeros(b, t * d, t * d)
        for s in range(t):
            dense[:, s * d : (s + 1) * d, s * d : (s + 1) * d] = diag[:, s]
        for s in range(t - 1):
            dense[:, (s + 1) * d : (s + 2) * d, s * d : (s + 1) * d] = off[:, s]
            dense[:, s * d : (s + 1) * d, (s + 1) * d : (s + 2) * d] = off[:, s].mT
        return dense
