"""Trains the shortcut: MSE on still-masked positions between f_s + S(...) and f_{s+1}; AdamW + EMA."""
from __future__ import annotations

import copy
import math
import time

import torch

from .base_model import BaseModel
from .shortcut import Shortcut, ShortcutConfig
from .trajectories import pairs_at_step


def masked_mse(pred: torch.Tensor, target: torch.Tensor, still: torch.Tensor) -> torch.Tensor:
    err = ((pred - target) ** 2).mean(-1)
    return (err * still).sum() / still.sum().clamp(min=1)


def train(base: BaseModel, traj: dict, train_idx: torch.Tensor, cfg: ShortcutConfig, steps: int, batch: int,
          lr: float, seed: int, ema_decay: float, rollout: int = 1, log=print) -> Shortcut:
    """rollout R > 1: each example also chains the prediction over the next R - 1 steps (the model is fed its
    own previous prediction, as in a budgeted run) and the loss is the mean over the R predictions."""
    if rollout < 1:
        raise ValueError(f"rollout must be >= 1, got {rollout}")
    torch.manual_seed(seed)
    model = Shortcut(cfg, base).to(base.tok.weight.device)
    ema = copy.deepcopy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    n_pairs = traj["steps"] - 1
    if n_pairs < 1:
        raise ValueError("trajectories need at least 2 steps")
    t0 = time.time()
    model.train()
    for step in range(steps):
        s = int(torch.randint(0, n_pairs, (1,), generator=g))
        idx = train_idx[torch.randint(0, len(train_idx), (batch,), generator=g)]
        branch = torch.randint(0, 2, (batch,), generator=g)
        f, ids, pos, ratio, target, still = pairs_at_step(traj, idx, branch, s)
        pred = f + model(f, ids, pos, ratio)
        losses = [masked_mse(pred, target, still)]
        for j in range(s + 1, min(s + rollout, n_pairs)):
            _, ids, pos, ratio, target, still = pairs_at_step(traj, idx, branch, j)
            pred = pred + model(pred, ids, pos, ratio)
            losses.append(masked_mse(pred, target, still))
        loss = torch.stack(losses).mean()
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / steps))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(ema_decay).add_(pm, alpha=1 - ema_decay)
        if step % 100 == 0 or step == steps - 1:
            log(f"shortcut step {step + 1}/{steps} loss {loss.item():.5f} {time.time() - t0:.0f}s")
    ema.eval()
    return ema


@torch.no_grad()
def per_step_metrics(shortcut: Shortcut, traj: dict, idx: torch.Tensor) -> list[dict]:
    """Held-out one-step prediction quality per step: shortcut vs reuse vs first-order Taylor."""
    rows = []
    for s in range(traj["steps"] - 1):
        acc = {m: {"mse": 0.0, "cos": 0.0} for m in ("shortcut", "reuse", "taylor")}
        count = 0.0
        for branch_id in (0, 1):
            branch = torch.full((len(idx),), branch_id)
            f, ids, pos, ratio, target, still = pairs_at_step(traj, idx, branch, s)
            prev = traj["features"][idx, max(s - 1, 0), branch].float()
            preds = {"shortcut": f + shortcut(f, ids, pos, ratio), "reuse": f, "taylor": f + (f - prev)}
            w = still.float()
            for m, p in preds.items():
                acc[m]["mse"] += float((((p - target) ** 2).mean(-1) * w).sum())
                acc[m]["cos"] += float((torch.nn.functional.cosine_similarity(p, target, dim=-1) * w).sum())
            count += float(w.sum())
        rows.append({"step": s, **{f"{m}_{k}": v / max(count, 1) for m, d in acc.items() for k, v in d.items()}})
    return rows
