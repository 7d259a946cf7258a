"""Property tests for the latent disentanglement metrics (disentanglement_lib style)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import mutual_info_score

from dsae.errors import DsaeError
from dsae.eval import latent_metrics as lm
from dsae.eval.latent_summary import latent_report

N = 2000
CLASSES = (4, 6, 2)


def make_factors(seed: int = 0, n: int = N, classes: tuple[int, ...] = CLASSES) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, n) for k in classes], axis=1)


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    return make_factors()


@pytest.fixture(scope="module")
def ideal(factors: np.ndarray) -> np.ndarray:
    """One code dimension per factor: the factor value plus tiny noise."""
    return factors + 0.01 * np.random.default_rng(1).normal(size=factors.shape)


@pytest.fixture(scope="module")
def random_codes() -> np.ndarray:
    return np.random.default_rng(2).normal(size=(N, 6))


def chance(factors: np.ndarray) -> float:
    return float(np.mean([lm.majority_rate(factors[:, k]) for k in range(factors.shape[1])]))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------------------------
# Whole-metric properties


def test_ideal_representation_scores_near_one(ideal: np.ndarray, factors: np.ndarray) -> None:
    scores = lm.dci(ideal, factors, rng())
    assert scores["disentanglement"] > 0.95
    assert scores["completeness"] > 0.95
    assert scores["informativeness_train"] > 0.98
    assert scores["informativeness_test"] > 0.98
    assert lm.mig(ideal, factors)["mig"] > 0.95
    assert lm.sap(ideal, factors, rng())["sap"] > 0.95
    fvae = lm.factor_vae_score(ideal, factors, rng(), n_train=1000, n_eval=500)
    assert fvae["train_accuracy"] > 0.98
    assert fvae["eval_accuracy"] > 0.98


def test_random_representation_scores_near_zero(
    random_codes: np.ndarray, factors: np.ndarray
) -> None:
    scores = lm.dci(random_codes, factors, rng())
    assert scores["disentanglement"] < 0.1
    assert scores["completeness"] < 0.1
    assert abs(scores["informativeness_test"] - chance(factors)) < 0.05
    assert lm.mig(random_codes, factors)["mig"] < 0.02
    assert lm.sap(random_codes, factors, rng())["sap"] < 0.03
    fvae = lm.factor_vae_score(random_codes, factors, rng(), n_train=1000, n_eval=1000)
    assert fvae["chance"] == pytest.approx(1.0 / factors.shape[1])
    assert abs(fvae["eval_accuracy"] - fvae["chance"]) < 0.07


def test_duplicating_a_dimension_lowers_mig(ideal: np.ndarray, factors: np.ndarray) -> None:
    duplicated = np.concatenate([ideal, ideal[:, :1]], axis=1)
    before = lm.mig(ideal, factors)
    after = lm.mig(duplicated, factors)
    assert after["per_factor"][0] < 0.01
    assert after["per_factor"][1:] == pytest.approx(before["per_factor"][1:], abs=0.01)
    assert after["mig"] < before["mig"] - 0.3
    # SAP's gap between the two best dimensions vanishes the same way.
    assert lm.sap(duplicated, factors, rng())["per_factor"][0] < 0.02


def test_rotation_lowers_dci_disentanglement(ideal: np.ndarray, factors: np.ndarray) -> None:
    standardised = (ideal - ideal.mean(axis=0)) / ideal.std(axis=0)
    rotation, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    mixed = standardised @ rotation
    aligned = lm.dci(ideal, factors, rng())
    rotated = lm.dci(mixed, factors, rng())
    assert rotated["disentanglement"] < aligned["disentanglement"] - 0.4
    assert rotated["completeness"] < aligned["completeness"] - 0.4
    assert rotated["informativeness_test"] > 0.95  # mixing loses no information


def test_factor_vae_ignores_collapsed_dimensions(ideal: np.ndarray, factors: np.ndarray) -> None:
    collapsed = 1e-4 * np.random.default_rng(4).normal(size=(N, 1))
    scores = lm.factor_vae_score(
        np.concatenate([ideal, collapsed], axis=1), factors, rng(), n_train=500, n_eval=500
    )
    assert scores["num_active_dims"] == 3
    assert scores["eval_accuracy"] > 0.98
    constant = lm.factor_vae_score(np.zeros((N, 2)), factors, rng(), n_train=10, n_eval=10)
    assert constant["eval_accuracy"] == 0.0
    assert constant["num_active_dims"] == 0.0


@pytest.mark.parametrize(
    "metric",
    [
        lambda c, f, r: lm.dci(c, f, r),
        lambda c, f, r: lm.mig(c, f, r, max_points=500),
        lambda c, f, r: lm.sap(c, f, r),
        lambda c, f, r: lm.factor_vae_score(c, f, r, n_train=300, n_eval=300),
        lambda c, f, r: {"acc": lm.predictability(c, f[:, 1], r)},
    ],
    ids=["dci", "mig", "sap", "factor_vae", "predictability"],
)
def test_same_seed_same_result(metric, factors: np.ndarray) -> None:
    codes = factors + 0.8 * np.random.default_rng(5).normal(size=factors.shape)
    first = metric(codes, factors, rng(7))
    second = metric(codes, factors, rng(7))
    assert first == second
    for value in first.values():  # plain Python floats, not numpy scalars
        assert (
            all(type(v) is float for v in value)
            if isinstance(value, list)
            else type(value) is float
        )


def test_subsampling_keeps_the_score(ideal: np.ndarray, factors: np.ndarray) -> None:
    full = lm.dci(ideal, factors, rng())
    small = lm.dci(ideal, factors, rng(), max_points=300)
    assert small["disentanglement"] == pytest.approx(full["disentanglement"], abs=0.05)
    assert lm.sap(ideal, factors, rng(), max_points=300)["sap"] > 0.9


def test_predictability_informative_vs_noise(factors: np.ndarray) -> None:
    labels = factors[:, 1]
    informative = np.random.default_rng(6).normal(size=(N, 8))
    informative[:, 3] += 4.0 * labels  # one dimension separates the classes linearly
    assert lm.predictability(informative, labels, rng()) > 0.95
    noise = np.random.default_rng(7).normal(size=(N, 8))
    assert abs(lm.predictability(noise, labels, rng()) - lm.majority_rate(labels)) < 0.06


def test_latent_report_is_json_serialisable() -> None:
    n = 400
    static_factors = make_factors(seed=10, n=n, classes=(3, 4))
    dynamic_factors = make_factors(seed=11, n=n, classes=(5,))
    noise = np.random.default_rng(12)
    static_codes = np.concatenate(
        [static_factors + 0.05 * noise.normal(size=(n, 2)), noise.normal(size=(n, 2))], axis=1
    )
    dynamic_codes = np.repeat(dynamic_factors, 4, axis=1) + 0.5 * noise.normal(size=(n, 4))
    report = latent_report(
        static_codes,
        static_factors,
        dynamic_codes,
        dynamic_factors,
        rng(),
        static_names=["skin", "hair"],
        dynamic_names=["action"],
    )
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report
    assert set(report) == {"static", "dynamic", "cross", "meta"}
    assert set(report["static"]) == {"dci", "mig", "sap", "factor_vae", "predictability"}
    assert set(report["cross"]["static_to_dynamic"]) == {"action"}
    assert set(report["cross"]["dynamic_to_static"]) == {"skin", "hair"}
    # f was built from the static factors only and z from the action only.
    assert report["static"]["predictability"]["skin"]["accuracy"] > 0.95
    assert report["dynamic"]["predictability"]["action"]["accuracy"] > 0.95
    for cross in report["cross"].values():
        for entry in cross.values():
            assert entry["accuracy"] < entry["chance"] + 0.12

    def leaves(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from leaves(value)
        elif isinstance(node, list):
            for value in node:
                yield from leaves(value)
        else:
            yield node

    metrics = {key: report[key] for key in ("static", "dynamic", "cross")}
    assert all(type(leaf) is float for leaf in leaves(metrics))


def test_latent_report_is_deterministic() -> None:
    n = 200
    factors = make_factors(seed=13, n=n, classes=(3, 2))
    codes = factors + 0.3 * np.random.default_rng(14).normal(size=factors.shape)
    args = (codes, factors[:, :1], codes[:, ::-1], factors[:, 1:])
    names = {"static_names": ["a"], "dynamic_names": ["b"]}
    assert latent_report(*args, rng(3), **names) == latent_report(*args, rng(3), **names)


# ------------------------------------------------------------------------------------------
# Input validation


@pytest.mark.parametrize(
    ("codes", "factors"),
    [
        (np.zeros((50, 3)), np.zeros((49, 2), dtype=int)),  # row mismatch
        (np.full((50, 3), np.nan), np.arange(100).reshape(50, 2) % 3),  # NaN codes
        (np.zeros(50), np.arange(50) % 2),  # 1-D codes
        (np.zeros((50, 3)), np.full((50, 1), 0.5) + np.arange(50)[:, None] % 2),  # non-integer
        (np.zeros((50, 3)), np.zeros((50, 1), dtype=int)),  # constant factor
        (np.zeros((5, 3)), np.arange(5)[:, None] % 2),  # too few rows
    ],
    ids=["rows", "nan", "1d", "non-integer", "constant", "too-few"],
)
def test_bad_inputs_raise_value_error(codes: np.ndarray, factors: np.ndarray) -> None:
    for call in (
        lambda: lm.dci(codes, factors, rng()),
        lambda: lm.mig(codes, factors),
        lambda: lm.sap(codes, factors, rng()),
        lambda: lm.factor_vae_score(codes, factors, rng(), n_train=5, n_eval=5),
    ):
        with pytest.raises(ValueError):
            call()


def test_other_bad_arguments_raise(ideal: np.ndarray, factors: np.ndarray) -> None:
    with pytest.raises(ValueError, match="train_frac"):
        lm.dci(ideal, factors, rng(), train_frac=1.0)
    with pytest.raises(ValueError, match="labels"):
        lm.predictability(ideal, factors, rng())  # labels must be one column
    with pytest.raises(ValueError, match="Generator"):
        lm.sap(ideal, factors, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="static_names"):
        latent_report(ideal, factors, ideal, factors, rng(), ["a"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="same rows"):
        latent_report(ideal, factors, ideal[:100], factors[:100], rng(), "abc", "abc")
    with pytest.raises(DsaeError):  # the CLI reports it as a user error
        lm.mig(ideal[:, 0], factors)


# ------------------------------------------------------------------------------------------
# Numeric cores against independent computations


def test_discrete_mutual_info_matches_sklearn() -> None:
    gen = np.random.default_rng(20)
    binned = gen.integers(0, 5, size=(300, 4))
    labels = np.stack([gen.integers(0, 3, 300), binned[:, 2] // 2], axis=1)
    mi = lm.discrete_mutual_info(binned, labels)
    expected = np.array(
        [[mutual_info_score(labels[:, k], binned[:, d]) for k in range(2)] for d in range(4)]
    )
    np.testing.assert_allclose(mi, expected, atol=1e-12)


def test_discrete_entropy_matches_scipy() -> None:
    labels = np.random.default_rng(21).integers(0, 7, size=(500, 2))
    expected = [scipy.stats.entropy(np.bincount(labels[:, k])) for k in range(2)]
    np.testing.assert_allclose(lm.discrete_entropy(labels), expected, rtol=1e-12)


def test_histogram_discretize_matches_numpy_histogram_edges() -> None:
    codes = np.random.default_rng(22).normal(size=(400, 3))
    codes[:, 2] = 1.5  # constant column: one bin
    binned = lm.histogram_discretize(codes, n_bins=7)
    for d in range(2):
        edges = np.histogram(codes[:, d], bins=7)[1]
        np.testing.assert_array_equal(binned[:, d], np.digitize(codes[:, d], edges[:-1]) - 1)
    assert np.all(binned[:, 2] == 0)


def test_dci_scores_of_known_importance_matrices() -> None:
    assert lm.disentanglement_from_importance(np.eye(3)) == pytest.approx(1.0)
    assert lm.completeness_from_importance(np.eye(3)) == pytest.approx(1.0)
    assert lm.disentanglement_from_importance(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-12)
    assert lm.completeness_from_importance(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-12)
    # One code used for two factors: disentanglement drops, completeness stays 1.
    r = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert lm.disentanglement_from_importance(r) == pytest.approx(0.0, abs=1e-12)
    assert lm.completeness_from_importance(r) == pytest.approx(1.0)
    # A generic matrix against the definition evaluated with scipy.
    r = np.array([[0.6, 0.1, 0.0], [0.2, 0.5, 0.1], [0.2, 0.4, 0.9], [0.0, 0.0, 0.0]])
    d_i = 1 - scipy.stats.entropy(r[:3].T, base=3)
    rho = r[:3].sum(axis=1) / r.sum()
    c_j = 1 - scipy.stats.entropy(r, base=4)
    assert lm.disentanglement_from_importance(r) == pytest.approx(np.sum(d_i * rho))
    assert lm.completeness_from_importance(r) == pytest.approx(np.sum(c_j * r.sum(0) / r.sum()))


def test_mig_and_sap_gaps_from_matrices() -> None:
    mi = np.array([[0.9, 0.1], [0.3, 0.2], [0.0, 0.6]])
    np.testing.assert_allclose(lm.mig_from_mutual_info(mi, np.array([1.2, 0.8])), [0.5, 0.5])
    np.testing.assert_allclose(lm.mig_from_mutual_info(mi[:1], np.ones(2)), [0.9, 0.1])
    np.testing.assert_allclose(lm.sap_from_score_matrix(mi), [0.6, 0.4])


def test_majority_vote_accuracy_and_rate() -> None:
    train = np.array([[8, 1, 0], [2, 9, 5]])  # dims 0 -> factor 0, 1 -> 1, 2 -> 1
    evaluation = np.array([[4, 0, 1], [1, 3, 1]])
    train_acc, eval_acc = lm.majority_vote_accuracy(train, evaluation)
    assert train_acc == pytest.approx(22 / 25)
    assert eval_acc == pytest.approx(8 / 10)
    assert lm.majority_rate(np.array([3, 3, 1, 3])) == pytest.approx(0.75)


def test_factor_vae_votes_follow_the_fixed_factor(ideal: np.ndarray, factors: np.ndarray) -> None:
    normalised = ideal / ideal.std(axis=0)
    votes = lm.factor_vae_votes(normalised, factors, rng(), n_votes=300, batch_size=32)
    assert votes.sum() == 300
    assert np.count_nonzero(votes - np.diag(np.diag(votes))) == 0
