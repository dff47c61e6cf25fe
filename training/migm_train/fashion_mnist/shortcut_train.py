"""The default bundle's shortcut on the shared trainer (migm_train.shortcut.train): its pairs, its KL term through
the base's head, and its recipe.

Each example is one image with both CFG branches ([cond; uncond], as the sampler batches them), so the guided
logits (1 + w) l_c - w l_u of the prediction can be compared with those of the target. The recipe was searched
on this data (docs/training-report.md): 50-step linear warm-up then cosine decay, gradient clipping at norm 1,
EMA from the start weights, a 2-step rollout and the guided-logit KL next to the MSE (config.py has the values).
"""
from __future__ import annotations

import torch

from ..sampler import SamplerOptions, guidance_weight, guided_logp
from ..shortcut import train as shared
from ..shortcut.train import Pairs, Recipe
from .base_model import BaseModel
from .shortcut import Shortcut, ShortcutConfig
from .trajectories import pairs_at_step


def recipe(steps: int, batch: int, lr: float, seed: int, ema_decay: float, rollout: int = 1,
           kl_weight: float = 0.0) -> Recipe:
    """This bundle's recipe on the shared trainer (weight decay 0.01 as the paper's; no AMP: it trains in fp32)."""
    return Recipe(steps=steps, batch=batch, lr=lr, weight_decay=0.01, schedule="warmup-cosine", warmup=50,
                  ema_decay=ema_decay, ema_copy_first=False, clip_norm=1.0, amp=False, rollout=rollout,
                  kl_weight=kl_weight, seed=seed)


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


def pairs(traj: dict, idx: torch.Tensor, s: int, with_prev: bool = False) -> Pairs:
    """Both branches of images idx at step s as the shared trainer's Pairs (prev = f_{s-1} for Taylor)."""
    f, ids, pos, ratio, target, still = both_branches(traj, idx, s)
    prev = both_branches(traj, idx, s - 1)[0] if with_prev and s > 0 else None
    return Pairs(f, ids, pos, ratio, target, still, s, prev)


def batches(traj: dict, train_idx: torch.Tensor, r: Recipe):
    """Per optimizer step one chain: a random step s and `batch` random training images, chained over the next
    `rollout` steps (the model fed its own previous prediction, as in a budgeted run)."""
    n_pairs = traj["steps"] - 1
    g = torch.Generator().manual_seed(r.seed)
    for _ in range(r.steps):
        s = int(torch.randint(0, n_pairs, (1,), generator=g))
        idx = train_idx[torch.randint(0, len(train_idx), (r.batch,), generator=g)]
        yield [[pairs(traj, idx, j) for j in range(s, min(s + r.rollout, n_pairs))]]


def kl_term(base: BaseModel, sampling: SamplerOptions):
    """The shared trainer's KL hook: the guided KL at the sampler step that reads the predicted feature."""
    return lambda pred, target, p: guided_kl(base, pred, target, p.still, p.step + 1, sampling)


def train(base: BaseModel, traj: dict, train_idx: torch.Tensor, cfg: ShortcutConfig, steps: int, batch: int,
          lr: float, seed: int, ema_decay: float, rollout: int = 1, kl_weight: float = 0.0,
          sampling: SamplerOptions | None = None, log=print) -> Shortcut:
    """batch = images per step (2 x batch feature rows). rollout R > 1: each example also chains the prediction
    over the next R - 1 steps and the loss is the mean over the R predictions. kl_weight > 0 adds the
    guided-logit KL (needs `sampling`, the options the trajectories were sampled with). Returns the EMA."""
    if rollout < 1:
        raise ValueError(f"rollout must be >= 1, got {rollout}")
    if kl_weight < 0 or (kl_weight > 0 and sampling is None):
        raise ValueError("kl_weight must be >= 0, and a positive kl_weight needs the sampling options")
    if traj["steps"] - 1 < 1:
        raise ValueError("trajectories need at least 2 steps")
    base.requires_grad_(False)  # the head is read by the KL term, never trained
    r = recipe(steps, batch, lr, seed, ema_decay, rollout, kl_weight)
    ema, _, _ = shared.train(lambda: Shortcut(cfg, base), batches(traj, train_idx, r), r,
                             device=base.tok.weight.device, kl=kl_term(base, sampling) if kl_weight > 0 else None,
                             log=log, name="shortcut")
    return ema


@torch.no_grad()
def per_step_metrics(base: BaseModel, shortcut: Shortcut, traj: dict, idx: torch.Tensor,
                     sampling: SamplerOptions) -> list[dict]:
    """Held-out one-step prediction quality per step: shortcut vs reuse vs first-order Taylor (MSE and cosine on
    still-masked positions, both branches; KL of the guided token distributions as in guided_kl)."""
    groups = [pairs(traj, idx, s, with_prev=True) for s in range(traj["steps"] - 1)]
    res = shared.heldout(shortcut, groups, kl=kl_term(base, sampling), device=base.tok.weight.device)
    return [{k: v for k, v in row.items() if k != "examples"} for row in res["rows"]]


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
