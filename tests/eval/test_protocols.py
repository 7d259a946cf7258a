"""Evaluation protocols: the numeric helpers against hand-computed values, the protocols on
a constructed dataset whose labels can be read off its pixels, and ``dsae evaluate`` end to
end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import entropy as scipy_entropy
from torch import nn

from dsae.cli.main import main
from dsae.config import Config, ModelConfig
from dsae.data.base import DatasetMeta, SequenceSplit, fingerprint, write_dataset_dir
from dsae.errors import DsaeError
from dsae.eval.judge import Judge, save_judge
from dsae.eval.protocols import (
    balanced_subset,
    compare_predictions,
    disagreement,
    entropy,
    evaluate_run,
    format_generation,
    format_swap,
    format_table1,
    generation_protocol,
    inception_score,
    kl_divergence,
    label_entropies,
    latent_protocol,
    reconstruction_protocol,
    swap_partners,
    swap_protocol,
    table1_protocol,
    to_json_safe,
    trajectories_protocol,
)
from dsae.models import DSAE

SIZE, T = 16, 4
STATIC = {"colour": 3, "shape": 2}
DYNAMIC = {"action": 4}
# Where each factor is written: (rows, cols, channel) of a block holding the level of its class.
REGIONS = {
    "colour": (slice(0, 8), slice(0, 8), 0),
    "shape": (slice(0, 8), slice(8, 16), 1),
    "action": (slice(8, 16), slice(0, 16), 2),
}
LAYOUT = {
    "run", "checkpoint_step", "dataset", "config", "judge", "seeds", "versions", "timing",
    "plots", "reconstruction", "table1", "generation", "swap", "latent",
}  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# -- a dataset whose labels are pixel intensities, and the judge that reads them -------------
def level(v: np.ndarray, k: int) -> np.ndarray:
    """Intensity in [0, 1] that codes class v of k: the centre of its bin."""
    return (np.asarray(v) + 0.5) / k


def coded_split(
    static: np.ndarray, action: np.ndarray, seed: int = 0, size: int = SIZE
) -> SequenceSplit:
    """Frames with one block per factor at its class's level; action (N,) or per frame (N, T)."""
    n = static.shape[0]
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.05, (n, T, size, size, 3))
    act = action if action.ndim == 2 else np.repeat(action[:, None], T, axis=1)
    levels = {
        "colour": np.repeat(level(static[:, :1], 3), T, axis=1),
        "shape": np.repeat(level(static[:, 1:], 2), T, axis=1),
        "action": level(act, 4),
    }
    for name, (r, c, ch) in REGIONS.items():
        x[:, :, r, c, ch] = levels[name][:, :, None, None]
    meta = DatasetMeta("coded", T, (size, size, 3), dict(STATIC), dict(DYNAMIC))
    return SequenceSplit(
        x=np.round(x * 255).astype(np.uint8), static=static, dynamic={"action": action}, meta=meta
    )


def balanced_labels(n_per_action: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    action = np.repeat(np.arange(4), n_per_action)
    n = action.size
    static = np.stack([rng.integers(0, 3, n), rng.integers(0, 2, n)], axis=1)
    return static, action


class Oracle:
    """A judge that reads each factor's class off its block: a smooth softmax around the level."""

    factor_names = [*STATIC, *DYNAMIC]
    n_classes = {**STATIC, **DYNAMIC}

    def __init__(self):
        self.rows_seen = 0

    def _frame_logits(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for name, (r, c, ch) in REGIONS.items():
            k = self.n_classes[name]
            m = x[:, :, r, c, ch].astype(np.float64).mean(axis=(2, 3)) / 255.0  # (N, T)
            out[name] = -(((m[..., None] - level(np.arange(k), k)) * 2 * k) ** 2)
        return out

    @staticmethod
    def _softmax(a: np.ndarray) -> np.ndarray:
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def predict_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.rows_seen += x.shape[0]
        return {k: self._softmax(v.mean(axis=1)) for k, v in self._frame_logits(x).items()}

    def predict_frame_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {k: self._softmax(v) for k, v in self._frame_logits(x).items()}


class LabelCodec(nn.Module):
    """A perfectly disentangled stand-in model: f holds the static levels, z_t the action's."""

    frame_shape = (SIZE, SIZE, 3)
    is_image = True

    def encode(self, x: torch.Tensor):  # x: (B, T, C, H, W)
        from dsae.models import Encoding

        blocks = {k: x[:, :, ch, r, c].mean(dim=(-2, -1)) for k, (r, c, ch) in REGIONS.items()}
        f = torch.stack([blocks["colour"][:, 0], blocks["shape"][:, 0]], dim=1)
        z = blocks["action"].unsqueeze(-1)
        return Encoding(f, torch.zeros_like(f), z, torch.zeros_like(z))

    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, t = z.shape[:2]
        x = torch.zeros(b, t, 3, SIZE, SIZE)
        x[:, :, 0, :8, :8] = f[:, 0, None, None, None]
        x[:, :, 1, :8, 8:] = f[:, 1, None, None, None]
        x[:, :, 2, 8:, :] = z[:, :, 0, None, None]
        return x

    def sample_f(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.rand(batch, 2, generator=generator)

    def sample_z(self, batch: int, steps: int, generator: torch.Generator | None = None):
        return torch.rand(batch, 1, 1, generator=generator).expand(batch, steps, 1)


def tiny_model(size: int = SIZE) -> DSAE:
    torch.manual_seed(0)
    cfg = ModelConfig(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=4, z_dim=3)
    return DSAE(cfg, (size, size, 3)).eval()


@pytest.fixture(scope="module")
def split() -> SequenceSplit:
    return coded_split(*balanced_labels(6, seed=1), seed=1)  # 24 sequences, 6 per action


# -- the numeric core ----------------------------------------------------------------------
def test_kl_and_entropy_against_hand_values_and_scipy():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert kl_divergence(p, q)[0] == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    rng = np.random.default_rng(0)
    a, b = rng.dirichlet(np.ones(5), 7), rng.dirichlet(np.ones(5), 7)
    np.testing.assert_allclose(kl_divergence(a, b), scipy_entropy(a, b, axis=1), rtol=1e-10)
    np.testing.assert_allclose(entropy(a), scipy_entropy(a, axis=1), rtol=1e-10)
    assert kl_divergence(a, a) == pytest.approx(np.zeros(7), abs=1e-12)
    assert entropy(np.full(6, 1 / 6))[0] == pytest.approx(math.log(6))
    assert entropy(np.eye(3)) == pytest.approx(np.zeros(3))
    # a judge's exact zero gives a large but finite KL
    assert np.isfinite(kl_divergence(np.array([0.5, 0.5]), np.array([1.0, 0.0]))).all()


def test_inception_score_and_label_entropies():
    k = 4
    confident = np.repeat(np.eye(k), 3, axis=0)  # perfectly confident, balanced
    assert inception_score(confident) == pytest.approx(k)
    assert label_entropies(confident) == pytest.approx((0.0, math.log(k)))
    uniform = np.full((12, k), 1 / k)
    assert inception_score(uniform) == pytest.approx(1.0)
    assert label_entropies(uniform) == pytest.approx((math.log(k), math.log(k)))
    collapsed = np.tile(np.eye(k)[0], (12, 1))  # confident but always the same class
    assert inception_score(collapsed) == pytest.approx(1.0)
    assert label_entropies(collapsed) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_disagreement_and_table1_row():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(6), 20)
    assert disagreement(p, p) == 0.0
    assert disagreement(np.eye(3), np.roll(np.eye(3), 1, axis=0)) == 100.0
    row = compare_predictions(p, p)
    assert row["disagreement"] == 0.0 and row["kl_recon"] == pytest.approx(0.0, abs=1e-12)
    expected = np.mean([scipy_entropy(np.full(6, 1 / 6), pi) for pi in p])
    assert row["kl_random"] == pytest.approx(expected)


def test_balanced_subset():
    labels = np.array([0] * 5 + [2] * 2 + [1] * 3 + [3] * 4)
    idx = balanced_subset(labels, np.random.default_rng(0))
    assert np.all(np.diff(idx) > 0)  # sorted, no repeats
    assert np.bincount(labels[idx]).tolist() == [2, 2, 2, 2]
    assert np.array_equal(idx, balanced_subset(labels, np.random.default_rng(0)))
    assert balanced_subset(np.arange(4).repeat(3), np.random.default_rng(0)).size == 12


def test_json_safe_values():
    safe = to_json_safe({"a": np.float32("nan"), "b": [np.int64(3), np.inf], "c": Path("x")})
    assert safe == {"a": None, "b": [3, None], "c": "x"}
    assert type(safe["b"][0]) is int


# -- the protocols with a perfectly disentangled stand-in model ----------------------------
def test_perfect_codec_keeps_what_it_should(split, tmp_path):
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
    rec = reconstruction_protocol(codec, split, oracle)
    assert rec["mse"] < 1e-3 and rec["psnr"] > 30  # only the background noise is lost
    assert all(v == 100.0 for v in rec["judge_accuracy"].values())
    traj = trajectories_protocol(codec, oracle, T, seed=0, groups=3, per_group=4, out_dir=tmp_path)
    for name in STATIC:
        assert traj["fixed_f"]["agreement"][name] == 1.0
        assert traj["fixed_f"]["constant_over_time"][name] == 1.0
    assert traj["fixed_z"]["agreement"]["action"] == 1.0
    assert traj["plots"] == ["trajectories_fixed_f.png", "trajectories_fixed_z.png"]
    assert all((tmp_path / p).stat().st_size > 0 for p in traj["plots"])


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
    assert rec["psnr_global"] <= rec["psnr"] + 1e-9  # Jensen: log of a mean >= mean of logs
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


# -- evaluate_run and the command line ------------------------------------------------------
def write_coded_dataset(root: Path, size: int = SIZE) -> Path:
    train = coded_split(*balanced_labels(6, seed=4), seed=4, size=size)
    test = coded_split(*balanced_labels(5, seed=5), seed=5, size=size)
    return write_dataset_dir(root, {"train": train, "test": test})


def write_judge(path: Path, data_dir: Path, fp: str | None = None) -> Path:
    from dsae.data.base import load_meta

    meta = load_meta(data_dir)
    torch.manual_seed(0)
    judge = Judge(meta.frame_shape, meta.static_factors, meta.dynamic_factors, channels=[8, 16])
    info = {"test_accuracy": {k: 0.5 for k in (*STATIC, *DYNAMIC)}, "epochs": 0}
    return save_judge(path, judge.eval(), meta, fp or fingerprint(data_dir), info)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> dict[str, Path]:
    from dsae.train import train

    root = tmp_path_factory.mktemp("evaluate")
    data = write_coded_dataset(root / "data")
    cfg = Config.from_dict(
        {
            "data": {"root": str(data), "build_if_missing": False},
            "model": {"channels": [8, 16], "frame_dim": 16, "hidden_dim": 16, "f_dim": 4,
                      "z_dim": 3},
            "train": {"max_steps": 2, "batch_size": 8, "lr_warmup_steps": 1, "threads": 1,
                      "progress": False, "log_every": 1},
        }
    )  # fmt: skip
    train(cfg, root / "run")
    judge = write_judge(root / "judge.pt", data)
    return {"root": root, "data": data, "run": root / "run", "judge": judge}


def test_evaluate_run_writes_the_metrics_layout(evaluated):
    out = evaluated["root"] / "eval"
    res = evaluate_run(evaluated["run"], None, evaluated["judge"], out, progress=False)
    text = (out / "metrics.json").read_text()
    metrics = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
    assert metrics == res
    assert set(metrics) == LAYOUT
    assert metrics["checkpoint_step"] == 2 and metrics["run"] == str(evaluated["run"].resolve())
    assert metrics["dataset"]["fingerprint"] == fingerprint(evaluated["data"])
    assert metrics["dataset"]["name"] == "coded" and metrics["dataset"]["same_as_training"]
    assert metrics["config"]["model"]["f_dim"] == 4
    assert metrics["judge"]["info"]["test_accuracy"]["action"] == 0.5
    assert metrics["seeds"]["generation"] == [0, 1, 2]
    assert set(metrics["versions"]) == {"dsae", "torch", "numpy", "scipy", "sklearn", "python"}
    assert {"table1", "generation", "trajectories", "latent", "reconstruction"} <= set(
        metrics["timing"]
    )
    assert all((out / p).is_file() for p in metrics["plots"]) and len(metrics["plots"]) == 2
    assert set(metrics["table1"]["static"]["colour"]) == {"disagreement", "kl_recon", "kl_random"}
    assert set(metrics["table1"]["dynamic"]) == {"action"}
    z = metrics["generation"]["z_kept_f_sampled"]
    assert {"acc", "is", "h_yx", "h_y", "n"} <= set(z) and z["n"] == 20
    assert set(metrics["generation"]["f_kept_z_sampled"]["shape"]) == {"mean", "std"}
    assert {"mse", "psnr", "judge_accuracy"} <= set(metrics["reconstruction"])
    assert {"static", "dynamic", "cross"} <= set(metrics["latent"])


def test_evaluate_run_refuses_bad_inputs(evaluated, tmp_path):
    run, data, judge = evaluated["run"], evaluated["data"], evaluated["judge"]
    other = write_judge(tmp_path / "other.pt", data, fp="0" * 64)
    with pytest.raises(DsaeError, match="another dataset"):
        evaluate_run(run, data, other, tmp_path / "e1", progress=False)
    small = write_coded_dataset(tmp_path / "small", size=8)
    small_judge = write_judge(tmp_path / "small.pt", small)
    with pytest.raises(DsaeError, match="do not match the model"):
        evaluate_run(run, small, small_judge, tmp_path / "e2", progress=False)
    with pytest.raises(DsaeError, match="judge not found"):
        evaluate_run(run, data, tmp_path / "missing.pt", tmp_path / "e3", progress=False)
    with pytest.raises(DsaeError, match="repeats"):
        evaluate_run(run, data, judge, tmp_path / "e4", repeats=1, progress=False)
    with pytest.raises(DsaeError, match="no dataset"):
        evaluate_run(run, tmp_path / "nowhere", judge, tmp_path / "e5", progress=False)
    assert not any((tmp_path / f"e{i}" / "metrics.json").exists() for i in range(1, 6))


def test_cli_evaluate(evaluated, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["evaluate", str(evaluated["run"]), "--judge", str(evaluated["judge"]),
                 "--out", str(out), "--no-progress"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and (out / "metrics.json").is_file()
    assert "KL-recon" in printed and "IS" in printed
    code = main(["evaluate", str(tmp_path / "no_run"), "--judge", str(evaluated["judge"]),
                 "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "run directory not found" in err[0]


# -- swaps --------------------------------------------------------------------------------
class ZOnlyCodec(LabelCodec):
    """A leaky stand-in: z_t carries every factor and the decoder ignores f."""

    def encode(self, x: torch.Tensor):
        from dsae.models import Encoding

        e = LabelCodec.encode(self, x)
        z = torch.cat([e.f_mean.unsqueeze(1).expand(-1, x.shape[1], -1), e.z_mean], dim=-1)
        return Encoding(e.f_mean, e.f_logvar, z, torch.zeros_like(z))

    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return LabelCodec.decode(self, z[:, 0, :2], z[:, :, 2:])


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
