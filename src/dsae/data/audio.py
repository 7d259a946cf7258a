"""Between sound and features: wav files, log-magnitude spectra, their inverse, segments.

Features are log-magnitude short-time spectra, ``log(|STFT| + log_floor)``: a periodic Hann
window of ``win_length`` samples (zero-padded to ``n_fft`` when shorter), centred frames
(``torch.stft`` with ``center=True``, reflect padding), one frame every ``hop_length``
samples. The first ``n_bins`` frequency bins are kept; when ``n_bins`` is ``n_fft // 2``
the Nyquist bin is dropped, and set to zero when inverting.

A dataset stores them per frequency bin normalised (mean and standard deviation of the
training frames) and cut into overlapping segments of ``segment_frames`` frames, every
``segment_stride`` frames; the last segment always ends at the utterance's last frame, so
the segments cover all of it and :func:`stitch` (the overlap average) inverts
:func:`segment`. :class:`SpeechFeatures` holds these choices and round-trips through
``meta.info["audio"]``.

Back to sound: :func:`istft` with a known phase, or :func:`griffin_lim` from magnitudes
alone (Griffin & Lim 1984, with the momentum of Perraudin et al. 2013, "fast Griffin-Lim").
Wav files (:func:`read_wav`, :func:`write_wav`, :func:`resample`) live in
``dsae.data.wavfiles`` and the median fundamental frequency (:func:`f0_median`) in
``dsae.data.pitch``; both are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from dsae.data.base import DatasetMeta
from dsae.data.pitch import f0_median
from dsae.data.wavfiles import read_wav, read_wav_bytes, resample, write_wav
from dsae.errors import DsaeError

STD_FLOOR = 1e-3  # per-bin standard deviations are floored here before dividing


@dataclass(frozen=True)
class SpectrumConfig:
    """One short-time Fourier transform setup (see the module docstring)."""

    sample_rate: int
    win_length: int
    hop_length: int
    n_fft: int
    n_bins: int
    log_floor: float = 1e-5  # features = log(|STFT| + log_floor)

    def __post_init__(self) -> None:
        full = self.n_fft // 2 + 1
        if min(self.sample_rate, self.win_length, self.hop_length, self.n_fft) <= 0:
            raise DsaeError(f"spectrum sizes must be positive: {self}")
        if self.win_length > self.n_fft:
            raise DsaeError(f"win_length {self.win_length} exceeds n_fft {self.n_fft}")
        if self.n_bins not in (full, full - 1) or (self.n_bins == full - 1 and self.n_fft % 2):
            raise DsaeError(
                f"n_bins {self.n_bins} must be n_fft // 2 + 1 = {full} (all bins) or, for an "
                f"even n_fft, {full - 1} (Nyquist bin dropped)"
            )
        if not self.log_floor > 0:
            raise DsaeError(f"log_floor must be positive, got {self.log_floor}")

    @property
    def full_bins(self) -> int:
        """Bins of the one-sided transform, n_fft // 2 + 1."""
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        """Frames of a wave of ``n_samples`` (centred frames)."""
        return 1 + n_samples // self.hop_length

    def to_dict(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "win_length": self.win_length,
            "hop_length": self.hop_length,
            "n_fft": self.n_fft,
            "n_bins": self.n_bins,
            "window": "hann",
            "log_floor": self.log_floor,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SpectrumConfig:
        try:
            if d.get("window", "hann") != "hann":
                raise ValueError(f"window {d['window']!r} is not 'hann'")
            ints = ("sample_rate", "win_length", "hop_length", "n_fft", "n_bins")
            return cls(**{k: int(d[k]) for k in ints}, log_floor=float(d.get("log_floor", 1e-5)))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DsaeError(f"invalid spectrum settings: {e!r}") from None


# 8 kHz: a 25 ms window (200 samples) zero-padded to 398 points -> 200 bins, 10 ms hop.
FSDD_SPECTRUM = SpectrumConfig(8000, 200, 80, 398, 200)
# 16 kHz: a 25 ms window, n_fft 400 -> 201 bins with the Nyquist bin dropped, 10 ms hop.
VOICES_SPECTRUM = SpectrumConfig(16000, 400, 160, 400, 200)


# ------------------------------------------------------------------------------ spectra


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread meanwhile: the transforms here are a few hundred short FFTs,
    which threads slow down (13x with two threads on a busy 2-core machine)."""
    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _window(cfg: SpectrumConfig) -> torch.Tensor:
    return torch.hann_window(cfg.win_length, dtype=torch.float64)


def _stft(wave: torch.Tensor, cfg: SpectrumConfig) -> torch.Tensor:
    """(n_samples,) float64 -> (n_bins, frames) complex128."""
    spec = torch.stft(
        wave,
        cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=_window(cfg),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    return spec[: cfg.n_bins]


def _istft(spec: torch.Tensor, cfg: SpectrumConfig, length: int | None) -> torch.Tensor:
    """(n_bins, frames) complex128 -> (n_samples,) float64; dropped bins are zero."""
    if spec.shape[0] < cfg.full_bins:
        pad = spec.new_zeros(cfg.full_bins - spec.shape[0], spec.shape[1])
        spec = torch.cat([spec, pad], dim=0)
    return torch.istft(
        spec,
        cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=_window(cfg),
        center=True,
        length=length,
    )


def _wave_tensor(wave: np.ndarray, cfg: SpectrumConfig) -> torch.Tensor:
    x = np.asarray(wave, dtype=np.float64).reshape(-1)
    if x.size <= cfg.n_fft // 2:
        raise DsaeError(
            f"wave of {x.size} samples is too short for a spectrum "
            f"(at least {cfg.n_fft // 2 + 1} samples)"
        )
    return torch.from_numpy(x)


def stft(wave: np.ndarray, cfg: SpectrumConfig) -> np.ndarray:
    """(frames, n_bins) complex short-time spectrum of a mono wave."""
    with _one_thread():
        return _stft(_wave_tensor(wave, cfg), cfg).T.numpy()


def log_spectrum(wave: np.ndarray, cfg: SpectrumConfig) -> np.ndarray:
    """(frames, n_bins) float32 features log(|STFT| + log_floor)."""
    with _one_thread():
        mag = _stft(_wave_tensor(wave, cfg), cfg).abs()
        return torch.log(mag + cfg.log_floor).T.numpy().astype(np.float32)


def istft(spec: np.ndarray, cfg: SpectrumConfig, length: int | None = None) -> np.ndarray:
    """The wave of a (frames, n_bins) complex spectrum (least-squares overlap-add)."""
    s = _spectrum_tensor(spec, cfg, complex_ok=True)
    with _one_thread():
        return _istft(s, cfg, length).numpy()


def _spectrum_tensor(spec: np.ndarray, cfg: SpectrumConfig, complex_ok: bool) -> torch.Tensor:
    s = np.asarray(spec)
    if s.ndim != 2 or s.shape[1] != cfg.n_bins:
        raise DsaeError(f"spectrum has shape {s.shape}, expected (frames, {cfg.n_bins})")
    if not np.isfinite(s).all():
        raise DsaeError("spectrum holds NaN or infinite values")
    dtype = np.complex128 if complex_ok and np.iscomplexobj(s) else np.float64
    return torch.from_numpy(np.ascontiguousarray(s.T, dtype=dtype))


def griffin_lim(
    magnitude: np.ndarray,
    cfg: SpectrumConfig,
    n_iter: int = 64,
    seed: int = 0,
    length: int | None = None,
    momentum: float = 0.99,
) -> np.ndarray:
    """A wave whose short-time magnitudes approach ``magnitude`` (frames, n_bins).

    Starts from uniformly random phases (``seed``) and alternates the two projections of
    Griffin & Lim (1984): onto spectra of the given magnitude, and onto consistent spectra
    (STFT of the ISTFT); ``momentum`` > 0 extrapolates the consistent spectra as the fast
    Griffin-Lim of Perraudin et al. (2013) does (0 gives the original algorithm).
    """
    mag = _spectrum_tensor(magnitude, cfg, complex_ok=False)
    if (mag < 0).any():
        raise DsaeError("magnitudes must be non-negative")
    gen = torch.Generator().manual_seed(int(seed))
    phase = 2 * math.pi * torch.rand(mag.shape, generator=gen, dtype=torch.float64)
    angles = torch.polar(torch.ones_like(mag), phase)
    previous = torch.zeros_like(angles)
    with _one_thread():
        for _ in range(int(n_iter)):  # at the natural length (frames - 1) * hop until the end
            rebuilt = _stft(_istft(mag * angles, cfg, None), cfg)
            angles = rebuilt - previous * (momentum / (1 + momentum))
            angles = angles / (angles.abs() + 1e-16)
            previous = rebuilt
        return _istft(mag * angles, cfg, length).numpy()


def spectral_convergence(wave: np.ndarray, magnitude: np.ndarray, cfg: SpectrumConfig) -> float:
    """|| S - |STFT(wave)| ||_F / || S ||_F: how far a wave's magnitudes are from ``S``."""
    got = np.abs(stft(wave, cfg))
    n = min(len(got), len(magnitude))
    diff = np.hypot(np.linalg.norm(magnitude[:n] - got[:n]), np.linalg.norm(magnitude[n:]))
    return float(diff / max(np.linalg.norm(magnitude), 1e-30))


# ------------------------------------------------------------------ segments and features


def segment_starts(n_frames: int, t: int, stride: int) -> list[int]:
    """First frames of the segments of :func:`segment`."""
    if t <= 0 or stride <= 0:
        raise DsaeError(f"segment length and stride must be positive, got {t} and {stride}")
    if n_frames < t:
        raise DsaeError(f"{n_frames} frames are fewer than one segment of {t}")
    starts = list(range(0, n_frames - t + 1, stride))
    if starts[-1] + t < n_frames:
        starts.append(n_frames - t)
    return starts


def segment(frames: np.ndarray, t: int, stride: int) -> np.ndarray:
    """(F, D) frames -> (S, t, D) segments every ``stride`` frames; the last ends at F."""
    starts = segment_starts(len(frames), t, stride)
    return np.stack([frames[s : s + t] for s in starts])


def stitch(segments: np.ndarray, n_frames: int, stride: int) -> np.ndarray:
    """(S, t, D) segments of an utterance of ``n_frames`` -> (n_frames, D), overlaps averaged."""
    s, t = segments.shape[:2]
    starts = segment_starts(n_frames, t, stride)
    if len(starts) != s:
        raise DsaeError(f"{s} segments do not cut {n_frames} frames with stride {stride}")
    total = np.zeros((n_frames, *segments.shape[2:]), dtype=np.float64)
    count = np.zeros((n_frames,) + (1,) * (segments.ndim - 2))
    for start, seg in zip(starts, segments, strict=True):
        total[start : start + t] += seg
        count[start : start + t] += 1
    return (total / count).astype(segments.dtype)


def padded_log_spectrum(wave: np.ndarray, cfg: SpectrumConfig, segment_frames: int) -> np.ndarray:
    """:func:`log_spectrum` of ``wave``, zero-padded at the end to at least one segment
    (``(segment_frames - 1) * hop_length`` samples give ``segment_frames`` frames)."""
    x = np.asarray(wave, dtype=np.float32).reshape(-1)
    need = (segment_frames - 1) * cfg.hop_length
    if x.size < need:
        x = np.concatenate([x, np.zeros(need - x.size, dtype=np.float32)])
    return log_spectrum(x, cfg)


@dataclass
class SpeechFeatures:
    """A spectrum setup, its per-bin normalisation and the segmentation of utterances."""

    spectrum: SpectrumConfig
    mean: np.ndarray  # (D,) per-bin mean of the training frames' log spectra
    std: np.ndarray  # (D,) per-bin standard deviation, floored at STD_FLOOR
    segment_frames: int = 20
    segment_stride: int = 10

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        self.std = np.maximum(np.asarray(self.std, dtype=np.float32).reshape(-1), STD_FLOOR)
        d = self.spectrum.n_bins
        if self.mean.shape != (d,) or self.std.shape != (d,):
            raise DsaeError(
                f"normalisation has {self.mean.size} means and {self.std.size} deviations, "
                f"expected {d} each"
            )
        if self.segment_frames <= 0 or self.segment_stride <= 0:
            raise DsaeError("segment_frames and segment_stride must be positive")

    def to_dict(self) -> dict:
        return {
            **self.spectrum.to_dict(),
            "segment_frames": int(self.segment_frames),
            "segment_stride": int(self.segment_stride),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
        }

    @classmethod
    def from_dict(cls, d: dict) -> SpeechFeatures:
        spectrum = SpectrumConfig.from_dict(d)
        try:
            return cls(
                spectrum=spectrum,
                mean=np.array(d["mean"], dtype=np.float32),
                std=np.array(d["std"], dtype=np.float32),
                segment_frames=int(d.get("segment_frames", 20)),
                segment_stride=int(d.get("segment_stride", 10)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DsaeError(f"invalid audio feature settings: {e!r}") from None

    @classmethod
    def from_meta(cls, meta: DatasetMeta) -> SpeechFeatures:
        audio = meta.info.get("audio")
        if not isinstance(audio, dict):
            raise DsaeError(f"dataset {meta.name!r} holds no audio features (meta.info.audio)")
        return cls.from_dict(audio)

    def normalise(self, log_spec: np.ndarray) -> np.ndarray:
        """(..., D) log spectra -> per-bin standardised float32 features."""
        return ((np.asarray(log_spec, np.float32) - self.mean) / self.std).astype(np.float32)

    def denormalise(self, x: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`normalise`: (..., D) features -> log spectra."""
        return (np.asarray(x, np.float32) * self.std + self.mean).astype(np.float32)

    def frames(self, wave: np.ndarray) -> np.ndarray:
        """(F, D) normalised frames of a wave at ``spectrum.sample_rate`` (padded to >= one segment)."""
        return self.normalise(padded_log_spectrum(wave, self.spectrum, self.segment_frames))

    def segments(self, wave: np.ndarray) -> np.ndarray:
        """(S, T, D) normalised segments of a wave at ``spectrum.sample_rate``."""
        return segment(self.frames(wave), self.segment_frames, self.segment_stride)

    def to_wave(self, x: np.ndarray, n_iter: int = 64, seed: int = 0) -> np.ndarray:
        """(F, D) normalised frames -> a wave: denormalise, exp, Griffin-Lim."""
        log_mag = self.denormalise(x).astype(np.float64)
        magnitude = np.maximum(np.exp(log_mag) - self.spectrum.log_floor, 0.0)
        return griffin_lim(magnitude, self.spectrum, n_iter=n_iter, seed=seed).astype(np.float32)


__all__ = [
    "FSDD_SPECTRUM",
    "STD_FLOOR",
    "VOICES_SPECTRUM",
    "SpectrumConfig",
    "SpeechFeatures",
    "f0_median",
    "griffin_lim",
    "istft",
    "log_spectrum",
    "padded_log_spectrum",
    "read_wav",
    "read_wav_bytes",
    "resample",
    "segment",
    "segment_starts",
    "spectral_convergence",
    "stft",
    "stitch",
    "write_wav",
]
