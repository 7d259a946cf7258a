"""``dsae convert``: voice conversion with a model trained on speech (Li & Mandt 2018, Fig. 6).

Two forms: one conversion of two recordings (``--content A.wav --speaker B.wav --out
OUT.wav``), or a scored batch of test utterance pairs (``--pairs N --out DIR``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from dsae.cli.registry import command
from dsae.data.audio import read_wav, write_wav
from dsae.errors import DsaeError
from dsae.eval.judge import load_judge
from dsae.pipeline.convert import convert_waves, speech_features
from dsae.pipeline.convert_pairs import CONVERSION_FILE, convert_pairs
from dsae.train import load_run
from dsae.utils import set_threads


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``convert`` subcommand."""
    p = sub.add_parser(
        "convert",
        help="voice conversion: the content of one recording in the voice of another",
        description="Either --content A.wav --speaker B.wav --out OUT.wav [--pictures DIR], "
        "or --pairs N --out DIR [--data DIR] [--judge JUDGE] (scored test pairs).",
    )
    p.add_argument("run", help="run directory of a model trained on speech features")
    p.add_argument("--out", required=True, help="OUT.wav (one conversion) or DIR (--pairs)")
    p.add_argument("--content", default=None, help="wav whose words are kept")
    p.add_argument("--speaker", default=None, help="wav whose voice is used")
    p.add_argument("--pictures", default=None, help="folder for the spectrogram picture")
    p.add_argument("--pairs", type=int, default=None, help="number of test pairs to convert")
    p.add_argument("--data", default=None, help="dataset directory (default: the run's)")
    p.add_argument("--judge", default=None, help="judge file trained on the speech data")
    p.add_argument("--seed", type=int, default=0, help="pair draw and Griffin-Lim phases")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")


def _check_form(args: argparse.Namespace) -> str:
    """``one`` or ``pairs``; mixing the two forms is a user error."""
    single = [f"--{k}" for k in ("content", "speaker", "pictures") if getattr(args, k)]
    batch = [f"--{k}" for k in ("pairs", "data", "judge") if getattr(args, k) is not None]
    if single and batch:
        raise DsaeError(
            f"{' '.join(single)} and {' '.join(batch)} belong to different forms: give "
            "--content and --speaker, or --pairs"
        )
    if args.pairs is not None:
        return "pairs"
    if not (args.content and args.speaker):
        raise DsaeError("give --content A.wav and --speaker B.wav, or --pairs N")
    return "one"


@command("convert")
def cmd_convert(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    if _check_form(args) == "pairs":
        return _pairs(args)
    return _one(args)


def _one(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.is_dir():
        raise DsaeError(f"--out {out} is a directory, expected a wav file path such as out.wav")
    content, content_sr = read_wav(args.content)
    speaker, speaker_sr = read_wav(args.speaker)
    loaded = load_run(args.run)
    rate = speech_features(loaded.meta).spectrum.sample_rate
    wave, picture = convert_waves(loaded, content, content_sr, speaker, speaker_sr, seed=args.seed)
    if args.pictures:
        title = f"{Path(args.content).name} in the voice of {Path(args.speaker).name}"
        picture.save(Path(args.pictures) / f"{out.stem}_spectrogram.png", title=title)
    write_wav(out, wave, rate)
    f0 = ", ".join(f"{k} {_hz(v)}" for k, v in picture.f0.items())
    print(f"wrote {out} ({wave.size / rate:.2f} s at {rate} Hz; median F0 {f0})")
    return 0


def _hz(v: float) -> str:
    return f"{v:.0f} Hz" if math.isfinite(v) else "unvoiced"


def _pairs(args: argparse.Namespace) -> int:
    loaded = load_run(args.run)
    speech_features(loaded.meta)
    judge = load_judge(args.judge) if args.judge is not None else None
    data = args.data or loaded.state["data"]["root"]
    result = convert_pairs(loaded, data, args.out, args.pairs, judge=judge, seed=args.seed)
    print(f"converted {result['n_pairs']} test pairs: {Path(args.out) / CONVERSION_FILE}")
    for key, t in result["targets"].items():
        if t["value"] is None:
            print(f"  {key:<16} (needs --judge)")
            continue
        met = "met" if t["met"] else "not met"
        print(f"  {key:<16} {t['value']:.3f}  (target >= {t['min']:.2f}: {met})")
    return 0
