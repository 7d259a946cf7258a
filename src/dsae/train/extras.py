"""Optional parts of a training step: a weight average, the I(f; z) critic, the total
correlation discriminator, the DIP-VAE penalty, swap consistency and the slow-dynamics
regulariser."""

from __future__ import annotations

import torch

from dsae.config import ObjectiveConfig
from dsae.errors import DsaeError
from dsae.models.base import TrainPass
from dsae.objectives.dip import dip_terms
from dsae.objectives.factor_tc import TCDiscriminator, joint_codes, tc_terms
from dsae.objectives.mi import MICritic, adapt_weight, mi_terms
from dsae.objectives.slow import slow_gammas, slow_penalty
from dsae.objectives.swap import swap_terms


class WeightAverage:
    """theta_ema <- d theta_ema + (1 - d) theta after every step, d = min(decay, (1+s)/(10+s)).

    The warm-up of d keeps the first steps' random weights from dominating short runs.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.names = [n for n, _ in model.named_parameters()]
        self.params = [p for _, p in model.named_parameters()]
        self.avg = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.avg, self.params, 1.0 - d)

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        """Write the average into ``model`` (the averaged one, or one of its architecture)."""
        named = dict(model.named_parameters())
        for n, a in zip(self.names, self.avg, strict=True):
            named[n].copy_(a)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, self.avg, strict=True))

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if set(state) != set(self.names):
            raise DsaeError("corrupt checkpoint: its weight average does not fit the model")
        self.avg = [state[n].clone() for n in self.names]


class MIPenalty:
    """The critic of I(f; z_t) and the penalty's weight, adapted toward
    ``objective.mi_target`` when one is set (dsae.objectives.mi)."""

    def __init__(self, cfg: ObjectiveConfig, f_dim: int, z_dim: int):
        self.cfg = cfg
        self.critic = MICritic(f_dim, z_dim, cfg.mi_hidden)
        self.weight = cfg.mi_weight

    def __call__(
        self, f: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """The weighted penalty and the critic's loss (both to add to the loss) and what to
        log; then adapts the weight."""
        mi = mi_terms(self.critic, f, z, self.cfg.mi_through)
        penalty = self.weight * mi.penalty
        log = {
            "mi": float(mi.estimate),
            "critic_loss": float(mi.critic_loss.detach()),
            "mi_weight": self.weight,
        }
        o = self.cfg
        if o.mi_target > 0:
            self.weight = adapt_weight(
                self.weight, log["mi"], o.mi_target, o.mi_rate, o.mi_weight, o.mi_weight_max
            )
        return penalty, mi.critic_loss, log

    def state(self) -> dict:
        return {"critic": self.critic.state_dict(), "mi_weight": self.weight}

    def load(self, state: dict) -> None:
        self.critic.load_state_dict(state["critic"])
        self.weight = float(state.get("mi_weight", self.weight))


class TCPenalty:
    """tc_weight * TC([f, z_t]) by a discriminator with its own Adam (FactorVAE's lr and
    betas (0.5, 0.9)); dsae.objectives.factor_tc."""

    def __init__(self, cfg: ObjectiveConfig, f_dim: int, z_dim: int):
        self.weight = cfg.tc_weight
        self.disc = TCDiscriminator(f_dim + z_dim, cfg.tc_hidden)
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.tc_lr, betas=(0.5, 0.9))

    def __call__(
        self, f: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """The weighted penalty and the discriminator's loss (both to add to the loss, whose
        backward pass then gives each side its own gradient) and what to log."""
        self.opt.zero_grad(set_to_none=True)
        tc = tc_terms(self.disc, joint_codes(f, z))
        log = {"tc": float(tc.estimate), "tc_disc_loss": float(tc.disc_loss.detach())}
        return self.weight * tc.penalty, tc.disc_loss, log

    def step(self) -> None:
        """The discriminator's step, after the backward pass."""
        self.opt.step()

    def state(self) -> dict:
        return {"tc_disc": self.disc.state_dict(), "tc_optimizer": self.opt.state_dict()}

    def load(self, state: dict) -> None:
        if "tc_disc" not in state:
            raise DsaeError("cannot resume: the checkpoint holds no total correlation critic")
        self.disc.load_state_dict(state["tc_disc"])
        self.opt.load_state_dict(state["tc_optimizer"])


def dip_loss(out: TrainPass, cfg: ObjectiveConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The DIP-VAE penalties of q(f) and q(z_t) (one each per batch) and what to log."""
    pf, pz = dip_terms(out.q_f, out.q_z, cfg.dip, cfg.dip_lambda_od, cfg.dip_lambda_d)
    return pf + pz, {"dip_f": float(pf.detach()), "dip_z": float(pz.detach())}


def swap_loss(
    model: torch.nn.Module, out: TrainPass, cfg: ObjectiveConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """swap_weight times the swap-consistency term (dsae.objectives.swap) and what to log."""
    swap = swap_terms(model, out.f, out.z, cfg.swap_frames)  # type: ignore[arg-type]
    log = {"swap_f": float(swap.f_error), "swap_z": float(swap.z_error)}
    return cfg.swap_weight * swap.penalty, log


class Regularisers:
    """The optional penalties of a step on the codes: I(f; z_t), TC([f, z_t]), DIP, swap
    consistency (which needs the ``model``) and slow linear dynamics."""

    def __init__(
        self, cfg: ObjectiveConfig, f_dim: int, z_dim: int, model: torch.nn.Module | None = None
    ):
        if cfg.swap_weight > 0 and not hasattr(model, "posteriors"):
            name = getattr(model, "name", "this model")
            raise DsaeError(f"objective.swap_weight needs a model that encodes frames (not {name})")
        self.cfg, self.model = cfg, model
        self.slow_gammas = slow_gammas(cfg, z_dim)
        self.mi = MIPenalty(cfg, f_dim, z_dim) if cfg.mi_weight > 0 else None
        self.tc = TCPenalty(cfg, f_dim, z_dim) if cfg.tc_weight > 0 else None

    def critic_params(self) -> list[torch.nn.Parameter]:
        """Parameters the model's optimiser trains beside the model's (the MI critic's)."""
        return list(self.mi.critic.parameters()) if self.mi is not None else []

    def __call__(self, out: TrainPass) -> tuple[torch.Tensor | float, dict[str, float]]:
        """What to add to the loss (penalties and critics' losses) and what to log."""
        extra: torch.Tensor | float = 0.0
        log: dict[str, float] = {}
        for part in (self.mi, self.tc):
            if part is not None:
                penalty, own_loss, part_log = part(out.f, out.z)
                extra = extra + penalty + own_loss
                log.update(part_log)
        if self.cfg.dip != "none":
            penalty, part_log = dip_loss(out, self.cfg)
            extra = extra + penalty
            log.update(part_log)
        if self.cfg.swap_weight > 0:
            assert self.model is not None
            penalty, part_log = swap_loss(self.model, out, self.cfg)
            extra = extra + penalty
            log.update(part_log)
        if self.slow_gammas is not None:
            if out.transition_offset is None:
                raise DsaeError("objective.slow_weight needs linear latent dynamics (model lds)")
            penalty = slow_penalty(out.transition_offset, self.slow_gammas)
            extra = extra + penalty
            log["slow"] = float(penalty.detach())
        return extra, log

    def step(self) -> None:
        """After the backward pass: the steps of parts with their own optimiser."""
        if self.tc is not None:
            self.tc.step()

    def state(self) -> dict:
        return {
            **(self.mi.state() if self.mi is not None else {}),
            **(self.tc.state() if self.tc is not None else {}),
        }

    def load(self, state: dict) -> None:
        if self.mi is not None:
            self.mi.load(state)
        if self.tc is not None:
            self.tc.load(state)
