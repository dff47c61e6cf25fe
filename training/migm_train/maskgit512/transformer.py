"""MaskGIT transformer with the parameter names of valeoai's MaskGIT-pytorch `MaskTransformer`.

Keys (D = width, V = K + 1 + C + 1 token-embedding rows, L = grid^2 image tokens):
  tok_emb.weight [V, D]; pos_emb [1, L + 1, D]; bias [L + 1, V]
  first_layer.{0,4} LayerNorm(eps 1e-12), first_layer.{2,6} Linear(D, D)   (1, 5: dropout; 3: GELU)
  transformer.layers.{i}.0.norm (LayerNorm), transformer.layers.{i}.0.fn.mha.{in_proj_weight [3D, D],
      in_proj_bias [3D], out_proj.weight [D, D], out_proj.bias [D]}
  transformer.layers.{i}.1.norm, transformer.layers.{i}.1.fn.net.{0: Linear(D, M), 3: Linear(M, D)}
  last_layer.{0,4} LayerNorm(eps 1e-12), last_layer.2 Linear(D, D)
Sequence: L image tokens then the class token (id K + 1 + class; the unconditional id is K + 1 + C).
logits = feature @ tok_emb.weight.T + bias, sliced to the L image positions and the K codes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import layers


@dataclass(frozen=True)
class TransformerConfig:
    dim: int = 768
    depth: int = 24
    heads: int = 16
    mlp: int = 3072
    grid: int = 32          # token grid side (the reference's f_factor / patch_size)
    codebook: int = 1024
    num_classes: int = 1000

    @property
    def length(self) -> int:
        return self.grid * self.grid

    @property
    def vocab(self) -> int:
        return self.codebook + 1 + self.num_classes + 1


class MhaWeights(nn.Module):
    """The parameters of nn.MultiheadAttention(batch_first, bias=True): packed q|k|v input projection."""

    def __init__(self, dim: int):
        super().__init__()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)


class Attention(nn.Module):
    """Multi-head attention computed by hand (torch 1.13 has no scaled_dot_product_attention).

    Queries come from `x`; keys and values from `kv` (default `x`), as the reference's `Attention.forward`
    with `key=`/`value=`. Exports as onnxruntime's com.microsoft MultiHeadAttention when
    layers.FUSED_ATTENTION_EXPORT is set."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.dim, self.heads = dim, heads
        self.scale = (dim // heads) ** -0.5
        self.mha = MhaWeights(dim)

    def forward(self, x: torch.Tensor, kv: torch.Tensor | None = None) -> torch.Tensor:
        d, w, b = self.dim, self.mha.in_proj_weight, self.mha.in_proj_bias
        same = kv is None
        kv = x if same else kv
        if layers.FUSED_ATTENTION_EXPORT and torch.onnx.is_in_onnx_export():
            if same:
                out = layers._FusedAttention.apply(x @ w[:d].T, x @ w[d:2 * d].T, x @ w[2 * d:].T, b, self.heads,
                                                   self.scale)
            else:
                out = layers._FusedCrossAttention.apply(x @ w[:d].T + b[:d], kv @ w[d:2 * d].T + b[d:2 * d],
                                                        kv @ w[2 * d:].T + b[2 * d:], self.heads, self.scale)
        else:
            q = x @ w[:d].T + b[:d]
            k = kv @ w[d:2 * d].T + b[d:2 * d]
            v = kv @ w[2 * d:].T + b[2 * d:]
            out = layers._attend(q, k, v, self.heads, self.scale)
        return self.mha.out_proj(out)


class PreNorm(nn.Module):
    """norm(x) into fn; extra inputs (the reference's key=/value=) pass un-normalised."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x), *extra)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Identity(), nn.Linear(hidden, dim),
                                 nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Encoder(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, mlp: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([PreNorm(dim, Attention(dim, heads)), PreNorm(dim, FeedForward(dim, mlp))])
            for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for att, ff in self.layers:
            x = x + att(x)
            x = x + ff(x)
        return x


def _ln(dim: int) -> nn.LayerNorm:
    return nn.LayerNorm(dim, eps=1e-12)


class MaskGitTransformer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        D = cfg.dim
        self.tok_emb = nn.Embedding(cfg.vocab, D)
        self.pos_emb = nn.Parameter(nn.init.trunc_normal_(torch.zeros(1, cfg.length + 1, D), 0.0, 0.02))
        self.first_layer = nn.Sequential(_ln(D), nn.Identity(), nn.Linear(D, D), nn.GELU(), _ln(D), nn.Identity(),
                                         nn.Linear(D, D))
        self.transformer = Encoder(D, cfg.depth, cfg.heads, cfg.mlp)
        self.last_layer = nn.Sequential(_ln(D), nn.Identity(), nn.Linear(D, D), nn.GELU(), _ln(D))
        self.bias = nn.Parameter(torch.zeros(cfg.length + 1, cfg.vocab))

    def class_ids(self, classes: torch.Tensor) -> torch.Tensor:
        """Bundle class ids 0..C (C = unconditional) -> the reference's class-token ids K + 1 + class."""
        return classes.long() + (self.cfg.codebook + 1)

    def features(self, tokens: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """tokens [b, L] (mask = K), classes [b] in 0..C -> last hidden state [b, L + 1, D]."""
        seq = torch.cat([tokens.long(), self.class_ids(classes)[:, None]], dim=1)
        x = self.tok_emb(seq) + self.pos_emb
        x = self.first_layer(x)
        x = self.transformer(x)
        return self.last_layer(x)

    def head(self, feature: torch.Tensor) -> torch.Tensor:
        """feature [b, L + 1, D] -> logits [b, L, K] (only the image rows and the codebook columns)."""
        L, K = self.cfg.length, self.cfg.codebook
        return feature[:, :L] @ self.tok_emb.weight[:K].T + self.bias[:L, :K]

    def forward(self, tokens: torch.Tensor, classes: torch.Tensor):
        f = self.features(tokens, classes)
        return self.head(f), f


def extra_columns(cfg: TransformerConfig) -> int:
    """Columns appended to each image row's feature to carry the class position's D values: ceil(D / L)."""
    return -(-cfg.dim // cfg.length)


def packed_width(cfg: TransformerConfig) -> int:
    """The bundle's featureDim: D + ceil(D / L) (769 for the paper's model)."""
    return cfg.dim + extra_columns(cfg)


def pack(feature: torch.Tensor, cfg: TransformerConfig) -> torch.Tensor:
    """[b, L + 1, D] (image rows then the class row) -> the bundle's [b, L, D + c] feature: image rows in the
    first D columns; the class row, zero-padded to L * c values, laid row-major over the last c columns.
    Linear (so guidance, reuse, Taylor and feature + velocity commute with it)."""
    L, D, c = cfg.length, cfg.dim, extra_columns(cfg)
    b = feature.shape[0]
    cls = torch.nn.functional.pad(feature[:, L], (0, L * c - D)).reshape(b, L, c)
    return torch.cat([feature[:, :L], cls], dim=-1)


def unpack(feature: torch.Tensor, cfg: TransformerConfig) -> torch.Tensor:
    """Inverse of pack: [b, L, D + c] -> [b, L + 1, D]."""
    L, D, c = cfg.length, cfg.dim, extra_columns(cfg)
    b = feature.shape[0]
    cls = feature[:, :, D:].reshape(b, L * c)[:, :D]
    return torch.cat([feature[:, :, :D], cls[:, None, :]], dim=1)


class BaseGraph(nn.Module):
    """ONNX role `base`: (tokens, classes) -> (logits [b, L, K], packed feature [b, L, D + c])."""

    def __init__(self, model: MaskGitTransformer):
        super().__init__()
        self.model = model

    def forward(self, tokens, classes):
        logits, feature = self.model(tokens, classes)
        return logits, pack(feature, self.model.cfg)


class HeadGraph(nn.Module):
    """ONNX role `head`: packed feature -> logits (affine; the class columns are not read)."""

    def __init__(self, model: MaskGitTransformer):
        super().__init__()
        self.model = model

    def forward(self, feature):
        L, K, D = self.model.cfg.length, self.model.cfg.codebook, self.model.cfg.dim
        return feature[:, :, :D] @ self.model.tok_emb.weight[:K].T + self.model.bias[:L, :K]
