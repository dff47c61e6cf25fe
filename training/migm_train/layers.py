"""Small transformer pieces written out op by op so that torch.onnx.export (opset 17) is exact."""
from __future__ import annotations

import math

import torch
from torch import nn


# Export attention as onnxruntime's fused com.microsoft MultiHeadAttention (see _FusedAttention). Set to False
# to export plain opset-17 ops (portable to other ONNX runtimes; generate() ~10% slower in onnxruntime here).
FUSED_ATTENTION_EXPORT = True


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, scale: float) -> torch.Tensor:
    """Scaled dot-product attention of projected q [b, n, d] over k, v [b, m, d], heads split from d."""
    b, n, d = q.shape
    m = k.shape[1]
    qh = q.reshape(b, n, heads, d // heads).transpose(1, 2)
    kh = k.reshape(b, m, heads, d // heads).transpose(1, 2)
    vh = v.reshape(b, m, heads, d // heads).transpose(1, 2)
    att = torch.softmax(qh @ kh.transpose(-1, -2) * scale, dim=-1)
    return (att @ vh).transpose(1, 2).reshape(b, n, d)


class _FusedAttention(torch.autograd.Function):
    """In PyTorch: attention of (q + bq, k + bk, v + bv). In ONNX: one com.microsoft MultiHeadAttention node
    (query, key, value, bias = [bq; bk; bv]), which onnxruntime (node, wasm, WebGPU) runs without the head
    split/merge transposes and bias adds of the plain graph. On this 2-core CPU, generate() with the default
    bundle's weights took 0.84-0.92x the time of the plain export for vanilla sampling and 0.85-0.94x for the
    shortcut (docs/data/fused-attention-ab-2026-11-26.jsonl)."""

    @staticmethod
    def forward(ctx, q, k, v, bias, heads: int, scale: float):  # noqa: ARG004 (autograd.Function signature)
        d = q.shape[-1]
        return _attend(q + bias[:d], k + bias[d:2 * d], v + bias[2 * d:], heads, scale)

    @staticmethod
    def symbolic(g, q, k, v, bias, heads, scale):
        return g.op("com.microsoft::MultiHeadAttention", q, k, v, bias, num_heads_i=heads, scale_f=scale)


class _FusedCrossAttention(torch.autograd.Function):
    """_FusedAttention without the bias input, for keys/values from another sequence: onnxruntime-web's WebGPU
    kernel (1.30) has no bias path when the key length differs from the query length ("AddBiasReshape is not
    implemented"), so the projections keep their own bias adds there."""

    @staticmethod
    def forward(ctx, q, k, v, heads: int, scale: float):  # noqa: ARG004
        return _attend(q, k, v, heads, scale)

    @staticmethod
    def symbolic(g, q, k, v, heads, scale):
        return g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=heads, scale_f=scale)


class Attention(nn.Module):
    """Multi-head attention; keys/values may come from another sequence (cross-attention)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        assert dim % heads == 0
        self.heads, self.dim = heads, dim
        self.scale = 1.0 / math.sqrt(dim // heads)  # a Python constant, not traced from shapes
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None) -> torch.Tensor:
        ctx = x if ctx is None else ctx
        if FUSED_ATTENTION_EXPORT and torch.onnx.is_in_onnx_export():
            return self._fused(x) if ctx is x else self._fused_cross(x, ctx)
        kv = self.kv(ctx)  # [k | v], each laid out (heads, head_dim)
        return self.out(_attend(self.q(x), kv[..., :self.dim], kv[..., self.dim:], self.heads, self.scale))

    def _fused(self, x: torch.Tensor) -> torch.Tensor:
        # Python-int slices of the weights, so that constant folding turns them into separate initializers.
        d, w, bias = self.dim, self.kv.weight, self.kv.bias
        q, k, v = x @ self.q.weight.T, x @ w[:d].T, x @ w[d:].T
        qkv_bias = torch.cat([self.q.bias, bias[:d], bias[d:]])
        return self.out(_FusedAttention.apply(q, k, v, qkv_bias, self.heads, self.scale))

    def _fused_cross(self, x: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        d, w, bias = self.dim, self.kv.weight, self.kv.bias
        k, v = ctx @ w[:d].T + bias[:d], ctx @ w[d:].T + bias[d:]
        return self.out(_FusedCrossAttention.apply(self.q(x), k, v, self.heads, self.scale))


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


class TimestepEmbedder(nn.Module):
    """The shortcuts' time embedding of the mask ratio (the reference's TimestepEmbedder): an MLP on the
    `freq`-wide sinusoidal embedding of t (callers pass r * 1000)."""

    def __init__(self, freq: int, hidden: int, out: int):
        super().__init__()
        self.freq = freq
        self.mlp = nn.Sequential(nn.Linear(freq, hidden), nn.SiLU(), nn.Linear(hidden, out))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal(t, self.freq))  # cos | sin, max period 10000, as the reference
