"""Trains the shortcut: MSE on still-masked positions between f_s + S(...) and f_{s+1}, plus (optionally) the KL
between the guided token distributions the sampler would read from the target and from the prediction; AdamW + EMA.

Each example is one image with both CFG branches ([cond; uncond], as the sampler batches them), so the guided
logits (1 + w) l_c - w l_u of the prediction can be compared with those of the target.
"""
from __future__ import annotations

import copy
import math
import time

import torch

from .base_model import BaseModel
from ..sampler import SamplerOptions, guidance_weight, guided_logp
from .shortcut import Shortcut, ShortcutConfig
from .trajectories import pairs_at_step


def masked_mse(pred: torch.Tensor, target: torch.Tensor, still: torch.Tensor) -> torch.Tensor:
    err = ((pred - target) ** 2).mean(-1)
    return (err * still).sum() / still.sum().clamp(min=1)


def guided_kl(base: BaseModel, pred: torch.Tensor, target: torch.Tensor, still: torch.Tensor, step: int,
              opts: SamplerOptions) -> torch.Tensor:
    """KL(p_target || p_pred) of the guided, tempered token distributions used at sampler step `step`, mean over
    the still-masked positions. pred/target are [cond; uncond] stacks [2b, L, D]; still is [b, L] (or [2b, L], of
    which the cond half is used: both halves are the same images)."""
    still = still[: len(pred) // 2]
    w = guidance_weight(opts, step)
    lp = guided_logp(base.logits(pred), w, opts.inverse_temperature)
    with torch.no_grad():
        lt = guided_logp(base.logits(target), w, opts.inverse_temperature)
    kl = (lt.exp() * (lt - lp)).sum(-1)
    return (kl * still).sum() / still.sum().clamp(min=1)


def both_branches(traj: dict, idx: torch.Tensor, s: int):
    """pairs_at_step for both CFG halves of images idx, stacked [cond; uncond] like the sampler's batch (each
    output has 2b rows)."""
    zero = torch.zeros(len(idx), dtype=torch.long)
    return pairs_at_step(traj, torch.cat([idx, idx]), torch.cat([zero, zero + 1]), s)


def optimizer_step(model: torch.nn.Module, ema: torch.nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor,
                   lr: float, step: int, steps: int, ema_decay: float) -> None:
    """One step of the shortcut trainer's schedule: 50-step linear warm-up then cosine decay of `lr`, gradient
    clipping at norm 1, then the EMA update of `ema` (the weights that are evaluated and exported)."""
    for group in opt.param_groups:
        group["lr"] = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / steps))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.mul_(ema_decay).add_(pm, alpha=1 - ema_decay)


def train(base: BaseModel, traj: dict, train_idx: torch.Tensor, cfg: ShortcutConfig, steps: int, batch: int,
          lr: float, seed: int, ema_decay: float, rollout: int = 1, kl_weight: float = 0.0,
          sampling: SamplerOptions | None = None, log=print) -> Shortcut:
    """batch = images per step (2 x batch feature rows). rollout R > 1: each example also chains the prediction
    over the next R - 1 steps (the model is fed its own previous prediction, as in a budgeted run) and the loss
    is the mean over the R predictions. kl_weight > 0 adds the guided-logit KL (needs `sampling`, the options
    the trajectories were sampled with)."""
    if rollout < 1:
        raise ValueError(f"rollout must be >= 1, got {rollout}")
    if kl_weight < 0 or (kl_weight > 0 and sampling is None):
        raise ValueError("kl_weight must be >= 0, and a positive kl_weight needs the sampling options")
    n_pairs = traj["steps"] - 1
    if n_pairs < 1:
        raise ValueError("trajectories need at least 2 steps")
    torch.manual_seed(seed)
    base.requires_grad_(False)  # the head is read by the KL term, never trained
    model = Shortcut(cfg, base).to(base.tok.weight.device)
    ema = copy.deepcopy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    model.train()
    for step in range(steps):
        s = int(torch.randint(0, n_pairs, (1,), generator=g))
        idx = train_idx[torch.randint(0, len(train_idx), (batch,), generator=g)]
        losses, pred = [], None
        for j in range(s, min(s + rollout, n_pairs)):
            f, ids, pos, ratio, target, still = both_branches(traj, idx, j)
            pred = f if pred is None else pred
            pred = pred + model(pred, ids, pos, ratio)
            loss = masked_mse(pred, target, still)
            if kl_weight > 0:
                loss = loss + kl_weight * guided_kl(base, pred, target, still, j + 1, sampling)
            losses.append(loss)
        loss = torch.stack(losses).mean()
        optimizer_step(model, ema, opt, loss, lr, step, steps, ema_decay)
        if step % 100 == 0 or step == steps - 1:
            log(f"shortcut step {step + 1}/{steps} loss {loss.item():.5f} {time.time() - t0:.0f}s")
    ema.eval()
    return ema


@torch.no_grad()
def per_step_metrics(base: BaseModel, shortcut: Shortcut, traj: dict, idx: torch.Tensor,
                     sampling: SamplerOptions) -> list[dict]:
    """Held-out one-step prediction quality per step: shortcut vs reuse vs first-order Taylor (MSE and cosine on
    still-masked positions, both branches; KL of the guided token distributions as in guided_kl)."""
    rows = []
    for s in range(traj["steps"] - 1):
        f, ids, pos, ratio, target, still = both_branches(traj, idx, s)
        prev = both_branches(traj, idx, max(s - 1, 0))[0]
        preds = {"shortcut": f + shortcut(f, ids, pos, ratio), "reuse": f, "taylor": f + (f - prev)}
        w = still.float()
        row = {"step": s}
        for m, pr in preds.items():
            row[f"{m}_mse"] = float(masked_mse(pr, target, w))
            cos = torch.nn.functional.cosine_similarity(pr, target, dim=-1)
            row[f"{m}_cos"] = float((cos * w).sum() / w.sum().clamp(min=1))
            row[f"{m}_kl"] = float(guided_kl(base, pr, target, still, s + 1, sampling))
        rows.append(row)
    return rows


def _split_explained(true: torch.Tensor, pred: torch.Tensor, still: torch.Tensor, n: int) -> dict:
    """true/pred: [2n, L, D] feature changes ([cond; uncond] of n images), still: [2n, L] positions that count.
    Splits both into the image-average part (mean over the n images per branch and position) and the
    image-specific rest; explained = 1 - error energy / energy (0 = predicting no change, as reuse does)."""
    m = still.float()[..., None].reshape(2, n, -1, 1)
    true, pred = true.reshape(2, n, *true.shape[1:]), pred.reshape(2, n, *pred.shape[1:])

    def split(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (v * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)
        return mean.expand_as(v), v - mean

    def energy(v: torch.Tensor) -> float:
        return float(((v ** 2) * m).sum() / m.sum().clamp(min=1))

    def ratio(a: float, b: float) -> float:
        return a / max(b, 1e-12)

    (tm, tr), (pm, pr) = split(true), split(pred)
    return {"specific_share": ratio(energy(tr), energy(true)), "average_explained": 1 - ratio(energy(tm - pm), energy(tm)),
            "specific_explained": 1 - ratio(energy(tr - pr), energy(tr)), "speed_ratio": ratio(energy(pred), energy(true)) ** 0.5}


@torch.no_grad()
def velocity_decomposition(shortcut: Shortcut, traj: dict, idx: torch.Tensor) -> list[dict]:
    """Per step s on held-out trajectories: the true velocity f_{s+1} - f_s at the still-masked positions split
    into its image-average part and its image-specific rest, and how much of each the shortcut's velocity
    reproduces (see _split_explained).

    A predictor that only learns the average drift makes every image move alike at skipped steps: its samples
    lose within-class variety even when its mean error is small."""
    rows = []
    for s in range(traj["steps"] - 1):
        f, ids, pos, ratio, target, still = both_branches(traj, idx, s)
        rows.append({"step": s, **_split_explained(target - f, shortcut(f, ids, pos, ratio), still, len(idx))})
    return rows


@torch.no_grad()
def segment_decomposition(base: BaseModel, shortcut: Shortcut, traj: dict, idx: torch.Tensor, plan: list[int],
                          sampling: SamplerOptions) -> list[dict]:
    """What the budgeted sampler does, replayed on held-out vanilla trajectories: at each skipped step i after
    the full step b of `plan`, the displacement f_i - f_b as predicted by the shortcut (chained from f_b with
    the true revealed tokens), Taylor (f_b + (i - b)(f_b - f_a)/(b - a), after two full steps) and reuse (none),
    split as in velocity_decomposition, plus the guided KL at step i."""
    def feature(j: int) -> torch.Tensor:  # f_j of both branches, [2b, L, D]
        return both_branches(traj, idx, j)[0]

    rows = []
    ends = list(plan[1:]) + [traj["steps"]]
    for k, (b, nxt) in enumerate(zip(plan, ends)):
        f_b = feature(b)
        chain = f_b
        slope = (f_b - feature(plan[k - 1])) / (b - plan[k - 1]) if k > 0 else None  # Taylor's per-step trend
        for i in range(b + 1, nxt):
            _, ids, pos, ratio, target, still = both_branches(traj, idx, i - 1)
            chain = chain + shortcut(chain, ids, pos, ratio)
            preds = {"shortcut": chain, "reuse": f_b}
            if slope is not None:
                preds["taylor"] = f_b + (i - b) * slope
            row = {"step": i, "from": b}
            for name, pred in preds.items():
                row[name] = {**_split_explained(target - f_b, pred - f_b, still, len(idx)),
                             "kl": float(guided_kl(base, pred, target, still, i, sampling))}
            rows.append(row)
    return rows
