"""Voice conversion: pairs drawn evenly over speakers, segments stitched back exactly, a
conversion as long as its content and deterministic, an identity model that keeps the F0
of what it converts, scores written, the ``dsae convert`` CLI in both forms and its user
errors, and the report's speech section in a real browser."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from page_checks import CHROMIUM, CHROMIUM_FLAGS, assert_browser_shows, needs_chromium, table, tags
from speech_tones import RATE, SECONDS, build_tones, judge_tones, tone, train_tones

from dsae.cli.main import main
from dsae.config import Config
from dsae.data.audio import f0_median, read_wav, segment, stitch, write_wav
from dsae.data.base import DatasetMeta, SequenceSplit, load_meta, write_dataset_dir
from dsae.errors import DsaeError
from dsae.eval.judge import load_judge
from dsae.models.base import Encoding
from dsae.pipeline.convert import NOT_SPEECH, convert_waves, utterance_frames
from dsae.pipeline.convert_pairs import TARGETS, Utterance, choose_pairs, convert_pairs
from dsae.pipeline.report import build_report
from dsae.train import LoadedRun, load_run, train


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> dict[str, Path]:
    """The tones dataset, a small model trained on it, a judge, and a run's conversions."""
    root = tmp_path_factory.mktemp("tones")
    torch.set_num_threads(1)
    data = build_tones(root / "data")
    run = train_tones(data, root / "run")
    judge = judge_tones(data, root / "judge.pt")
    return {"root": root, "data": data, "run": run, "judge": judge}


@pytest.fixture(scope="module")
def converted(tones) -> dict:
    """Eight scored test pairs, written to RUN/conversion as the report expects them."""
    return convert_pairs(
        load_run(tones["run"]),
        tones["data"],
        tones["run"] / "conversion",
        8,
        judge=load_judge(tones["judge"]),
        n_listed=3,
    )


# --- pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [20, 21, 29, 30, 31, 45, 50])
def test_utterance_frames_finds_the_length_segments_were_cut_from(n):
    frames = np.random.default_rng(n).normal(size=(n, 3)).astype(np.float32)
    segs = segment(frames, 20, 10)
    assert utterance_frames(segs, 10) == n
    np.testing.assert_array_equal(stitch(segs, n, 10), frames)


def test_pairs_cover_every_ordered_speaker_pair_cross_sex_first():
    speakers = [0, 1, 2, 3]
    sexes = {0: "male", 1: "male", 2: "female", 3: "female"}
    utts = [Utterance(i, np.array([i]), s, i % 2) for i, s in enumerate(speakers * 3)]
    pairs = choose_pairs(utts, sexes, 12, np.random.default_rng(0))
    assert pairs == choose_pairs(utts, sexes, 12, np.random.default_rng(0))  # seeded
    ordered = [(utts[a].speaker, utts[b].speaker) for a, b in pairs]
    assert sorted(ordered) == sorted((a, b) for a in speakers for b in speakers if a != b)
    kinds = [f"{sexes[a]}->{sexes[b]}" for a, b in ordered]
    assert kinds[:2] == ["male->female", "female->male"]
    # a pair's utterances come from its speakers; each speaker's recordings are all used
    assert {a for a, _ in pairs} | {b for _, b in pairs} == set(range(len(utts)))
    with pytest.raises(DsaeError, match="two speakers"):
        choose_pairs(utts[:1], {}, 3, np.random.default_rng(0))


# --- converting two recordings -------------------------------------------------------------


def test_conversion_has_the_content_length_and_is_deterministic(tones, tmp_path):
    loaded = load_run(tones["run"])
    content = tone(120.0, 500.0, seed=101)
    speaker = tone(230.0, 1400.0, seed=102, seconds=0.7)
    speaker_16k = np.repeat(speaker, 2)  # the same voice at twice the rate: resampled
    wave, picture = convert_waves(loaded, content, RATE, speaker_16k, 2 * RATE)
    again, _ = convert_waves(loaded, content, RATE, speaker_16k, 2 * RATE)
    assert wave.shape == content.shape and wave.dtype == np.float32
    assert np.isfinite(wave).all() and np.abs(wave).max() > 0
    write_wav(tmp_path / "a.wav", wave, RATE)
    write_wav(tmp_path / "b.wav", again, RATE)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    back, rate = read_wav(tmp_path / "a.wav")
    assert rate == RATE and back.shape == content.shape
    frames = 1 + content.size // 80
    assert picture.spectra["source"].shape == picture.spectra["converted"].shape == (frames, 128)
    assert picture.spectra["target"].shape[0] > frames  # the longer speaker recording
    assert abs(picture.f0["source"] - 120.0) < 10 and abs(picture.f0["target"] - 230.0) < 15
    png = picture.save(tmp_path / "fig6.png", title="fig 6")
    assert png.stat().st_size > 10_000
    # a recording shorter than one segment is padded for the model, then cut back
    short = tone(120.0, 500.0, seed=103, seconds=0.1)
    wave, picture = convert_waves(loaded, short, RATE, speaker, RATE)
    assert wave.shape == short.shape and picture.spectra["converted"].shape == (20, 128)


class _Identity(torch.nn.Module):
    """An ideal converter of the frames themselves: z_t = x_t, f = 0, decode(f, z) = z."""

    def encode(self, x: torch.Tensor) -> Encoding:
        f = torch.zeros(x.shape[0], 1)
        return Encoding(f, f, x, torch.zeros_like(x))

    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return z


def test_an_identity_model_keeps_the_content_pitch(tones):
    """Segmenting, stitching, denormalising and Griffin-Lim keep A's F0 (converting A with
    A's own voice through a model that reconstructs exactly)."""
    meta = load_meta(tones["data"])
    oracle = LoadedRun(model=_Identity(), config=Config(), state={}, meta=meta)
    for f0 in (120.0, 230.0):
        content = tone(f0, 900.0, seed=7)
        wave, picture = convert_waves(oracle, content, RATE, content, RATE)
        assert picture.f0["converted"] == pytest.approx(f0_median(content, RATE), rel=0.03)
        assert picture.f0["converted"] == pytest.approx(f0, rel=0.05)
        assert wave.shape == content.shape


def test_a_run_on_other_data_is_refused(tones):
    meta = DatasetMeta("vec", 20, (128,), {"speaker": 2}, {"word": 2})
    other = LoadedRun(model=_Identity(), config=Config(), state={}, meta=meta)
    with pytest.raises(DsaeError, match=NOT_SPEECH):
        convert_waves(other, tone(120, 500, 1), RATE, tone(230, 500, 2), RATE)


# --- scored pairs --------------------------------------------------------------------------


def test_pairs_are_scored_and_written(tones, converted):
    out = tones["run"] / "conversion"
    written = json.loads((out / "conversion.json").read_text())
    assert written == json.loads(json.dumps(converted))
    assert written["n_pairs"] == 8 and written["judge"] is True
    assert set(written["by_sex_pair"]) == {"male->female", "female->male"}
    for row in ("converted", "source"):
        for key in ("speaker", "content", "f0_within_15pct"):
            assert 0.0 <= written[row][key] <= 1.0
    for key, goal in TARGETS.items():
        t = written["targets"][key]
        assert t["min"] == goal and t["met"] == (t["value"] >= goal)
    # the vocoder alone keeps who speaks and what is said (the reference row)
    assert written["source"]["speaker"] == 1.0 and written["source"]["content"] >= 0.75
    # the two voices are far apart before conversion
    assert written["source"]["f0_within_15pct"] == 0.0
    for row in written["pairs"]:
        assert row["source"]["speaker"] != row["target"]["speaker"]
    listed = [r for r in written["pairs"] if "files" in r]
    assert [r["pair"] for r in listed] == [0, 1, 2]
    for r in listed:
        lengths = set()
        for sound in ("source", "target", "converted"):
            wave, rate = read_wav(out / r["files"][sound])
            assert rate == RATE
            lengths.add((sound == "target", wave.size))
        # the conversion is as long as its source
        assert len({n for is_target, n in lengths if not is_target}) == 1
        assert (out / r["files"]["spectrogram"]).stat().st_size > 10_000
    # utterances are stitched back whole: half a second each
    wave, _ = read_wav(out / listed[0]["files"]["source"])
    assert abs(wave.size - SECONDS * RATE) <= 80


def test_pairs_without_a_judge_score_the_pitch_only(tones, tmp_path):
    res = convert_pairs(load_run(tones["run"]), tones["data"], tmp_path / "c", 2, n_listed=0)
    assert "speaker" not in res["converted"] and res["targets"]["speaker"]["met"] is None
    assert isinstance(res["targets"]["f0_within_15pct"]["met"], bool)
    assert not (tmp_path / "c" / "pairs").exists()


# --- the command line ----------------------------------------------------------------------


def dsae(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dsae.cli.main", *args, "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def user_error(capsys, *args: str) -> str:
    """Run ``dsae ARGS`` in this process; it must fail with one line and exit code 2."""
    capsys.readouterr()
    assert main([*args, "--threads", "1"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsae: error:"), err
    return lines[0]


@pytest.fixture(scope="module")
def image_free_run(tmp_path_factory) -> Path:
    """A run trained on vector frames that are not speech features."""
    root = tmp_path_factory.mktemp("notspeech")
    rng = np.random.default_rng(0)
    meta = DatasetMeta("vec", 20, (128,), {"speaker": 2}, {"word": 2})

    def split(n: int) -> SequenceSplit:
        x = rng.normal(size=(n, 20, 128)).astype(np.float32)
        return SequenceSplit(x, rng.integers(0, 2, (n, 1)), {"word": rng.integers(0, 2, n)}, meta)

    write_dataset_dir(root / "data", {"train": split(16), "test": split(4)})
    cfg = {
        "data": {"name": "vec", "root": str(root / "data"), "build_if_missing": False},
        "model": {
            "frame_net": "mlp",
            "f_dim": 2,
            "z_dim": 2,
            "frame_dim": 8,
            "hidden_dim": 8,
            "mlp_hidden": 8,
        },  # fmt: skip
        "train": {"max_steps": 1, "batch_size": 8, "progress": False, "threads": 1},
    }
    train(Config.from_dict(cfg), root / "run")
    return root / "run"


def test_cli_converts_two_recordings(tones, tmp_path):
    write_wav(tmp_path / "a.wav", tone(120.0, 500.0, seed=5), RATE)
    write_wav(tmp_path / "b.wav", tone(230.0, 1400.0, seed=6), 16000)
    out = tmp_path / "out" / "converted.wav"
    proc = dsae("convert", str(tones["run"]), "--content", str(tmp_path / "a.wav"),
                "--speaker", str(tmp_path / "b.wav"), "--out", str(out),
                "--pictures", str(tmp_path / "pics"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "median F0" in proc.stdout
    wave, rate = read_wav(out)
    assert rate == RATE and wave.size == int(SECONDS * RATE)
    assert (tmp_path / "pics" / "converted_spectrogram.png").is_file()


def test_cli_converts_test_pairs(tones, tmp_path):
    out = tmp_path / "conv"
    proc = dsae("convert", str(tones["run"]), "--pairs", "2", "--out", str(out),
                "--judge", str(tones["judge"]))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "speaker" in proc.stdout and "target >= 0.90" in proc.stdout
    written = json.loads((out / "conversion.json").read_text())
    assert written["n_pairs"] == 2 and written["data"]["root"] == str(tones["data"])
    assert sorted(p.name for p in (out / "pairs").iterdir())[:3] == [
        "0_converted.wav", "0_source.wav", "0_spectrogram.png"
    ]  # fmt: skip


def test_cli_user_errors_are_one_line_and_write_nothing(tones, image_free_run, tmp_path, capsys):
    run = str(tones["run"])
    good = tmp_path / "good.wav"
    write_wav(good, tone(120.0, 500.0, seed=5), RATE)
    bad = tmp_path / "bad.wav"
    bad.write_text("not a wave")
    out = tmp_path / "out.wav"
    cases = [
        (("--content", str(tmp_path / "missing.wav"), "--speaker", str(good)), "not found"),
        (("--content", str(good), "--speaker", str(bad)), "cannot read wav file"),
        (("--content", str(good)), "give --content A.wav and --speaker B.wav, or --pairs N"),
        (("--content", str(good), "--speaker", str(good), "--pairs", "2"), "different forms"),
        (("--pairs", "0"), "--pairs must be positive"),
        (("--pairs", "2", "--judge", str(tmp_path / "nojudge.pt")), "judge not found"),
    ]
    for extra, fragment in cases:
        assert fragment in user_error(capsys, "convert", run, "--out", str(out), *extra)
        assert not out.exists()
    line = user_error(capsys, "convert", str(image_free_run), "--content", str(good),
                      "--speaker", str(good), "--out", str(out))  # fmt: skip
    assert NOT_SPEECH in line
    conv = tmp_path / "conv"
    line = user_error(capsys, "convert", str(image_free_run), "--pairs", "2", "--out", str(conv))
    assert NOT_SPEECH in line
    assert not out.exists() and not conv.exists()
    assert not list(tmp_path.glob(".conv*"))  # no temporary folder left behind


# --- the report ----------------------------------------------------------------------------


def test_report_plays_the_conversions(tones, converted, tmp_path):
    page = build_report(tones["run"], out=tmp_path / "page" / "report.html")
    html = page.read_text()
    scores = table(html, "conversion-scores")
    assert "male \u2192 female" in scores and "unconverted source" in scores
    audio = [a for tag, a in tags(html) if tag == "audio"]
    assert len(audio) == 9  # three listed pairs: source, target, converted
    for a in audio:
        assert "controls" in a and not a["src"].startswith(("/", "file:", "http"))
        assert (page.parent / a["src"]).resolve().is_file()
    assert 'id="conversion"' in html and "Voice conversion" in html
    # another conversion folder, named; a folder without conversion.json is a user error
    other = tmp_path / "elsewhere"
    (tones["run"] / "conversion").rename(other)
    try:
        page = build_report(tones["run"], out=tmp_path / "p2.html", conversion_dir=other)
        srcs = [a["src"] for tag, a in tags(page.read_text()) if tag == "audio"]
        assert srcs and all((page.parent / s).resolve().is_file() for s in srcs)
        assert (
            'id="conversion"'
            not in build_report(tones["run"], out=tmp_path / "p3.html").read_text()
        )
        with pytest.raises(DsaeError, match="no conversion.json"):
            build_report(tones["run"], out=tmp_path / "p4.html", conversion_dir=tmp_path)
    finally:
        other.rename(tones["run"] / "conversion")


@needs_chromium
def test_browser_loads_every_sound_without_console_errors(tones, converted, tmp_path):
    page = build_report(tones["run"])  # RUN/report.html beside RUN/conversion
    assert_browser_shows(page, ("conversion-scores",), tmp_path)
    proc = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    body = re.search(r"<body[^>]*>", proc.stdout)
    assert body, proc.stdout[:500]
    assert 'data-audio-total="9"' in body.group(0) and 'data-audio-loaded="9"' in body.group(0)
    assert "data-audio-failed" not in body.group(0)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
