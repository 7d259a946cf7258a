"""Training objectives: the ELBO terms and optional regularisers."""

from dsae.objectives.elbo import ElboTerms, elbo_terms, gaussian_kl

__all__ = ["ElboTerms", "elbo_terms", "gaussian_kl"]
