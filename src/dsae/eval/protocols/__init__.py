"""Evaluation protocols, one module each, and the registry that says what each one needs.

- ``table1``: Li & Mandt (2018), Table 1 (disagreement and KL of the judge's classes).
- ``generation``: the later literature's conditional generation scores (Acc, IS, H(y|x), H(y)).
- ``style``: the judge's accuracy of the static factor and the correlation of the per-frame
  style measured on generated frames with the source's, f or z_1:T kept (digits, fashion).
- ``trajectories``: Li & Mandt (2018), Fig. 4 (classes along sequences sharing f or z_1:T).
- ``swap``: swap accuracy of f from one sequence with z_1:T of another.
- ``latent``: DCI, MIG, SAP, FactorVAE and cross-predictability of the posterior means.
- ``reconstruction``: the modality's quality measure of reconstructions (and the judge's
  accuracy on them when there is a judge).
- ``verification``: Li & Mandt (2018), Table 2 (speaker verification EER with mu_f and mu_z,
  per static factor) and linear probes of every per-sequence factor from each.
- ``imputation``: Li & Mandt (2018), section 4.3, Fig. 8 (wrong pixels and ball position of
  the last k frames predicted from the first T - k, on binary frames).
- ``slowness``: for models with linear latent dynamics, each latent's eigenvalues against
  what it predicts, and swaps of the slowest latents between sequences.

:func:`select_protocols` picks those the data and the model allow and says why the rest
are skipped; protocols that sample run once per sampler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dsae.data.base import DatasetMeta
from dsae.data.measures import MEASURES, measured_states
from dsae.eval.protocols import (
    generation,
    imputation,
    latent,
    reconstruction,
    slowness,
    style,
    swap,
    table1,
    trajectories,
    verification,
)
from dsae.eval.protocols.base import (
    EvalContext,
    FactorClassifier,
    JudgeClassifier,
    Sampler,
    as_classifier,
    can_impute,
    can_sample,
    check_model_matches,
    labels_by_factor,
)
from dsae.eval.protocols.generation import generation_protocol
from dsae.eval.protocols.imputation import imputation_protocol
from dsae.eval.protocols.latent import latent_protocol
from dsae.eval.protocols.reconstruction import reconstruction_protocol
from dsae.eval.protocols.slowness import has_eigenvalues, slowness_protocol
from dsae.eval.protocols.style import style_protocol
from dsae.eval.protocols.swap import swap_partners, swap_protocol
from dsae.eval.protocols.table1 import table1_protocol
from dsae.eval.protocols.trajectories import (
    factor_trajectories,
    trajectories_protocol,
    trajectory_summary,
)
from dsae.eval.protocols.verification import verification_protocol


@dataclass(frozen=True)
class ProtocolSpec:
    """A protocol and what it needs. ``run(ctx)``, or ``run(ctx, sampler_name, sampler)``
    once per sampler when ``sampler`` is set."""

    run: Callable[..., Any]
    summary: str
    static_labels: bool = False  # the data labels a static factor
    dynamic_labels: bool = False  # the data labels a dynamic factor
    frame_labels: bool = False  # some dynamic factor is labelled frame by frame
    judge: bool = False  # a judge of the data's factors
    sampler: bool = False  # a model that can sample (f and z_1:T from a sampler, decoded)
    binary: bool = False  # the frames are binary images (meta.info['binary'])
    dynamics: bool = False  # a model that continues its dynamics from seen frames (impute)
    measured: bool = False  # per-frame states dsae can measure from frames (data.measures)
    static_code: bool = False  # a model with a static code f (f_dim > 0)
    eigenvalues: bool = False  # a model with linear latent dynamics (eigenvalues)


# In the order they run (and appear in metrics.json).
PROTOCOLS: dict[str, ProtocolSpec] = {
    "reconstruction": ProtocolSpec(reconstruction.run, "quality of posterior-mean reconstructions"),
    "table1": ProtocolSpec(table1.run, "Li & Mandt (2018) Table 1", judge=True, sampler=True),
    "generation": ProtocolSpec(
        generation.run,
        "conditional generation scores (Acc, IS, H(y|x), H(y))",
        dynamic_labels=True,
        judge=True,
        sampler=True,
    ),
    "style": ProtocolSpec(
        style.run,
        "class accuracy and style correlation of generations keeping f or z_1:T",
        judge=True,
        sampler=True,
        measured=True,
    ),
    "swap": ProtocolSpec(swap.run, "swap accuracy", judge=True),
    "trajectories": ProtocolSpec(
        trajectories.run, "Li & Mandt (2018) Fig. 4", judge=True, sampler=True
    ),
    "latent": ProtocolSpec(
        latent.run,
        "latent metrics of the posterior means",
        static_labels=True,
        dynamic_labels=True,
        static_code=True,
    ),  # fmt: skip
    "verification": ProtocolSpec(
        verification.run,
        "Li & Mandt (2018) Table 2: speaker verification EER with mu_f and mu_z, linear probes",
        static_labels=True,
        static_code=True,
    ),
    "imputation": ProtocolSpec(
        imputation.run,
        "Li & Mandt (2018) Fig. 8: imputation of the last frames from the prior dynamics",
        binary=True,
        dynamics=True,
    ),
    "slowness": ProtocolSpec(
        slowness.run,
        "eigenvalues of the linear dynamics per latent against what each latent predicts",
        eigenvalues=True,
    ),
}


def skip_reason(
    spec: ProtocolSpec, meta: DatasetMeta, has_judge: bool, model: Any, frame_labels: bool
) -> str | None:
    """Why ``spec`` cannot run on this data and model (one line), or None when it can."""
    needs = []
    if spec.static_labels and not meta.static_factors:
        needs.append("static labels")
    if spec.dynamic_labels and not meta.dynamic_factors:
        needs.append("dynamic labels")
    if spec.frame_labels and not frame_labels:
        needs.append("per-frame labels")
    if spec.binary and not meta.info.get("binary"):
        needs.append("binary frames (meta.info binary)")
    if spec.measured and not measured_states(meta):
        needs.append(f"frames whose style dsae can measure ({', '.join(MEASURES)})")
    if needs:
        return f"needs {' and '.join(needs)}, which {meta.name} does not have"
    if spec.judge and not (meta.static_factors or meta.dynamic_factors):
        return f"needs a judge of labelled factors, and {meta.name} has no labels"
    if spec.judge and not has_judge:
        return "needs a judge (train one with 'dsae judge train')"
    if spec.sampler and not (can_sample(model) and callable(getattr(model, "decode", None))):
        return f"needs a model that can sample (a {type(model).__name__} cannot)"
    if spec.static_code and getattr(model, "f_dim", 1) == 0:
        return f"needs a model with a static code f (a {type(model).__name__} has f_dim 0)"
    if spec.eigenvalues and not has_eigenvalues(model):
        return f"needs a model with linear latent dynamics (a {type(model).__name__} has none)"
    if spec.dynamics and not can_impute(model):
        return (
            "needs a model that continues its dynamics from seen frames "
            f"(continue_z; a {type(model).__name__} cannot)"
        )
    return None


def select_protocols(
    meta: DatasetMeta, has_judge: bool, model: Any, frame_labels: bool = False
) -> tuple[list[str], dict[str, str]]:
    """(names of the protocols that can run, in order; {skipped name: one-line reason}).

    ``frame_labels``: whether some dynamic factor of the data is labelled per frame.
    """
    chosen, skipped = [], {}
    for name, spec in PROTOCOLS.items():
        reason = skip_reason(spec, meta, has_judge, model, frame_labels)
        if reason is None:
            chosen.append(name)
        else:
            skipped[name] = reason
    return chosen, skipped


__all__ = [
    "PROTOCOLS",
    "EvalContext",
    "FactorClassifier",
    "JudgeClassifier",
    "ProtocolSpec",
    "Sampler",
    "as_classifier",
    "can_impute",
    "can_sample",
    "check_model_matches",
    "factor_trajectories",
    "generation_protocol",
    "imputation_protocol",
    "labels_by_factor",
    "latent_protocol",
    "reconstruction_protocol",
    "select_protocols",
    "skip_reason",
    "slowness_protocol",
    "style_protocol",
    "swap_partners",
    "swap_protocol",
    "table1_protocol",
    "trajectories_protocol",
    "trajectory_summary",
    "verification_protocol",
]
