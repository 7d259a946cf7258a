"""The synthetic voices dataset: its speaker table, splits, determinism and the CLI."""

from __future__ import annotations

import itertools
import re
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dsae.cli.main import main as cli_main
from dsae.data import voices
from dsae.data.audio import f0_median, resample
from dsae.data.base import load_meta, load_split
from dsae.data.voices import (
    SPEAKERS,
    UNSEEN_TEST_SPEAKERS,
    WORDS,
    build_voices,
    jitter,
    parse_wav_bytes,
    plan,
    render,
)
from dsae.errors import DsaeError

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt-get install espeak-ng)",
)
# two women and two men; annie and m8 are test speakers of the unseen split
SMALL = {"speakers": ["f1", "annie", "m1", "m8"], "words": ["zero", "yes", "stop"], "repeats": 3}


def _espeak_data() -> Path:
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    return Path(re.search(r"Data at:\s*(\S+)", out).group(1))


def test_speaker_table():
    names = [s.name for s in SPEAKERS]
    assert len(SPEAKERS) >= 20 and len(set(names)) == len(names)
    assert Counter(s.sex for s in SPEAKERS) == {
        "female": len(SPEAKERS) // 2,
        "male": len(SPEAKERS) // 2,
    }
    assert len({s.accent for s in SPEAKERS}) >= 4
    assert len({s.variant for s in SPEAKERS}) == len(SPEAKERS)
    assert all(0 <= s.pitch <= 99 and 80 <= s.rate <= 450 for s in SPEAKERS)
    assert len(WORDS) == 20 and WORDS[:10] == ("zero", "one", "two", "three", "four", "five",
                                               "six", "seven", "eight", "nine")  # fmt: skip
    # the unseen split holds out a quarter of the speakers, half of them women
    test = [s for s in SPEAKERS if s.name in UNSEEN_TEST_SPEAKERS]
    assert len(test) == len(UNSEEN_TEST_SPEAKERS) == len(SPEAKERS) // 4
    assert Counter(s.sex for s in test) == {"female": len(test) // 2, "male": len(test) // 2}


def test_jitter_is_deterministic_and_repetitions_differ():
    for sp, w in itertools.product(SPEAKERS[::5], WORDS[::7]):
        reps = jitter(sp, w, 5)
        assert reps == jitter(sp, w, 5)
        assert len(set(reps)) == 5 and len({p for p, _, _ in reps}) == 5
        for pitch, rate, amp in reps:
            assert abs(pitch - sp.pitch) <= voices.PITCH_JITTER
            assert abs(rate - sp.rate) <= voices.RATE_JITTER
            assert voices.AMPLITUDE_RANGE[0] <= amp <= voices.AMPLITUDE_RANGE[1]


def test_seen_split_holds_out_repetitions():
    rows = plan(SPEAKERS, WORDS, 5, "seen")
    assert len(rows) == len(SPEAKERS) * len(WORDS) * 5
    per_pair = Counter((sp.name, w) for sp, w, _, part in rows if part == "test")
    assert set(per_pair.values()) == {1} and len(per_pair) == len(SPEAKERS) * len(WORDS)
    held = Counter(r for _, _, r, part in rows if part == "test")
    assert set(held) == set(range(5))  # every repetition index is held out somewhere
    train = {sp.name for sp, *_, part in rows if part == "train"}
    assert {sp.name for sp, *_, part in rows if part == "test"} <= train


def test_unseen_split_holds_out_speakers():
    rows = plan(SPEAKERS, WORDS, 5, "unseen")
    test = {sp.name for sp, *_, part in rows if part == "test"}
    train = {sp.name for sp, *_, part in rows if part == "train"}
    assert test == set(UNSEEN_TEST_SPEAKERS) and not test & train
    assert len(train | test) == len(SPEAKERS)


def test_plan_rejects_bad_requests():
    with pytest.raises(DsaeError, match="split"):
        plan(SPEAKERS, WORDS, 5, "random")
    with pytest.raises(DsaeError, match="repetitions"):
        plan(SPEAKERS, WORDS, 1, "seen")
    with pytest.raises(DsaeError, match="no test utterance"):
        plan(SPEAKERS[:1], WORDS, 5, "unseen")  # f1 is a training speaker


def test_parse_wav_bytes_reads_to_the_end():
    pcm = np.array([0, 16384, -16384, 32767], "<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 22050, 44100, 2, 16)
    head = b"RIFF" + struct.pack("<I", 0x7FFFF024) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
    data = head + fmt + b"data" + struct.pack("<I", 0x7FFFF000) + pcm  # placeholder lengths
    wave, sr = parse_wav_bytes(data)
    assert sr == 22050 and wave.dtype == np.float32
    np.testing.assert_allclose(wave, [0, 0.5, -0.5, 32767 / 32768])
    with pytest.raises(DsaeError, match="not a WAV"):
        parse_wav_bytes(b"nothing")


def test_missing_espeak_is_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(voices.shutil, "which", lambda name: None)
    with pytest.raises(DsaeError, match="apt-get install espeak-ng"):
        build_voices(tmp_path / "v", **SMALL, progress=False)
    assert cli_main(["data", "build", "voices", "--out", str(tmp_path / "w")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("dsae: error:")
        and "apt-get install espeak-ng" in lines[0]
    )
    assert not (tmp_path / "w").exists()


@needs_espeak
def test_speakers_are_distinct_voices_of_their_variants_gender():
    rendered = {sp.name: render(sp, "seven", sp.pitch, sp.rate, 90).tobytes() for sp in SPEAKERS}
    assert len(set(rendered.values())) == len(SPEAKERS)  # every variant and accent takes effect
    variants = _espeak_data() / "voices" / "!v"
    for sp in SPEAKERS:
        gender = re.search(r"^gender\s+(\w+)", (variants / sp.variant).read_text(), re.M)
        assert gender is not None and gender.group(1).lower() == sp.sex, sp.variant


@needs_espeak
def test_every_female_f0_above_every_male():
    """Median F0 per speaker over a few words at the jitter's extreme towards the other sex."""
    medians = {}
    for sp in SPEAKERS:
        shift = -voices.PITCH_JITTER if sp.sex == "female" else voices.PITCH_JITTER
        f0 = [
            f0_median(
                resample(
                    voices.trim(render(sp, w, sp.pitch + shift, sp.rate, 90), 22050), 22050, 16000
                ),
                16000,
            )
            for w in ("zero", "no", "five")
        ]
        medians[sp.name] = float(np.nanmedian(f0))
    female = [medians[s.name] for s in SPEAKERS if s.sex == "female"]
    male = [medians[s.name] for s in SPEAKERS if s.sex == "male"]
    assert min(female) > max(male) * 1.2, medians


@needs_espeak
def test_espeak_output_is_deterministic():
    sp = SPEAKERS[10]  # grandma: a variant with flutter
    a, b = (render(sp, "three", 52, 150, 95) for _ in range(2))
    assert a.tobytes() == b.tobytes() and np.abs(a).max() > 0.05


@needs_espeak
@pytest.mark.parametrize("split", ["seen", "unseen"])
def test_small_build_splits_and_determinism(tmp_path, split):
    a = build_voices(tmp_path / "a", split=split, **SMALL, progress=False)
    b = build_voices(tmp_path / "b", split=split, **SMALL, progress=False)
    meta = load_meta(a)
    assert meta.info["sha256"] == load_meta(b).info["sha256"]
    for name in ("train.npz", "test.npz", "meta.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()

    assert meta.name == ("voices" if split == "seen" else "voices_unseen")
    assert meta.info["split"] == split and meta.info["espeak_ng"]
    assert meta.static_factors == {"speaker": 4} and meta.dynamic_factors == {"word": 3}
    assert meta.info["classes"] == {"speaker": SMALL["speakers"], "word": SMALL["words"]}
    assert meta.info["speaker_sex"] == {
        "f1": "female",
        "annie": "female",
        "m1": "male",
        "m8": "male",
    }
    assert meta.frame_shape == (200,) and meta.seq_len == 20 and meta.groups == ["utterance"]
    train, test = load_split(a, "train"), load_split(a, "test")
    utts = meta.info["utterances"]
    assert not set(utts["train"]) & set(utts["test"])
    assert len(utts["train"]) + len(utts["test"]) == 4 * 3 * 3
    speakers = {s: set(np.unique(x.static[:, 0])) for s, x in (("train", train), ("test", test))}
    if split == "seen":
        assert speakers["test"] <= speakers["train"] and len(utts["test"]) == 4 * 3
    else:
        assert not speakers["test"] & speakers["train"]
        assert speakers["test"] == {1, 3} and meta.info["test_speakers"] == ["annie", "m8"]
    for s in (train, test):
        assert np.isfinite(s.x).all() and s.x.dtype == np.float32
        assert len(np.unique(s.groups["utterance"])) == len(utts["train" if s is train else "test"])


@needs_espeak
def test_cli_builds_a_small_voices_set(tmp_path, capsys):
    out = tmp_path / "v"
    code = cli_main(
        ["data", "build", "voices", "--out", str(out), "--split", "unseen",
         "--speakers", "f1,annie,m1,m8", "--words", "zero,go", "--repeats", "2", "--no-progress"]
    )  # fmt: skip
    assert code == 0 and "built voices" in capsys.readouterr().out
    meta = load_meta(out)
    assert meta.name == "voices_unseen" and meta.info["split"] == "unseen"
    assert meta.info["classes"]["word"] == ["zero", "go"]
    with np.load(out / "test.npz") as z:
        assert z["x"].shape[1:] == (20, 200)
