"""A tiny speech-like dataset of harmonic tones, a small model trained on it and a judge.

Two "speakers" differ in pitch (F0 120 Hz, male; 230 Hz, female); two "words" differ in
how their formant-like spectral envelope moves (from 300 Hz up to 800 Hz, or from 1400
Hz down to 900 Hz), so the word changes along a segment and the voice stays fixed. Each
utterance is half a second at 8 kHz, so it is cut into five overlapping segments of 20
frames, the last one overlapping more than the others.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dsae.config import Config
from dsae.data.audio import SpectrumConfig
from dsae.data.base import fingerprint, load_meta
from dsae.data.speech import Utterance, build_speech_dataset
from dsae.eval.judge import save_judge, train_judge
from dsae.train import train

RATE = 8000
SPECTRUM = SpectrumConfig(RATE, 200, 80, 256, 128)
SPEAKERS = {"low": (120.0, "male"), "high": (230.0, "female")}
WORDS = {"rise": (300.0, 800.0), "fall": (1400.0, 900.0)}
SECONDS = 0.5


def tone(
    f0: float, formant: float | tuple[float, float], seed: int, seconds: float = SECONDS
) -> np.ndarray:
    """A voiced sound: harmonics of ``f0`` under a Gaussian envelope centred on ``formant``
    (Hz, or a (start, end) pair it glides between)."""
    rng = np.random.default_rng(seed)
    f0 = f0 * (1 + 0.02 * rng.standard_normal())
    t = np.arange(int(seconds * RATE)) / RATE
    start, end = formant if isinstance(formant, tuple) else (formant, formant)
    centre = start + (end - start) * t / t[-1]  # (N,) the envelope's centre over time
    k = np.arange(1, int(3800 / f0))[:, None]  # (K, 1) harmonic numbers
    gain = np.exp(-0.5 * ((k * f0 - centre) / 350.0) ** 2) + 0.03  # (K, N)
    phase = rng.uniform(0, 2 * np.pi, size=k.shape)
    wave = (gain * np.sin(2 * np.pi * k * f0 * t + phase)).sum(axis=0)
    wave *= np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)  # 20 ms fades
    wave += 0.002 * rng.standard_normal(t.shape)
    return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


def utterances(n_train: int = 4, n_test: int = 2) -> list[Utterance]:
    out = []
    seed = 0
    for speaker, (f0, sex) in SPEAKERS.items():
        for word, formant in WORDS.items():
            for split, n in (("train", n_train), ("test", n_test)):
                for i in range(n):
                    seed += 1
                    out.append(
                        Utterance(
                            name=f"{speaker}_{word}_{split}{i}",
                            wave=tone(f0, formant, seed),
                            sample_rate=RATE,
                            speaker=speaker,
                            label=word,
                            split=split,
                            sex=sex,
                        )
                    )
    return out


def build_tones(out: Path) -> Path:
    return build_speech_dataset(
        utterances(), out, "tones", SPECTRUM, "word", info={}, progress=False
    )


def train_tones(data: Path, run: Path, steps: int = 40) -> Path:
    cfg = Config.from_dict(
        {
            "data": {"name": "tones", "root": str(data), "build_if_missing": False},
            "model": {
                "frame_net": "mlp",
                "f_dim": 4,
                "z_dim": 3,
                "frame_dim": 32,
                "hidden_dim": 32,
                "mlp_hidden": 32,
            },
            "train": {
                "max_steps": steps,
                "batch_size": 16,
                "log_every": 10,
                "ckpt_every": 1000,
                "progress": False,
                "lr_warmup_steps": 2,
                "threads": 1,
            },
        }
    )
    train(cfg, run)
    return run


def judge_tones(data: Path, path: Path) -> Path:
    judge, info = train_judge(data, epochs=10, batch_size=16, progress=False)
    save_judge(path, judge, load_meta(data), fingerprint(data), info)
    return path
