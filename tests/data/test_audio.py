"""Sound <-> features: spectra against an independent numpy STFT, inverses, Griffin-Lim,
segments, normalisation, F0 and wav files."""

from __future__ import annotations

import json
import wave as wave_io

import numpy as np
import pytest
import torch

from dsae.data import audio
from dsae.data.audio import (
    FSDD_SPECTRUM,
    VOICES_SPECTRUM,
    SpectrumConfig,
    SpeechFeatures,
    f0_median,
    griffin_lim,
    istft,
    log_spectrum,
    read_wav,
    resample,
    segment,
    segment_starts,
    stft,
    stitch,
    write_wav,
)
from dsae.data.base import DatasetMeta
from dsae.errors import DsaeError

CONFIGS = [FSDD_SPECTRUM, VOICES_SPECTRUM]


def reference_stft(x: np.ndarray, cfg: SpectrumConfig) -> np.ndarray:
    """(frames, n_bins) STFT written out: reflect-pad n_fft // 2, periodic Hann window of
    win_length centred in n_fft points, a frame every hop, one-sided DFT."""
    pad = cfg.n_fft // 2
    xp = np.pad(np.asarray(x, np.float64), pad, mode="reflect")
    n = np.arange(cfg.win_length)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.win_length)
    window = np.zeros(cfg.n_fft)
    left = (cfg.n_fft - cfg.win_length) // 2
    window[left : left + cfg.win_length] = hann
    n_frames = 1 + len(x) // cfg.hop_length
    frames = np.stack(
        [xp[i * cfg.hop_length : i * cfg.hop_length + cfg.n_fft] for i in range(n_frames)]
    )
    return np.fft.rfft(frames * window, axis=1)[:, : cfg.n_bins]


def spectral_convergence(wave: np.ndarray, magnitude: np.ndarray, cfg: SpectrumConfig) -> float:
    """|| S - |STFT(x)| ||_F / || S ||_F with the reference STFT."""
    return float(
        np.linalg.norm(magnitude - np.abs(reference_stft(wave, cfg))) / np.linalg.norm(magnitude)
    )


def speechlike(sr: int, seconds: float = 0.6, f0: float = 130.0, seed: int = 0) -> np.ndarray:
    """A voiced sound: harmonics of a gliding F0 under a smooth envelope, plus a little noise."""
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 12) if k * f0 * 1.2 < sr / 2)
    envelope = np.sin(np.pi * t / seconds) ** 2
    noise = np.random.default_rng(seed).normal(scale=0.01, size=t.size)
    return (0.3 * x * envelope + noise).astype(np.float32)


@pytest.mark.parametrize("cfg", CONFIGS, ids=["fsdd", "voices"])
def test_stft_matches_the_written_out_transform(cfg):
    x = speechlike(cfg.sample_rate)
    threads = torch.get_num_threads()
    got = stft(x, cfg)
    assert torch.get_num_threads() == threads  # one thread only while transforming
    assert got.shape == (1 + len(x) // cfg.hop_length, 200)
    np.testing.assert_allclose(got, reference_stft(x, cfg), atol=1e-9)
    np.testing.assert_allclose(
        log_spectrum(x, cfg), np.log(np.abs(got) + cfg.log_floor), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("cfg", CONFIGS, ids=["fsdd", "voices"])
@pytest.mark.parametrize("k", [13, 50, 120, 190])
def test_a_tone_peaks_in_its_bin(cfg, k):
    sr = cfg.sample_rate
    freq = k * sr / cfg.n_fft  # the centre frequency of bin k
    x = 0.5 * np.sin(2 * np.pi * freq * np.arange(sr // 2) / sr)
    spec = log_spectrum(x, cfg)
    assert spec.dtype == np.float32 and spec.shape[1] == cfg.n_bins == 200
    assert np.argmax(spec[2:-2].mean(axis=0)) == k


def test_bin_layouts():
    assert FSDD_SPECTRUM.full_bins == 200 and FSDD_SPECTRUM.n_bins == 200  # all kept
    assert VOICES_SPECTRUM.full_bins == 201 and VOICES_SPECTRUM.n_bins == 200  # Nyquist dropped
    assert FSDD_SPECTRUM.sample_rate / FSDD_SPECTRUM.n_fft == pytest.approx(20.1, abs=0.01)
    with pytest.raises(DsaeError, match="n_bins"):
        SpectrumConfig(8000, 200, 80, 399, 199)  # odd n_fft has no Nyquist bin to drop
    with pytest.raises(DsaeError, match="win_length"):
        SpectrumConfig(8000, 400, 80, 398, 200)


def test_istft_with_the_spectrum_phase_reconstructs_the_wave():
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, 8000)  # broadband: every bin, Nyquist included, matters
    y = istft(stft(x, FSDD_SPECTRUM), FSDD_SPECTRUM, length=len(x))
    assert np.abs(y - x).max() < 1e-9
    full = SpectrumConfig(16000, 400, 160, 400, 201)
    x16 = rng.uniform(-0.5, 0.5, 16000)
    assert np.abs(istft(stft(x16, full), full, length=len(x16)) - x16).max() < 1e-9
    # without the Nyquist bin a sound with no energy near 8 kHz still comes back
    v = speechlike(16000)
    y16 = istft(stft(v, VOICES_SPECTRUM), VOICES_SPECTRUM, length=len(v))
    assert np.abs(y16 - v).max() < 1e-3
    assert len(istft(stft(v, VOICES_SPECTRUM), VOICES_SPECTRUM)) == (len(v) // 160) * 160


@pytest.mark.parametrize("cfg", CONFIGS, ids=["fsdd", "voices"])
def test_griffin_lim_converges_to_the_target_magnitude(cfg):
    x = speechlike(cfg.sample_rate)
    magnitude = np.abs(reference_stft(x, cfg))
    sc = {
        n: spectral_convergence(
            griffin_lim(magnitude, cfg, n_iter=n, length=len(x)), magnitude, cfg
        )
        for n in (1, 8, 64)
    }
    assert sc[64] < sc[8] < sc[1]
    assert sc[64] < 0.08, sc
    # the original algorithm (no momentum) never moves away from a consistent spectrum
    plain = [
        spectral_convergence(
            griffin_lim(magnitude, cfg, n_iter=n, length=len(x), momentum=0.0), magnitude, cfg
        )
        for n in (1, 4, 16, 32)
    ]
    assert all(b <= a * 1.001 for a, b in zip(plain, plain[1:], strict=False)), plain
    # the module's own measure agrees with the written-out one
    y = griffin_lim(magnitude, cfg, n_iter=8, length=len(x))
    assert audio.spectral_convergence(y, magnitude, cfg) == pytest.approx(
        spectral_convergence(y, magnitude, cfg), rel=1e-6
    )
    assert len(griffin_lim(magnitude, cfg, 2, length=len(x) + 37)) == len(x) + 37
    # seeded: the same seed gives the same wave
    np.testing.assert_array_equal(
        griffin_lim(magnitude, cfg, 4, seed=3), griffin_lim(magnitude, cfg, 4, seed=3)
    )


@pytest.mark.parametrize("n_frames", [20, 21, 29, 30, 31, 57])
def test_segment_covers_the_utterance_and_stitch_inverts_it(n_frames):
    frames = np.random.default_rng(n_frames).normal(size=(n_frames, 7)).astype(np.float32)
    segs = segment(frames, 20, 10)
    starts = segment_starts(n_frames, 20, 10)
    assert segs.shape == (len(starts), 20, 7)
    assert starts[0] == 0 and starts[-1] + 20 == n_frames
    assert all(0 < b - a <= 10 for a, b in zip(starts, starts[1:], strict=False))
    for s, seg in zip(starts, segs, strict=True):
        np.testing.assert_array_equal(seg, frames[s : s + 20])
    np.testing.assert_allclose(stitch(segs, n_frames, 10), frames, atol=1e-6)


def test_segment_rejects_too_few_frames_and_a_wrong_count():
    with pytest.raises(DsaeError, match="fewer than one segment"):
        segment(np.zeros((19, 3)), 20, 10)
    with pytest.raises(DsaeError, match="do not cut"):
        stitch(np.zeros((2, 20, 3)), 45, 10)


def _features(cfg: SpectrumConfig = FSDD_SPECTRUM) -> SpeechFeatures:
    rng = np.random.default_rng(1)
    return SpeechFeatures(cfg, rng.normal(-3, 1, 200), rng.uniform(0.5, 2, 200))


def test_normalisation_round_trips_and_the_settings_round_trip_through_json():
    feats = _features()
    x = np.random.default_rng(2).normal(-3, 2, (30, 200)).astype(np.float32)
    z = feats.normalise(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(feats.denormalise(z), x, atol=1e-5)
    d = json.loads(json.dumps(feats.to_dict()))
    assert d["window"] == "hann" and d["n_bins"] == 200 and d["segment_frames"] == 20
    back = SpeechFeatures.from_dict(d)
    assert back.spectrum == feats.spectrum
    np.testing.assert_array_equal(back.mean, feats.mean)
    np.testing.assert_array_equal(back.std, feats.std)
    meta = DatasetMeta("s", 20, (200,), {"speaker": 2}, {"digit": 10}, info={"audio": d})
    assert SpeechFeatures.from_meta(meta).spectrum == FSDD_SPECTRUM
    with pytest.raises(DsaeError, match="no audio"):
        SpeechFeatures.from_meta(DatasetMeta("s", 20, (200,), {}, {}))
    with pytest.raises(DsaeError, match="window"):
        SpeechFeatures.from_dict({**d, "window": "hamming"})
    with pytest.raises(DsaeError, match="200"):
        SpeechFeatures(FSDD_SPECTRUM, np.zeros(10), np.ones(10))
    assert SpeechFeatures(FSDD_SPECTRUM, np.zeros(200), np.zeros(200)).std.min() == audio.STD_FLOOR


def test_segments_pad_a_short_wave_and_to_wave_comes_back():
    feats = _features()
    short = speechlike(8000, seconds=0.1)  # 800 samples: 11 frames
    segs = feats.segments(short)
    assert segs.shape == (1, 20, 200) and segs.dtype == np.float32
    x = speechlike(8000, seconds=0.5)
    frames = feats.frames(x)
    assert frames.shape == (51, 200)
    assert feats.segments(x).shape == (5, 20, 200)  # starts 0, 10, 20, 30 and 31
    y = feats.to_wave(frames, n_iter=32)
    assert y.dtype == np.float32 and len(y) == 50 * 80
    assert (
        spectral_convergence(y, np.abs(reference_stft(x[: len(y)], FSDD_SPECTRUM)), FSDD_SPECTRUM)
        < 0.15
    )


@pytest.mark.parametrize("sr", [8000, 16000])
@pytest.mark.parametrize("f0", [110.0, 220.0])
def test_f0_median_of_harmonic_tones(sr, f0):
    t = np.arange(sr) / sr
    x = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t + k) for k in range(1, 6))
    x = np.concatenate([np.zeros(sr // 4), x, np.zeros(sr // 4)])  # silence is unvoiced
    assert f0_median(x, sr) == pytest.approx(f0, rel=0.03)


def test_f0_median_of_silence_is_nan():
    assert np.isnan(f0_median(np.zeros(8000), 8000))
    assert np.isnan(f0_median(np.zeros(100), 8000))  # shorter than one frame


def test_wav_round_trip(tmp_path):
    x = speechlike(8000) * 2.0  # some samples beyond [-1, 1] are clipped
    path = tmp_path / "a" / "x.wav"
    write_wav(path, x, 8000)
    assert [p.name for p in path.parent.iterdir()] == ["x.wav"]  # no temporary left
    with wave_io.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
    y, sr = read_wav(path)
    assert sr == 8000 and y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, np.clip(x, -1, 1), atol=1.5 / 32767)


def test_unreadable_wav_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(DsaeError, match="cannot read wav file") as e:
        read_wav(bad)
    assert "\n" not in str(e.value)
    good = tmp_path / "good.wav"
    write_wav(good, np.zeros(100), 8000)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:30])
    with pytest.raises(DsaeError, match="truncated.wav"):
        read_wav(truncated)
    with pytest.raises(DsaeError, match="not found"):
        read_wav(tmp_path / "nowhere.wav")
    with pytest.raises(DsaeError, match="NaN"):
        write_wav(tmp_path / "nan.wav", np.array([0.0, np.nan]), 8000)


def test_resample_keeps_a_tone():
    x = 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    y = resample(x, 8000, 16000)
    assert y.dtype == np.float32 and len(y) == 16000
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) == 440  # 1 s: bin k is k Hz
    np.testing.assert_allclose(resample(y, 16000, 8000)[100:-100], x[100:-100], atol=1e-3)
