"""The Sprites video benchmark of Li & Mandt (ICML 2018), rebuilt from its layer sheets.

A character is one variant (0..5) each of body (skin), bottomwear (pants), topwear (top)
and hair, plus ``shoes/1.png``: 6^4 = 1296 characters. Each is drawn in 9 action classes,
``class = 3 * action + direction`` with action in (walk, spellcast, slash) and direction in
(front, left, right), as 8 frames of 64 x 64 RGB.

The build is pixel-identical to the reference construction (``YingzhenLi/Sprites``): layers
are alpha-composited with Pillow's integer ``alpha_composite`` arithmetic in the order body,
bottomwear, topwear, hair, shoes over opaque black, and frames follow the reference's tile
order (spellcast and slash repeat tiles to make 8 frames; walk drops the standing pose and
starts with the last step). Frames are stored as uint8; the reference's float arrays are
these values divided by 256.

Split: character codes ``216 * skin + 36 * pants + 6 * top + hair`` are permuted with
``np.random.seed(423); np.random.permutation(1296)``; the first 1000 are training
characters (9000 sequences), the other 296 test characters (2664 sequences).

Sequence order within a split: character-major in permutation order, then the 9 action
classes in class order, so sequence ``9 * i + k`` is the i-th character of the split in
action class k. (The reference loader groups by class instead and then shuffles; shuffle
when training.)

Art: Liberated Pixel Cup / Universal-LPC-spritesheet, dual licensed CC-BY-SA 3.0 and
GPL 3.0; cite Li & Mandt (2018) when the data is used.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.data.fetch import read_all_verified
from dsae.errors import DsaeError

REPO = "YingzhenLi/Sprites"
COMMIT = "3ce4048c5227802bd8f1888e293fd3afdba91c0c"
DEFAULT_SOURCE = f"https://raw.githubusercontent.com/{REPO}/{COMMIT}/"

# Folders of the varying layers in compositing order, and the static factor each one sets.
LAYERS = ("body", "bottomwear", "topwear", "hair")
STATIC_FACTORS = ("skin", "pants", "top", "hair")
N_VARIANTS = 6
SHOES = "shoes/1.png"
ACTIONS = ("walk", "spellcast", "slash")
DIRECTIONS = ("front", "left", "right")
SEQ_LEN = 8
TILE = 64
SHEET_SIZE = (832, 1344)  # (width, height): 13 x 21 tiles
SEED = 423
N_TRAIN_CHARACTERS = 1000
_CHUNK = 100  # characters composited at once (~80 MB of working memory)

# First tile of each animation row, per action and direction (tile = row * 13 + column).
_FIRST_TILE = {
    "walk": {"front": 130, "left": 117, "right": 143},
    "spellcast": {"front": 26, "left": 13, "right": 39},
    "slash": {"front": 182, "left": 169, "right": 195},
}
# Which tile of the row each of the 8 frames shows, as in the reference set.
_FRAME_OFFSETS = {
    "walk": (8, 1, 2, 3, 4, 5, 6, 7),  # tile 0 is the standing pose; cyclic shift by one
    "spellcast": (0, 1, 2, 3, 4, 5, 4, 6),
    "slash": (0, 1, 2, 3, 4, 5, 4, 0),
}

SHEET_SHA256: dict[str, str] = {
    "body/0.png": "27d1ac78db37c42f35a20d15c42705efc5e58d47c236cc01423879d4f797f151",
    "body/1.png": "1535e9228357b884df80f777a0d1dac10ac35e550e4d8d077105ccad014a1460",
    "body/2.png": "7c241033b4897501cb3721b6c3a9ebfa94b13db10a539edbd9bcc3e0c2a4bcb9",
    "body/3.png": "055f5aa33fc112d8444b42fce2cf50608a9fbbf2466c54ceaa46c777589a717a",
    "body/4.png": "57f3b9c510482379aba9a32fc0de7d48e9cbe3dc40f2447283547f773b77ca72",
    "body/5.png": "91e49453aeab5ebbb4fd2b48253812895dcfb4cb1829b84e24425c66de8f04ff",
    "bottomwear/0.png": "4ec356c488e272fde2d2d0d722b12a80217871e41161d43ba784caf243969ec2",
    "bottomwear/1.png": "0674312eaa4ab548f8bb31ef95d7dbd46b41555758cec51bd6c3e9fac9a0f936",
    "bottomwear/2.png": "3b464feb0d20ff34b0ca2a6d1fd00766ad86e2229c3d56ff91379fe27588a893",
    "bottomwear/3.png": "b366e84ea0519d06cf693f51e0ee2f9ac32b3132d27c75dfdc4b6f52fca072de",
    "bottomwear/4.png": "4ed7e7702e4f50b9692c0043be04b7296a108d85ea97230fb50d13c150d98771",
    "bottomwear/5.png": "a5c5e7e33f13fe5ad37b5836a5a74fb0d2094a0877c2146961b88688ff85840d",
    "topwear/0.png": "b917edcf2b3c35d51ef57a6fad67557c5edf048785bea29db09a640d09ac9a90",
    "topwear/1.png": "e33c6cb31ed1268a2c0dc73b665b1c9b9420e22baf3321880222bdb22682368b",
    "topwear/2.png": "2b9b8fefa08894b7ea536cd62b86d494aefe6e54495c5c1d83460827b13b6448",
    "topwear/3.png": "807f5b628592f6747e2814be9435963069dba6c360577168c02f57bbe903433d",
    "topwear/4.png": "b51b17878503877e179ce4f9231713bf2b2d2d666c3ec9ee29f4e784469867a2",
    "topwear/5.png": "1b6049d43f83ebfda857cc405d1936ac9fd80be480fa6ad239024a6a75ad0372",
    "hair/0.png": "e4007b0635a239ad16cdebfe90759349ccc73dfc6836c9d19625714be185f43d",
    "hair/1.png": "fa6369f84d3310705df6d8ca8c9d515a7d211e73d2826c50a9cb5bb285652c66",
    "hair/2.png": "1b8046752be7233e829ebe9b11048e171d8d181ee6f68e07042b34f57bb8af0d",
    "hair/3.png": "333783285c5fd94ff434ae5000d2da39aac7940269f173119eaa70d34c8acfa1",
    "hair/4.png": "24df8e9b291cbd444f6c4d12d35b3d43d909cd13f04e6401e0fd8ab10216d5a2",
    "hair/5.png": "4dd471cc20e0b1cf71adcaab01c88598767e5cfe680adacdf560ca91574f17ae",
    "shoes/1.png": "d56a561616a20a12030d2d40a52eeec63e6d048871bf3b6994221869362151f1",
}


def sprites_meta() -> DatasetMeta:
    """The metadata of the Sprites benchmark (factors, frame layout, provenance)."""
    return DatasetMeta(
        name="sprites",
        seq_len=SEQ_LEN,
        frame_shape=(TILE, TILE, 3),
        static_factors={name: N_VARIANTS for name in STATIC_FACTORS},
        dynamic_factors={"action": len(ACTIONS) * len(DIRECTIONS)},
        info={
            "source": f"https://github.com/{REPO}",
            "commit": COMMIT,
            "seed": SEED,
            "train_characters": N_TRAIN_CHARACTERS,
            "action_classes": [f"{a}-{d}" for a in ACTIONS for d in DIRECTIONS],
            "order": "character-major in permutation order, then action class",
            "license": "CC-BY-SA 3.0 / GPL 3.0 (Liberated Pixel Cup, Universal-LPC-spritesheet)",
        },
    )


def class_tiles() -> np.ndarray:
    """(9, 8) sheet tile index of every frame of every action class, in class order."""
    return np.array(
        [
            [_FIRST_TILE[action][direction] + k for k in _FRAME_OFFSETS[action]]
            for action in ACTIONS
            for direction in DIRECTIONS
        ],
        dtype=np.int64,
    )


def character_labels(codes: np.ndarray) -> np.ndarray:
    """(N, 4) skin, pants, top, hair variants of character codes 216s + 36p + 6t + h."""
    codes = np.asarray(codes, dtype=np.int64)
    return np.stack([(codes // N_VARIANTS ** (3 - j)) % N_VARIANTS for j in range(4)], axis=1)


def split_characters() -> dict[str, np.ndarray]:
    """Character codes of the train and test splits, in the reference permutation order."""
    perm = np.random.RandomState(SEED).permutation(N_VARIANTS**4)  # = seed(423); permutation
    return {"train": perm[:N_TRAIN_CHARACTERS], "test": perm[N_TRAIN_CHARACTERS:]}


def build_sprites(
    out_dir: str | os.PathLike, source: str | None = None, progress: bool = True
) -> Path:
    """Build the Sprites dataset directory from the layer sheets at ``source``."""
    sheets = _fetch_sheets(DEFAULT_SOURCE if source is None else str(source))
    tiles = class_tiles()
    needed, frame_pos = np.unique(tiles, return_inverse=True)
    frame_pos = frame_pos.reshape(tiles.shape)
    layers = {
        rel: _Layer.from_tiles(_sheet_tiles(data, rel, needed)) for rel, data in sheets.items()
    }

    # Composite shared prefixes once: every (skin, pants, top) triple over black.
    prefix = np.zeros((1, needed.size * TILE * TILE, 3), dtype=np.uint8)
    for folder in LAYERS[:3]:
        prefix = np.repeat(prefix, N_VARIANTS, axis=0).reshape(-1, N_VARIANTS, *prefix.shape[1:])
        for v in range(N_VARIANTS):
            layers[f"{folder}/{v}.png"].over(prefix[:, v])
        prefix = prefix.reshape(-1, *prefix.shape[2:])

    hair = [layers[f"hair/{v}.png"] for v in range(N_VARIANTS)]
    chars = split_characters()
    n_chunks = sum(-(-len(c) // _CHUNK) for c in chars.values())
    meta = sprites_meta()
    splits = {}
    with tqdm(total=n_chunks, desc="sprites", unit="chunk", disable=not progress) as bar:
        for name, codes in chars.items():
            x = _render(codes, prefix, hair, layers[SHOES], frame_pos, bar)
            splits[name] = SequenceSplit(
                x=x,
                static=np.repeat(character_labels(codes), len(frame_pos), axis=0),
                dynamic={"action": np.tile(np.arange(len(frame_pos)), len(codes))},
                meta=meta,
            )
    return write_dataset_dir(out_dir, splits)


def _render(
    codes: np.ndarray,
    prefix: np.ndarray,
    hair: list[_Layer],
    shoes: _Layer,
    frame_pos: np.ndarray,
    bar: tqdm,
) -> np.ndarray:
    """(9 N, 8, 64, 64, 3) sequences of characters ``codes``, character-major."""
    n_classes, n_tiles = len(frame_pos), prefix.shape[1] // (TILE * TILE)
    x = np.empty((len(codes) * n_classes, SEQ_LEN, TILE, TILE, 3), dtype=np.uint8)
    for start in range(0, len(codes), _CHUNK):
        batch = codes[start : start + _CHUNK]
        frames = prefix[batch // N_VARIANTS]  # (B, P, 3): pixels of the needed tiles
        for v in range(N_VARIANTS):
            hair[v].over(frames, rows=np.flatnonzero(batch % N_VARIANTS == v))
        shoes.over(frames)
        frames = frames.reshape(len(batch), n_tiles, TILE, TILE, 3)[:, frame_pos]
        x[start * n_classes : (start + len(batch)) * n_classes] = frames.reshape(-1, *x.shape[1:])
        bar.update(1)
    return x


@dataclass
class _Layer:
    """A layer's visible pixels, ready to draw over an opaque image."""

    index: np.ndarray  # (n,) flat pixel positions with alpha > 0
    premultiplied: np.ndarray  # (n, 3) uint32 colour * alpha
    keep: np.ndarray  # (n, 1) uint32 255 - alpha

    @classmethod
    def from_tiles(cls, rgba: np.ndarray) -> _Layer:
        rgba = rgba.reshape(-1, 4).astype(np.uint32)
        index = np.flatnonzero(rgba[:, 3])
        alpha = rgba[index, 3:]
        return cls(index, rgba[index, :3] * alpha, 255 - alpha)

    def over(self, dst: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Draw this layer in place over opaque RGB pixels ``dst`` (..., P, 3).

        The arithmetic is Pillow's ``alpha_composite`` (7 extra bits, rounded division by
        255) specialised to an opaque destination, where it stays exact; the result is
        opaque again, so alpha need not be stored.
        """
        if rows is not None and rows.size == 0:
            return
        where = (..., self.index, slice(None)) if rows is None else (rows[:, None], self.index)
        t = (dst[where].astype(np.uint32) * self.keep + self.premultiplied) * 128 + (128 << 7)
        dst[where] = ((t >> 8) + t) >> 15


def _sheet_tiles(data: bytes, rel: str, needed: np.ndarray) -> np.ndarray:
    """Decode one PNG sheet to RGBA and cut out the ``needed`` tiles: (K, 64, 64, 4) uint8."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            size = im.size
            rgba = np.asarray(im.convert("RGBA"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DsaeError(f"cannot decode sprite sheet {rel}: {e}") from None
    if size != SHEET_SIZE:
        raise DsaeError(f"sprite sheet {rel} is {size[0]}x{size[1]}, expected 832x1344")
    rows, cols = SHEET_SIZE[1] // TILE, SHEET_SIZE[0] // TILE
    tiles = rgba.reshape(rows, TILE, cols, TILE, 4).transpose(0, 2, 1, 3, 4)
    return tiles.reshape(rows * cols, TILE, TILE, 4)[needed]


def _fetch_sheets(source: str) -> dict[str, bytes]:
    """Read every sheet the build uses from a folder or base URL, checksum-verified."""
    return read_all_verified(source, SHEET_SHA256, "sprite sheet")
