"""The FSDD build from real recordings: a few files (folder, http and file URLs, checksum
refusals), the whole local copy (shapes, labels, split, determinism) and the CLI."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from dsae.data import BUILDERS, fsdd
from dsae.data.audio import FSDD_SPECTRUM, SpeechFeatures, read_wav
from dsae.data.base import load_meta, load_split
from dsae.errors import DsaeError

FSDD = SHARED / "data" / "fsdd"
RECORDINGS = FSDD / "recordings"
pytestmark = pytest.mark.skipif(
    not (RECORDINGS / "0_george_0.wav").is_file(), reason=f"FSDD recordings not found at {FSDD}"
)
FEW = [f"{d}_{s}_{i}.wav" for s in ("george", "theo") for d in (3, 7) for i in (0, 12)]


@pytest.fixture
def few(tmp_path) -> tuple[Path, dict[str, str]]:
    """A copy of the repository layout with 8 recordings, and their manifest entries."""
    root = tmp_path / "fsdd"
    (root / "recordings").mkdir(parents=True)
    for name in FEW:
        shutil.copy(RECORDINGS / name, root / "recordings" / name)
    manifest = fsdd.load_manifest()
    return root, {name: manifest[name] for name in FEW}


def _build(out: Path, source, manifest) -> Path:
    return fsdd.build_fsdd(out, source=str(source), progress=False, manifest=manifest)


def test_a_few_recordings_build_with_their_labels(few, tmp_path):
    root, manifest = few
    out = _build(tmp_path / "out", root, manifest)
    meta = load_meta(out)
    assert meta.name == "fsdd" and meta.frame_shape == (200,) and meta.seq_len == 20
    assert meta.info["classes"]["speaker"] == list(fsdd.SPEAKERS)
    assert meta.info["utterances"] == {
        "train": ["3_george_12", "7_george_12", "3_theo_12", "7_theo_12"],
        "test": ["3_george_0", "7_george_0", "3_theo_0", "7_theo_0"],
    }
    test = load_split(out, "test")
    feats = SpeechFeatures.from_meta(meta)
    assert feats.spectrum == FSDD_SPECTRUM
    groups = test.group_ids("utterance")
    for g, name in enumerate(meta.info["utterances"]["test"]):
        digit, speaker, _ = fsdd.parse_name(name + ".wav")
        rows = groups == g
        wave, _ = read_wav(RECORDINGS / f"{name}.wav")
        np.testing.assert_array_equal(test.x[rows], feats.segments(wave))
        assert set(test.static[rows, 0]) == {fsdd.SPEAKERS.index(speaker)}
        assert set(test.dynamic["digit"][rows]) == {int(digit)}
    # the recordings folder itself is a source too, giving the same files
    again = _build(tmp_path / "again", root / "recordings", manifest)
    assert load_meta(again).info["sha256"] == meta.info["sha256"]


def test_a_tampered_or_missing_recording_is_refused_with_nothing_written(few, tmp_path):
    root, manifest = few
    path = root / "recordings" / FEW[3]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(DsaeError, match=rf"checksum mismatch for FSDD recording .*{FEW[3]}"):
        _build(out, root, manifest)
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    path.unlink()
    with pytest.raises(DsaeError, match=rf"FSDD recording missing: .*{FEW[3]}"):
        _build(out, root, manifest)
    assert not out.exists()
    with pytest.raises(DsaeError, match="not a folder or URL"):
        _build(out, tmp_path / "nowhere", manifest)


@pytest.fixture
def http_root(few):
    """The few recordings served over http from a local server."""
    root, _ = few
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_url_sources_give_the_same_dataset(few, http_root, tmp_path):
    root, manifest = few
    local = load_meta(_build(tmp_path / "local", root, manifest)).info["sha256"]
    assert load_meta(_build(tmp_path / "http", http_root, manifest)).info["sha256"] == local
    recordings_url = http_root + "recordings"
    assert load_meta(_build(tmp_path / "http2", recordings_url, manifest)).info["sha256"] == local
    assert load_meta(_build(tmp_path / "file", root.as_uri(), manifest)).info["sha256"] == local
    (root / "recordings" / FEW[0]).unlink()
    with pytest.raises(DsaeError, match=rf"cannot fetch FSDD recording .*{FEW[0]}: HTTP 404"):
        _build(tmp_path / "gone", http_root, manifest)
    assert not (tmp_path / "gone").exists()


def test_the_manifest_covers_the_repository():
    manifest = fsdd.load_manifest()
    assert len(manifest) == 3000 and list(manifest) == sorted(manifest)
    labels = [fsdd.parse_name(name) for name in manifest]
    assert {(d, s, i) for d, s, i in labels} == {
        (str(d), s, i) for d in range(10) for s in fsdd.SPEAKERS for i in range(50)
    }
    for name in ("0_george_0.wav", "9_yweweler_49.wav"):
        assert manifest[name] == hashlib.sha256((RECORDINGS / name).read_bytes()).hexdigest()
    assert fsdd.DEFAULT_SOURCE == (
        "https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/"
        "26eb9aaf76e81b692f806f9140c2d2777410d7a1/"
    )
    assert "fsdd" in BUILDERS
    with pytest.raises(DsaeError, match="not an FSDD recording name"):
        fsdd.parse_name("3_alice_1.wav")


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    return fsdd.build_fsdd(
        tmp_path_factory.mktemp("fsdd") / "fsdd", source=str(FSDD), progress=False
    )


def test_the_whole_dataset(full):
    meta = load_meta(full)
    assert meta.static_factors == {"speaker": 6} and meta.dynamic_factors == {"digit": 10}
    assert meta.info["speaker_sex"] == dict.fromkeys(fsdd.SPEAKERS, "male")
    utts = meta.info["utterances"]
    assert len(utts["train"]) == 2700 and len(utts["test"]) == 300
    assert all(int(name.rsplit("_", 1)[1]) < 5 for name in utts["test"])
    train, test = load_split(full, "train"), load_split(full, "test")
    assert train.x.shape == (10494, 20, 200) and test.x.shape == (1140, 20, 200)
    for split, n in ((train, 2700), (test, 300)):
        groups = split.group_ids("utterance")
        assert np.array_equal(np.unique(groups), np.arange(n))
        assert np.all(np.diff(groups) >= 0)  # segments of an utterance are contiguous
        assert np.bincount(split.static[:, 0]).size == 6
        assert np.bincount(split.dynamic["digit"]).size == 10
    # normalised with the training frames' statistics: training segments near 0 / 1
    assert abs(float(train.x.mean())) < 0.1 and abs(float(train.x.std()) - 1) < 0.05


def test_the_cli_builds_the_same_files_and_refuses_a_bad_source(full, tmp_path):
    out = tmp_path / "cli"
    proc = _dsae(
        "data", "build", "fsdd", "--out", str(out), "--source", str(RECORDINGS), "--no-progress"
    )
    assert proc.returncode == 0, proc.stderr
    assert "built fsdd" in proc.stdout
    assert load_meta(out).info["sha256"] == load_meta(full).info["sha256"]  # deterministic
    bad = tmp_path / "nowhere"
    proc = _dsae("data", "build", "fsdd", "--out", str(tmp_path / "bad"), "--source", str(bad))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsae: error:"), proc.stderr
    assert "not a folder or URL" in lines[0]
    assert not (tmp_path / "bad").exists()


def _dsae(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dsae.cli.main", *args], capture_output=True, text=True, timeout=600
    )
