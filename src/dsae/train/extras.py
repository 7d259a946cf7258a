"""Optional parts of a training step: a weight average and the I(f; z) critic."""

from __future__ import annotations

import torch

from dsae.config import ObjectiveConfig
from dsae.errors import DsaeError
from dsae.objectives.mi import MICritic, adapt_weight, mi_terms


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
