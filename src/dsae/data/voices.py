"""Synthetic voices: spoken words from 24 speakers, 12 women's and 12 men's voices, that
dsae renders itself with the espeak-ng speech synthesiser (Debian package ``espeak-ng``).

A speaker is an espeak-ng voice: an English accent (American, British, Scottish, Received
Pronunciation, Caribbean, New York, Lancaster, West Midlands), a voice variant (the female
variants f1-f5, Annie, Alicia, ...; the male m1-m8, Andy, ...; the sex is the variant's
gender) and a base pitch and speaking rate of its own. Every speaker says 20 words (the
digits zero..nine and ten short command words) several times; repetitions differ by a small
jitter of pitch, rate and amplitude drawn from a generator seeded by (speaker, word,
repetition), so a build is the same on every machine with the same espeak-ng version.

Splits: ``seen`` (default) holds out repetitions, one or two of every (speaker, word), so each
test speaker is also a training speaker; ``unseen`` holds out a fixed quarter of the speakers
(half of them women) whose utterances are all in the test split.

Each 22050 Hz rendering is cut to its voiced extent (espeak-ng ends every word with about
0.3 s of silence), then resampled to 16 kHz and turned into normalised log-spectrum segments
by ``dsae.data.speech.build_speech_dataset`` (``VOICES_SPECTRUM``).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dsae.data.audio import VOICES_SPECTRUM
from dsae.data.speech import Utterance, build_speech_dataset
from dsae.errors import DsaeError

ESPEAK = "espeak-ng"
INSTALL_HINT = "install it with `apt-get install espeak-ng` (Debian/Ubuntu)"
SYNTH_RATE = 22050
WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
)  # fmt: skip
DEFAULT_REPEATS = 5
SPLITS = ("seen", "unseen")
PITCH_JITTER = 4  # espeak-ng pitch units (0-99), at most this far from the speaker's
RATE_JITTER = 12  # words per minute
AMPLITUDE_RANGE = (80, 100)  # espeak-ng amplitude; 100 brings a few voices close to clipping
TRIM_LEVEL = 0.01  # |sample| above this is voice; the cut keeps TRIM_MARGIN_S either side
TRIM_MARGIN_S = 0.03


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: espeak-ng voice ``accent+variant`` at its own pitch and rate."""

    name: str
    variant: str
    accent: str
    pitch: int  # espeak-ng -p, 0-99 (50 is the variant's own pitch)
    rate: int  # espeak-ng -s, words per minute
    sex: str  # the variant's gender: "female" | "male"

    @property
    def voice(self) -> str:
        """espeak-ng's -v argument. espeak-ng 1.51 ignores a variant after "en-gb" but not
        after "en", its other name."""
        return f"{'en' if self.accent == 'en-gb' else self.accent}+{self.variant}"


def _speaker(variant: str, accent: str, pitch: int, rate: int, sex: str) -> Speaker:
    return Speaker(variant.lower(), variant, accent, pitch, rate, sex)


# Women's pitches sit at or above 42, men's at or below 55: with the jitter, every woman's
# median F0 (>= ~150 Hz) stays above every man's (<= ~130 Hz); tests/data/test_voices.py checks it.
SPEAKERS: tuple[Speaker, ...] = (
    _speaker("f1", "en-us", 55, 165, "female"),
    _speaker("f2", "en-gb", 55, 150, "female"),
    _speaker("f3", "en-gb-scotland", 50, 175, "female"),
    _speaker("f4", "en-gb-x-rp", 60, 160, "female"),
    _speaker("f5", "en-029", 50, 185, "female"),
    _speaker("Annie", "en-us-nyc", 52, 170, "female"),
    _speaker("Alicia", "en-gb-x-gbclan", 42, 155, "female"),
    _speaker("Andrea", "en-gb-x-gbcwmd", 48, 165, "female"),
    _speaker("aunty", "en-us", 65, 145, "female"),
    _speaker("belinda", "en-gb-scotland", 55, 180, "female"),
    _speaker("grandma", "en-gb", 58, 140, "female"),
    _speaker("steph", "en-029", 62, 170, "female"),
    _speaker("m1", "en-us", 55, 160, "male"),
    _speaker("m2", "en-gb", 50, 175, "male"),
    _speaker("m3", "en-gb-scotland", 55, 150, "male"),
    _speaker("m4", "en-gb-x-rp", 60, 185, "male"),
    _speaker("m6", "en-029", 45, 165, "male"),
    _speaker("m7", "en-us-nyc", 55, 180, "male"),
    _speaker("m8", "en-gb-x-gbclan", 65, 155, "male"),
    _speaker("Andy", "en-gb-x-gbcwmd", 50, 170, "male"),
    _speaker("croak", "en-us", 50, 190, "male"),
    _speaker("Denis", "en-gb-x-rp", 60, 145, "male"),
    _speaker("Henrique", "en-us-nyc", 45, 165, "male"),
    _speaker("travis", "en-gb-x-gbcwmd", 55, 175, "male"),
)
# The unseen split's test speakers: three women and three men, six accents.
UNSEEN_TEST_SPEAKERS = ("f3", "annie", "grandma", "m4", "m8", "croak")


def espeak_version() -> str:
    """The installed espeak-ng's version (e.g. "1.51"); DsaeError if it is not installed."""
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise DsaeError(f"voices needs the espeak-ng speech synthesiser; {INSTALL_HINT}")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"text-to-speech:\s*(\S+)", out.stdout)
    if out.returncode != 0 or found is None:
        raise DsaeError(f"{exe} --version did not name a version; {INSTALL_HINT}")
    return found.group(1)


def parse_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """16-bit mono PCM from WAV bytes: (float32 wave in [-1, 1], sample rate). The data chunk
    runs to the end of the bytes: espeak-ng --stdout writes a placeholder length there."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise DsaeError("espeak-ng wrote something that is not a WAV file")
    pos, rate = 12, None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            fmt, channels, rate = struct.unpack("<HHI", data[pos + 8 : pos + 16])
            bits = struct.unpack("<H", data[pos + 22 : pos + 24])[0]
            if (fmt, channels, bits) != (1, 1, 16):
                raise DsaeError(f"espeak-ng wrote WAV format {fmt}/{channels} ch/{bits} bit")
        elif chunk == b"data" and rate is not None:
            pcm = data[pos + 8 : pos + 8 + (len(data) - pos - 8) // 2 * 2]
            return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0, rate
        pos += 8 + size + (size & 1)
    raise DsaeError("espeak-ng wrote a WAV file without audio")


def render(speaker: Speaker, word: str, pitch: int, rate: int, amplitude: int) -> np.ndarray:
    """espeak-ng's rendering of ``word`` in ``speaker``'s voice: float32 at SYNTH_RATE Hz."""
    cmd = [ESPEAK, "-v", speaker.voice, "-p", str(pitch), "-s", str(rate),
           "-a", str(amplitude), "--stdout", word]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False)
    except FileNotFoundError:
        raise DsaeError(f"voices needs the espeak-ng speech synthesiser; {INSTALL_HINT}") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise DsaeError(f"espeak-ng failed on voice {speaker.voice}: {err[-1] if err else '?'}")
    wave, sr = parse_wav_bytes(proc.stdout)
    if sr != SYNTH_RATE:
        raise DsaeError(f"espeak-ng wrote {sr} Hz audio, expected {SYNTH_RATE} Hz")
    return wave


def trim(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """The voiced extent of ``wave`` with TRIM_MARGIN_S either side (all of it if silent)."""
    loud = np.flatnonzero(np.abs(wave) > TRIM_LEVEL)
    if len(loud) == 0:
        return wave
    margin = int(TRIM_MARGIN_S * sample_rate)
    return wave[max(loud[0] - margin, 0) : loud[-1] + margin + 1]


def jitter(speaker: Speaker, word: str, repeats: int) -> list[tuple[int, int, int]]:
    """(pitch, rate, amplitude) of each repetition of ``word`` by ``speaker``: pitches spread
    over +-PITCH_JITTER in a shuffled order (so repetitions differ), rate and amplitude drawn."""
    seed = [SPEAKERS.index(speaker), WORDS.index(word)]
    rng = np.random.default_rng(seed)
    offsets = rng.permutation(np.round(np.linspace(-PITCH_JITTER, PITCH_JITTER, repeats)))
    rates = rng.integers(-RATE_JITTER, RATE_JITTER + 1, repeats)
    amps = rng.integers(AMPLITUDE_RANGE[0], AMPLITUDE_RANGE[1] + 1, repeats)
    return [
        (int(np.clip(speaker.pitch + o, 0, 99)), speaker.rate + int(r), int(a))
        for o, r, a in zip(offsets, rates, amps, strict=True)
    ]


def held_out_repeats(speaker: Speaker, word: str, repeats: int) -> set[int]:
    """The seen split's test repetitions of (speaker, word): one in five (at least one, at
    most repeats - 1), starting at a place that turns with speaker and word."""
    n_test = min(max(1, round(repeats / 5)), repeats - 1)
    start = SPEAKERS.index(speaker) + WORDS.index(word)
    return {(start + k) % repeats for k in range(n_test)}


def plan(
    speakers: Sequence[Speaker], words: Sequence[str], repeats: int, split: str
) -> list[tuple[Speaker, str, int, str]]:
    """(speaker, word, repetition, "train"|"test") of every utterance of a build."""
    if split not in SPLITS:
        raise DsaeError(f"unknown voices split {split!r}; known: {', '.join(SPLITS)}")
    if repeats < 2:
        raise DsaeError(f"voices needs at least 2 repetitions per word, got {repeats}")
    rows = []
    for sp in speakers:
        for w in words:
            held = held_out_repeats(sp, w, repeats)
            for r in range(repeats):
                if split == "unseen":
                    part = "test" if sp.name in UNSEEN_TEST_SPEAKERS else "train"
                else:
                    part = "test" if r in held else "train"
                rows.append((sp, w, r, part))
    parts = {p for *_, p in rows}
    if parts != {"train", "test"}:
        raise DsaeError(
            f"the {split} split of these speakers has no {({'train', 'test'} - parts).pop()} utterance"
        )
    return rows


def select_speakers(names: Sequence[str] | None) -> list[Speaker]:
    """Speakers by name (all of SPEAKERS when None), in table order."""
    if names is None:
        return list(SPEAKERS)
    known = {s.name: s for s in SPEAKERS}
    unknown = [n for n in names if n.lower() not in known]
    if unknown:
        raise DsaeError(
            f"unknown voices speaker(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    wanted = {n.lower() for n in names}
    return [s for s in SPEAKERS if s.name in wanted]


def build_voices(
    out: str | os.PathLike,
    split: str = "seen",
    speakers: Sequence[str] | None = None,
    words: Sequence[str] | None = None,
    repeats: int = DEFAULT_REPEATS,
    progress: bool = True,
) -> Path:
    """Render, featurise and write the voices dataset (``voices`` or ``voices_unseen``) to ``out``.

    ``speakers``, ``words`` and ``repeats`` make smaller builds (tests); the defaults are the
    dataset: 24 speakers x 20 words x 5 repetitions."""
    version = espeak_version()
    chosen = select_speakers(speakers)
    words = list(WORDS if words is None else words)
    bad = [w for w in words if w not in WORDS]
    if bad:
        raise DsaeError(f"unknown voices word(s) {', '.join(bad)}; known: {', '.join(WORDS)}")
    rows = plan(chosen, words, repeats, split)
    utterances = []
    for sp, w, r, part in tqdm(rows, desc="espeak-ng", unit="utt", disable=not progress):
        pitch, rate, amp = jitter(sp, w, repeats)[r]
        wave = trim(render(sp, w, pitch, rate, amp), SYNTH_RATE)
        utterances.append(
            Utterance(f"{sp.name}_{w}_{r}", wave, SYNTH_RATE, sp.name, w, part, sp.sex)
        )
    info = {
        "source": f"synthesised with espeak-ng {version}",
        "espeak_ng": version,
        "split": split,
        "split_rule": (
            "unseen: the test speakers' utterances are all in the test split, none in training"
            if split == "unseen"
            else f"seen: {len(held_out_repeats(chosen[0], words[0], repeats))} of the {repeats} "
            "repetitions of every (speaker, word) are in the test split, the rest in training"
        ),
        "test_speakers": [
            s.name for s in chosen if any(p == "test" for x, *_, p in rows if x == s)
        ],
        "words": words,
        "repeats": repeats,
        "speakers": [asdict(s) for s in chosen],
    }
    return build_speech_dataset(
        utterances,
        out,
        "voices_unseen" if split == "unseen" else "voices",
        VOICES_SPECTRUM,
        "word",
        info,
        progress=progress,
        classes={"speaker": [s.name for s in chosen], "word": words},
    )
