"""The slow-latents protocol: eigenvalue summaries, per-latent scores, rank correlations and
slow-block swaps, on a stand-in model whose latents and eigenvalues are known."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from eval_coded import REGIONS, SIZE, LabelCodec, Oracle, balanced_labels, coded_split

from dsae.errors import DsaeError
from dsae.eval.protocols import PROTOCOLS, select_protocols, skip_reason
from dsae.eval.protocols.slowness import (
    eigenvalue_summary,
    latent_scores,
    rank_correlation,
    slowness_protocol,
    state_r2,
    swap_grid,
)
from dsae.models import Encoding
from dsae.viz.report_slowness import slowness_tables
from dsae.viz.slowness import plot_slowness

# Posterior eigenvalues of the stand-in's four latents: colour, shape (slow), action, noise.
LAMBDAS = (1.0, 1.02, 0.5, -0.3)


class SlowCodec(LabelCodec):
    """No f; z_t = (colour level, shape level, action level, noise), each decoded into its
    block; the eigenvalues say colour and shape are slow, action and noise fast."""

    f_dim = 0

    def encode(self, x: torch.Tensor) -> Encoding:
        blocks = {k: x[:, :, ch, r, c].mean(dim=(-2, -1)) for k, (r, c, ch) in REGIONS.items()}
        g = torch.Generator().manual_seed(int(x.sum().item()) % 1000)
        noise = torch.rand(x.shape[:2], generator=g)
        z = torch.stack([blocks["colour"], blocks["shape"], blocks["action"], noise], dim=-1)
        f = z.new_zeros(x.shape[0], 0)
        return Encoding(f, f, z, torch.zeros_like(z))

    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, t = z.shape[:2]
        x = torch.zeros(b, t, 3, SIZE, SIZE)
        for i, (r, c, ch) in enumerate(REGIONS.values()):
            x[:, :, ch, r, c] = z[:, :, i, None, None]
        return x

    def eigenvalues(self, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        out = {"prior": torch.tensor([0.99, 0.98, 0.6, 0.0])}
        if x is not None:
            out["posterior"] = torch.tensor(LAMBDAS).expand(x.shape[0], x.shape[1] - 1, 4)
        return out


@pytest.fixture(scope="module")
def split():
    return coded_split(*balanced_labels(30, seed=3), seed=3)  # 120 sequences


def test_eigenvalue_summary_matches_its_definition():
    rng = np.random.default_rng(0)
    post = rng.normal(1.0, [0.01, 0.3, 1.0], size=(50, 7, 3))
    prior = np.array([0.9, 0.5, 1.4])
    s = eigenvalue_summary(post, prior, n_bins=10)
    flat = post.reshape(-1, 3)
    np.testing.assert_allclose(s["slowness"], np.abs(flat - 1).mean(0))
    np.testing.assert_allclose(s["mean"], flat.mean(0))
    assert s["prior"] == prior.tolist()
    counts = np.asarray(s["histogram"]["counts"])
    assert counts.shape == (3, 10) and (counts.sum(1) == 350).all()  # every step in a bin
    edges = s["histogram"]["edges"]
    assert edges[0] <= min(1.0, prior.min()) and edges[-1] >= max(1.0, prior.max())
    assert np.argmax(counts[0]) == np.searchsorted(edges, 1.0) - 1  # the slow one sits at 1


def test_latent_scores_find_the_latent_that_holds_a_factor():
    rng = np.random.default_rng(1)
    n, t = 400, 6
    y = rng.integers(0, 4, n)
    z = rng.normal(size=(n, t, 3))
    z[:, :, 1] = y[:, None] + 0.05 * rng.normal(size=(n, t))  # latent 1 holds y
    per_frame = rng.integers(0, 2, (n, t))
    z[:, :, 2] = per_frame + 0.05 * rng.normal(size=(n, t))  # latent 2 holds a frame label
    out = latent_scores(z, {"y": y, "frame": per_frame}, np.random.default_rng(0))
    assert out["y"]["score"][1] > 0.95 and max(out["y"]["score"][0], out["y"]["score"][2]) < 0.2
    assert out["frame"]["score"][2] > 0.95 and out["frame"]["score"][0] < 0.2
    assert out == latent_scores(z, {"y": y, "frame": per_frame}, np.random.default_rng(0))


def test_state_r2_is_the_squared_correlation_per_component():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(40, 5, 3))
    pos = np.stack([2 * z[..., 0] + 1, rng.normal(size=(40, 5))], axis=-1)
    out = state_r2(z, {"pos": pos})
    assert set(out) == {"pos[0]", "pos[1]"}
    assert out["pos[0]"][0] == pytest.approx(1.0) and max(out["pos[0]"][1:]) < 0.2
    r = np.corrcoef(z[..., 2].ravel(), pos[..., 1].ravel())[0, 1]
    assert out["pos[1]"][2] == pytest.approx(r**2)
    z[..., 1] = 3.0  # a constant latent correlates with nothing
    assert state_r2(z, {"pos": pos})["pos[0]"][1] == 0.0


def test_rank_correlation_and_swap_grid():
    assert rank_correlation(np.array([0.0, 1, 2]), np.array([3.0, 2, 1])) == pytest.approx(-1)
    assert rank_correlation(np.array([0.0, 1, 2]), np.ones(3)) is None
    assert swap_grid(1) == [0, 1] and swap_grid(4) == [0, 1, 2, 3, 4]
    g = swap_grid(32)
    assert g[0] == 0 and g[-1] == 32 and g == sorted(set(g)) and {1, 2, 4, 8, 16, 12} <= set(g)


def test_slow_latents_of_an_ideal_model_carry_the_static_factors(split):
    r = slowness_protocol(SlowCodec(), split, Oracle(), seed=0)
    post, prior = r["posterior"], r["prior"]
    assert post["order"] == [0, 1, 2, 3]  # |lambda - 1| = 0, 0.02, 0.5, 1.3
    assert prior["order"] == [0, 1, 2, 3]  # |lambda - 1| = 0.01, 0.02, 0.4, 1
    scores = r["scores"]
    assert scores["colour"]["score"][0] > 0.9 and scores["shape"]["score"][1] > 0.9
    assert scores["action"]["score"][2] > 0.9
    assert max(s["score"][3] for s in scores.values()) < 0.25  # noise predicts nothing
    assert post["rank_correlation"]["static"] < 0 and r["state_r2"] == {}
    assert prior["rank_correlation"] == post["rank_correlation"]  # the same order
    assert prior["swaps"] == post["swaps"]
    curve = {row["k"]: row for row in post["swaps"]["curve"]}
    assert curve[2]["static_mean"] == 100.0 and curve[2]["dynamic_mean"] == 100.0
    assert post["swaps"]["best_k"] == 2
    assert curve[0]["static_mean"] < 80 and curve[0]["dynamic_mean"] == 100.0  # all from j
    assert curve[4]["static_mean"] == 100.0 and curve[4]["dynamic_mean"] < 50  # all from i
    assert json.loads(json.dumps(r)) == r
    assert slowness_protocol(SlowCodec(), split, Oracle(), seed=0) == r
    unjudged = slowness_protocol(SlowCodec(), split, None, seed=0)
    assert "swaps" not in unjudged["posterior"] and "swaps" not in unjudged["prior"]


def test_states_get_a_rank_correlation_of_their_own(split):
    t = split.meta.seq_len
    act = split.dynamic["action"].astype(np.float64)
    states = {"level": np.repeat(act[:, None, None], t, axis=1)}  # what latent 2 holds
    r = slowness_protocol(SlowCodec(), replace(split, states=states), None, seed=0)
    level = r["state_r2"]["level[0]"]
    assert level[2] == pytest.approx(1.0, abs=1e-3) and max(level[:2]) < 0.1
    slowness = np.asarray(r["eigenvalues"]["slowness"])
    rho = r["posterior"]["rank_correlation"]["state level"]
    assert rho == rank_correlation(slowness, np.asarray(level))


def test_protocol_is_chosen_for_models_with_eigenvalues_only(split):
    spec = PROTOCOLS["slowness"]
    assert skip_reason(spec, split.meta, True, SlowCodec(), False) is None
    assert "linear latent dynamics" in skip_reason(spec, split.meta, True, LabelCodec(), False)
    chosen, _ = select_protocols(split.meta, False, SlowCodec())
    assert "slowness" in chosen
    with pytest.raises(DsaeError, match="no eigenvalues"):
        slowness_protocol(LabelCodec(), split, Oracle())


def test_figure_and_report_show_the_result(split, tmp_path):
    r = slowness_protocol(SlowCodec(), split, Oracle(), seed=0)
    path = plot_slowness(r, tmp_path / "slowness.png", "title")
    assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(DsaeError, match="not a slowness result"):
        plot_slowness({}, tmp_path / "bad.png")
    r["plot"] = "slowness.png"

    class E:
        result = r

    html = slowness_tables([E()], None, tmp_path)
    assert 'id="slowness-latents"' in html and 'id="slowness-swaps-prior"' in html
    assert "2 *" in html  # the best k marked
