"""What both imported VQ decoders share (taming's VQGAN for MaskGIT, diffusers' VQModel for aMUSEd): code ids ->
`quantize.embedding` -> `post_quant_conv` -> the family's `decoder`, under the same parameter names in either
checkpoint format; the nearest-neighbour 2x upsampler both decoders use (its weight is `conv` in both); and the
ONNX `decoder` role (tokens -> pixels in [0, 1])."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Codebook(nn.Module):
    def __init__(self, n: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n, dim)

    def latent(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Code ids [b, rows * cols] (row-major) -> their vectors as a latent image [b, dim, rows, cols]."""
        b = tokens.shape[0]
        return self.embedding(tokens.long()).reshape(b, grid[0], grid[1], -1).permute(0, 3, 1, 2)


class Upsample2x(nn.Module):
    """Nearest-neighbour 2x, then a 3x3 convolution (taming's `Upsample` with resamp_with_conv, diffusers'
    `Upsample2D` with use_conv)."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class CodeDecoder(nn.Module):
    """quantize -> post_quant_conv -> decoder. A family builds the three modules from its config and says how the
    decoder's output maps to pixels in [0, 1] (`to_unit`); `factor` is pixels per token along each side."""

    def __init__(self, params: dict, factor: int, quantize: Codebook, post_quant_conv: nn.Module, decoder: nn.Module):
        super().__init__()
        self.params, self.factor = params, factor
        self.quantize, self.post_quant_conv, self.decoder = quantize, post_quant_conv, decoder

    def decode_codes(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """tokens [b, rows * cols] -> the decoder's raw output [b, out, rows * f, cols * f]."""
        return self.decoder(self.post_quant_conv(self.quantize.latent(tokens, grid)))

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class DecoderGraph(nn.Module):
    """ONNX role `decoder`: tokens [b, L] -> pixels [b, 3, H, W] in [0, 1] (the family's `to_unit`)."""

    def __init__(self, vq: CodeDecoder, grid: tuple[int, int]):
        super().__init__()
        self.vq, self.grid = vq, grid

    def forward(self, tokens):
        return self.vq.to_unit(self.vq.decode_codes(tokens, self.grid))
