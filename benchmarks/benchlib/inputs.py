"""The benchmark's inputs: the dataset (built when missing, the build timed) and the judge
that scores generations (trained when missing, its accuracies recorded)."""

from __future__ import annotations

import time
from pathlib import Path

from dsae.config import Config, load_config
from dsae.data import build_dataset, fingerprint, load_meta
from dsae.eval import check_judge_matches, load_judge, save_judge, train_judge
from dsae.eval.judge_archs import judge_family


def bench_config(
    config: str, overrides: list[str], data_dir: Path, extra: tuple[str, ...] = ()
) -> Config:
    """The config with the user's overrides, on ``data_dir`` (never built by the loop)."""
    data = [f"data.root={data_dir}", "data.build_if_missing=false"]
    return load_config(config, [*overrides, *data, *extra])


def ensure_data(cfg: Config, data_dir: Path, source: str | None, progress: bool) -> dict:
    """Build the config's dataset into ``data_dir`` unless it is there; time the build."""
    built, build_s = False, 0.0
    if not (data_dir / "meta.json").is_file():
        t0 = time.perf_counter()
        build_dataset(
            cfg.data.name,
            data_dir,
            source=source if source is not None else cfg.data.source,
            image_size=cfg.data.image_size,
            n_train=cfg.data.n_train,
            n_test=cfg.data.n_test,
            seed=cfg.data.seed,
            progress=progress,
        )
        built, build_s = True, time.perf_counter() - t0
    meta = load_meta(data_dir)
    return {
        "dir": str(data_dir.resolve()),
        "name": meta.name,
        "fingerprint": fingerprint(data_dir),
        "frame_shape": list(meta.frame_shape),
        "static_factors": meta.static_factors,
        "dynamic_factors": meta.dynamic_factors,
        "built": built,
        "build_time_s": round(build_s, 3),
    }


def ensure_judge(path: Path, data_dir: Path, epochs: int, progress: bool) -> dict:
    """Train and save a judge at ``path`` unless one for this data is there; its record
    (with its family, e.g. ``rnn``)."""
    trained, train_s = False, 0.0
    if not path.is_file():
        t0 = time.perf_counter()
        judge, info = train_judge(data_dir, epochs=epochs, progress=progress)
        save_judge(path, judge, load_meta(data_dir), fingerprint(data_dir), info)
        trained, train_s = True, time.perf_counter() - t0
    loaded = load_judge(path)
    check_judge_matches(loaded, data_dir)
    return {
        "path": str(path.resolve()),
        "family": judge_family(loaded.judge.arch),
        "trained": trained,
        "train_time_s": round(train_s, 3),
        "judge_train_time_s": loaded.info.get("train_time_s"),
        "epochs": loaded.info.get("epochs"),
        "test_accuracy": loaded.info.get("test_accuracy", {}),
    }
