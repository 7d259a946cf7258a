"""``dsae data``: build a known dataset (``build``) or import one's own sequences (``import``)."""

from __future__ import annotations

import argparse
import time

from dsae.cli.registry import command
from dsae.data import build_dataset, import_sequences, load_meta

IMPORT_HELP = """\
Make a dataset directory (meta.json, train.npz, test.npz) from a folder SRC holding one
kind of sequence: sub-folders of PNG frames (natural order: frame_2 before frame_10),
animated .gif files (every frame, RGB), or .npy arrays of frames (T, H, W, C) / (T, H, W)
uint8 or feature vectors (T, D). A sequence is named after its folder or file (without the
extension). Nothing is written unless every input is read and checked.

Labels: --labels CSV has one row per sequence, header 'sequence,<factor>...' (optionally a
'split' column of train/test); its factors are static unless named in --dynamic.
--frame-labels CSV has one row per frame, header 'sequence,frame,<factor>...' (frame counts
from 0): dynamic factors with a label per frame. Values are any strings; the classes of a
factor are its values in natural order, their names kept in meta.json (info.classes).
"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group: ``data build`` and ``data import``."""
    d = sub.add_parser("data", help="build or import datasets")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    b = dsub.add_parser("build", help="build a dataset cache (meta.json, train.npz, test.npz)")
    b.add_argument(
        "name",
        choices=["sprites", "fsdd", "voices", "toy_sprites", "toy", "balls", "digits", "fashion"],
        help="which dataset",
    )
    b.add_argument("--out", required=True, help="output directory")
    b.add_argument(
        "--source",
        default=None,
        help="sprites, fsdd: local folder or base URL of the repository's files (default: "
        "the public repository at its pinned commit); every file is checked against its "
        "recorded SHA-256. digits, fashion: local folder of the t10k IDX files (digits: "
        "required, e.g. ../shared/data/mnist; fashion default: "
        "/usr/share/datasets/fashion-mnist)",
    )
    b.add_argument(
        "--n-train",
        type=int,
        default=None,
        help="toy, balls, digits, fashion: training sequences (default: toy 3000, balls "
        "4000, digits and fashion 6000)",
    )
    b.add_argument(
        "--n-test",
        type=int,
        default=None,
        help="toy, balls, digits, fashion: test sequences (default: toy 600, balls 1000, "
        "digits and fashion 1000)",
    )
    b.add_argument("--image-size", type=int, default=64, help="toy: frame size")
    b.add_argument(
        "--seed", type=int, default=0, help="toy, balls, digits, fashion: generator seed"
    )
    b.add_argument(
        "--shape",
        choices=["ball", "square"],
        default="ball",
        help="balls: a ball of radius 3, or a square of side 6 that pymunk also turns",
    )
    b.add_argument(
        "--split",
        choices=["seen", "unseen"],
        default="seen",
        help="voices: test utterances of the training speakers (seen) or of held-out speakers",
    )
    b.add_argument(
        "--speakers", default=None, metavar="NAMES", help="voices: comma-separated subset"
    )
    b.add_argument("--words", default=None, metavar="WORDS", help="voices: comma-separated subset")
    b.add_argument("--repeats", type=int, default=5, help="voices: repetitions of each word")
    b.add_argument("--no-progress", action="store_true")

    i = dsub.add_parser(
        "import",
        help="make a dataset from a folder of your own sequences (PNG folders, GIFs, .npy)",
        description=IMPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    i.add_argument("src", metavar="SRC", help="folder of sequences")
    i.add_argument("--out", required=True, help="dataset directory to write")
    i.add_argument("--name", default=None, help="dataset name (default: the name of SRC)")
    i.add_argument(
        "--labels", default=None, metavar="CSV", help="per-sequence labels: sequence,<factor>..."
    )
    i.add_argument(
        "--frame-labels",
        default=None,
        metavar="CSV",
        help="per-frame labels: sequence,frame,<factor>... (dynamic factors of shape (N, T))",
    )
    i.add_argument(
        "--dynamic",
        default="",
        metavar="NAMES",
        help="comma-separated --labels columns that describe motion (e.g. an action): "
        "per-sequence dynamic factors instead of static ones",
    )
    i.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        metavar="F",
        help="share of sequences in the test split (default 0.2; not with a split column)",
    )
    i.add_argument("--seed", type=int, default=0, help="seed of the split by sequence")
    i.add_argument(
        "--seq-len",
        type=int,
        default=None,
        metavar="T",
        help="cut every sequence into consecutive windows of T frames (a shorter remainder "
        "is dropped; a sequence shorter than T is an error); default: all sequences must "
        "have the same length, which is kept",
    )
    i.add_argument(
        "--size",
        type=int,
        default=None,
        metavar="S",
        help="resize image frames to S x S (the conv model needs square frames whose size "
        "divides by 2^len(model.channels), e.g. 32 or 64)",
    )
    i.add_argument(
        "--resample",
        choices=["area", "nearest"],
        default="area",
        help="--size filter: area (box average) or nearest (keeps pixel art crisp)",
    )


def _build(args: argparse.Namespace) -> int:
    name = "toy_sprites" if args.name == "toy" else args.name
    t0 = time.perf_counter()
    out = build_dataset(
        name,
        args.out,
        source=args.source,
        n_train=args.n_train,
        n_test=args.n_test,
        image_size=args.image_size,
        seed=args.seed,
        split=args.split,
        speakers=args.speakers.split(",") if args.speakers else None,
        words=args.words.split(",") if args.words else None,
        repeats=args.repeats,
        shape=args.shape,
        progress=not args.no_progress,
    )
    print(f"built {name} in {time.perf_counter() - t0:.1f} s: {out}")
    return 0


def _import(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    out = import_sequences(
        args.src,
        args.out,
        labels=args.labels,
        frame_labels=args.frame_labels,
        dynamic=[c.strip() for c in args.dynamic.split(",") if c.strip()],
        test_fraction=args.test_fraction,
        seed=args.seed,
        seq_len=args.seq_len,
        size=args.size,
        resample=args.resample,
        name=args.name,
    )
    meta = load_meta(out)
    counts = {s: len(v) for s, v in meta.info["sequences"].items()}
    factors = [*meta.static_factors, *meta.dynamic_factors]
    print(
        f"imported {meta.name} in {time.perf_counter() - t0:.1f} s: {counts['train']} train and "
        f"{counts['test']} test sequences of {meta.seq_len} frames {tuple(meta.frame_shape)}, "
        f"factors: {', '.join(factors) or 'none'}: {out}"
    )
    return 0


@command("data")
def cmd_data(args: argparse.Namespace) -> int:
    return {"build": _build, "import": _import}[args.data_command](args)
