"""Importing one's own sequences: every layout, labels, windows, the split, and every user
error refused in one line with nothing written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dsae.config import Config
from dsae.data import import_sequences, load_meta, load_split
from dsae.data.sequence_files import natural_key
from dsae.errors import DsaeError
from dsae.pipeline.outputs import write_swaps
from dsae.train import train

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}
MOVES = {"right": (0, 1), "down": (1, 0)}


def square_frames(colour: str, t: int = 6, size: int = 16, start: int = 0) -> np.ndarray:
    """(T, size, size, 3) uint8: a 4 x 4 square of ``colour`` moving right then down."""
    x = np.zeros((t, size, size, 3), np.uint8)
    r, c = 2, start
    for i in range(t):
        dr, dc = MOVES[move_of(i, t)]
        r, c = (r + dr * (i > 0)) % (size - 4), (c + dc * (i > 0)) % (size - 4)
        x[i, r : r + 4, c : c + 4] = COLOURS[colour]
    return x


def move_of(i: int, t: int) -> str:
    return "right" if i < t // 2 else "down"


def write_gif(path: Path, frames: np.ndarray) -> None:
    imgs = [Image.fromarray(f) for f in frames]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=80, loop=0)


def colour_of(i: int) -> str:
    return list(COLOURS)[i % 3]


def make_gifs(root: Path, n: int = 12, t: int = 6, size: int = 16) -> dict[str, np.ndarray]:
    root.mkdir(parents=True)
    seqs = {}
    for i in range(n):
        seqs[f"seq{i}"] = square_frames(colour_of(i), t, size, start=i % 5)
        write_gif(root / f"seq{i}.gif", seqs[f"seq{i}"])
    return seqs


def write_labels(path: Path, seqs, extra: str = "") -> Path:
    lines = ["sequence,colour" + (",split" if extra else "")]
    for i, name in enumerate(seqs):
        lines.append(f"{name},{colour_of(i)}" + (f",{extra[i]}" if extra else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_frame_labels(path: Path, lengths: dict[str, int]) -> Path:
    lines = ["sequence,frame,move"]
    lines += [f"{n},{i},{move_of(i, t)}" for n, t in lengths.items() for i in range(t)]
    path.write_text("\n".join(lines) + "\n")
    return path


def all_x(out: Path) -> np.ndarray:
    return np.concatenate([load_split(out, s).x for s in ("train", "test")])


def test_natural_order():
    names = ["frame_10.png", "frame_2.png", "frame_1.png", "Frame_3.png"]
    assert sorted(names, key=natural_key) == [
        "frame_1.png",
        "frame_2.png",
        "Frame_3.png",
        "frame_10.png",
    ]


def test_gifs_with_static_and_frame_labels(tmp_path):
    seqs = make_gifs(tmp_path / "gifs")
    labels = write_labels(tmp_path / "labels.csv", seqs)
    frames = write_frame_labels(tmp_path / "frames.csv", {n: 6 for n in seqs})
    out = import_sequences(tmp_path / "gifs", tmp_path / "ds", labels=labels, frame_labels=frames)
    meta = load_meta(out)
    assert meta.name == "gifs" and meta.seq_len == 6 and meta.frame_shape == (16, 16, 3)
    assert meta.static_factors == {"colour": 3} and meta.dynamic_factors == {"move": 2}
    assert meta.info["classes"] == {"colour": ["blue", "green", "red"], "move": ["down", "right"]}
    for s in ("train", "test"):
        split = load_split(out, s)
        for j, name in enumerate(meta.info["sequences"][s]):
            i = int(name[3:])
            np.testing.assert_array_equal(split.x[j], seqs[name])  # every GIF frame, exactly
            assert meta.info["classes"]["colour"][split.static[j, 0]] == colour_of(i)
            moves = [meta.info["classes"]["move"][k] for k in split.dynamic["move"][j]]
            assert moves == [move_of(t, 6) for t in range(6)]
    assert len(load_split(out, "test")) == round(0.2 * 12)


def test_png_folders_in_natural_order_gray_and_rgba(tmp_path):
    src = tmp_path / "pngs"
    for s in range(3):
        d = src / f"walk_{s}"
        d.mkdir(parents=True)
        for t in range(11):  # the pixel value is the frame index: frame_2 comes before frame_10
            Image.fromarray(np.full((8, 8), 10 * t + s, np.uint8)).save(d / f"frame_{t}.png")
    out = import_sequences(src, tmp_path / "ds", test_fraction=0.34)
    x = all_x(out)
    assert x.shape == (3, 11, 8, 8, 1)  # gray stays one channel
    assert sorted(x[:, :, 0, 0, 0].tolist()) == [[10 * t + s for t in range(11)] for s in range(3)]
    # one colour sequence turns every frame RGB; transparent pixels go on black
    d = src / "walk_3"
    d.mkdir()
    for t in range(11):
        a = np.zeros((8, 8, 4), np.uint8)
        a[..., 1], a[:4, :, 3] = 200, 255  # top half opaque green, bottom half transparent
        Image.fromarray(a, "RGBA").save(d / f"f{t}.png")
    out = import_sequences(src, tmp_path / "ds2", seed=1)
    meta, x = load_meta(out), all_x(out)
    assert x.shape == (4, 11, 8, 8, 3)
    j = [*meta.info["sequences"]["train"], *meta.info["sequences"]["test"]].index("walk_3")
    assert (x[j, :, :4, :, 1] == 200).all() and (x[j, :, 4:] == 0).all()
    other = x[np.arange(4) != j]
    assert (other[..., 0] == other[..., 1]).all() and (other[..., 1] == other[..., 2]).all()


def test_npy_images_gray_and_vectors(tmp_path):
    rng = np.random.default_rng(0)
    for kind, shape in [("rgb", (5, 8, 8, 3)), ("gray", (5, 8, 8))]:
        src = tmp_path / kind
        src.mkdir()
        arrays = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(4)]
        for i, a in enumerate(arrays):
            np.save(src / f"s{i}.npy", a)
        x = all_x(import_sequences(src, tmp_path / f"ds_{kind}"))
        assert x.shape == (4, 5, 8, 8, 3 if kind == "rgb" else 1) and x.dtype == np.uint8
        assert sorted(a.tobytes() for a in x) == sorted(
            a.reshape(x.shape[1:]).tobytes() for a in arrays
        )
    src = tmp_path / "vec"
    src.mkdir()
    for i in range(5):
        np.save(src / f"s{i}.npy", rng.normal(size=(7, 12)))  # float64 features
    out = import_sequences(src, tmp_path / "ds_vec", labels=None)
    meta, x = load_meta(out), all_x(out)
    assert meta.modality.name == "vector" and meta.frame_shape == (12,)
    assert x.shape == (5, 7, 12) and x.dtype == np.float32


def test_size_resizes_images(tmp_path):
    src = tmp_path / "mixed"
    src.mkdir()
    np.save(src / "a.npy", np.full((4, 20, 30, 3), 7, np.uint8))
    np.save(src / "b.npy", np.full((4, 16, 16, 3), 9, np.uint8))
    for resample in ("area", "nearest"):
        out = import_sequences(src, tmp_path / resample, size=16, resample=resample)
        x = all_x(out)
        assert x.shape == (2, 4, 16, 16, 3) and set(np.unique(x)) == {7, 9}
        assert load_meta(out).info["resize"] == {"size": 16, "resample": resample}


def test_seq_len_windows_keep_labels_and_split_by_sequence(tmp_path):
    src = tmp_path / "npy"
    src.mkdir()
    lengths = {"a": 9, "b": 6, "c": 7, "d": 6, "e": 12}
    for i, (n, t) in enumerate(lengths.items()):
        x = np.zeros((t, 8, 8, 3), np.uint8)
        x[:, 0, 0, 0] = np.arange(t)  # frame index
        x[:, 0, 0, 1] = i  # which sequence
        np.save(src / f"{n}.npy", x)
    labels = tmp_path / "l.csv"
    labels.write_text("sequence,who,action\n" + "".join(f"{n}.npy,{n},run\n" for n in lengths))
    frames = write_frame_labels(tmp_path / "f.csv", lengths)
    out = import_sequences(
        src,
        tmp_path / "ds",
        seq_len=3,
        labels=labels,
        frame_labels=frames,
        dynamic=["action"],
        test_fraction=0.4,
    )
    meta = load_meta(out)
    assert meta.seq_len == 3 and meta.static_factors == {"who": 5}
    assert meta.dynamic_factors == {"action": 1, "move": 2}
    seen = {}
    for s in ("train", "test"):
        split = load_split(out, s)
        assert split.dynamic["action"].shape == (len(split),)
        assert split.dynamic["move"].shape == (len(split), 3)
        for j, name in enumerate(meta.info["sequences"][s]):
            seq, window = name.split("[")
            start = int(window.split(":")[0])
            assert split.x[j, :, 0, 0, 0].tolist() == [start, start + 1, start + 2]
            assert meta.info["classes"]["who"][split.static[j, 0]] == seq
            moves = [meta.info["classes"]["move"][k] for k in split.dynamic["move"][j]]
            assert moves == [move_of(start + i, lengths[seq]) for i in range(3)]
            seen.setdefault(seq, set()).add(s)
    assert {k: len(v) for k, v in seen.items()} == dict.fromkeys(lengths, 1)  # one split each
    n = sum(len(load_split(out, s)) for s in ("train", "test"))
    assert n == sum(t // 3 for t in lengths.values())


def test_seeded_split_is_deterministic_and_a_split_column_wins(tmp_path):
    seqs = make_gifs(tmp_path / "gifs", n=10)

    def test_names(out):
        return load_meta(out).info["sequences"]["test"]

    a = test_names(import_sequences(tmp_path / "gifs", tmp_path / "a", seed=3, test_fraction=0.3))
    b = test_names(import_sequences(tmp_path / "gifs", tmp_path / "b", seed=3, test_fraction=0.3))
    c = test_names(import_sequences(tmp_path / "gifs", tmp_path / "c", seed=4, test_fraction=0.3))
    assert a == b and len(a) == 3 and a != c
    x_a, x_b = load_split(tmp_path / "a", "train").x, load_split(tmp_path / "b", "train").x
    np.testing.assert_array_equal(x_a, x_b)
    split = "tttrrrrrrr".replace("t", "x").replace("r", "y")
    split = ["test" if ch == "x" else "train" for ch in split]
    labels = write_labels(tmp_path / "l.csv", seqs, extra=split)
    out = import_sequences(tmp_path / "gifs", tmp_path / "d", labels=labels)
    assert test_names(out) == ["seq0", "seq1", "seq2"]
    assert load_meta(out).info["split"] == "split column"


def test_class_names_in_natural_order(tmp_path):
    seqs = make_gifs(tmp_path / "gifs", n=4)
    labels = tmp_path / "l.csv"
    labels.write_text(
        "sequence,size\n"
        + "".join(f"{n},{v}\n" for n, v in zip(seqs, ["10", "2", "x", "2"], strict=True))
    )
    out = import_sequences(tmp_path / "gifs", tmp_path / "ds", labels=labels)
    assert load_meta(out).info["classes"]["size"] == ["2", "10", "x"]


def test_unlabelled_data_trains_and_swaps(tmp_path):
    make_gifs(tmp_path / "gifs", n=10, t=4)
    out = import_sequences(tmp_path / "gifs", tmp_path / "ds")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["static_factors"] == {} and meta["dynamic_factors"] == {}
    split = load_split(out, "train")
    assert split.static.shape == (8, 0) and split.dynamic == {}
    cfg = Config.from_dict(
        {
            "data": {"root": str(out), "build_if_missing": False},
            "model": {
                "channels": [8, 16, 32],
                "frame_dim": 32,
                "hidden_dim": 32,
                "f_dim": 8,
                "z_dim": 4,
            },
            "train": {
                "max_steps": 3,
                "batch_size": 4,
                "log_every": 1,
                "progress": False,
                "lr_warmup_steps": 1,
            },
        }
    )
    res = train(cfg, tmp_path / "run", progress=False)
    assert res.step == 3 and np.isfinite(res.last["loss"])
    swaps = write_swaps(str(tmp_path / "run"), None, str(tmp_path / "swaps"), 2, "test", 0, 1)
    assert (swaps / "swaps.png").is_file()
    with np.load(swaps / "swaps.npz") as z:
        assert z["x"].shape == (2, 4, 16, 16, 3) and z["static"].shape == (2, 0)


# -- user errors: one line, nothing written ---------------------------------------------------


def _gifs(root: Path, n: int = 4) -> dict:
    return {"src": root, "seqs": make_gifs(root, n=n)}


def _corrupt_png(tmp: Path) -> dict:
    for s in ("a", "b"):
        (tmp / "src" / s).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp / "src" / s / "0.png")
    (tmp / "src" / "b" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    return {"src": tmp / "src"}


def _npy(tmp: Path, arrays: dict[str, np.ndarray]) -> dict:
    (tmp / "src").mkdir()
    for k, a in arrays.items():
        np.save(tmp / "src" / f"{k}.npy", a)
    return {"src": tmp / "src"}


def _labels(tmp: Path, text: str, flag: str = "labels") -> dict:
    kw = _gifs(tmp / "src", n=3)
    (tmp / "l.csv").write_text(text)
    kw[flag] = tmp / "l.csv"
    return kw


IMG = np.zeros((4, 8, 8, 3), np.uint8)
VEC = np.zeros((4, 5), np.float32)


def _folder(tmp: Path, files: dict[str, bytes | None]) -> dict:
    """``src`` with the given files (None: a folder)."""
    for name, data in files.items():
        p = tmp / "src" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            p.mkdir()
        else:
            p.write_bytes(data)
    (tmp / "src").mkdir(exist_ok=True)
    return {"src": tmp / "src"}


def _png(size: int = 4) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size)).save(buf, format="PNG")
    return buf.getvalue()


def _gifs_and(tmp: Path, name: str, data: bytes) -> dict:
    kw = _gifs(tmp / "src")
    (tmp / "src" / name).write_bytes(data)
    return kw


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


BAD_INPUTS = {
    "missing folder": (lambda t: {"src": t / "nowhere"}, "not found"),
    "no sequences": (lambda t: _folder(t, {"notes.txt": b"x"}), "no sequences found"),
    "loose pngs": (lambda t: _folder(t, {"f.png": _png()}), "sub-folder of its own"),
    "mixed layouts": (lambda t: _gifs_and(t, "z.npy", _npy_bytes(IMG)), "mixed layouts"),
    "empty frame folder": (lambda t: _folder(t, {"a": None}), "holds no PNG frames"),
    "differing sizes": (
        lambda t: _npy(t, {"a": IMG, "b": np.zeros((4, 16, 16, 3), np.uint8)}),
        "--size",
    ),
    "differing sizes in a folder": (
        lambda t: _folder(t, {"a/0.png": _png(8), "a/1.png": _png(4)}),
        "differing sizes",
    ),
    "images and vectors": (lambda t: _npy(t, {"a": IMG, "b": VEC}), "mixed kinds of frames"),
    "NaN": (lambda t: _npy(t, {"a": VEC, "b": np.full((4, 5), np.nan)}), "NaN"),
    "inf": (lambda t: _npy(t, {"a": VEC, "b": np.full((4, 5), np.inf)}), "infinite"),
    "float images": (lambda t: _npy(t, {"a": IMG.astype(np.float32), "b": IMG}), "uint8"),
    "four channels": (
        lambda t: _npy(t, {"a": np.zeros((4, 8, 8, 4), np.uint8), "b": IMG}),
        "channels",
    ),
    "bad npy": (
        lambda t: _folder(t, {"a.npy": _npy_bytes(VEC), "b.npy": b"garbage"}),
        "cannot read",
    ),
    "object npy": (
        lambda t: _npy(t, {"a": VEC, "b": np.array([[None]], dtype=object)}),
        "cannot read",
    ),
    "corrupt image": (_corrupt_png, "cannot read image"),
    "corrupt gif": (lambda t: _gifs_and(t, "seq1.gif", b"GIF89a\x00"), "cannot read image"),
    "differing lengths": (lambda t: _npy(t, {"a": IMG, "b": IMG[:3]}), "--seq-len"),
    "shorter than seq_len": (
        lambda t: {**_npy(t, {"a": IMG, "b": IMG[:3]}), "seq_len": 4},
        "fewer than --seq-len 4",
    ),
    "size on vectors": (lambda t: {**_npy(t, {"a": VEC, "b": VEC}), "size": 8}, "feature vectors"),
    "one sequence": (lambda t: _npy(t, {"a": VEC}), "at least 2"),
    "test fraction": (
        lambda t: {**_npy(t, {"a": VEC, "b": VEC}), "test_fraction": 1.0},
        "--test-fraction",
    ),
    "out inside src": (
        lambda t: {**_npy(t, {"a": VEC, "b": VEC}), "out": t / "src" / "ds"},
        "inside the source folder",
    ),
    "labels missing": (
        lambda t: _labels(t, "sequence,colour\nseq0,red\nseq1,red\n"),
        "no labels for 1 sequence(s): seq2",
    ),
    "labels unknown": (
        lambda t: _labels(t, "sequence,colour\nseq0,a\nseq1,a\nseq2,a\nseq9,b\n"),
        "not in the source folder: seq9",
    ),
    "labels twice": (
        lambda t: _labels(t, "sequence,colour\nseq0,a\nseq1,a\nseq2,a\nseq2,b\n"),
        "labelled twice",
    ),
    "labels file missing": (lambda t: {**_gifs(t / "src"), "labels": t / "none.csv"}, "not found"),
    "labels with frame column": (lambda t: _labels(t, "sequence,frame,x\n"), "--frame-labels"),
    "labels ragged": (lambda t: _labels(t, "sequence,colour\nseq0,a,b\n"), "line 2"),
    "labels empty value": (lambda t: _labels(t, "sequence,colour\nseq0,\n"), "empty"),
    "labels bad split": (
        lambda t: _labels(t, "sequence,split\nseq0,train\nseq1,train\nseq2,val\n"),
        "train or test",
    ),
    "labels no test": (
        lambda t: _labels(t, "sequence,split\nseq0,train\nseq1,train\nseq2,train\n"),
        "no sequence in test",
    ),
    "split and fraction": (
        lambda t: {
            **_labels(t, "sequence,split\nseq0,train\nseq1,test\nseq2,train\n"),
            "test_fraction": 0.5,
        },
        "--test-fraction",
    ),
    "reserved name": (lambda t: _labels(t, "sequence,x\nseq0,a\nseq1,a\nseq2,a\n"), "reserved"),
    "dynamic unknown": (
        lambda t: {**_labels(t, "sequence,c\nseq0,a\nseq1,a\nseq2,a\n"), "dynamic": ["act"]},
        "--dynamic",
    ),
    "frame labels missing frame": (
        lambda t: _labels(
            t,
            "sequence,frame,m\n"
            + "".join(f"seq{i},{f},a\n" for i in range(3) for f in range(6) if (i, f) != (1, 4)),
            "frame_labels",
        ),
        "frame 4 missing",
    ),
    "frame labels out of range": (
        lambda t: _labels(
            t,
            "sequence,frame,m\n" + "".join(f"seq{i},{f},a\n" for i in range(3) for f in range(7)),
            "frame_labels",
        ),
        "not in 0..5",
    ),
    "frame labels header": (
        lambda t: _labels(t, "sequence,m\nseq0,a\n", "frame_labels"),
        "sequence,frame",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_user_errors_are_one_line_and_write_nothing(tmp_path, case):
    make, fragment = BAD_INPUTS[case]
    kw = make(tmp_path)
    src, out = kw.pop("src"), kw.pop("out", tmp_path / "ds")
    kw.pop("seqs", None)
    before = sorted(p.name for p in out.parent.iterdir()) if out.parent.exists() else []
    with pytest.raises(DsaeError) as e:
        import_sequences(src, out, **kw)
    msg = str(e.value)
    assert "\n" not in msg and fragment in msg, msg
    assert not out.exists()
    after = sorted(p.name for p in out.parent.iterdir()) if out.parent.exists() else []
    assert after == before  # no temporary directory left behind
