"""Latent metrics (DCI, MIG, SAP, FactorVAE, cross-predictability) of the posterior means.

One row per sequence: f against the static labels and z_t averaged over t against the
dynamic ones. When a dynamic factor is labelled per frame, one row per frame instead (f and
per-sequence labels repeated over the frames, z_t itself as the dynamic code).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dsae.data.base import SequenceSplit
from dsae.errors import DsaeError
from dsae.eval.latent_summary import latent_report
from dsae.eval.protocols.base import EvalContext, prepare
from dsae.models import Encoding


def latent_protocol(
    model: Any,
    split: SequenceSplit,
    seed: int = 0,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
) -> dict[str, Any]:
    """The latent report of :mod:`dsae.eval.latent_summary` on the split's posterior means."""
    _, enc = prepare(model, split, None, encoding, batch_size)
    m = split.meta
    if not m.static_factors or not m.dynamic_factors:
        raise DsaeError("latent metrics need both static and dynamic labelled factors")
    f = enc.f_mean.numpy().astype(np.float64)  # (N, f_dim)
    z = enc.z_mean.numpy().astype(np.float64)  # (N, T, z_dim)
    n, t = z.shape[:2]
    dyn = [split.dynamic[k] for k in m.dynamic_factors]
    if all(d.ndim == 1 for d in dyn):
        rows = "sequences"
        static_codes, static_factors = f, split.static
        dynamic_codes = z.mean(axis=1)
        dynamic_factors = np.stack(dyn, axis=1)
    else:
        rows = "frames"
        static_codes = np.repeat(f, t, axis=0)
        static_factors = np.repeat(split.static, t, axis=0)
        dynamic_codes = z.reshape(n * t, -1)
        dynamic_factors = np.stack(
            [d.reshape(-1) if d.ndim == 2 else np.repeat(d, t) for d in dyn], axis=1
        )
    report = latent_report(
        static_codes,
        static_factors,
        dynamic_codes,
        dynamic_factors,
        np.random.default_rng(seed),
        list(m.static_factors),
        list(m.dynamic_factors),
    )
    report.setdefault("meta", {}).update(
        {
            "rows": rows,
            "static_code": "posterior mean of f",
            "dynamic_code": "posterior mean of z_t averaged over t"
            if rows == "sequences"
            else "posterior mean of z_t",
        }
    )
    return report


def run(ctx: EvalContext) -> dict[str, Any]:
    """The protocol on an evaluation context."""
    return latent_protocol(ctx.model, ctx.split, ctx.seed, ctx.batch_size, encoding=ctx.encoding)


__all__ = ["latent_protocol", "run"]
