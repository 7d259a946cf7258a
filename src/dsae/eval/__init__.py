"""Evaluation: judges (``judge_model``, ``judge_train``; judge files in ``judge``), metrics
as pure functions (``scores``, ``latent_metrics``, ``latent_mig``, ``latent_summary``,
``verification``), protocols chosen by what the data has (``protocols``), and
:func:`evaluate`, which runs them on a test split (no files). Published numbers of the field are data in ``published``; text
tables in ``text``."""

from __future__ import annotations

from dsae.eval.encode import encode_split
from dsae.eval.evaluate import LEARNT_PRIOR, evaluate, order_samplers, to_json_safe, versions
from dsae.eval.judge import (
    JUDGE_ARCHS,
    Judge,
    LoadedJudge,
    TemporalConvJudge,
    check_judge_matches,
    evaluate_judge,
    load_judge,
    min_accuracy,
    predict_frame_proba,
    predict_proba,
    save_judge,
)
from dsae.eval.judge_train import train_judge
from dsae.eval.latent_summary import latent_report
from dsae.eval.protocols import (
    PROTOCOLS,
    FactorClassifier,
    JudgeClassifier,
    ProtocolSpec,
    as_classifier,
    factor_trajectories,
    generation_protocol,
    latent_protocol,
    reconstruction_protocol,
    select_protocols,
    style_protocol,
    swap_protocol,
    table1_protocol,
    trajectories_protocol,
    verification_protocol,
)
from dsae.eval.scores import (
    accuracy,
    balanced_subset,
    compare_predictions,
    disagreement,
    entropy,
    inception_score,
    kl_divergence,
    label_entropies,
    mean_std,
)
from dsae.eval.text import (
    format_generation,
    format_style,
    format_swap,
    format_table1,
    format_verification,
)

__all__ = [
    "JUDGE_ARCHS",
    "LEARNT_PRIOR",
    "PROTOCOLS",
    "FactorClassifier",
    "Judge",
    "JudgeClassifier",
    "LoadedJudge",
    "ProtocolSpec",
    "TemporalConvJudge",
    "accuracy",
    "as_classifier",
    "balanced_subset",
    "check_judge_matches",
    "compare_predictions",
    "disagreement",
    "encode_split",
    "entropy",
    "evaluate",
    "evaluate_judge",
    "factor_trajectories",
    "format_generation",
    "format_style",
    "format_swap",
    "format_table1",
    "format_verification",
    "generation_protocol",
    "inception_score",
    "kl_divergence",
    "label_entropies",
    "latent_protocol",
    "latent_report",
    "load_judge",
    "mean_std",
    "min_accuracy",
    "order_samplers",
    "predict_frame_proba",
    "predict_proba",
    "reconstruction_protocol",
    "save_judge",
    "select_protocols",
    "style_protocol",
    "swap_protocol",
    "table1_protocol",
    "to_json_safe",
    "train_judge",
    "trajectories_protocol",
    "verification_protocol",
    "versions",
]
