"""Small transformer pieces written out op by op so that torch.onnx.export (opset 17) is exact."""
from __future__ import annotations

import math

import torch
from torch import nn


class Attention(nn.Module):
    """Multi-head attention; keys/values may come from another sequence (cross-attention)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        assert dim % heads == 0
        self.heads = heads
        self.scale = 1.0 / math.sqrt(dim // heads)  # a Python constant, not traced from shapes
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None) -> torch.Tensor:
        ctx = x if ctx is None else ctx
        b, n, d = x.shape
        h = self.heads
        q = self.q(x).reshape(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(ctx).reshape(b, ctx.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        att = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        return self.out((att @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, ratio: float):
        super().__init__()
        hidden = int(dim * ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.nn.functional.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm self-attention + MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.n1 = nn.LayerNorm(dim)
        self.att = Attention(dim, heads)
        self.n2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.att(self.n1(x))
        return x + self.mlp(self.n2(x))


class LocalMixing(nn.Module):
    """Pre-norm depthwise 3x3 convolution over the image-token grid (the class token passes through).

    A locality prior: a plain transformer of this size needs many epochs before its masked-token
    predictions use the neighbouring tokens; with this residual branch it does so within a few hundred
    steps (lower loss at equal wall time), for ~0.5% of a block's FLOPs.
    """

    def __init__(self, dim: int, side: int):
        super().__init__()
        self.side = side
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        img = x[:, 1:, :]
        y = self.norm(img).transpose(1, 2).reshape(b, d, self.side, self.side)
        y = self.conv(y).reshape(b, d, n - 1).transpose(1, 2)
        return torch.cat([x[:, :1, :], img + y], dim=1)


class CrossBlock(nn.Module):
    """Pre-norm cross-attention (queries from x, keys/values from ctx) + MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.nq = nn.LayerNorm(dim)
        self.nc = nn.LayerNorm(dim)
        self.att = Attention(dim, heads)
        self.n2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_ratio)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        x = x + self.att(self.nq(x), self.nc(ctx))
        return x + self.mlp(self.n2(x))


def sinusoidal(t: torch.Tensor, dim: int) -> torch.Tensor:
    """[batch] -> [batch, dim] sinusoidal embedding (cos, sin), max period 10000."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
