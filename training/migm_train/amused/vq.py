"""The decoding half of diffusers' `VQModel` (aMUSEd's VQ-GAN, also Lumina-DiMOO's), with diffusers' exact
parameter names: quantize.embedding [num_vq_embeddings, vq_embed_dim] -> post_quant_conv -> decoder
(conv_in, mid_block.resnets.{0,1} [+ attentions.0], up_blocks.{i}.resnets.{j} [+ conv_shortcut],
up_blocks.{i}.upsamplers.0.conv, conv_norm_out, conv_out). GroupNorm eps 1e-6, SiLU. Config from
vqvae/config.json. The encoder (encoder.*, quant_conv.*) is not needed to decode; its keys are skipped and counted.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..vq_decoder import Codebook, CodeDecoder, Upsample2x

VQ_KEYS = ("block_out_channels", "layers_per_block", "latent_channels", "num_vq_embeddings", "norm_num_groups",
           "out_channels")
VQ_UNUSED_PREFIXES = ("encoder.", "quant_conv.")


def vq_params(cfg: dict) -> dict:
    """The decoder-relevant part of a VQModel config.json, with diffusers' defaults filled in."""
    p = {k: cfg[k] for k in VQ_KEYS}
    p["block_out_channels"] = list(p["block_out_channels"])
    p["vq_embed_dim"] = cfg.get("vq_embed_dim") or p["latent_channels"]
    p["mid_block_add_attention"] = bool(cfg.get("mid_block_add_attention", True))
    p["norm_type"] = cfg.get("norm_type", "group")
    p["act_fn"] = cfg.get("act_fn", "silu")
    p["up_block_types"] = list(cfg.get("up_block_types", ["UpDecoderBlock2D"] * len(p["block_out_channels"])))
    return p


class ResnetBlock2D(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class MidAttention(nn.Module):
    """UNetMidBlock2D's single-head spatial self-attention (group_norm, to_q/k/v, to_out.0, residual)."""

    def __init__(self, c: int, groups: int):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=1e-6)
        self.to_q, self.to_k, self.to_v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c), nn.Dropout(0.0)])
        self.scale = c ** -0.5

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)
        att = torch.softmax(self.to_q(t) @ self.to_k(t).transpose(1, 2) * self.scale, dim=-1)
        out = self.to_out[0](att @ self.to_v(t)).transpose(1, 2).reshape(b, c, h, w)
        return out + x


class MidBlock(nn.Module):
    def __init__(self, c: int, groups: int, attention: bool):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, groups), ResnetBlock2D(c, c, groups)])
        self.attentions = nn.ModuleList([MidAttention(c, groups)]) if attention else None

    def forward(self, x):
        x = self.resnets[0](x)
        if self.attentions is not None:
            x = self.attentions[0](x)
        return self.resnets[1](x)


class UpDecoderBlock2D(nn.Module):
    def __init__(self, cin: int, cout: int, layers: int, groups: int, upsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.upsamplers = nn.ModuleList([Upsample2x(cout)]) if upsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.upsamplers[0](x) if self.upsamplers is not None else x


class Decoder(nn.Module):
    def __init__(self, p: dict):
        super().__init__()
        ch, g = p["block_out_channels"], p["norm_num_groups"]
        self.conv_in = nn.Conv2d(p["latent_channels"], ch[-1], 3, padding=1)
        self.mid_block = MidBlock(ch[-1], g, p["mid_block_add_attention"])
        rev = list(reversed(ch))
        blocks, prev = [], rev[0]
        for i, out in enumerate(rev):
            blocks.append(UpDecoderBlock2D(prev, out, p["layers_per_block"] + 1, g, i != len(ch) - 1))
            prev = out
        self.up_blocks = nn.ModuleList(blocks)
        self.conv_norm_out = nn.GroupNorm(g, ch[0], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[0], p["out_channels"], 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for blk in self.up_blocks:
            x = blk(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class VqDecoderModel(CodeDecoder):
    """quantize.embedding -> post_quant_conv -> decoder (VQModel.decode with lookup_from_codebook)."""

    def __init__(self, params: dict):
        if params["norm_type"] != "group":
            raise ValueError(f"VQModel norm_type {params['norm_type']!r} is not supported (only 'group')")
        if params["act_fn"] != "silu":
            raise ValueError(f"VQModel act_fn {params['act_fn']!r} is not supported (only 'silu')")
        bad = [t for t in params["up_block_types"] if t != "UpDecoderBlock2D"]
        if bad or len(params["up_block_types"]) != len(params["block_out_channels"]):
            raise ValueError(f"VQModel up_block_types {params['up_block_types']} are not all UpDecoderBlock2D, one "
                             "per block_out_channels entry")
        super().__init__(params, 2 ** (len(params["block_out_channels"]) - 1),
                         Codebook(params["num_vq_embeddings"], params["vq_embed_dim"]),
                         nn.Conv2d(params["vq_embed_dim"], params["latent_channels"], 1), Decoder(params))

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's output is about [0, 1] already (the pipeline clips it)."""
        return x.clamp(0.0, 1.0)
