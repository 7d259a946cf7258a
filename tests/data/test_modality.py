"""Frame modalities: conversion round trips, display and quality measures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsae.data.modality import ImageFrames, VectorFrames, modality_for
from dsae.errors import DsaeError


def test_modality_is_chosen_by_the_stored_frame_shape():
    assert isinstance(modality_for((16, 16, 3)), ImageFrames)
    assert isinstance(modality_for([40]), VectorFrames)
    assert modality_for((16, 12, 1)).model_shape == (1, 16, 12)
    for bad in ((4, 4), (), (2, 3, 4, 5), (0, 4, 3)):
        with pytest.raises(DsaeError):
            modality_for(bad)


def test_image_frames_round_trip_exactly_and_keep_nhwc_strides():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 5, 8, 6, 3), dtype=np.uint8)
    m = modality_for(x.shape[2:])
    t = m.to_tensor(x)
    assert t.shape == (2, 5, 3, 8, 6) and t.dtype == torch.float32
    assert float(t.min()) >= 0 and float(t.max()) <= 1
    assert t.stride(2) == 1  # channels innermost in memory, as stored
    np.testing.assert_array_equal(m.to_frames(t), x)
    with pytest.raises(DsaeError, match="expected frames"):
        m.to_tensor(x[..., :2])


def test_vector_frames_round_trip_and_shape_errors():
    x = np.random.default_rng(1).normal(size=(3, 7, 10)).astype(np.float32)
    m = modality_for((10,))
    t = m.to_tensor(x)
    assert t.shape == (3, 7, 10) and m.model_shape == (10,)
    np.testing.assert_array_equal(m.to_frames(t), x)
    with pytest.raises(DsaeError):
        m.to_frames(torch.zeros(3, 7, 9))


def test_display_gives_rgb_frames_for_images_and_one_heat_map_for_vectors():
    img = modality_for((4, 5, 1)).display(np.full((3, 4, 5, 1), 0.5, dtype=np.float32))
    assert img.shape == (3, 4, 5, 3) and img.dtype == np.uint8 and (img == 128).all()
    vec = modality_for((6,)).display(np.arange(12, dtype=np.float32).reshape(2, 6))
    assert vec.shape == (1, 6, 2, 3) and vec.dtype == np.uint8
    # time runs left to right: the later frame (larger values) is a different colour
    assert not np.array_equal(vec[0, :, 0], vec[0, :, 1])
    with pytest.raises(DsaeError, match="NaN"):
        modality_for((6,)).display(np.full((2, 6), np.nan))


def test_quality_is_perfect_on_identity_and_falls_with_noise():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (4, 3, 8, 8, 3), dtype=np.uint8)
    m = modality_for((8, 8, 3))
    same = m.quality(img, img)
    assert same["mse"] == 0 and same["psnr"] == pytest.approx(100.0)
    noisy = np.clip(img.astype(int) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
    q = m.quality(img, noisy)
    expected = ((img / 255.0 - noisy / 255.0) ** 2).mean()
    assert q["mse"] == pytest.approx(expected) and 20 < q["psnr"] < 100
    v = rng.normal(size=(4, 3, 5))
    vm = modality_for((5,))
    assert vm.quality(v, v)["snr_db"] >= 99.0
    assert vm.quality(v, v + rng.normal(scale=0.1, size=v.shape))["snr_db"] == pytest.approx(
        20.0, abs=3.0
    )


def test_pooled_quality_averages_sequences_and_takes_the_psnr_of_the_mean_mse():
    m = modality_for((4, 4, 3))
    x = np.zeros((2, 1, 4, 4, 3), np.uint8)
    y = x.copy()
    y[1] = 255  # one perfect sequence, one as far off as it gets
    per = {}
    for i in range(2):
        for k, v in m.quality(x[i : i + 1], y[i : i + 1]).items():
            per.setdefault(k, []).append(v)
    pooled = m.pool(per)
    assert pooled["mse"] == pytest.approx(0.5) and pooled["psnr"] == pytest.approx(50.0)
    assert pooled["psnr_global"] == pytest.approx(10 * np.log10(2.0))
    assert modality_for((3,)).pool({"mse": [1.0, 3.0]}) == {"mse": 2.0}
