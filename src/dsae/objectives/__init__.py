"""Training objectives: the ELBO terms and optional regularisers."""

from dsae.objectives.elbo import ElboTerms, elbo_terms, gaussian_kl
from dsae.objectives.mi import MICritic, MITerms, mi_terms

__all__ = ["ElboTerms", "MICritic", "MITerms", "elbo_terms", "gaussian_kl", "mi_terms"]
