"""Which protocols run on which data (labels, judge, a model that can sample), and
:func:`dsae.eval.evaluate`: the metrics.json structure, one result per sampler."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from eval_coded import (
    STATIC,
    ConstantSampler,
    EncodeOnly,
    LabelCodec,
    Oracle,
    T,
    balanced_labels,
    coded_split,
)

from dsae.data.base import DatasetMeta, SequenceSplit
from dsae.errors import DsaeError
from dsae.eval import PROTOCOLS, evaluate, select_protocols
from dsae.eval.text import format_generation, format_table1

ALL = ["reconstruction", "table1", "generation", "style", "swap", "trajectories", "latent",
       "verification", "imputation", "slowness"]  # fmt: skip
# imputation needs binary frames, style frames dsae can measure: the coded data have neither;
# slowness needs a model with linear dynamics, which the stand-in is not
UNFIT = {"style", "imputation", "slowness"}
LABELLED = [n for n in ALL if n not in UNFIT]
SAMPLED = {"table1", "generation", "style", "trajectories"}
LAYOUT = {"data", "versions", "samplers", "compared_with_published", "judge", "skipped", "seeds",
          "timing"}  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def meta(static: dict[str, int], dynamic: dict[str, int]) -> DatasetMeta:
    return DatasetMeta("coded", T, (16, 16, 3), static, dynamic)


def labelled(static: bool = True, dynamic: bool = True, per_frame: bool = False) -> SequenceSplit:
    s, a = balanced_labels(3, seed=7)  # 12 sequences
    if per_frame:
        a = (a[:, None] + np.arange(T)) % 4
    return coded_split(
        s,
        a,
        seed=7,
        static_factors=None if static else {},
        dynamic_factors=None if dynamic else {},
    )


class StaticOracle(Oracle):
    factor_names = list(STATIC)
    n_classes = dict(STATIC)


# -- selection ------------------------------------------------------------------------------
def test_registry_declares_needs():
    assert list(PROTOCOLS) == ALL
    assert {n for n, s in PROTOCOLS.items() if s.sampler} == SAMPLED
    assert not PROTOCOLS["reconstruction"].judge and not PROTOCOLS["latent"].judge
    assert PROTOCOLS["latent"].static_labels and PROTOCOLS["latent"].dynamic_labels


def test_no_labels_runs_the_label_free_parts_and_says_why_not_the_rest():
    chosen, skipped = select_protocols(meta({}, {}), False, LabelCodec())
    assert chosen == ["reconstruction"]
    assert set(skipped) == set(ALL) - {"reconstruction"}
    assert "static labels" in skipped["latent"] and "dynamic labels" in skipped["latent"]
    assert "no labels" in skipped["table1"]
    assert all("\n" not in r and r for r in skipped.values())


def test_static_labels_only():
    chosen, skipped = select_protocols(meta(dict(STATIC), {}), True, LabelCodec())
    assert chosen == ["reconstruction", "table1", "swap", "trajectories", "verification"]
    assert "dynamic labels" in skipped["generation"] and "dynamic labels" in skipped["latent"]
    chosen, skipped = select_protocols(meta(dict(STATIC), {}), False, LabelCodec())
    assert chosen == ["reconstruction", "verification"] and "judge" in skipped["table1"]


def test_per_frame_labels_run_everything():
    m = meta(dict(STATIC), {"action": 4})
    for frame_labels in (True, False):
        chosen, skipped = select_protocols(m, True, LabelCodec(), frame_labels=frame_labels)
        assert chosen == LABELLED and set(skipped) == UNFIT


def test_a_model_that_cannot_sample_skips_the_sampling_protocols():
    chosen, skipped = select_protocols(meta(dict(STATIC), {"action": 4}), True, EncodeOnly())
    assert set(skipped) == SAMPLED | UNFIT and "sample" in skipped["generation"]
    assert chosen == ["reconstruction", "swap", "latent", "verification"]


# -- evaluate ---------------------------------------------------------------------------------
def test_evaluate_without_labels_or_judge():
    split = labelled(static=False, dynamic=False)
    out = evaluate(LabelCodec(), split)
    assert set(out) == LAYOUT | {"reconstruction"}
    assert out["samplers"] == ["learnt_prior"] and out["compared_with_published"] == "learnt_prior"
    assert out["judge"] is None and "latent" in out["skipped"] and "table1" in out["skipped"]
    assert out["reconstruction"]["mse"] < 1e-3 and "judge_accuracy" not in out["reconstruction"]
    assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_evaluate_static_labels_only():
    out = evaluate(LabelCodec(), labelled(dynamic=False), StaticOracle(), repeats=1)
    assert set(out) == LAYOUT | {"reconstruction", "table1", "swap", "trajectories", "verification"}
    assert set(out["table1"]["learnt_prior"]) == {"static", "dynamic"}
    assert out["table1"]["learnt_prior"]["dynamic"] == {}
    assert set(out["skipped"]) == {"generation", "latent"} | UNFIT


def test_evaluate_per_frame_labels():
    out = evaluate(LabelCodec(), labelled(per_frame=True), Oracle(), repeats=1)
    assert out["data"]["frame_labels"] is True and set(out["skipped"]) == UNFIT
    z = out["generation"]["learnt_prior"]["z_kept_f_sampled"]
    assert z["balanced"] is False and z["acc"]["mean"] == 100.0
    assert out["latent"]["meta"]["rows"] == "frames"


def test_one_row_per_sampler_learnt_prior_first():
    codec, split = LabelCodec(), labelled()
    seen: list[str] = []
    out = evaluate(
        codec,
        split,
        Oracle(),
        {"constant": ConstantSampler(), "learnt_prior": codec},
        repeats=1,
        on_trajectories=lambda name, classes, names: seen.append(name),
    )
    assert out["samplers"] == ["learnt_prior", "constant"]
    assert out["compared_with_published"] == "learnt_prior"
    assert seen == ["learnt_prior", "constant"]
    for key in SAMPLED - UNFIT:
        assert list(out[key]) == ["learnt_prior", "constant"]
    assert "learnt_prior" not in out["swap"] and "learnt_prior" not in out["latent"]
    # two different samplers give two different rows
    assert out["trajectories"]["constant"] != out["trajectories"]["learnt_prior"]
    assert out["trajectories"]["constant"]["fixed_z"]["agreement"]["colour"] == 1.0
    gen = out["generation"]
    assert gen["constant"]["z_kept_f_sampled"]["acc"]["mean"] == 100.0  # z kept: action right
    # a perfectly disentangled model: the kept part decides Table 1, whatever the sampler
    t1 = out["table1"]
    assert t1["constant"]["dynamic"]["action"] == t1["learnt_prior"]["dynamic"]["action"]
    text = format_generation(gen, out["compared_with_published"])
    lines = [ln for ln in text.splitlines() if "Acc" in ln]
    assert len(lines) == 2 and "learnt_prior *" in lines[0] and "constant" in lines[1]
    table = format_table1(t1, out["compared_with_published"]).splitlines()
    colour = [ln for ln in table if ln.startswith("colour")]
    assert len(colour) == 2 and "learnt_prior" in colour[0] and "constant" in colour[1]
    # the learnt prior's rows are those of the model's own priors
    alone = evaluate(codec, split, Oracle(), repeats=1, protocols=["generation"])
    assert alone["generation"]["learnt_prior"] == gen["learnt_prior"]
    assert alone["skipped"]["table1"] == "not asked for"


def test_without_learnt_prior_nothing_is_compared_with_published():
    out = evaluate(
        LabelCodec(), labelled(), Oracle(), {"constant": ConstantSampler()}, repeats=1,
        protocols=["table1"],
    )  # fmt: skip
    assert out["samplers"] == ["constant"] and out["compared_with_published"] is None
    assert list(out["table1"]) == ["constant"]


def test_evaluate_refuses_bad_inputs():
    split = labelled()
    with pytest.raises(DsaeError, match="unknown protocols"):
        evaluate(LabelCodec(), split, protocols=["nope"])
    with pytest.raises(DsaeError, match="sample_f"):
        evaluate(LabelCodec(), split, samplers={"learnt_prior": object()})
    with pytest.raises(DsaeError, match="repeats"):
        evaluate(LabelCodec(), split, repeats=0)
