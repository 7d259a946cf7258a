"""The Sprites builder against the layer sheets, checked with an independent PIL composite."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dsae.data import sprites
from dsae.data.base import load_meta, load_split
from dsae.errors import DsaeError

SHEETS = Path(__file__).resolve().parents[3] / "shared/data/sprites_lpc"

pytestmark = pytest.mark.skipif(
    not (SHEETS / "body/0.png").is_file(), reason=f"sprite sheets not found at {SHEETS}"
)


def _walk(first: int) -> list[int]:
    return [first + 8] + [first + k for k in range(1, 8)]


def _repeat(first: int, offsets: tuple[int, ...]) -> list[int]:
    return [first + k for k in offsets]


# The README table written out by hand, class order (walk, spellcast, slash) x (front, left, right).
SPELL = (0, 1, 2, 3, 4, 5, 4, 6)
SLASH = (0, 1, 2, 3, 4, 5, 4, 0)
CLASS_TILES = [
    _walk(130),
    _walk(117),
    _walk(143),
    _repeat(26, SPELL),
    _repeat(13, SPELL),
    _repeat(39, SPELL),
    _repeat(182, SLASH),
    _repeat(169, SLASH),
    _repeat(195, SLASH),
]


def _reference_codes() -> np.ndarray:
    # The legacy global stream, as np.random.seed(423); np.random.permutation(range(1296)).
    return np.random.RandomState(423).permutation(range(1296))


def _composite_tiles(skin: int, pants: int, top: int, hair: int) -> np.ndarray:
    """(273, 64, 64, 3) tiles of one character, composited whole-sheet with PIL."""
    frame = Image.new("RGBA", (832, 1344), "black")
    for rel in (f"body/{skin}", f"bottomwear/{pants}", f"topwear/{top}", f"hair/{hair}", "shoes/1"):
        with Image.open(SHEETS / f"{rel}.png") as layer:
            frame = Image.alpha_composite(frame, layer.convert("RGBA"))
    rgb = np.asarray(frame)[..., :3]
    return rgb.reshape(21, 64, 13, 64, 3).transpose(0, 2, 1, 3, 4).reshape(273, 64, 64, 3)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sprites") / "sprites"
    # A file:// URL exercises the download path end to end.
    return sprites.build_sprites(out, source=SHEETS.as_uri(), progress=False)


@pytest.fixture(scope="module")
def splits(built):
    return {name: load_split(built, name) for name in ("train", "test")}


def test_meta(built):
    meta = load_meta(built)
    assert meta.name == "sprites"
    assert meta.seq_len == 8 and meta.frame_shape == (64, 64, 3)
    assert meta.static_factors == {"skin": 6, "pants": 6, "top": 6, "hair": 6}
    assert meta.dynamic_factors == {"action": 9}
    assert meta.info["commit"].startswith("3ce4048")
    assert "YingzhenLi/Sprites" in meta.info["source"]


def test_counts_dtypes_and_ranges(splits):
    for name, n in (("train", 9000), ("test", 2664)):
        s = splits[name]
        assert s.x.shape == (n, 8, 64, 64, 3) and s.x.dtype == np.uint8
        assert s.static.shape == (n, 4) and s.static.dtype == np.int64
        assert s.dynamic["action"].shape == (n,) and s.dynamic["action"].dtype == np.int64
        assert s.static.min() == 0 and s.static.max() == 5
        assert set(np.unique(s.dynamic["action"])) == set(range(9))


def test_order_is_character_major_in_permutation_order(splits):
    codes = _reference_codes()
    expected = {"train": codes[:1000], "test": codes[1000:]}
    for name, s in splits.items():
        n_chars = len(expected[name])
        np.testing.assert_array_equal(s.dynamic["action"], np.tile(np.arange(9), n_chars))
        static = s.static.reshape(n_chars, 9, 4)
        assert (static == static[:, :1]).all()
        got = static[:, 0] @ np.array([216, 36, 6, 1])
        np.testing.assert_array_equal(got, expected[name])


def test_each_character_in_exactly_one_split(splits):
    combos = {name: {tuple(row) for row in s.static} for name, s in splits.items()}
    assert len(combos["train"]) == 1000 and len(combos["test"]) == 296
    assert not combos["train"] & combos["test"]
    codes = _reference_codes()
    for name, chosen in (("train", codes[:1000]), ("test", codes[1000:])):
        want = {(c // 216, c // 36 % 6, c // 6 % 6, c % 6) for c in chosen}
        assert combos[name] == want


@pytest.mark.parametrize(
    ("split", "index"), [("train", 0), ("train", 999), ("test", 0), ("test", 295)]
)
def test_pixels_match_pil_composite(splits, split, index):
    s = splits[split]
    rows = slice(9 * index, 9 * index + 9)
    skin, pants, top, hair = (int(v) for v in s.static[rows][0])
    tiles = _composite_tiles(skin, pants, top, hair)
    for k, seq in enumerate(s.x[rows]):
        np.testing.assert_array_equal(seq, tiles[CLASS_TILES[k]], err_msg=f"class {k}")


def test_repeated_and_shifted_frames(splits):
    seq = splits["train"].x[:9]
    skin, pants, top, hair = (int(v) for v in splits["train"].static[0])
    tiles = _composite_tiles(skin, pants, top, hair)
    # walk-left: frame 1 is the last step (tile 125), then tiles 118..124; standing pose unused
    np.testing.assert_array_equal(seq[1, 0], tiles[125])
    np.testing.assert_array_equal(seq[1, 1:], tiles[118:125])
    # spellcast-front: frame 7 repeats the 5th tile, frame 8 is the 7th tile
    np.testing.assert_array_equal(seq[3, 6], seq[3, 4])
    np.testing.assert_array_equal(seq[3, 7], tiles[32])
    # slash-right: frame 7 = 5th tile, frame 8 = 1st tile
    np.testing.assert_array_equal(seq[8, 6], seq[8, 4])
    np.testing.assert_array_equal(seq[8, 7], seq[8, 0])
    np.testing.assert_array_equal(seq[8, 0], tiles[195])


def _assert_no_output(out: Path) -> None:
    assert not out.exists()
    assert list(out.parent.iterdir()) == [out.parent / "sheets"]


@pytest.fixture
def sheet_copy(tmp_path) -> Path:
    return Path(shutil.copytree(SHEETS, tmp_path / "sheets"))


def test_checksum_mismatch_raises_and_writes_nothing(sheet_copy):
    path = sheet_copy / "hair/3.png"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    out = sheet_copy.parent / "out"
    with pytest.raises(DsaeError, match=r"checksum mismatch .*hair/3\.png"):
        sprites.build_sprites(out, source=str(sheet_copy), progress=False)
    _assert_no_output(out)


def test_missing_sheet_raises_and_writes_nothing(sheet_copy):
    (sheet_copy / "topwear/2.png").unlink()
    out = sheet_copy.parent / "out"
    with pytest.raises(DsaeError, match=r"topwear/2\.png"):
        sprites.build_sprites(out, source=str(sheet_copy), progress=False)
    _assert_no_output(out)
    with pytest.raises(DsaeError, match=r"topwear/2\.png"):
        sprites.build_sprites(out, source=sheet_copy.as_uri(), progress=False)
    _assert_no_output(out)


def test_corrupt_png_raises(sheet_copy, monkeypatch):
    import hashlib

    path = sheet_copy / "body/4.png"
    data = path.read_bytes()[:5000]
    path.write_bytes(data)
    monkeypatch.setitem(sprites.SHEET_SHA256, "body/4.png", hashlib.sha256(data).hexdigest())
    out = sheet_copy.parent / "out"
    with pytest.raises(DsaeError, match=r"cannot decode .*body/4\.png"):
        sprites.build_sprites(out, source=str(sheet_copy), progress=False)
    _assert_no_output(out)


def test_unreachable_source_raises(tmp_path):
    with pytest.raises(DsaeError, match=r"cannot fetch .*body/0\.png"):
        sprites.build_sprites(tmp_path / "out", source="http://127.0.0.1:9/", progress=False)
    with pytest.raises(DsaeError, match="not a folder"):
        sprites.build_sprites(tmp_path / "out", source=str(tmp_path / "nowhere"), progress=False)
    assert not (tmp_path / "out").exists()


def test_folder_and_file_url_sources_agree():
    assert sprites._fetch_sheets(str(SHEETS)) == sprites._fetch_sheets(SHEETS.as_uri())


def test_sheet_checksums_cover_the_build():
    names = {f"{folder}/{v}.png" for folder in sprites.LAYERS for v in range(6)}
    assert set(sprites.SHEET_SHA256) == names | {"shoes/1.png"}
    assert sprites.DEFAULT_SOURCE.startswith(
        "https://raw.githubusercontent.com/YingzhenLi/Sprites/"
    )
