"""The latent report: every latent metric of f against the static factors and of z against
the dynamic ones, plus how well each predicts the other's factors."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence

import numpy as np

from dsae.eval.latent_common import MetricInputError, check_pair, check_rng, majority_rate, spawn
from dsae.eval.latent_metrics import dci, factor_vae_score, predictability, sap
from dsae.eval.latent_mig import mig

__all__ = ["latent_report"]


def _library_versions() -> dict[str, str]:
    """Versions of the libraries the metrics depend on (results shift when they change)."""
    out = {}
    for name in ("dsae", "numpy", "scipy", "scikit-learn"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _group_metrics(
    codes: np.ndarray, factors: np.ndarray, names: Sequence[str], rng: np.random.Generator
) -> dict:
    """All disentanglement metrics plus per-factor predictability for one code group."""
    dci_rng, mig_rng, sap_rng, fvae_rng, pred_rng = spawn(rng, 5)
    return {
        "dci": dci(codes, factors, dci_rng),
        "mig": mig(codes, factors, mig_rng),
        "sap": sap(codes, factors, sap_rng),
        "factor_vae": factor_vae_score(codes, factors, fvae_rng),
        "predictability": _predict_each(codes, factors, names, pred_rng),
    }


def _predict_each(
    codes: np.ndarray, factors: np.ndarray, names: Sequence[str], rng: np.random.Generator
) -> dict[str, dict[str, float]]:
    """{name: {"accuracy", "chance"}} for every factor column predicted from codes."""
    out = {}
    for k, (name, child) in enumerate(zip(names, spawn(rng, len(names)), strict=True)):
        column = factors[:, k]
        out[name] = {
            "accuracy": predictability(codes, column, child),
            "chance": majority_rate(column),
        }
    return out


def latent_report(
    static_codes: np.ndarray,
    static_factors: np.ndarray,
    dynamic_codes: np.ndarray,
    dynamic_factors: np.ndarray,
    rng: np.random.Generator,
    static_names: Sequence[str],
    dynamic_names: Sequence[str],
) -> dict:
    """All metrics for f vs static factors and z vs dynamic factors, plus cross-predictability.

    Rows are sequences and must align across the four arrays (N rows each): static codes f
    (N, D_f), dynamic codes (N, D_z), e.g. z_1:T flattened to T * z_dim or pooled over time,
    and one label per sequence for every factor. ``cross`` holds how well f predicts each
    dynamic factor and how well z predicts each static factor (both should be near chance
    for a disentangled model). All values are floats except ``meta``.
    """
    rng = check_rng(rng)
    static_codes, static_factors = check_pair(static_codes, static_factors)
    dynamic_codes, dynamic_factors = check_pair(dynamic_codes, dynamic_factors)
    if static_codes.shape[0] != dynamic_codes.shape[0]:
        raise MetricInputError(
            f"static and dynamic arrays must have the same rows (one per sequence), got "
            f"{static_codes.shape[0]} and {dynamic_codes.shape[0]}"
        )
    static_names, dynamic_names = list(static_names), list(dynamic_names)
    for names, factors, group in (
        (static_names, static_factors, "static"),
        (dynamic_names, dynamic_factors, "dynamic"),
    ):
        if len(names) != factors.shape[1] or len(set(names)) != len(names):
            raise MetricInputError(
                f"{group}_names must be {factors.shape[1]} distinct names, got {names}"
            )
    static_rng, dynamic_rng, s2d_rng, d2s_rng = spawn(rng, 4)
    return {
        "static": _group_metrics(static_codes, static_factors, static_names, static_rng),
        "dynamic": _group_metrics(dynamic_codes, dynamic_factors, dynamic_names, dynamic_rng),
        "cross": {
            "static_to_dynamic": _predict_each(
                static_codes, dynamic_factors, dynamic_names, s2d_rng
            ),
            "dynamic_to_static": _predict_each(
                dynamic_codes, static_factors, static_names, d2s_rng
            ),
        },
        "meta": {
            "n_sequences": int(static_codes.shape[0]),
            "static_dim": int(static_codes.shape[1]),
            "dynamic_dim": int(dynamic_codes.shape[1]),
            "versions": _library_versions(),
        },
    }
