"""benchmarks/vem.py end to end on a small study; its results-page section."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> tuple[dict, Path]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        bench = importlib.import_module("vem")
        root = tmp_path_factory.mktemp("vem_bench")
        out = root / "vem-seed0.json"
        args = ["--seeds", "2", "--grid", "9", "--sequences", "60", "--study-dir",
                str(root / "study"), "--out", str(out), "--docs", str(root / "docs"),
                "--no-progress"]  # fmt: skip
        assert bench.main(args) == 0
        yield json.loads(out.read_text()), root
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_record_holds_the_bias_table_and_the_figures(result):
    r, root = result
    assert r["benchmark"] == "vem" and r["settings"]["seeds"] == 2
    assert set(r["bias"]) == set(r["cases"]) and len(r["bias"]) == 5
    for row in r["bias"].values():
        assert {"log_likelihood", "elbo_factorised", "elbo_full"} <= set(row)
        # the linear full encoder reaches its family's best q: the same maximiser
        assert row["elbo_full"]["mean"] == pytest.approx(row["optimal_full"]["mean"], abs=1e-6)
    for case in r["cases"].values():
        assert len(case["argmax"]["log_likelihood"]) == 2  # one per data set
    for name in ("vem_fig3.png", "vem_fig4.png"):
        with Image.open(root / "docs" / "img" / name) as im:
            assert im.size[0] > 200 and im.size[1] > 200
    assert r["command"].startswith("python benchmarks/vem.py") and r["machine"]["cpu"]


def test_the_page_shows_the_table_with_the_amortisation_gap(result, tmp_path):
    r, _ = result
    make_results = importlib.import_module("make_results")
    (tmp_path / "vem-seed0.json").write_text(json.dumps(r))
    page = make_results.render(tmp_path)
    assert "## Variational EM: the bias of the ELBO's maximiser" in page
    row = next(line for line in page.splitlines() if line.startswith("| sigma\\_x=0.3 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    bias = r["bias"]["sigma_x=0.3"]
    gap = bias["elbo_factorised"]["mean"] - bias["optimal_factorised"]["mean"]
    assert float(cells[4]) == pytest.approx(gap, abs=1e-3)
