"""The decoding half of taming-transformers' `VQModel` (f = 2^(len(ch_mult) - 1)), with its parameter names.

Keys used: quantize.embedding.weight [n_embed, embed_dim]; post_quant_conv.{weight [z, embed_dim, 1, 1], bias};
decoder.conv_in, decoder.mid.{block_1, attn_1, block_2}, decoder.up.{level}.block.{j}.{norm1, conv1, norm2,
conv2, nin_shortcut}, decoder.up.{level}.attn.{j}.{norm, q, k, v, proj_out}, decoder.up.{level}.upsample.conv,
decoder.norm_out, decoder.conv_out. GroupNorm(32, eps 1e-6), swish. The encoder half (encoder.*, quant_conv.*)
and the training loss (loss.*) are not needed to decode and are not part of these modules.
"""
from __future__ import annotations

import torch
from torch import nn

from ..vq_decoder import Codebook, CodeDecoder, Upsample2x

DDCONFIG_KEYS = ("ch", "out_ch", "ch_mult", "num_res_blocks", "attn_resolutions", "resolution", "z_channels")


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, c, eps=1e-6)


def _swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1 = _norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = _norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(_swish(self.norm1(x)))
        h = self.conv2(_swish(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.norm = _norm(c)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))
        self.scale = c ** -0.5

    def forward(self, x):
        h = self.norm(x)
        b, c, hh, ww = x.shape
        q = self.q(h).reshape(b, c, hh * ww).transpose(1, 2)
        k = self.k(h).reshape(b, c, hh * ww)
        v = self.v(h).reshape(b, c, hh * ww)
        w = torch.softmax(q @ k * self.scale, dim=2)  # [b, hw(q), hw(k)]
        out = (v @ w.transpose(1, 2)).reshape(b, c, hh, ww)
        return x + self.proj_out(out)


class Decoder(nn.Module):
    def __init__(self, *, ch, out_ch, ch_mult, num_res_blocks, attn_resolutions, resolution, z_channels,
                 resamp_with_conv=True, **_ignored):
        super().__init__()
        if not resamp_with_conv:
            raise ValueError("ddconfig.resamp_with_conv false is not supported")
        levels = len(ch_mult)
        self.levels, self.num_res_blocks = levels, num_res_blocks
        block_in = ch * ch_mult[-1]
        res = resolution // 2 ** (levels - 1)
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, padding=1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in)
        ups = []
        for level in reversed(range(levels)):
            up = nn.Module()
            up.block, up.attn = nn.ModuleList(), nn.ModuleList()
            out = ch * ch_mult[level]
            for _ in range(num_res_blocks + 1):
                up.block.append(ResnetBlock(block_in, out))
                block_in = out
                if res in attn_resolutions:  # decided by the yaml's training resolution, as in taming
                    up.attn.append(AttnBlock(block_in))
            if level != 0:
                up.upsample = Upsample2x(block_in)
                res *= 2
            ups.insert(0, up)
        self.up = nn.ModuleList(ups)
        self.norm_out = _norm(block_in)
        self.conv_out = nn.Conv2d(block_in, out_ch, 3, padding=1)

    def forward(self, z):
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(self.conv_in(z))))
        for level in reversed(range(self.levels)):
            up = self.up[level]
            for j in range(self.num_res_blocks + 1):
                h = up.block[j](h)
                if len(up.attn) > 0:
                    h = up.attn[j](h)
            if level != 0:
                h = up.upsample(h)
        return self.conv_out(_swish(self.norm_out(h)))


class VqganDecoder(CodeDecoder):
    """quantize.embedding -> post_quant_conv -> decoder, from a taming `model.params` dict."""

    def __init__(self, params: dict):
        dd = params["ddconfig"]
        super().__init__(params, 2 ** (len(dd["ch_mult"]) - 1), Codebook(params["n_embed"], params["embed_dim"]),
                         nn.Conv2d(params["embed_dim"], dd["z_channels"], 1), Decoder(**dd))

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's output is about [-1, 1]: (clamp(x, -1, 1) + 1) / 2."""
        return (x.clamp(-1.0, 1.0) + 1.0) * 0.5
