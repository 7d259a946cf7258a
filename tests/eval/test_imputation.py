"""Imputation (Li & Mandt 2018, section 4.3): wrong-pixel fractions, centroids, the curve on
a predictor whose answer is known by hand, and the protocol's place in the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dsae.data.base import DatasetMeta, SequenceSplit
from dsae.data.modality import modality_for
from dsae.errors import DsaeError
from dsae.eval.imputation import (
    centroids,
    imputation_curve,
    impute_sequences,
    position_error,
    wrong_pixel_fraction,
)
from dsae.eval.protocols import PROTOCOLS, imputation_protocol, select_protocols
from dsae.eval.protocols.base import EvalContext, can_impute
from dsae.eval.protocols.imputation import SAMPLES, default_missing
from dsae.models import SequentialVAE

H = W = 16
T = 8
SIDE = 3  # the square's side in pixels
ROW0 = 5  # its top row


# -- a square moving one pixel to the right per frame, and predictors of it ----------------
def moving_square(n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(n, T, H, W, 1) uint8 0/255 frames (sequence i starts at column i) and the square's
    centre (n, T, 2) in pixel units."""
    x = np.zeros((n, T, H, W, 1), dtype=np.uint8)
    pos = np.zeros((n, T, 2), dtype=np.float32)
    for i in range(n):
        for t in range(T):
            c0 = i + t
            x[i, t, ROW0 : ROW0 + SIDE, c0 : c0 + SIDE] = 255
            pos[i, t] = (ROW0 + SIDE / 2, c0 + SIDE / 2)
    return x, pos


class CopyLast:
    """Predicts that nothing moves: the seen frames, then the last seen one repeated."""

    def __init__(self):
        self.calls: list[int] = []

    def impute(self, x_seen, steps, generator=None, most_likely=False):
        self.calls.append(x_seen.shape[0])
        rest = x_seen[:, -1:].expand(-1, steps - x_seen.shape[1], *x_seen.shape[2:])
        return torch.cat([x_seen, rest], dim=1)

    def reconstruct(self, x):
        return x


class CoinFlips(CopyLast):
    """Predicts every missing pixel by a coin flip from the generator (all off if most likely)."""

    def impute(self, x_seen, steps, generator=None, most_likely=False):
        b, t = x_seen.shape[:2]
        shape = (b, steps - t, *x_seen.shape[2:])
        if most_likely:
            rest = torch.zeros(shape)
        else:
            rest = (torch.rand(shape, generator=generator) > 0.5).float()
        return torch.cat([x_seen, rest], dim=1)


def wrong_by_hand(d: int) -> float:
    """Wrong-pixel fraction of a square of side SIDE predicted d pixels behind where it is:
    the symmetric difference of two squares shifted by d columns."""
    return 2 * SIDE * min(d, SIDE) / (H * W)


MODALITY = modality_for((H, W, 1))


# -- pure measures ------------------------------------------------------------------------------
def test_wrong_pixel_fraction_on_hand_cases():
    rng = np.random.default_rng(0)
    x = (rng.random((2, 3, 4, 4)) > 0.5).astype(np.float32)
    assert np.array_equal(wrong_pixel_fraction(x, x), np.zeros((2, 3)))
    assert np.array_equal(wrong_pixel_fraction(x, 1 - x), np.ones((2, 3)))
    y = x.copy()
    y[1, 2, 3, 0] = 1 - y[1, 2, 3, 0]
    expected = np.zeros((2, 3))
    expected[1, 2] = 1 / 16
    assert np.allclose(wrong_pixel_fraction(x, y), expected)
    # uint8 frames are read as value / 255, in any layout
    u = (x * 255).astype(np.uint8)[..., None]
    assert np.allclose(wrong_pixel_fraction(u, (y * 255).astype(np.uint8)[..., None]), expected)
    assert np.allclose(wrong_pixel_fraction(u, y[..., None]), expected)
    with pytest.raises(DsaeError):
        wrong_pixel_fraction(x, y[:, :2])


def disk(h: int, w: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    r, c = np.mgrid[0:h, 0:w] + 0.5  # pixel centres
    return ((r - centre[0]) ** 2 + (c - centre[1]) ** 2 <= radius**2).astype(np.float32)


def test_centroids_of_disks_in_every_layout_and_nan_when_empty():
    centres = [(10.3, 7.8), (20.0, 21.5), (5.6, 25.1)]
    frames = np.stack([disk(32, 32, c, 3.5) for c in centres])[None]  # (1, 3, 32, 32)
    frames = np.concatenate([frames, np.zeros_like(frames)])  # sequence 2 empty
    for layout in (frames, frames[:, :, None], frames[..., None]):
        c = centroids(layout)
        assert c.shape == (2, 3, 2)
        assert np.all(np.abs(c[0] - np.array(centres)) < 0.5)
        assert np.isnan(c[1]).all()
    assert np.allclose(
        centroids((frames * 255).astype(np.uint8)), centroids(frames), equal_nan=True
    )
    with pytest.raises(DsaeError):
        centroids(np.zeros((1, 2, 3, 4, 4)))


def test_position_error_is_the_distance_and_nan_where_empty():
    x, pos = moving_square()
    assert np.allclose(position_error(x, pos), 0.0)
    shifted = pos + np.array([3.0, 4.0], dtype=np.float32)
    assert np.allclose(position_error(x, shifted), 5.0)
    x[0, 2] = 0
    err = position_error(x, pos)
    assert np.isnan(err[0, 2]) and np.isfinite(np.delete(err.ravel(), 2)).all()


# -- the curve on a predictor whose answer is known ---------------------------------------------
def test_curve_of_the_copy_last_frame_predictor_matches_the_hand_computed_values():
    x, pos = moving_square()
    missing = list(range(1, T))
    out = imputation_curve(CopyLast(), x, MODALITY, missing, samples=2, positions=pos)
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert out["missing"] == missing and out["observed"] == [T - k for k in missing]
    assert out["samples"] == 2 and out["sequences"] == 3 and out["seq_len"] == T
    for i, k in enumerate(missing):
        per_frame = [wrong_by_hand(d) for d in range(1, k + 1)]  # frame t + d is d px ahead
        assert out["sampled"]["wrong_missing"][i] == pytest.approx(np.mean(per_frame))
        assert out["sampled"]["wrong_all"][i] == pytest.approx(sum(per_frame) / T)
        assert out["sampled"]["wrong_missing_std"][i] == pytest.approx(0.0)
        # the predicted square stays where it was seen: d pixels behind the true centre
        assert out["sampled"]["position_error"][i] == pytest.approx(np.mean(range(1, k + 1)))
        assert out["sampled"]["position_empty"][i] == 0.0
    assert out["most_likely"] == out["sampled"]
    assert out["reconstruction"] == {
        "wrong": 0.0,
        "wrong_std": 0.0,
        "position_error": 0.0,
        "position_error_median": 0.0,
        "position_empty": 0.0,
    }
    by_step = out["by_step"]
    assert by_step["missing"] == T - 1
    assert by_step["sampled"]["wrong"] == pytest.approx([wrong_by_hand(d) for d in range(1, T)])
    assert by_step["most_likely"]["position_error"] == pytest.approx(list(range(1, T)))


def test_curve_without_positions_has_no_position_measures():
    x, _ = moving_square()
    out = imputation_curve(CopyLast(), x, MODALITY, [2, 5], samples=1)
    assert "position_error" not in out["sampled"] and "position_error" not in out["reconstruction"]
    assert set(out["by_step"]["sampled"]) == {"wrong"} and out["by_step"]["missing"] == 5


def test_batching_does_not_change_the_result():
    x, pos = moving_square(5)
    model = CopyLast()
    one = imputation_curve(model, x, MODALITY, [1, 3, 6], samples=2, batch_size=2, positions=pos)
    assert set(model.calls) == {2, 1}  # batches of 2, 2 and 1
    assert imputation_curve(CopyLast(), x, MODALITY, [1, 3, 6], samples=2, positions=pos) == one


def test_same_seed_same_numbers_with_a_stochastic_model():
    x, pos = moving_square()
    run = lambda seed: imputation_curve(  # noqa: E731
        CoinFlips(), x, MODALITY, [1, 4], samples=3, seed=seed, positions=pos
    )
    a = run(0)
    assert run(0) == a and run(1)["sampled"] != a["sampled"]
    # coin flips get about half the pixels wrong; predicting nothing wrongs only the square
    assert all(0.4 < v < 0.6 for v in a["sampled"]["wrong_missing"])
    assert a["most_likely"]["wrong_missing"] == pytest.approx([SIDE**2 / (H * W)] * 2)
    assert a["most_likely"]["position_empty"] == [1.0, 1.0]
    assert a["most_likely"]["position_error"] == [None, None]


def test_curve_rejects_bad_arguments():
    x, pos = moving_square()
    for missing in ([0], [T], []):
        with pytest.raises(DsaeError, match="missing"):
            imputation_curve(CopyLast(), x, MODALITY, missing)
    with pytest.raises(DsaeError, match="positions"):
        imputation_curve(CopyLast(), x, MODALITY, [1], positions=pos[:, :2])
    with pytest.raises(DsaeError, match="samples"):
        imputation_curve(CopyLast(), x, MODALITY, [1], samples=0)


def test_impute_sequences_for_pictures():
    x, pos = moving_square()
    out = impute_sequences(CoinFlips(), x, MODALITY, observed=5, samples=2, positions=pos)
    assert set(out) == {
        "truth",
        "reconstruction",
        "most_likely",
        "samples",
        "observed",
        "positions",
    }
    assert out["samples"].shape == (2, *x.shape) and out["samples"].dtype == np.uint8
    assert np.array_equal(out["truth"], x) and np.array_equal(out["reconstruction"], x)
    assert int(out["observed"]) == 5 and np.array_equal(out["positions"], pos)
    assert np.array_equal(out["samples"][:, :, :5], np.stack([x[:, :5]] * 2))
    assert not out["most_likely"][:, 5:].any()
    again = impute_sequences(CoinFlips(), x, MODALITY, observed=5, samples=2)
    assert np.array_equal(again["samples"], out["samples"]) and "positions" not in again


# -- the protocol ---------------------------------------------------------------------------------
class NoDynamics(SequentialVAE):
    """A sequential VAE that cannot continue its dynamics (the base class's continue_z)."""

    frame_shape = (1, H, W)


class WithDynamics(NoDynamics):
    def continue_z(self, z_seen, steps, generator=None, most_likely=False):
        return z_seen[:, -1:].expand(-1, steps, -1)


def balls_split(n: int = 4, binary: bool = True, states: bool = True) -> SequenceSplit:
    x, pos = moving_square(n)
    info = {"binary": True} if binary else {}
    meta = DatasetMeta("squares", T, (H, W, 1), {}, {}, info=info)
    split = SequenceSplit(x=x, static=np.zeros((n, 0), dtype=np.int64), dynamic={}, meta=meta)
    if states:
        split.states = {"position": pos}  # the per-frame states of a simulated dataset
    return split


def test_the_protocol_runs_on_binary_frames_with_a_model_that_continues_its_dynamics():
    spec = PROTOCOLS["imputation"]
    assert spec.binary and not spec.judge and not spec.sampler
    assert can_impute(WithDynamics()) and can_impute(CopyLast())
    assert not can_impute(NoDynamics()) and not can_impute(object())
    split = balls_split()
    chosen, skipped = select_protocols(split.meta, False, WithDynamics())
    assert "imputation" in chosen and "imputation" not in skipped
    _, skipped = select_protocols(balls_split(binary=False).meta, False, WithDynamics())
    assert skipped["imputation"] == (
        "needs binary frames (meta.info binary), which squares does not have"
    )
    _, skipped = select_protocols(split.meta, False, NoDynamics())
    assert "NoDynamics" in skipped["imputation"] and "\n" not in skipped["imputation"]


def test_default_missing_counts():
    assert default_missing(30) == [*range(1, 11), 15, 20, 25, 29]
    assert default_missing(8) == list(range(1, 8))
    assert default_missing(2) == [1]


def test_the_protocol_reads_positions_from_the_split_states():
    ctx = EvalContext(CopyLast(), balls_split(), None, encoding=None, data_proba=None, batch_size=3)
    out = PROTOCOLS["imputation"].run(ctx)
    assert out["missing"] == default_missing(T) and out["samples"] == SAMPLES
    assert out["sequences"] == 4 and out["sequences_in_split"] == 4
    assert out["sampled"]["position_error"][0] == pytest.approx(1.0)
    ctx.split = balls_split(states=False)
    out = PROTOCOLS["imputation"].run(ctx)
    assert "position_error" not in out["sampled"]
    assert out["sampled"]["wrong_missing"][0] == pytest.approx(wrong_by_hand(1))


def test_the_protocol_scores_the_first_sequences_only():
    out = imputation_protocol(CopyLast(), balls_split(6), max_sequences=2, samples=1, missing=[3])
    assert out["sequences"] == 2 and out["sequences_in_split"] == 6 and out["missing"] == [3]
