"""k-means VQ tokenizer on p x p pixel patches: 28x28 -> (28/p)^2 tokens, codebook K.

A k-means codebook on 2x2 patches is fast to fit on 2 cores and reconstructs Fashion-MNIST well
(PSNR is reported); the decoder is a lookup + un-patchify, exported to ONNX.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def patchify(images: torch.Tensor, p: int) -> torch.Tensor:
    """[n, 1, H, W] -> [n, (H/p)(W/p), p*p]."""
    n, _, h, w = images.shape
    x = images.reshape(n, h // p, p, w // p, p).permute(0, 1, 3, 2, 4)
    return x.reshape(n, (h // p) * (w // p), p * p)


def unpatchify(patches: torch.Tensor, p: int, h: int, w: int) -> torch.Tensor:
    n = patches.shape[0]
    x = patches.reshape(n, h // p, w // p, p, p).permute(0, 1, 3, 2, 4)
    return x.reshape(n, 1, h, w)


def _nearest(x: torch.Tensor, codebook: torch.Tensor, chunk: int = 262144) -> torch.Tensor:
    out = torch.empty(x.shape[0], dtype=torch.int64)
    c2 = (codebook * codebook).sum(1)
    for s in range(0, x.shape[0], chunk):
        xb = x[s:s + chunk]
        d = c2[None, :] - 2.0 * xb @ codebook.T  # |x|^2 is constant per row
        out[s:s + chunk] = d.argmin(1)
    return out


def fit_kmeans(patches: torch.Tensor, k: int, iters: int, seed: int) -> torch.Tensor:
    """Lloyd's k-means with k-means++-lite init (random distinct samples); empty clusters re-seeded."""
    g = torch.Generator().manual_seed(seed)
    codebook = patches[torch.randperm(patches.shape[0], generator=g)[:k]].clone()
    for _ in range(iters):
        assign = _nearest(patches, codebook)
        sums = torch.zeros_like(codebook).index_add_(0, assign, patches)
        counts = torch.bincount(assign, minlength=k).to(patches.dtype)
        empty = counts == 0
        codebook = torch.where(empty[:, None], codebook, sums / counts.clamp(min=1)[:, None])
        if empty.any():
            codebook[empty] = patches[torch.randint(0, patches.shape[0], (int(empty.sum()),), generator=g)]
    # Sort by brightness so ids are stable and readable (0 = darkest patch).
    order = codebook.sum(1).argsort()
    return codebook[order].contiguous()


class Tokenizer:
    def __init__(self, codebook: torch.Tensor, patch: int, height: int = 28, width: int = 28):
        self.codebook = codebook.float()
        self.patch = patch
        self.height = height
        self.width = width

    @property
    def size(self) -> int:
        return int(self.codebook.shape[0])

    @property
    def grid(self) -> tuple[int, int]:
        return self.height // self.patch, self.width // self.patch

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """[n, 1, H, W] float in [0, 1] -> [n, L] int64."""
        p = patchify(images, self.patch)
        return _nearest(p.reshape(-1, p.shape[-1]), self.codebook).reshape(p.shape[0], p.shape[1])

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        return Decoder(self.codebook, self.patch, self.height, self.width)(tokens)


class Decoder(nn.Module):
    """tokens [batch, L] (int32 or int64) -> pixels [batch, 1, H, W] in [0, 1]."""

    def __init__(self, codebook: torch.Tensor, patch: int, height: int, width: int):
        super().__init__()
        self.register_buffer("codebook", codebook.float().clone())
        self.patch, self.height, self.width = patch, height, width

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        k = self.codebook.shape[0]
        # Clamp so a stray mask id cannot index out of range in ONNX runtimes.
        idx = tokens.long().clamp(0, k - 1)
        patches = self.codebook[idx]
        return unpatchify(patches, self.patch, self.height, self.width).clamp(0.0, 1.0)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean per-image PSNR in dB for images in [0, 1]."""
    mse = ((a - b) ** 2).flatten(1).mean(1).clamp(min=1e-10)
    return float((10.0 * torch.log10(1.0 / mse)).mean())


def fit(train_images: np.ndarray, patch: int, k: int, iters: int, sample: int, seed: int) -> Tokenizer:
    from .data import to_float

    x = torch.from_numpy(to_float(train_images))
    p = patchify(x, patch).reshape(-1, patch * patch)
    g = torch.Generator().manual_seed(seed)
    sub = p[torch.randperm(p.shape[0], generator=g)[: min(sample, p.shape[0])]]
    return Tokenizer(fit_kmeans(sub, k, iters, seed), patch)
