"""MIGM-Shortcut for MaskGIT with the parameter names of the reference `MaskGITShortcut`
(Kaiwen-Zhu/MIGM-Shortcut, MaskGIT-Shortcut/Network/shortcut_model.py).

Keys (D = base width, d = D / bottleneck_ratio, F = 256 frequencies, T = round(sqrt(d * F))):
  proj_in [d, D], proj_out [D, d], new_token_proj_in [d, D]   (absent when the bottleneck ratio is 1)
  blocks.{i}.{cross_attn,self_attn}.norm (LayerNorm d), .fn.mha.{in_proj_weight [3d, d], in_proj_bias [3d],
      out_proj.{weight,bias}}
  blocks.{i}.{cross_attn_ff,self_attn_ff}.norm, .fn.net.{0: Linear(d, 4d), 3: Linear(4d, d)}
  last_layer.{0,3} LayerNorm(d, eps 1e-12), last_layer.1 Linear(d, d)   (2: GELU)
  time_embedder.mlp.{0: Linear(F, T), 2: Linear(T, d)}, adaLN_modulation Linear(d, 2d)   (absent without embed_t)
Buffers `wte` [V, D] and `wpe` [1, L + 1, D] are non-persistent copies of the base's tok_emb.weight and pos_emb.

The reference's forward returns the next feature prev + proj_out(x); our graph returns the velocity
proj_out(x) (= next - input). Features have L + 1 rows (the class position included). In both attentions the
queries come from the normalised x and the keys/values from the un-normalised new tokens (cross) or x (self),
as the reference's PreNorm passes key=/value= through.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..layers import TimestepEmbedder
from .transformer import Attention, FeedForward, MaskGitTransformer, PreNorm, TransformerConfig, pack, unpack


@dataclass(frozen=True)
class ShortcutConfig:
    dim: int = 768            # base width D
    width: int = 384          # bottleneck d (D when the ratio is 1)
    blocks: int = 1
    heads: int = 16
    mlp: int = 1536           # 4 d
    embed_t: bool = True
    freq: int = 256
    time_hidden: int = 314    # round(sqrt(d * 256))

    @staticmethod
    def for_width(dim: int, ratio: float = 2, blocks: int = 1, heads: int = 16) -> "ShortcutConfig":
        d = round(dim / ratio)
        return ShortcutConfig(dim, d, blocks, heads, 4 * d, True, 256, round((d * 256) ** 0.5))


class ShortcutBlock(nn.Module):
    def __init__(self, d: int, heads: int, mlp: int):
        super().__init__()
        self.cross_attn = PreNorm(d, Attention(d, heads))
        self.cross_attn_ff = PreNorm(d, FeedForward(d, mlp))
        self.self_attn = PreNorm(d, Attention(d, heads))
        self.self_attn_ff = PreNorm(d, FeedForward(d, mlp))

    def forward(self, x: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        x = x + self.cross_attn(x, new)
        x = x + self.cross_attn_ff(x)
        x = x + self.self_attn(x, x)
        return x + self.self_attn_ff(x)


class MaskGitShortcut(nn.Module):
    def __init__(self, cfg: ShortcutConfig, tok_emb: torch.Tensor, pos_emb: torch.Tensor):
        super().__init__()
        self.cfg = cfg
        D, d = cfg.dim, cfg.width
        if d != D:
            self.proj_in = nn.Linear(D, d)
            self.proj_out = nn.Linear(d, D)
            self.new_token_proj_in = nn.Linear(D, d)
        else:
            self.proj_in = self.proj_out = self.new_token_proj_in = nn.Identity()
        self.blocks = nn.ModuleList(ShortcutBlock(d, cfg.heads, cfg.mlp) for _ in range(cfg.blocks))
        self.last_layer = nn.Sequential(nn.LayerNorm(d, eps=1e-12), nn.Linear(d, d), nn.GELU(),
                                        nn.LayerNorm(d, eps=1e-12))
        if cfg.embed_t:
            self.time_embedder = TimestepEmbedder(cfg.freq, cfg.time_hidden, d)
            self.adaLN_modulation = nn.Linear(d, 2 * d)
        else:
            self.time_embedder = self.adaLN_modulation = None
        self.register_buffer("wte", tok_emb.detach().clone(), persistent=False)
        self.register_buffer("wpe", pos_emb.detach().clone(), persistent=False)

    @staticmethod
    def for_base(cfg: ShortcutConfig, base: MaskGitTransformer) -> "MaskGitShortcut":
        return MaskGitShortcut(cfg, base.tok_emb.weight, base.pos_emb)

    def forward(self, feature: torch.Tensor, new_tokens: torch.Tensor, new_positions: torch.Tensor,
                ratio: torch.Tensor) -> torch.Tensor:
        """feature [b, L + 1, D], new tokens/positions [b, n] (positions 0..L-1), ratio [b] -> velocity."""
        new = self.wte[new_tokens.long()] + self.wpe[0][new_positions.long()]
        new = self.new_token_proj_in(new)
        x = self.proj_in(feature)
        for block in self.blocks:
            x = block(x, new)
        x = self.last_layer(x)
        if self.time_embedder is not None:
            scale, shift = self.adaLN_modulation(self.time_embedder(ratio * 1000))[:, None, :].chunk(2, dim=-1)
            x = x * (1 + scale) + shift
        return self.proj_out(x)

    def next_feature(self, feature, new_tokens, new_positions, ratio):
        """What the reference's forward returns."""
        return feature + self(feature, new_tokens, new_positions, ratio)


class ShortcutGraph(nn.Module):
    """ONNX role `shortcut` on the bundle's packed features: unpack -> velocity [b, L + 1, D] -> pack."""

    def __init__(self, shortcut: MaskGitShortcut, base_cfg: TransformerConfig):
        super().__init__()
        self.shortcut, self.base_cfg = shortcut, base_cfg

    def forward(self, feature, new_tokens, new_positions, ratio):
        v = self.shortcut(unpack(feature, self.base_cfg), new_tokens, new_positions, ratio)
        return pack(v, self.base_cfg)
