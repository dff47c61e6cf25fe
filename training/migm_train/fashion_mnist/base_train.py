"""Trains the base MIGM: masked-token cross-entropy, arccos mask ratios, 10% label dropout."""
from __future__ import annotations

import math
import time

import torch
from torch import nn

from .base_model import BaseConfig, BaseModel
from ..masking import arccos_ratio, random_mask


def masked_logits(model: BaseModel, feature: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Logits only at masked positions (saves the full [b, L, K] head in training)."""
    bias = model.head.bias.expand(feature.shape[0], -1, -1)[mask]
    return feature[mask] @ model.tok.weight[: model.cfg.codebook].T + bias


def train(tokens: torch.Tensor, labels: torch.Tensor, cfg: BaseConfig, steps: int, batch: int, lr: float,
          seed: int, label_dropout: float = 0.1, warmup: int = 50, log=print) -> BaseModel:
    torch.manual_seed(seed)
    model = BaseModel(cfg)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98))
    g = torch.Generator().manual_seed(seed)
    model.train()
    t0 = time.time()
    n = tokens.shape[0]
    perm = torch.randperm(n, generator=g)
    cursor = 0
    for step in range(steps):
        if cursor + batch > n:
            perm, cursor = torch.randperm(n, generator=g), 0
        idx = perm[cursor:cursor + batch]
        cursor += batch
        x = tokens[idx]
        c = labels[idx].clone()
        c[torch.rand(batch, generator=g) < label_dropout] = cfg.null_class
        xm, mask = random_mask(x, arccos_ratio(batch, g), cfg.mask_id, g)
        feat = model.features(xm, c)
        loss = nn.functional.cross_entropy(masked_logits(model, feat, mask), x[mask])
        scale = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == steps - 1:
            el = time.time() - t0
            log(f"base step {step + 1}/{steps} loss {loss.item():.4f} {el:.0f}s "
                f"({(step + 1) * batch / max(el, 1e-9):.1f} seq/s)")
    model.eval()
    return model


@torch.no_grad()
def masked_accuracy(model: BaseModel, tokens: torch.Tensor, labels: torch.Tensor, ratios: list[float],
                    seed: int, batch: int = 500) -> dict:
    """Top-1 accuracy on masked positions of held-out images at fixed mask ratios (conditional)."""
    out = {}
    for r in ratios:
        g = torch.Generator().manual_seed(seed)
        correct = total = 0
        for s in range(0, len(tokens), batch):
            x = tokens[s:s + batch]
            xm, mask = random_mask(x, torch.full((len(x),), r), model.cfg.mask_id, g)
            pred = masked_logits(model, model.features(xm, labels[s:s + batch]), mask).argmax(-1)
            correct += int((pred == x[mask]).sum())
            total += int(mask.sum())
        out[f"{r:.2f}"] = correct / total
    return out
