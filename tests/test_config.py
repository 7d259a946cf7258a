import pytest
from conftest import REPO

from dsae.config import Config, load_config
from dsae.errors import DsaeError
from dsae.models import MODELS


def test_yaml_round_trip(tmp_path):
    cfg = Config.from_dict({"model": {"z_dim": 5, "channels": [4, 8]}, "train": {"lr": 1}})
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    path = tmp_path / "c.yaml"
    cfg.save(path)
    assert load_config(path) == cfg


def test_overrides_are_typed(tmp_path):
    cfg = load_config(None, ["train.max_steps=200", "model.encoder=full", "data.source=null"])
    assert cfg.train.max_steps == 200 and cfg.model.encoder == "full" and cfg.data.source is None
    with pytest.raises(DsaeError, match="train.max_steps"):
        load_config(None, ["train.max_steps=lots"])
    with pytest.raises(DsaeError, match="key=value"):
        load_config(None, ["train.max_steps"])


def test_unknown_keys_are_named(tmp_path):
    with pytest.raises(DsaeError, match="'model.zdim'"):
        Config.from_dict({"model": {"zdim": 3}})
    with pytest.raises(DsaeError, match="'optimiser'"):
        Config.from_dict({"optimiser": {}})
    with pytest.raises(DsaeError, match="train.nope"):
        load_config(None, ["train.nope=1"])


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.model.name in MODELS
