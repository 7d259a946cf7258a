"""Pixel weights of the image likelihood: pixels on a colour edge (and thin outlines) weigh
1 + edge_weight (``objective.edge_weight``)."""

from __future__ import annotations

import torch

# two neighbouring pixels whose colours differ by more than this (any channel, in [0, 1])
# lie on an edge
EDGE_THRESHOLD = 0.05


def edge_mask(x: torch.Tensor) -> torch.Tensor:
    """1 where an image pixel differs from a 4-neighbour by > EDGE_THRESHOLD, else 0.

    x: (..., C, H, W) -> (..., 1, H, W). Outlines one pixel wide are marked whole, with the
    pixels on either side of them."""
    dv = (x[..., 1:, :] - x[..., :-1, :]).abs().amax(-3, keepdim=True) > EDGE_THRESHOLD
    dh = (x[..., :, 1:] - x[..., :, :-1]).abs().amax(-3, keepdim=True) > EDGE_THRESHOLD
    m = torch.zeros_like(x[..., :1, :, :], dtype=torch.bool)
    m[..., 1:, :] |= dv
    m[..., :-1, :] |= dv
    m[..., :, 1:] |= dh
    m[..., :, :-1] |= dh
    return m.to(x.dtype)


def pixel_weight(x: torch.Tensor, edge_weight: float) -> torch.Tensor | None:
    """w = 1 + edge_weight * edge_mask(x) for images; None when off or x is not an image."""
    if edge_weight <= 0 or x.dim() < 4:
        return None
    return 1.0 + edge_weight * edge_mask(x)


WEIGHTS = {"edge": pixel_weight}
