"""MaskGIT training masks: per-sequence mask ratio from the arccos schedule."""
from __future__ import annotations

import math

import torch


def arccos_ratio(batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mask ratio per sequence: arccos(u) / (pi/2), u ~ U(0,1) (MaskGIT's training distribution)."""
    u = torch.rand(batch, generator=generator)
    return torch.arccos(u) / (math.pi * 0.5)


def random_mask(tokens: torch.Tensor, ratio: torch.Tensor, mask_id: int,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks round(ratio * L) random positions per row (at least 1). Returns (masked tokens, bool mask)."""
    b, length = tokens.shape
    n = (ratio * length).round().long().clamp(1, length)
    scores = torch.rand(b, length, generator=generator)
    ranks = scores.argsort(1).argsort(1)  # rank of each position in a random order
    mask = ranks < n[:, None]
    return tokens.masked_fill(mask, mask_id), mask
