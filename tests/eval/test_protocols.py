"""Evaluation protocols on a constructed dataset whose labels can be read off its pixels: a
perfectly disentangled stand-in model, a leaky one, and an untrained DSAE."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from eval_coded import (
    DYNAMIC,
    STATIC,
    LabelCodec,
    Oracle,
    T,
    ZOnlyCodec,
    balanced_labels,
    coded_split,
    tiny_model,
)

from dsae.data.base import SequenceSplit
from dsae.errors import DsaeError
from dsae.eval.protocols import (
    generation_protocol,
    latent_protocol,
    reconstruction_protocol,
    swap_partners,
    swap_protocol,
    table1_protocol,
    trajectories_protocol,
)
from dsae.eval.scores import compare_predictions
from dsae.eval.text import format_generation, format_swap, format_table1


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def split() -> SequenceSplit:
    return coded_split(*balanced_labels(6, seed=1), seed=1)  # 24 sequences, 6 per action


# -- the protocols with a perfectly disentangled stand-in model ----------------------------
def test_perfect_codec_keeps_what_it_should(split):
    codec, oracle = LabelCodec(), Oracle()
    t1 = table1_protocol(codec, split, oracle, seed=0)
    for group in ("static", "dynamic"):
        for row in t1[group].values():
            assert row["disagreement"] == 0.0
            assert row["kl_recon"] == pytest.approx(0.0, abs=1e-9)
            assert row["kl_random"] > 0.1
    gen = generation_protocol(codec, split, oracle, repeats=3, seed=0)
    z = gen["z_kept_f_sampled"]
    assert z["acc"] == {"mean": 100.0, "std": 0.0}
    assert z["h_y"]["mean"] == pytest.approx(math.log(4))  # balanced, every class recognised
    assert 1.0 < z["is"]["mean"] <= 4.0
    assert all(v == {"mean": 100.0, "std": 0.0} for v in gen["f_kept_z_sampled"].values())
    for v in gen["f_kept_z_sampled_by_frame"].values():
        assert v["mean"] == [100.0] * T and v["std"] == [0.0] * T
    for i, (name, k) in enumerate(STATIC.items()):  # every kept class read as itself
        counts = np.bincount(np.asarray(split.static)[:, i], minlength=k)
        assert gen["f_kept_z_sampled_confusion"][name] == np.diag(3 * counts).tolist()
    assert "most misread" not in format_generation(gen)
    rec = reconstruction_protocol(codec, split, oracle)
    assert rec["mse"] < 1e-3 and rec["psnr"] > 30  # only the background noise is lost
    assert all(v == 100.0 for v in rec["judge_accuracy"].values())
    traj, classes = trajectories_protocol(
        codec, oracle, split.meta.modality, T, seed=0, groups=3, per_group=4
    )
    for name in STATIC:
        assert traj["fixed_f"]["agreement"][name] == 1.0
        assert traj["fixed_f"]["constant_over_time"][name] == 1.0
    assert traj["fixed_z"]["agreement"]["action"] == 1.0
    assert {k: v.shape for k, v in classes.items()} == {
        "static": (3, 4, T, 3),
        "dynamic": (3, 4, T, 3),
    }


def test_sampler_is_used_instead_of_the_model_priors(split):
    """A sampler that always draws class 0 makes every generated sequence show class 0."""

    class Zero:
        def sample_f(self, n, generator=None):
            return torch.tensor([[0.5 / 3, 0.25]]).expand(n, 2)

        def sample_z(self, n, steps, generator=None):
            return torch.full((n, steps, 1), 0.125)

    codec, oracle = LabelCodec(), Oracle()
    gen = generation_protocol(codec, split, oracle, repeats=3, sampler=Zero())
    # z kept: the action is still right; f sampled: every static factor shows class 0
    assert gen["z_kept_f_sampled"]["acc"]["mean"] == 100.0
    t1 = table1_protocol(codec, split, oracle, sampler=Zero())
    assert t1["static"]["colour"]["disagreement"] == 0.0  # f kept
    assert t1["dynamic"]["action"]["disagreement"] == 0.0
    own = table1_protocol(codec, split, oracle)
    assert own == table1_protocol(codec, split, oracle, sampler=codec)
    traj, classes = trajectories_protocol(
        codec, oracle, split.meta.modality, T, groups=2, per_group=3, sampler=Zero()
    )
    assert np.all(classes["static"] == 0) and np.all(classes["dynamic"] == 0)
    _, own_classes = trajectories_protocol(
        codec, oracle, split.meta.modality, T, groups=2, per_group=3
    )
    assert not np.all(own_classes["static"] == 0)  # the model's own priors draw other classes


def test_generation_confusion_shows_what_the_misses_are_read_as(split):
    """A leaky model whose sampled z_1:T code class 0 of every static factor: whatever f is
    kept, the judge reads class 0, and the confusion puts every sequence in column 0."""

    class ClassZero:
        def sample_f(self, n, generator=None):
            return torch.zeros(n, 2)

        def sample_z(self, n, steps, generator=None):  # the levels of class 0: (c + 0.5) / k
            return torch.tensor([0.5 / 3, 0.25, 0.125]).expand(n, steps, 3)

    gen = generation_protocol(ZOnlyCodec(), split, Oracle(), repeats=2, sampler=ClassZero())
    for i, (name, k) in enumerate(STATIC.items()):
        counts = np.bincount(np.asarray(split.static)[:, i], minlength=k)
        expected = np.zeros((k, k), dtype=int)
        expected[:, 0] = 2 * counts
        assert gen["f_kept_z_sampled_confusion"][name] == expected.tolist()
        share0 = 100.0 * counts[0] / counts.sum()
        assert gen["f_kept_z_sampled"][name]["mean"] == pytest.approx(share0)
    assert "(most misread: class 1 as 0 in 100.0 %)" in format_generation(gen)


# -- the protocols on an untrained DSAE ----------------------------------------------------
def test_table1_shapes_and_ranges(split):
    oracle = Oracle()
    t1 = table1_protocol(tiny_model(), split, oracle, seed=0, batch_size=5)
    assert set(t1) == {"static", "dynamic"}
    assert list(t1["static"]) == list(STATIC) and list(t1["dynamic"]) == list(DYNAMIC)
    p_data = oracle.predict_proba(split.x)
    for group in t1.values():
        for name, row in group.items():
            assert set(row) == {"disagreement", "kl_recon", "kl_random"}
            assert 0.0 <= row["disagreement"] <= 100.0 and row["kl_recon"] >= 0.0
            # KL-random depends on the data alone
            assert row["kl_random"] == pytest.approx(
                compare_predictions(p_data[name], p_data[name])["kl_random"]
            )
    text = format_table1(t1)
    assert "disagreement" in text and all(k in text for k in (*STATIC, *DYNAMIC))


def test_generation_uses_every_sequence_and_reports_spread(split, monkeypatch):
    model, oracle = tiny_model(), Oracle()
    decoded = []
    decode = model.decode
    monkeypatch.setattr(model, "decode", lambda f, z: decoded.append(f.shape[0]) or decode(f, z))
    gen = generation_protocol(model, split, oracle, repeats=3, seed=0, batch_size=5)
    n = len(split)
    assert sum(decoded) == 3 * (n + n) and max(decoded) == 5  # a last batch of 4 is kept
    z = gen["z_kept_f_sampled"]
    assert z["factor"] == "action" and z["n"] == n and z["balanced"] is True
    for key in ("acc", "is", "h_yx", "h_y"):
        assert set(z[key]) == {"mean", "std"} and z[key]["std"] >= 0.0
    assert 0.0 <= z["acc"]["mean"] <= 100.0
    assert 1.0 - 1e-9 <= z["is"]["mean"] <= 4.0 + 1e-9
    assert 0.0 <= z["h_y"]["mean"] <= math.log(4) + 1e-9
    assert set(gen["f_kept_z_sampled"]) == set(STATIC)
    assert json.loads(json.dumps(gen)) == gen
    assert "Acc" in format_generation(gen)
    # the same seed gives the same numbers, another seed others
    again = generation_protocol(model, split, oracle, repeats=3, seed=0, batch_size=24)
    assert again == gen
    assert generation_protocol(model, split, oracle, repeats=3, seed=5) != gen


def test_generation_scores_static_factors_frame_by_frame(split, monkeypatch):
    """Generated sequences whose first frame is blank keep f in every frame but the first."""
    codec, oracle = LabelCodec(), Oracle()
    decode = codec.decode

    def blank_first(f, z):
        x = decode(f, z).clone()
        x[:, 0] = 0.5  # a grey frame: no figure, every block at the same level
        return x

    monkeypatch.setattr(codec, "decode", blank_first)
    gen = generation_protocol(codec, split, oracle, repeats=2, seed=0)
    for name, v in gen["f_kept_z_sampled_by_frame"].items():
        assert v["mean"][1:] == [100.0] * (T - 1)
        assert v["mean"][0] < 50.0 and v["min_frame"] == 0
        # the sequence's class (the judge's mean over frames) still holds it
        assert gen["f_kept_z_sampled"][name]["mean"] == 100.0
    assert "weakest frame t = 1" in format_generation(gen)


def test_generation_balances_unbalanced_actions():
    static, action = balanced_labels(6, seed=2)
    action[:4] = 1  # action 0 now has 2 sequences, action 1 has 10
    split = coded_split(static, action, seed=2)
    gen = generation_protocol(tiny_model(), split, Oracle(), repeats=3)
    assert gen["z_kept_f_sampled"]["n"] == 4 * 2


def test_latent_and_reconstruction_protocols(split):
    model = tiny_model()
    lat = latent_protocol(model, split, seed=0)
    assert {"static", "dynamic", "cross", "meta"} <= set(lat)
    assert lat["meta"]["rows"] == "sequences" and lat["meta"]["n_sequences"] == len(split)
    rec = reconstruction_protocol(model, split, Oracle(), batch_size=7)
    assert 0.0 < rec["mse"] < 1.0 and math.isfinite(rec["psnr"]) and rec["n"] == len(split)
    assert rec["modality"] == "image" and rec["averaged_over"] == "sequences"
    # the PSNR is the mean over sequences of 10 log10(1 / MSE_seq) of the stored frames
    with torch.no_grad():
        e = model.encode(split.meta.modality.to_tensor(split.x))
        x_hat = split.meta.modality.to_frames(model.decode(e.f_mean, e.z_mean))
    err = (x_hat.astype(np.float64) - split.x.astype(np.float64)) / 255.0
    mse_seq = (err**2).reshape(len(split), -1).mean(1)
    assert rec["mse"] == pytest.approx(mse_seq.mean(), rel=1e-6)
    assert rec["psnr"] == pytest.approx(np.mean(10 * np.log10(1 / mse_seq)), rel=1e-6)
    assert rec["judge_accuracy_data"] == {k: 100.0 for k in (*STATIC, *DYNAMIC)}
    assert set(rec["judge_accuracy"]) == {*STATIC, *DYNAMIC}
    assert reconstruction_protocol(model, split)["mse"] == pytest.approx(rec["mse"])


def test_per_frame_dynamic_labels(split):
    static, action = balanced_labels(6, seed=3)
    frames = (action[:, None] + np.arange(T)) % 4  # the action changes every frame
    per_frame = coded_split(static, frames, seed=3)
    model, oracle = tiny_model(), Oracle()
    gen = generation_protocol(model, per_frame, oracle, repeats=3)
    assert gen["z_kept_f_sampled"]["balanced"] is False
    assert latent_protocol(model, per_frame)["meta"]["rows"] == "frames"
    codec_rec = reconstruction_protocol(LabelCodec(), per_frame, oracle)
    assert codec_rec["judge_accuracy"]["action"] == 100.0


def test_protocols_refuse_frames_of_another_shape(split):
    with pytest.raises(DsaeError, match="do not match the model"):
        table1_protocol(tiny_model(size=32), split, Oracle())


# -- swaps --------------------------------------------------------------------------------
def test_swap_protocol_scores_which_source_each_factor_comes_from(split):
    oracle = Oracle()
    ideal = swap_protocol(LabelCodec(), split, oracle, seed=0)
    assert ideal["n_pairs"] == len(split)
    for group in ("static", "dynamic"):
        for row in ideal[group].values():
            assert row["acc"] == 100.0 and row["differs"] == 100.0 and row["other_source"] == 0.0
    leaky = swap_protocol(ZOnlyCodec(), split, oracle, seed=0)
    for row in leaky["static"].values():  # every static factor comes from the motion source
        assert row["differs"] == 0.0 and row["other_source"] == 100.0 and row["acc"] < 100.0
    assert leaky["dynamic"]["action"]["acc"] == 100.0
    assert swap_protocol(LabelCodec(), split, oracle, seed=0) == ideal
    text = format_swap(leaky)
    assert "colour kept from the content source" in text and "other source 100.00 %" in text
    assert json.loads(json.dumps(leaky)) == leaky


def test_swap_partners_are_other_sequences():
    for n in (2, 3, 50):
        partner = swap_partners(n, seed=n)
        assert partner.shape == (n,) and partner.min() >= 0 and partner.max() < n
        assert np.all(partner != np.arange(n))
        assert np.array_equal(partner, swap_partners(n, seed=n))
    assert not np.array_equal(swap_partners(50, 0), swap_partners(50, 1))
    one = coded_split(np.zeros((1, 2), dtype=np.int64), np.zeros(1, dtype=np.int64))
    with pytest.raises(DsaeError, match="two sequences"):
        swap_protocol(LabelCodec(), one, Oracle())
