"""The Free Spoken Digit Dataset (FSDD) as segments of log-magnitude spectra.

FSDD (Zohar Jackson et al., ``Jakobovski/free-spoken-digit-dataset``) holds 3000 recordings
``recordings/{digit}_{speaker}_{index}.wav``: 6 male speakers (george, jackson, lucas,
nicolas, theo, yweweler) each say the digits 0-9 fifty times (index 0-49), mono 16-bit PCM
at 8 kHz, trimmed of leading and trailing silence (about 0.2-1.2 s). The official split:
index 0-4 is test (300 recordings), 5-49 train (2700).

Features (:data:`dsae.data.audio.FSDD_SPECTRUM`): at 8 kHz, a 25 ms Hann window (200
samples) zero-padded to n_fft = 398 points gives 200 frequency bins 20.1 Hz apart (0 to
4 kHz, all kept), one frame every 10 ms (80 samples); features are
``log(|STFT| + 1e-5)``, normalised per bin with the training frames' mean and standard
deviation. Segments of T = 20 frames (200 ms) every 10 frames (100 ms): the sequences
(N, 20, 200). Li & Mandt (2018), following Hsu et al. (2017), used 200-dimensional
log-magnitude spectra of 16 kHz TIMIT speech, one every 10 ms, in segments of 200 ms
(T = 20); FSDD is recorded at 8 kHz, so the same 200 bins here cover 0-4 kHz, 20.1 Hz
apart (200 bins over TIMIT's 0-8 kHz would be 40 Hz apart).

Labels: the speaker (static, classes in name order), the digit (per segment, classes
"0"-"9"), the utterance each segment was cut from (``group_utterance``); utterances are
ordered by speaker, digit and index within a split. Every recording is checked against
the SHA-256 recorded in ``fsdd_sha256.txt`` (the repository at :data:`COMMIT`) before
anything is built.

Data license: Creative Commons Attribution-ShareAlike 4.0 International; credit the FSDD
authors (Zohar Jackson et al.) when the data is used.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

from tqdm import tqdm

from dsae.data.audio import FSDD_SPECTRUM, read_wav_bytes
from dsae.data.fetch import check_source, is_url, read_all_verified
from dsae.data.speech import Utterance, build_speech_dataset
from dsae.errors import DsaeError

REPO = "Jakobovski/free-spoken-digit-dataset"
COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
DEFAULT_SOURCE = f"https://raw.githubusercontent.com/{REPO}/{COMMIT}/"
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
DIGITS = tuple(str(d) for d in range(10))
N_TEST_INDICES = 5  # recordings with index 0-4 are the test split
MANIFEST = "fsdd_sha256.txt"
_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def load_manifest() -> dict[str, str]:
    """{file name: sha256} of the 3000 recordings, as shipped with dsae."""
    text = resources.files("dsae.data").joinpath(MANIFEST).read_text()
    pairs = (line.split() for line in text.splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def parse_name(name: str) -> tuple[str, str, int]:
    """``'7_jackson_32.wav'`` -> (digit '7', speaker 'jackson', index 32)."""
    m = _NAME.match(name)
    if m is None or m.group(2) not in SPEAKERS:
        raise DsaeError(f"not an FSDD recording name: {name!r}")
    return m.group(1), m.group(2), int(m.group(3))


def recordings_source(source: str) -> str:
    """The folder or URL holding the wav files: ``source/recordings`` unless ``source`` is
    already a folder of wav files (or a URL ending in ``/recordings``)."""
    if is_url(source):
        base = source.rstrip("/")
        return base if base.endswith("/recordings") else base + "/recordings"
    path = Path(source)
    return str(path / "recordings") if (path / "recordings").is_dir() else str(path)


def build_fsdd(
    out: str | os.PathLike,
    source: str | None = None,
    progress: bool = True,
    manifest: dict[str, str] | None = None,
) -> Path:
    """Build the FSDD dataset directory from a local copy or base URL of the repository.

    ``manifest`` ({file name: sha256}) chooses the recordings (default: all 3000, with the
    digests shipped with dsae); a missing or altered file is refused with nothing written.
    """
    source = DEFAULT_SOURCE if source is None else str(source)
    expected = dict(sorted((manifest or load_manifest()).items()))
    labels = {name: parse_name(name) for name in expected}
    base = recordings_source(source)
    check_source(base, "FSDD recording")
    with tqdm(
        total=len(expected),
        desc="fsdd files",
        unit="file",
        disable=not progress or not is_url(base),  # a local copy is read in a moment
        leave=False,
    ) as bar:
        data = read_all_verified(base, expected, "FSDD recording", on_file=bar.update)

    utterances = []
    for name in sorted(expected, key=lambda n: (labels[n][1], labels[n][0], labels[n][2])):
        digit, speaker, index = labels[name]
        wave, rate = read_wav_bytes(data[name], name)
        if rate != FSDD_SPECTRUM.sample_rate:
            raise DsaeError(f"FSDD recording {name} is at {rate} Hz, expected 8000 Hz")
        split = "test" if index < N_TEST_INDICES else "train"
        utterances.append(
            Utterance(name[: -len(".wav")], wave, rate, speaker, digit, split, sex="male")
        )
    return build_speech_dataset(
        utterances,
        out,
        name="fsdd",
        spectrum=FSDD_SPECTRUM,
        content_factor="digit",
        info={
            "source": f"https://github.com/{REPO}",
            "commit": COMMIT,
            "recordings": len(expected),
            "split": "recording index 0-4 test, 5-49 train",
            "order": "utterances by speaker, digit, index; segments in time order",
            "license": "CC BY-SA 4.0 (Free Spoken Digit Dataset, Zohar Jackson et al.)",
        },
        progress=progress,
        classes={"speaker": list(SPEAKERS), "digit": list(DIGITS)},
    )
