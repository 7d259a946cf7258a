"""Training objectives: the ELBO terms and optional regularisers."""

from dsae.objectives.elbo import ElboTerms, elbo_terms, gaussian_kl, kl_weight, weigh
from dsae.objectives.mi import MICritic, MITerms, mi_terms
from dsae.objectives.weights import WEIGHTS, edge_mask, pixel_weight

__all__ = [
    "WEIGHTS",
    "ElboTerms",
    "MICritic",
    "MITerms",
    "edge_mask",
    "elbo_terms",
    "gaussian_kl",
    "kl_weight",
    "mi_terms",
    "pixel_weight",
    "weigh",
]
