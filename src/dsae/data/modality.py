"""Frame modalities: what one frame is, and everything that depends on it.

A modality owns the conversion between stored frames (numpy, as datasets keep them) and
model tensors, how a sequence is drawn for a person, and the quality measure of a
reconstruction. Code elsewhere asks the modality of a dataset (``modality_for(frame_shape)``)
instead of branching on the number of frame dimensions.

- ``image``: stored (H, W, C) uint8 (or float in [0, 1]); model (C, H, W) float in [0, 1];
  drawn as the frames themselves; quality MSE and PSNR (peak 1).
- ``vector``: stored (D,) float32 (e.g. a spectrum); model (D,) float32; drawn as one
  D x T heat map with time on the x axis; quality MSE and SNR in dB.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps

from dsae.errors import DsaeError

MSE_FLOOR = 1e-10  # caps PSNR and SNR at 100 dB for a perfect reconstruction


def _float_to_uint8(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


class Modality:
    """One kind of frame: conversion, display and quality (see the module docstring)."""

    name = ""

    def __init__(self, stored_shape: tuple[int, ...]):
        self.stored_shape = tuple(int(v) for v in stored_shape)

    @property
    def model_shape(self) -> tuple[int, ...]:
        """The per-frame shape a model reads and writes."""
        raise NotImplementedError

    def to_tensor(self, x: np.ndarray) -> torch.Tensor:
        """(B, T, *stored) -> (B, T, *model) float32."""
        raise NotImplementedError

    def to_frames(self, x: torch.Tensor) -> np.ndarray:
        """(B, T, *model) -> (B, T, *stored): the inverse of :meth:`to_tensor`."""
        raise NotImplementedError

    def display(
        self, seq: np.ndarray, value_range: tuple[float, float] | None = None
    ) -> np.ndarray:
        """One stored sequence -> (T', h, w, 3) uint8 frames for a picture."""
        raise NotImplementedError

    def quality(self, x: np.ndarray, x_hat: np.ndarray) -> dict[str, float]:
        """How close ``x_hat`` is to ``x`` (stored layout, same shape)."""
        raise NotImplementedError

    def pool(self, per_sequence: dict[str, list[float]]) -> dict[str, float]:
        """:meth:`quality` of each sequence (equal sizes) -> the measures over all of them:
        each averaged over the sequences."""
        return {k: float(np.mean(v)) for k, v in per_sequence.items()}

    def _check_tensor(self, x: torch.Tensor) -> None:
        if x.dim() != 2 + len(self.model_shape) or tuple(x.shape[2:]) != self.model_shape:
            dims = ", ".join(map(str, self.model_shape))
            raise DsaeError(f"expected frames of shape (B, T, {dims}), got {tuple(x.shape)}")

    def _check_frames(self, x: np.ndarray) -> None:
        if x.ndim != 2 + len(self.stored_shape) or tuple(x.shape[2:]) != self.stored_shape:
            dims = ", ".join(map(str, self.stored_shape))
            raise DsaeError(f"expected frames of shape (N, T, {dims}), got {tuple(x.shape)}")


class ImageFrames(Modality):
    """(H, W, C) images: uint8 on disk, float in [0, 1] in (C, H, W) for models."""

    name = "image"

    @property
    def model_shape(self) -> tuple[int, ...]:
        h, w, c = self.stored_shape
        return (c, h, w)

    def to_tensor(self, x: np.ndarray) -> torch.Tensor:
        self._check_frames(x)
        t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 1, 4, 2, 3)  # NHWC strides
        if t.dtype == torch.uint8:
            return t.float().div_(255.0)
        return t.float()

    def to_frames(self, x: torch.Tensor) -> np.ndarray:
        self._check_tensor(x)
        x = x.detach().float().clamp(0, 1).permute(0, 1, 3, 4, 2)
        return (x * 255).round().to(torch.uint8).numpy()

    def display(
        self, seq: np.ndarray, value_range: tuple[float, float] | None = None
    ) -> np.ndarray:
        x = np.asarray(seq)
        if x.ndim == 3:  # (T, H, W) gray
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3) or min(x.shape[:3]) == 0:
            raise DsaeError(f"sequence has shape {x.shape}, expected (T, H, W, 3) or (T, H, W, 1)")
        if x.dtype == np.bool_ or not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
            raise DsaeError(f"frames have dtype {x.dtype}, expected uint8 or float in [0, 1]")
        if x.dtype != np.uint8:
            if np.isnan(x).any():
                raise DsaeError("frames contain NaN values")
            x = _float_to_uint8(x)
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        return np.ascontiguousarray(x)

    def quality(self, x: np.ndarray, x_hat: np.ndarray) -> dict[str, float]:
        a, b = _unit(x), _unit(x_hat)
        if a.shape != b.shape:
            raise DsaeError(f"cannot compare frames of shapes {a.shape} and {b.shape}")
        mse_seq = ((a - b) ** 2).reshape(len(a), -1).mean(1)
        mse = float(mse_seq.mean())
        return {
            "mse": mse,
            "psnr": float((10.0 * np.log10(1.0 / np.maximum(mse_seq, MSE_FLOOR))).mean()),
            "psnr_global": float(10.0 * np.log10(1.0 / max(mse, MSE_FLOOR))),
        }

    def pool(self, per_sequence: dict[str, list[float]]) -> dict[str, float]:
        """Averages over the sequences, except ``psnr_global``: the PSNR of the mean MSE."""
        out = super().pool(per_sequence)
        if "mse" in out:
            out["psnr_global"] = float(10.0 * np.log10(1.0 / max(out["mse"], MSE_FLOOR)))
        return out


def _unit(x: np.ndarray) -> np.ndarray:
    """Stored images as float64 in [0, 1]."""
    x = np.asarray(x)
    return x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


class VectorFrames(Modality):
    """(D,) feature vectors (e.g. log spectra): float32 on disk and for models."""

    name = "vector"

    @property
    def model_shape(self) -> tuple[int, ...]:
        return self.stored_shape

    def to_tensor(self, x: np.ndarray) -> torch.Tensor:
        self._check_frames(x)
        return torch.from_numpy(np.ascontiguousarray(x)).float()

    def to_frames(self, x: torch.Tensor) -> np.ndarray:
        self._check_tensor(x)
        return x.detach().float().numpy().astype(np.float32)

    def display(
        self, seq: np.ndarray, value_range: tuple[float, float] | None = None
    ) -> np.ndarray:
        """(T, D) -> (1, D, T, 3): a viridis heat map, time left to right, feature 0 at the
        bottom, min-max normalised over the sequence or over ``value_range``."""
        x = np.asarray(seq, dtype=np.float64)
        if x.ndim != 2 or 0 in x.shape:
            raise DsaeError(f"vector sequence has shape {x.shape}, expected (T, D)")
        if not np.isfinite(x).all():
            raise DsaeError("vector sequence contains NaN or infinite values")
        lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
        unit = np.clip((x - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(x)
        rgba = colormaps["viridis"](unit.T[::-1])  # (D, T, 4) floats in [0, 1]
        return _float_to_uint8(rgba[..., :3])[None]

    def quality(self, x: np.ndarray, x_hat: np.ndarray) -> dict[str, float]:
        a, b = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
        if a.shape != b.shape:
            raise DsaeError(f"cannot compare frames of shapes {a.shape} and {b.shape}")
        mse = float(((a - b) ** 2).mean())
        power = float((a**2).mean())
        return {
            "mse": mse,
            "snr_db": float(10.0 * np.log10(max(power, MSE_FLOOR) / max(mse, MSE_FLOOR))),
        }


MODALITIES: dict[str, type[Modality]] = {"image": ImageFrames, "vector": VectorFrames}
_BY_DIMS = {3: "image", 1: "vector"}  # stored frame dims -> modality name


def modality_for(frame_shape: tuple[int, ...] | list[int]) -> Modality:
    """The modality of frames stored with ``frame_shape``: (H, W, C) image or (D,) vector."""
    shape = tuple(int(v) for v in frame_shape)
    name = _BY_DIMS.get(len(shape))
    if name is None or min(shape, default=0) <= 0:
        raise DsaeError(f"frames of shape {shape} are neither (H, W, C) images nor (D,) vectors")
    return MODALITIES[name](shape)
