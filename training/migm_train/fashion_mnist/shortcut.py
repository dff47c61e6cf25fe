"""The MIGM-Shortcut (PAPER.md section 3): predicts the average feature velocity over one step.

velocity = S(f_i, new tokens + positions, r); next feature = f_i + velocity. New tokens are embedded
with the base model's frozen token + position embeddings (copied in as buffers so the graph is
self-contained), projected to a bottleneck d = D/2, then [cross-attn + MLP, self-attn + MLP] blocks,
LayerNorm-Linear-GELU-LayerNorm, adaLN from a sinusoidal embedding of r * 1000, and a projection to D.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .base_model import BaseModel
from ..layers import Block, CrossBlock, sinusoidal


@dataclass
class ShortcutConfig:
    dim: int = 128           # D of the base feature
    # Bottleneck d = 48 (the paper: D/2 = 64) and 2 heads: at L = 196 a d = 64 shortcut step measured
    # 0.10-0.12 of a base step in onnxruntime-node (op overhead dominates at batch 2); 48 keeps it < 0.1.
    width: int = 48
    blocks: int = 1
    heads: int = 2
    mlp_ratio: float = 2.0
    time_dim: int = 256

    def to_dict(self) -> dict:
        return asdict(self)


class Shortcut(nn.Module):
    def __init__(self, cfg: ShortcutConfig, base: BaseModel):
        super().__init__()
        self.cfg = cfg
        # Frozen copies of the base embeddings (never trained).
        self.register_buffer("tok_emb", base.tok.weight.detach().clone())
        self.register_buffer("pos_emb", base.pos.detach()[0, 1:, :].clone())
        d = cfg.width
        self.in_feat = nn.Linear(cfg.dim, d)
        self.in_tok = nn.Linear(cfg.dim, d)
        self.cross = nn.ModuleList(CrossBlock(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.blocks))
        self.selfs = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.blocks))
        self.post = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
        self.time = nn.Sequential(nn.Linear(cfg.time_dim, d), nn.SiLU(), nn.Linear(d, 2 * d))
        self.out = nn.Linear(d, cfg.dim)
        # Start at velocity 0 (= feature reuse) so training only has to learn the correction.
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        nn.init.zeros_(self.time[-1].weight)
        nn.init.zeros_(self.time[-1].bias)

    def forward(self, feature: torch.Tensor, new_tokens: torch.Tensor, new_positions: torch.Tensor,
                ratio: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """extra: an optional [rows, L, width] term added to the projected feature (probes condition the shortcut
        on more inputs through it, e.g. scripts/gpu_stochastic_shortcut.py's noise); the exported graph has none."""
        ctx = self.tok_emb[new_tokens.long()] + self.pos_emb[new_positions.long()]
        ctx = self.in_tok(ctx)
        x = self.in_feat(feature)
        if extra is not None:
            x = x + extra
        for cross, blk in zip(self.cross, self.selfs):
            x = cross(x, ctx)
            x = blk(x)
        x = self.post(x)
        scale, shift = self.time(sinusoidal(ratio * 1000.0, self.cfg.time_dim)).chunk(2, dim=-1)
        x = x * (1.0 + scale[:, None, :]) + shift[:, None, :]
        return self.out(x)


def flops_per_step(cfg: ShortcutConfig, length: int, n_new: int) -> int:
    """Multiply-adds x 2 of one shortcut call (without the head)."""
    d, big = cfg.width, cfg.dim
    hid = int(d * cfg.mlp_ratio)
    per_block = (length * (2 * d * d) + n_new * (2 * 2 * d * d) + 2 * 2 * length * n_new * d  # cross-attn
                 + length * 2 * 2 * d * hid                                                     # MLP
                 + length * 2 * 4 * d * d + 2 * 2 * length * length * d                          # self-attn
                 + length * 2 * 2 * d * hid)                                                    # MLP
    return (2 * length * big * d + 2 * n_new * big * d + cfg.blocks * per_block
            + 2 * length * d * d + 2 * length * d * big)
