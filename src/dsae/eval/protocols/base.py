"""What every protocol shares: the judge seen as a classifier, input checks, labels per
factor, and decoding latents in batches for the judge to read.

A sampler is any object with ``sample_f(n, generator) -> (n, f_dim)`` and
``sample_z(n, steps, generator) -> (n, steps, z_dim)``; a model is its own sampler (its
learnt priors). Protocols that sample draw f and z_1:T from the sampler and decode them with
``model.decode(f, z)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from dsae.data.base import SequenceSplit
from dsae.data.modality import Modality
from dsae.errors import DsaeError
from dsae.eval.encode import encode_split, eval_mode
from dsae.eval.judge import (
    JUDGE_TYPES,
    AnyJudge,
    LoadedJudge,
    predict_frame_proba,
    predict_proba,
)
from dsae.models import Encoding, SequentialVAE


class FactorClassifier(Protocol):
    """What the protocols need of a judge: class probabilities per factor for stored frames."""

    factor_names: list[str]
    n_classes: dict[str, int]

    def predict_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """(N, T, *frame) -> (N, K) per factor."""
        ...

    def predict_frame_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """(N, T, *frame) -> (N, T, K) per factor."""
        ...


class Sampler(Protocol):
    """Where generated latents come from (a model's own priors, or a fitted sampler)."""

    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor: ...


@dataclass
class JudgeClassifier:
    """A trained judge (any family) seen through :class:`FactorClassifier`."""

    judge: AnyJudge
    batch_size: int = 256

    @property
    def factor_names(self) -> list[str]:
        """Static factor names, then dynamic ones."""
        return self.judge.factor_names

    @property
    def n_classes(self) -> dict[str, int]:
        """Number of classes per factor."""
        return self.judge.n_classes

    def predict_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """(N, T, H, W, C) uint8 -> (N, K) per factor."""
        return predict_proba(self.judge, x, self.batch_size)

    def predict_frame_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """(N, T, H, W, C) uint8 -> (N, T, K) per factor."""
        return predict_frame_proba(self.judge, x, self.batch_size)


def as_classifier(judge: AnyJudge | LoadedJudge | FactorClassifier) -> FactorClassifier:
    """A judge of any family, a LoadedJudge or anything with the FactorClassifier methods,
    as a classifier."""
    if isinstance(judge, LoadedJudge):
        judge = judge.judge
    if isinstance(judge, JUDGE_TYPES):
        return JudgeClassifier(judge)
    if callable(getattr(judge, "predict_proba", None)) and callable(
        getattr(judge, "predict_frame_proba", None)
    ):
        return judge
    raise TypeError(f"not a judge: {type(judge).__name__}")


def can_sample(obj: Any) -> bool:
    """Whether ``obj`` has ``sample_f`` and ``sample_z`` (a model's priors or a sampler)."""
    return callable(getattr(obj, "sample_f", None)) and callable(getattr(obj, "sample_z", None))


def can_impute(model: Any) -> bool:
    """Whether ``model`` predicts frames from its dynamics (``impute``): for a SequentialVAE,
    one whose family implements ``continue_z`` (or its own ``impute``)."""
    if not callable(getattr(model, "impute", None)):
        return False
    if isinstance(model, SequentialVAE):
        cls = type(model)
        return (
            cls.continue_z is not SequentialVAE.continue_z or cls.impute is not SequentialVAE.impute
        )
    return True


@dataclass
class EvalContext:
    """Everything a protocol reads: the model, the test split, the judge (or None), the
    posterior means of the split and the judge's probabilities on it, seeds and sizes, and
    (when known) how to load the training split."""

    model: Any
    split: SequenceSplit
    classifier: FactorClassifier | None
    encoding: Encoding
    data_proba: dict[str, np.ndarray] | None
    seed: int = 0
    repeats: int = 3
    batch_size: int = 128
    # called by the trajectories protocol: (sampler name, {"static"|"dynamic": classes}, factor names)
    on_trajectories: Callable[[str, dict[str, np.ndarray], list[str]], None] | None = None
    # loads the training split, for protocols that fit something on it (verification's probes)
    train: Callable[[], SequenceSplit] | None = None


# -- checks -------------------------------------------------------------------------------
def check_model_matches(model: Any, split: SequenceSplit) -> None:
    """Raise DsaeError unless the split's frames have the shape the model was built for."""
    m = split.meta
    shape = tuple(model.frame_shape)
    if shape != tuple(m.modality.model_shape):
        raise DsaeError(
            f"the data's frames {tuple(m.frame_shape)} do not match the model's {shape}"
        )


def check_classifier(classifier: FactorClassifier, split: SequenceSplit) -> None:
    """Raise DsaeError unless the judge classifies every factor of the split."""
    m = split.meta
    for name, k in {**m.static_factors, **m.dynamic_factors}.items():
        if name not in classifier.factor_names or classifier.n_classes.get(name) != k:
            raise DsaeError(
                f"the judge does not classify factor {name!r} with {k} classes "
                f"(it knows {dict(classifier.n_classes)}): it was trained on other data"
            )


def check_batch(batch_size: int) -> None:
    """Raise DsaeError unless the batch size is positive."""
    if batch_size <= 0:
        raise DsaeError(f"batch size must be positive, got {batch_size}")


def labels_by_factor(split: SequenceSplit) -> dict[str, np.ndarray]:
    """True labels per factor: static columns (N,), dynamic (N,) or per frame (N, T)."""
    out = {k: split.static[:, j] for j, k in enumerate(split.meta.static_factors)}
    out.update({k: split.dynamic[k] for k in split.meta.dynamic_factors})
    return out


def has_frame_labels(split: SequenceSplit) -> bool:
    """Whether some dynamic factor is labelled frame by frame."""
    return any(np.ndim(split.dynamic[k]) == 2 for k in split.meta.dynamic_factors)


def prepare(
    model: Any, split: SequenceSplit, judge: Any, encoding: Encoding | None, batch_size: int
) -> tuple[FactorClassifier | None, Encoding]:
    """Check the inputs; the judge as a classifier (or None) and the split's posterior means."""
    check_batch(batch_size)
    check_model_matches(model, split)
    if len(split) == 0:
        raise DsaeError("the split is empty")
    classifier = None
    if judge is not None:
        classifier = as_classifier(judge)
        check_classifier(classifier, split)
    if encoding is None:
        encoding = encode_split(model, split.meta.modality, split.x, batch_size)
    elif encoding.f_mean.shape[0] != len(split):
        raise ValueError(f"encoding has {encoding.f_mean.shape[0]} rows, split {len(split)}")
    return classifier, encoding


# -- decoding for the judge ---------------------------------------------------------------
def decode_and_judge(
    model: Any,
    modality: Modality,
    classifier: FactorClassifier,
    f: torch.Tensor,  # (N, f_dim)
    z: torch.Tensor,  # (N, T, z_dim)
    batch_size: int,
    sequence: bool = True,
    frame: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Decode every (f_i, z_i) in batches and judge each batch: (N, K) and (N, T, K) per factor."""
    seq: dict[str, list[np.ndarray]] = {}
    per_frame: dict[str, list[np.ndarray]] = {}
    with eval_mode(model), torch.no_grad():
        for lo in range(0, f.shape[0], batch_size):
            x_hat = model.decode(f[lo : lo + batch_size], z[lo : lo + batch_size])
            x = modality.to_frames(x_hat)
            if sequence:
                for k, v in classifier.predict_proba(x).items():
                    seq.setdefault(k, []).append(v)
            if frame:
                for k, v in classifier.predict_frame_proba(x).items():
                    per_frame.setdefault(k, []).append(v)
    return (
        {k: np.concatenate(v) for k, v in seq.items()},
        {k: np.concatenate(v) for k, v in per_frame.items()},
    )


def scored(
    seq: dict[str, np.ndarray], frame: dict[str, np.ndarray], name: str, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (M, K), labels (M,)): per sequence, or per frame for per-frame labels."""
    if labels.ndim == 1:
        return seq[name], labels
    p = frame[name]
    return p.reshape(-1, p.shape[-1]), labels.reshape(-1)


__all__ = [
    "EvalContext",
    "FactorClassifier",
    "JudgeClassifier",
    "Sampler",
    "as_classifier",
    "can_impute",
    "can_sample",
    "check_batch",
    "check_classifier",
    "check_model_matches",
    "decode_and_judge",
    "has_frame_labels",
    "labels_by_factor",
    "prepare",
    "scored",
]
