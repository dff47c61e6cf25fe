"""Vanilla-sampler trajectories for shortcut training (PAPER.md section 4).

Per image and per CFG branch: the feature of every step (float16), the final tokens, and the step
at which each token was revealed. Pairs (f_s, tokens revealed at s, ratio after s) -> f_{s+1}.
"""
from __future__ import annotations

import time

import torch

from .base_model import BaseModel
from ..sampler import SamplerOptions, sample


def generate(base: BaseModel, count: int, opts: SamplerOptions, seed: int, batch: int, num_classes: int,
             log=print) -> dict:
    """Samples on the base model's device; the result stays there."""
    device = base.tok.weight.device
    g = torch.Generator(device=device).manual_seed(seed)
    classes = torch.arange(count, device=device) % num_classes
    feats, toks, reveal = [], [], []
    t0 = time.time()
    for s in range(0, count, batch):
        res = sample(base, classes[s:s + batch], opts.with_(method="vanilla"), g, record=True)
        feats.append(res.features)
        toks.append(res.tokens)
        reveal.append(res.reveal_step)
        log(f"trajectories {min(s + batch, count)}/{count} {time.time() - t0:.0f}s")
    return {"features": torch.cat(feats), "tokens": torch.cat(toks), "reveal": torch.cat(reveal),
            "classes": classes, "steps": opts.steps, "options": opts.to_dict()}


def pairs_at_step(traj: dict, idx: torch.Tensor, branch: torch.Tensor, s: int):
    """Training pairs at step s for images idx and CFG branches branch (0 = cond, 1 = uncond).

    Returns feature f_s, new token ids/positions (revealed at s), ratio after s, target f_{s+1},
    and the mask of positions still masked after s (where the loss is taken).
    """
    f = traj["features"][idx, s, branch].float()
    target = traj["features"][idx, s + 1, branch].float()
    reveal = traj["reveal"][idx]
    new = reveal == s
    n_new = int(new[0].sum())
    # Every image reveals the same count k_s at step s (deterministic schedule), so rows stack.
    pos = new.float().argsort(1, descending=True)[:, :n_new]
    ids = traj["tokens"][idx].gather(1, pos)
    still = reveal > s
    ratio = still.float().mean(1)
    return f, ids, pos, ratio, target, still
