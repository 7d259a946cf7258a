"""Voice conversion with a model trained on speech features (Li & Mandt 2018, Sec. 4.2, Fig. 6).

Speech is cut into segments of T frames of normalised log-magnitude spectra (see
:mod:`dsae.data.audio`). To say the content of utterance A in the voice of speaker B:

- f: the mean over B's segments of the posterior mean of q(f | x_1:T) (the paper's mu_f);
- z_1:T: the posterior means of q(z_1:T | .) of each of A's segments. With the full
  encoder q(z_1:T | x_1:T, f) these are A's own encoding (z computed with A's f, as
  ``model.encode`` does): B's f enters only through the decoder;
- each of A's segments decoded with B's f (the mean of p(x_1:T | z_1:T, f)), the segments
  overlap-averaged back onto A's frames, denormalised and inverted by Griffin-Lim (Griffin &
  Lim 1984) with a fixed seed, so a conversion is deterministic.

:func:`convert_waves` converts two recordings; :func:`dsae.pipeline.convert_pairs.convert_pairs`
converts and scores pairs of test utterances.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dsae.data.audio import (
    SpectrumConfig,
    SpeechFeatures,
    f0_median,
    resample,
    segment,
    stitch,
)
from dsae.data.base import DatasetMeta
from dsae.errors import DsaeError
from dsae.models.base import SequentialVAE
from dsae.train import LoadedRun
from dsae.viz.spectrogram import plot_spectrograms

__all__ = [
    "NOT_SPEECH",
    "ConversionPicture",
    "convert_segments",
    "convert_waves",
    "frames_to_wave",
    "speaker_code",
    "speech_features",
    "stitch_frames",
    "utterance_frames",
]

NOT_SPEECH = "this run was not trained on speech features"
GRIFFIN_LIM_ITERS = 64
LABELS = ("source", "target", "converted")


def speech_features(meta: DatasetMeta) -> SpeechFeatures:
    """The spectrum, normalisation and segmentation the data of ``meta`` was made with."""
    if not isinstance(meta.info, dict) or "audio" not in meta.info:
        raise DsaeError(NOT_SPEECH)
    return SpeechFeatures.from_meta(meta)


@dataclass
class ConversionPicture:
    """What Fig. 6 shows of one conversion: log-magnitude spectrograms (frames, bins) of the
    source, the target and the converted speech, and each one's median F0 in Hz."""

    spectra: dict[str, np.ndarray]
    f0: dict[str, float]
    spectrum: SpectrumConfig

    def save(self, path: str | os.PathLike, title: str | None = None) -> Path:
        return plot_spectrograms(
            self.spectra,
            path,
            sample_rate=self.spectrum.sample_rate,
            hop_length=self.spectrum.hop_length,
            n_fft=self.spectrum.n_fft,
            f0=self.f0,
            title=title,
        )


# --- the model's part ----------------------------------------------------------------------


def _batches(x: np.ndarray, batch_size: int = 128):
    for lo in range(0, x.shape[0], batch_size):
        yield torch.as_tensor(np.ascontiguousarray(x[lo : lo + batch_size]), dtype=torch.float32)


@torch.no_grad()
def speaker_code(model: SequentialVAE, segments: np.ndarray) -> torch.Tensor:
    """mu_f of a speaker: the mean posterior mean of f over its segments (S, T, D) -> (f_dim,)."""
    if segments.shape[0] == 0:
        raise DsaeError("no speech segments to read the speaker from")
    means = [model.encode(x).f_mean for x in _batches(segments)]
    return torch.cat(means).mean(dim=0)


@torch.no_grad()
def convert_segments(model: SequentialVAE, segments: np.ndarray, f: torch.Tensor) -> np.ndarray:
    """Decode each segment's posterior mean of z_1:T with the static code ``f``:
    (S, T, D) normalised frames -> (S, T, D)."""
    out = []
    for x in _batches(segments):
        z = model.encode(x).z_mean
        out.append(model.decode(f.reshape(1, -1).expand(z.shape[0], -1), z).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros_like(segments)


# --- frames and sound ----------------------------------------------------------------------


def utterance_frames(segments: np.ndarray, stride: int) -> int:
    """How many frames the utterance that ``segments`` (S, T, D) were cut from had.

    Segments start every ``stride`` frames and the last one ends at the last frame, so it
    may overlap its neighbour by more than the others do: the frame count is the one whose
    overlap of the last two segments holds the same frames in both (an utterance that
    fits the stride exactly first).
    """
    s, t = segments.shape[:2]
    aligned = (s - 1) * stride + t
    if s < 2:
        return aligned
    before = (s - 2) * stride  # start of the last but one segment
    for n in range(aligned, before + t, -1):
        shift = n - t - before  # the last segment starts this far into the one before
        if np.array_equal(segments[-1][: t - shift], segments[-2][shift:]):
            return n
    return aligned


def stitch_frames(features: SpeechFeatures, segments: np.ndarray, n_frames: int) -> np.ndarray:
    """Overlap-average segments (S, T, D) back onto an utterance of ``n_frames`` frames."""
    return stitch(segments, n_frames, features.segment_stride)


def frames_to_wave(
    features: SpeechFeatures, frames: np.ndarray, length: int, seed: int = 0
) -> np.ndarray:
    """Normalised frames (F, D) -> a wave of ``length`` samples by seeded Griffin-Lim."""
    wave = features.to_wave(frames, n_iter=GRIFFIN_LIM_ITERS, seed=seed)
    wave = np.asarray(wave, dtype=np.float32)[:length]
    return np.pad(wave, (0, length - wave.shape[0]))


def log_magnitude(features: SpeechFeatures, frames: np.ndarray) -> np.ndarray:
    """Normalised frames -> the log-magnitude spectrogram they stand for, for pictures."""
    return np.asarray(features.denormalise(frames), dtype=np.float32)


def _at_rate(wave: np.ndarray, sr: int, features: SpeechFeatures, what: str) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if wave.size == 0:
        raise DsaeError(f"the {what} recording is empty")
    rate = features.spectrum.sample_rate
    if int(sr) != rate:
        wave = np.asarray(resample(wave, int(sr), rate), dtype=np.float32)
    return wave


def convert_waves(
    run: LoadedRun,
    content_wave: np.ndarray,
    content_sr: int,
    speaker_wave: np.ndarray,
    speaker_sr: int,
    seed: int = 0,
) -> tuple[np.ndarray, ConversionPicture]:
    """The content of ``content_wave`` in the voice of ``speaker_wave``: (converted wave at
    the features' sample rate, as long as the content recording; its Fig. 6 picture data).

    Both recordings are resampled to the features' rate and cut into normalised segments;
    the picture's source and target spectrograms are their own features, each F0 the median
    over voiced frames of the recording itself.
    """
    features = speech_features(run.meta)
    rate = features.spectrum.sample_rate
    content = _at_rate(content_wave, content_sr, features, "content")
    speaker = _at_rate(speaker_wave, speaker_sr, features, "speaker")
    content_frames = features.frames(content)  # (F, D), padded to at least one segment
    speaker_frames = features.frames(speaker)
    t, stride = features.segment_frames, features.segment_stride
    f = speaker_code(run.model, segment(speaker_frames, t, stride))
    converted = convert_segments(run.model, segment(content_frames, t, stride), f)
    converted_frames = stitch_frames(features, converted, content_frames.shape[0])
    wave = frames_to_wave(features, converted_frames, content.shape[0], seed=seed)
    spectra = {
        "source": log_magnitude(features, content_frames),
        "target": log_magnitude(features, speaker_frames),
        "converted": log_magnitude(features, converted_frames),
    }
    f0 = {
        "source": f0_median(content, rate),
        "target": f0_median(speaker, rate),
        "converted": f0_median(wave, rate),
    }
    return wave, ConversionPicture(spectra=spectra, f0=f0, spectrum=features.spectrum)
