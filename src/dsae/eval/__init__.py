"""Evaluation: judges (``judge``), protocols (``protocols``), latent metrics (``latent_metrics``).

``latent_report`` is imported on first use, so that judges and protocols do not pay for
scikit-learn, which only the latent metrics need.
"""

from __future__ import annotations

from typing import Any

from dsae.eval.judge import (
    Judge,
    LoadedJudge,
    check_judge_matches,
    evaluate_judge,
    load_judge,
    predict_frame_proba,
    predict_proba,
    save_judge,
    train_judge,
)
from dsae.eval.protocols import (
    FactorClassifier,
    JudgeClassifier,
    as_classifier,
    balanced_subset,
    compare_predictions,
    disagreement,
    encode_split,
    entropy,
    evaluate_run,
    factor_trajectories,
    format_generation,
    format_swap,
    format_table1,
    generation_protocol,
    inception_score,
    kl_divergence,
    label_entropies,
    latent_protocol,
    reconstruction_protocol,
    swap_protocol,
    table1_protocol,
    to_json_safe,
    trajectories_protocol,
    versions,
)


def __getattr__(name: str) -> Any:
    """``latent_report`` from :mod:`dsae.eval.latent_metrics`, imported on first access."""
    if name == "latent_report":
        from dsae.eval.latent_metrics import latent_report

        return latent_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FactorClassifier",
    "Judge",
    "JudgeClassifier",
    "LoadedJudge",
    "as_classifier",
    "balanced_subset",
    "check_judge_matches",
    "compare_predictions",
    "disagreement",
    "encode_split",
    "entropy",
    "evaluate_judge",
    "evaluate_run",
    "factor_trajectories",
    "format_generation",
    "format_swap",
    "format_table1",
    "generation_protocol",
    "inception_score",
    "kl_divergence",
    "label_entropies",
    "latent_protocol",
    "latent_report",
    "load_judge",
    "predict_frame_proba",
    "predict_proba",
    "reconstruction_protocol",
    "save_judge",
    "swap_protocol",
    "table1_protocol",
    "to_json_safe",
    "train_judge",
    "trajectories_protocol",
    "versions",
]
