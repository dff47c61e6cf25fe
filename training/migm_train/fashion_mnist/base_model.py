"""MaskGIT-style class-conditional bidirectional transformer.

Sequence = [class token; L image tokens]. feature = final LayerNorm output at the image positions
(the input of the head); head H(f) = f E^T + b, tied to the token embedding plus a per-position bias.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..layers import Block, LocalMixing


@dataclass
class BaseConfig:
    length: int = 196          # L image tokens
    codebook: int = 256        # K
    num_classes: int = 10
    dim: int = 128             # D
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    local_mixing: bool = False  # depthwise 3x3 conv branch before each block (needs a square token grid)

    @property
    def mask_id(self) -> int:
        return self.codebook

    @property
    def null_class(self) -> int:
        return self.num_classes

    def to_dict(self) -> dict:
        return asdict(self)


class Head(nn.Module):
    """feature [b, L, D] -> logits [b, L, K]; weights tied to the base token embedding."""

    def __init__(self, cfg: BaseConfig):
        super().__init__()
        self.cfg = cfg
        self.bias = nn.Parameter(torch.zeros(cfg.length, cfg.codebook))

    def forward(self, feature: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return feature @ embedding[: self.cfg.codebook].T + self.bias


class BaseModel(nn.Module):
    def __init__(self, cfg: BaseConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.codebook + 1, cfg.dim)          # + mask id
        self.cls = nn.Embedding(cfg.num_classes + 1, cfg.dim)       # + null class
        self.pos = nn.Parameter(torch.randn(1, cfg.length + 1, cfg.dim) * 0.02)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.local = None
        if cfg.local_mixing:
            side = math.isqrt(cfg.length)
            if side * side != cfg.length:
                raise ValueError(f"local_mixing needs a square token grid, got length {cfg.length}")
            self.local = nn.ModuleList(LocalMixing(cfg.dim, side) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = Head(cfg)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.cls.weight, std=0.02)

    def features(self, tokens: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.cls(classes.long())[:, None, :], self.tok(tokens.long())], dim=1) + self.pos
        for i, blk in enumerate(self.blocks):
            if self.local is not None:
                x = self.local[i](x)
            x = blk(x)
        return self.norm(x)[:, 1:, :]

    def logits(self, feature: torch.Tensor) -> torch.Tensor:
        return self.head(feature, self.tok.weight)

    def forward(self, tokens: torch.Tensor, classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(tokens, classes)
        return self.logits(f), f


class BaseExport(nn.Module):
    """ONNX view: int32 tokens/classes -> (logits, feature)."""

    def __init__(self, model: BaseModel):
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, classes: torch.Tensor):
        return self.model(tokens, classes)


class HeadExport(nn.Module):
    def __init__(self, model: BaseModel):
        super().__init__()
        self.model = model

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.model.logits(feature)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def flops_per_sequence(cfg: BaseConfig) -> dict:
    """Multiply-adds x 2 of one base forward (matmuls and attention), and of the head alone."""
    n = cfg.length + 1
    d = cfg.dim
    hid = int(d * cfg.mlp_ratio)
    per_layer = n * (2 * (d * d + 2 * d * d + d * d) + 2 * 2 * d * hid) + 2 * 2 * n * n * d
    if cfg.local_mixing:
        per_layer += 2 * cfg.length * d * 9
    head = 2 * cfg.length * d * cfg.codebook
    return {"base": cfg.depth * per_layer + head, "head": head}
