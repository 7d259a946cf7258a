"""Curves against a parameter with their maximisers marked."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dsae.errors import DsaeError
from dsae.viz.curves import CurvePanel, plot_argmax_curves


def test_plot_argmax_curves_writes_one_panel_per_setting(tmp_path):
    x = np.linspace(0.1, 2.0, 20)
    panels = [
        CurvePanel(f"panel {i}", "sigma", x, {"a": -((x - 0.5) ** 2), "b": -((x - 1) ** 2) - 1},
                   argmax={"a": 0.5}, truth=0.6)
        for i in range(3)
    ]  # fmt: skip
    path = plot_argmax_curves(panels, tmp_path / "f.png", {"a": {"color": "red"}}, title="t")
    with Image.open(path) as im:
        assert im.size[1] > im.size[0]  # three panels stacked


def test_plot_argmax_curves_rejects_mismatched_curves(tmp_path):
    panel = CurvePanel("p", "x", [0, 1, 2], {"a": [1, 2]})
    with pytest.raises(DsaeError, match="'a' has"):
        plot_argmax_curves([panel], tmp_path / "f.png")
    with pytest.raises(DsaeError, match="no panels"):
        plot_argmax_curves([], tmp_path / "f.png")
