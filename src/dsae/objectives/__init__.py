"""Training objectives: the ELBO terms and optional regularisers."""

from dsae.objectives.capacity import capacity, capacity_term
from dsae.objectives.dip import DIP_KINDS, dip_covariance, dip_penalty, dip_terms
from dsae.objectives.elbo import ElboTerms, elbo_terms, gaussian_kl, kl_weight, weigh
from dsae.objectives.factor_tc import (
    TCDiscriminator,
    TCTerms,
    joint_codes,
    permute_dims,
    tc_terms,
)
from dsae.objectives.mi import MICritic, MITerms, mi_terms
from dsae.objectives.slow import slow_gammas, slow_penalty
from dsae.objectives.swap import SwapTerms, swap_terms
from dsae.objectives.weights import WEIGHTS, edge_mask, pixel_weight

__all__ = [
    "DIP_KINDS",
    "ElboTerms",
    "MICritic",
    "MITerms",
    "SwapTerms",
    "TCDiscriminator",
    "TCTerms",
    "WEIGHTS",
    "capacity",
    "capacity_term",
    "dip_covariance",
    "dip_penalty",
    "dip_terms",
    "edge_mask",
    "elbo_terms",
    "gaussian_kl",
    "joint_codes",
    "kl_weight",
    "mi_terms",
    "permute_dims",
    "pixel_weight",
    "slow_gammas",
    "slow_penalty",
    "swap_terms",
    "tc_terms",
    "weigh",
]
