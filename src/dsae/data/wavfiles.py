"""Wav files: reading any PCM or float wav as a mono float wave, writing 16-bit PCM
atomically, and resampling (polyphase filtering, scipy's ``resample_poly``)."""

from __future__ import annotations

import io
import math
import os
import warnings
import wave as wave_io
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

from dsae.errors import DsaeError
from dsae.utils import atomic_write


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A wav file as mono float32 in [-1, 1] (channels averaged) and its sample rate."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DsaeError(f"wav file not found: {p}") from None
    except OSError as e:
        raise DsaeError(f"cannot read wav file {p}: {e.strerror or e}") from None
    return read_wav_bytes(data, str(p))


def read_wav_bytes(data: bytes, name: str) -> tuple[np.ndarray, int]:
    """:func:`read_wav` of a file's bytes (``name`` only for messages)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            sample_rate, arr = wavfile.read(io.BytesIO(data))
    except (OSError, ValueError, EOFError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DsaeError(f"cannot read wav file {name}: {msg}") from None
    except Exception:  # scipy fails on some malformed files with internal errors
        raise DsaeError(f"cannot read wav file {name}: malformed wav data") from None
    return _to_float_wave(arr, name), int(sample_rate)


def _to_float_wave(data: np.ndarray, name) -> np.ndarray:
    if data.dtype == np.uint8:
        x = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        x = data.astype(np.float32) / float(2 ** (8 * data.dtype.itemsize - 1))
    elif np.issubdtype(data.dtype, np.floating):
        x = data.astype(np.float32)
    else:
        raise DsaeError(f"cannot read wav file {name}: samples of type {data.dtype}")
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size == 0:
        raise DsaeError(f"wav file {name} has no samples")
    if not np.isfinite(x).all():
        raise DsaeError(f"wav file {name} holds NaN or infinite samples")
    return np.clip(x, -1.0, 1.0)


def write_wav(path: str | os.PathLike, wave: np.ndarray, sample_rate: int) -> None:
    """Write a mono wave (float, clipped to [-1, 1]) as 16-bit PCM, atomically."""
    x = np.asarray(wave, dtype=np.float64).reshape(-1)
    if not np.isfinite(x).all():
        raise DsaeError(f"cannot write {path}: the wave holds NaN or infinite samples")
    pcm = np.rint(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")

    def write(fh) -> None:
        with wave_io.open(fh, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(sample_rate))
            w.writeframes(pcm.tobytes())

    atomic_write(path, write)


def resample(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """``wave`` at ``sr_in`` Hz resampled to ``sr_out`` Hz (polyphase, float32)."""
    x = np.asarray(wave, dtype=np.float64)
    if sr_in == sr_out:
        return x.astype(np.float32)
    g = math.gcd(int(sr_in), int(sr_out))
    return resample_poly(x, int(sr_out) // g, int(sr_in) // g).astype(np.float32)
