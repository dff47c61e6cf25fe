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
from torch.nn import functional as F

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


class Upsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


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
                up.upsample = Upsample(block_in)
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


class Quantizer(nn.Module):
    def __init__(self, n_embed: int, embed_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n_embed, embed_dim)


class VqganDecoder(nn.Module):
    """quantize.embedding -> post_quant_conv -> decoder, from a taming `model.params` dict."""

    def __init__(self, params: dict):
        super().__init__()
        dd = params["ddconfig"]
        self.params = params
        self.factor = 2 ** (len(dd["ch_mult"]) - 1)
        self.quantize = Quantizer(params["n_embed"], params["embed_dim"])
        self.post_quant_conv = nn.Conv2d(params["embed_dim"], dd["z_channels"], 1)
        self.decoder = Decoder(**dd)

    def decode_codes(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """tokens [b, rows * cols] -> the decoder's raw output [b, out_ch, rows * f, cols * f] (about [-1, 1])."""
        b = tokens.shape[0]
        z = self.quantize.embedding(tokens.long()).reshape(b, grid[0], grid[1], -1).permute(0, 3, 1, 2)
        return self.decoder(self.post_quant_conv(z))


class DecoderGraph(nn.Module):
    """ONNX role `decoder`: tokens [b, L] -> pixels in [0, 1] = (clamp(x, -1, 1) + 1) / 2."""

    def __init__(self, vq: VqganDecoder, grid: tuple[int, int]):
        super().__init__()
        self.vq, self.grid = vq, grid

    def forward(self, tokens):
        return (self.vq.decode_codes(tokens, self.grid).clamp(-1.0, 1.0) + 1.0) * 0.5
