"""MIGM-Shortcut for aMUSEd: the paper's shortcut (PAPER.md section 3) at the width of aMUSEd's feature, built
from aMUSEd's own block parts, as the reference's Lumina-DiMOO variant is built from DiMOO's.

What it predicts. The feature f is the base graph's `feature` output: the U-ViT's state entering `mlm_layer`
(after the up block), [L, C] row-major over the token grid, C = block_out_channels (768 for aMUSEd-256 and
-512). It is the last tensor before the head, so a predicted f goes through the bundle's head graph exactly as
a computed one does. (The transformer's own width, hidden_size 1,024, lives inside the U-ViT and never reaches
the head; the paper's feature is "the last hidden state, right before the vocabulary head".)

Structure (C = feature width, d = C / bottleneck ratio):
  new tokens -> the base's FROZEN token embedding into the block width: embed.conv(RMSNorm(embed.embeddings(id)))
      ([K, C], a non-persistent buffer, as the MaskGIT variant's wte) -> new_token_proj_in (C -> d)
  feature -> proj_in (C -> d)
  positions: aMUSEd's U-ViT has no position embedding (its convolutions locate tokens), so a fixed 2-D sin-cos
      embedding of (row, column) at width d is added to the queries (every position) and to the new tokens (at
      their true positions): the additive counterpart of DiMOO's rotary keys "rotated by their true positions".
  blocks: [RMSNorm cross-attention (queries: the feature; keys/values: the RMSNormed new tokens) + GEGLU MLP,
      RMSNorm self-attention + GEGLU MLP], each pre-norm and residual; heads = the U-ViT's block_num_heads
  RMSNorm -> adaLN x (1 + scale) + shift, (scale, shift) from an MLP on a 256-wide sinusoidal embedding of
      (mask ratio after the step) * 1000 -> proj_out (d -> C) = the velocity; next feature = f + velocity.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .. import layers
from .uvit import Attention, FeedForward, RMSNorm, UVit2D, UVitConfig


@dataclass(frozen=True)
class ShortcutConfig:
    dim: int            # C: the base's feature width (block_out_channels)
    width: int          # d: the bottleneck
    grid: int           # token grid side (sample_size)
    codebook: int       # K: token ids 0..K-1
    blocks: int = 1
    heads: int = 12
    mlp: int = 1536     # GEGLU inner width (4 d)
    freq: int = 256     # sinusoidal frequencies of the time embedding
    time_hidden: int = 314  # round(sqrt(d * freq)), as the reference's TimestepEmbedder
    eps: float = 1e-6

    @staticmethod
    def for_uvit(c: UVitConfig, ratio: float = 2, blocks: int = 1, heads: int | None = None) -> "ShortcutConfig":
        """Derived from the U-ViT's config: the feature width, the grid, the codebook, its blocks' head count."""
        d = round(c.block_out_channels / ratio)
        h = heads or c.block_num_heads
        if d % h:
            raise ValueError(f"shortcut width {d} is not divisible by {h} heads")
        return ShortcutConfig(c.block_out_channels, d, c.sample_size, c.codebook_size, blocks, h, 4 * d, 256,
                              round(math.sqrt(d * 256)), c.layer_norm_eps)

    def to_dict(self) -> dict:
        return asdict(self)


def grid_positions(grid: int, dim: int) -> torch.Tensor:
    """[grid * grid, dim] fixed 2-D sin-cos embedding (rows | columns, each [sin | cos], max period 10000),
    row-major as the feature's positions."""
    quarter = dim // 4
    freqs = torch.exp(-math.log(10000.0) * torch.arange(quarter, dtype=torch.float64) / max(quarter, 1))
    idx = torch.arange(grid, dtype=torch.float64)
    def axis(v):  # noqa: E306
        a = v[:, None] * freqs[None]
        return torch.cat([torch.sin(a), torch.cos(a)], 1)
    r, c = axis(idx).repeat_interleave(grid, 0), axis(idx).repeat(grid, 1)
    out = torch.zeros(grid * grid, dim, dtype=torch.float64)
    out[:, :4 * quarter] = torch.cat([r, c], 1)
    return out.float()


class PreNorm(nn.Module):
    def __init__(self, d: int, fn: nn.Module, eps: float):
        super().__init__()
        self.norm, self.fn = RMSNorm(d, eps), fn

    def forward(self, x, *context):
        return self.fn(self.norm(x), *context)


class ShortcutBlock(nn.Module):
    def __init__(self, cfg: ShortcutConfig):
        super().__init__()
        d, h, eps = cfg.width, cfg.heads, cfg.eps
        self.cross_norm_kv = RMSNorm(d, eps)
        self.cross_attn = PreNorm(d, Attention(d, h, d // h, True, True), eps)
        self.cross_ff = PreNorm(d, FeedForward(d, cfg.mlp, True), eps)
        self.self_attn = PreNorm(d, Attention(d, h, d // h, True, True), eps)
        self.self_ff = PreNorm(d, FeedForward(d, cfg.mlp, True), eps)

    def forward(self, x: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        x = x + self.cross_attn(x, self.cross_norm_kv(new))
        x = x + self.cross_ff(x)
        x = x + self.self_attn(x)
        return x + self.self_ff(x)


@torch.no_grad()
def token_table(base: UVit2D) -> torch.Tensor:
    """[K, C]: the base's embedding of each codebook id into the block width (embed.embeddings -> RMSNorm ->
    the 1x1 conv), what the U-ViT itself puts at a position holding that token."""
    e = base.embed
    K = base.cfg.codebook_size
    h = e.layer_norm(e.embeddings.weight[:K].float())
    out = h @ e.conv.weight[:, :, 0, 0].float().T
    return out + e.conv.bias.float() if e.conv.bias is not None else out


class AmusedShortcut(nn.Module):
    def __init__(self, cfg: ShortcutConfig, table: torch.Tensor):
        super().__init__()
        if tuple(table.shape) != (cfg.codebook, cfg.dim):
            raise ValueError(f"token table {tuple(table.shape)} is not [codebook {cfg.codebook}, width {cfg.dim}]")
        self.cfg = cfg
        C, d = cfg.dim, cfg.width
        self.proj_in = nn.Linear(C, d)
        self.new_token_proj_in = nn.Linear(C, d)
        self.proj_out = nn.Linear(d, C)
        self.blocks = nn.ModuleList(ShortcutBlock(cfg) for _ in range(cfg.blocks))
        self.norm_out = RMSNorm(d, cfg.eps)
        self.time_embedder = layers.TimestepEmbedder(cfg.freq, cfg.time_hidden, d)
        self.adaLN_modulation = nn.Linear(d, 2 * d)
        # frozen, derived from the base (not saved with the shortcut's weights)
        self.register_buffer("table", table.detach().float().clone(), persistent=False)
        self.register_buffer("pos", grid_positions(cfg.grid, d), persistent=False)

    @staticmethod
    def for_base(cfg: ShortcutConfig, base: UVit2D) -> "AmusedShortcut":
        return AmusedShortcut(cfg, token_table(base))

    def embed_new(self, new_tokens: torch.Tensor) -> torch.Tensor:
        return self.new_token_proj_in(self.table[new_tokens.long()])

    def forward(self, feature: torch.Tensor, new_tokens: torch.Tensor, new_positions: torch.Tensor,
                ratio: torch.Tensor) -> torch.Tensor:
        """feature [b, L, C], new tokens / positions [b, n] (positions 0..L-1), ratio [b] -> velocity [b, L, C]."""
        new = self.embed_new(new_tokens) + self.pos[new_positions.long()]
        x = self.proj_in(feature) + self.pos
        for block in self.blocks:
            x = block(x, new)
        x = self.norm_out(x)
        scale, shift = self.adaLN_modulation(self.time_embedder(ratio * 1000))[:, None, :].chunk(2, dim=-1)
        return self.proj_out(x * (1 + scale) + shift)

    def next_feature(self, feature, new_tokens, new_positions, ratio):
        return feature + self(feature, new_tokens, new_positions, ratio)


class ShortcutGraph(nn.Module):
    """ONNX role `shortcut`: feature [b, L, C] + newTokens / newPositions int32 [b, n] + ratio [b] -> velocity
    [b, L, C]. The frozen token table is folded through new_token_proj_in at construction ([K, d] instead of
    [K, C] and a matrix product per call: the same numbers up to float rounding)."""

    def __init__(self, shortcut: AmusedShortcut):
        super().__init__()
        self.shortcut = shortcut
        with torch.no_grad():
            folded = shortcut.new_token_proj_in(shortcut.table)
        self.register_buffer("new_table", folded.detach().clone(), persistent=False)

    def forward(self, feature, new_tokens, new_positions, ratio):
        s = self.shortcut
        new = self.new_table[new_tokens.long()] + s.pos[new_positions.long()]
        x = s.proj_in(feature) + s.pos
        for block in s.blocks:
            x = block(x, new)
        x = s.norm_out(x)
        scale, shift = s.adaLN_modulation(s.time_embedder(ratio * 1000))[:, None, :].chunk(2, dim=-1)
        return s.proj_out(x * (1 + scale) + shift)


def shortcut_spec(cfg: ShortcutConfig) -> tuple[dict, dict]:
    """The shortcut graph's inputs and outputs as the manifest lists them (GRAPH_CONTRACT's names)."""
    t = lambda name, dtype, shape: {"name": name, "dtype": dtype, "shape": shape}  # noqa: E731
    L, C = cfg.grid * cfg.grid, cfg.dim
    return ({"feature": t("feature", "float32", ["batch", L, C]), "newTokens": t("newTokens", "int32", ["batch", "n"]),
             "newPositions": t("newPositions", "int32", ["batch", "n"]), "ratio": t("ratio", "float32", ["batch"])},
            {"velocity": t("velocity", "float32", ["batch", L, C])})


def example_inputs(cfg: ShortcutConfig, batch: int, n_new: int, seed: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    L = cfg.grid * cfg.grid
    pos = np.stack([rng.permutation(L)[:n_new] for _ in range(batch)])
    return {"feature": rng.standard_normal((batch, L, cfg.dim)).astype(np.float32),
            "newTokens": rng.integers(0, cfg.codebook, size=(batch, n_new)).astype(np.int32),
            "newPositions": pos.astype(np.int32), "ratio": rng.uniform(0, 1, size=(batch,)).astype(np.float32)}


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
