"""The one shortcut trainer of every family (PAPER.md section 4): the recipe, the loss, the loop, the held-out
comparison with feature reuse and Taylor.

A family gives it three things: a function that builds its shortcut module (a velocity model
`S(feature, new token ids, their positions, mask ratio, **extra) -> velocity`, next feature = feature + velocity,
holding frozen copies of its base's embeddings), an iterable of training batches made of `Pairs`, and optionally
a KL term through its base's head. Nothing here knows a family; `migm_train/families.py` lists them.

The defaults of `Recipe` are the paper's: AdamW lr 1e-4, x0.1 after 1,000 optimizer steps, weight decay 0.01,
EMA 0.9999 whose weights are exported, 4 examples per step, single-step teacher forcing, MSE on the positions
still masked after the step, no KL, fp16 autocast on CUDA. A family may ship other defaults (the Fashion-MNIST
bundle's recipe was searched on its own data: warm-up + cosine, clipping, a 2-step rollout, a KL term).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn

from .recipe import PAPER_RECIPE, SCHEDULES, Recipe  # noqa: F401  (the trainer's recipe, re-exported)


@dataclass
class Pairs:
    """Training pairs of one step s for a stack of rows (each row one (image, guidance branch) example).

    feature f_s and target f_{s+1} are [rows, L', D] (L' is the family's feature length, e.g. L + 1 with
    MaskGIT's class position); ids/pos the tokens revealed at s and their positions 0..L-1, [rows, k_s]; ratio
    the mask ratio after s, [rows]; still [rows, L'] marks the positions still masked after s, where the loss
    counts. prev = f_{s-1} for held-out Taylor (None at s = 0: Taylor is then reuse). extra: more keyword inputs
    of the family's module (e.g. per-row prompt states)."""
    feature: torch.Tensor
    ids: torch.Tensor
    pos: torch.Tensor
    ratio: torch.Tensor
    target: torch.Tensor
    still: torch.Tensor
    step: int
    prev: torch.Tensor | None = None
    extra: dict = field(default_factory=dict)

    def to(self, device) -> "Pairs":
        mv = lambda t: t.to(device) if t is not None else None  # noqa: E731
        return Pairs(mv(self.feature), mv(self.ids), mv(self.pos), mv(self.ratio), mv(self.target), mv(self.still),
                     self.step, mv(self.prev), {k: mv(v) for k, v in self.extra.items()})


def per_row_mse(pred: torch.Tensor, target: torch.Tensor, still: torch.Tensor) -> torch.Tensor:
    """[rows]: squared error averaged over the width, then over each row's still-masked positions (the
    reference's F.mse_loss on the masked rows of one example)."""
    err = ((pred.float() - target.float()) ** 2).mean(-1)
    still = still.float()
    return (err * still).sum(1) / still.sum(1).clamp(min=1)


def velocity(model: nn.Module, feature: torch.Tensor, p: Pairs) -> torch.Tensor:
    return model(feature, p.ids, p.pos, p.ratio, **p.extra)


KL = Callable[[torch.Tensor, torch.Tensor, Pairs], torch.Tensor]


def chains_loss(model: nn.Module, chains: list[list[Pairs]], kl_weight: float = 0.0, kl: KL | None = None) -> torch.Tensor:
    """The loss of one optimizer step. A chain is a list of Pairs of consecutive steps of the same rows; its
    first prediction starts from the true f_s, the later ones from the previous prediction. Loss = mean over
    chain positions j of (mean over all rows of all chains of per_row_mse at j + kl_weight x the mean KL)."""
    preds = [None] * len(chains)
    losses = []
    for j in range(max(len(c) for c in chains)):
        rows, kls = [], []
        for c, chain in enumerate(chains):
            if j >= len(chain):
                continue
            p = chain[j]
            f = p.feature if preds[c] is None else preds[c]
            preds[c] = f + velocity(model, f, p)
            rows.append(per_row_mse(preds[c], p.target, p.still))
            if kl_weight > 0:
                kls.append(kl(preds[c], p.target, p))
        loss = torch.cat(rows).mean()
        if kls:
            loss = loss + kl_weight * torch.stack(kls).mean()
        losses.append(loss)
    return torch.stack(losses).mean()


def optimizer_step(model: nn.Module, ema: nn.Module | None, opt: torch.optim.Optimizer, loss: torch.Tensor,
                   recipe: Recipe, step: int, scaler: torch.amp.GradScaler | None = None,
                   ema_started: bool = True) -> bool:
    """One optimizer step of the recipe: the learning rate of `step`, backward (through `scaler` under AMP),
    optional gradient clipping, AdamW, then the EMA update of `ema` (a copy at its first update unless
    `ema_started`). Returns True (the EMA has started)."""
    for group in opt.param_groups:
        group["lr"] = recipe.lr_at(step)
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        scaler = torch.amp.GradScaler("cuda", enabled=False)
    scaler.scale(loss).backward()
    if recipe.clip_norm is not None:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_norm)
    scaler.step(opt)
    scaler.update()
    if ema is not None:
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                if ema_started:
                    pe.mul_(recipe.ema_decay).add_(pm.detach(), alpha=1 - recipe.ema_decay)
                else:
                    pe.copy_(pm.detach())
    return True


def train(make_model: Callable[[], nn.Module], batches: Iterable[list[list[Pairs]]], recipe: Recipe = PAPER_RECIPE, *,
          device="cpu", init: dict | None = None, kl: KL | None = None, max_minutes: float | None = None,
          log_every: int = 100, save: Callable[[nn.Module], None] | None = None, save_every: int = 0, log=print,
          name: str = "shortcut") -> tuple[nn.Module, nn.Module, list[float]]:
    """Trains make_model()'s module (built right after torch.manual_seed(recipe.seed), then loaded from `init`
    when given) on `batches`: for each optimizer step, a list of chains of Pairs (see chains_loss). AdamW with
    recipe.lr_at, optional gradient clipping, fp16 autocast on CUDA, EMA. `save(model)` is called every
    `save_every` steps with the weights that would be exported. Returns (exported: the EMA, or the raw model
    when ema_decay = 0; the raw model; the loss of every step)."""
    if recipe.kl_weight > 0 and kl is None:
        raise ValueError("a positive kl_weight needs the family's kl function")
    torch.manual_seed(recipe.seed)
    model = make_model().to(device)
    if init is not None:
        model.load_state_dict(init, strict=True)
    model.train()
    ema = copy.deepcopy(model) if recipe.ema_decay > 0 else None
    ema_started = init is not None or not recipe.ema_copy_first
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    cuda = str(device).startswith("cuda") and recipe.amp
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    history, window, t0 = [], [], time.time()
    for step, chains in zip(range(recipe.steps), batches):
        chains = [[p.to(device) for p in chain] for chain in chains]
        with torch.autocast("cuda", enabled=cuda):
            loss = chains_loss(model, chains, recipe.kl_weight, kl)
        ema_started = optimizer_step(model, ema, opt, loss, recipe, step, scaler, ema_started)
        history.append(float(loss.detach()))
        window.append(history[-1])
        last = step == recipe.steps - 1
        out_of_time = max_minutes is not None and time.time() - t0 > 60 * max_minutes
        if (step + 1) % log_every == 0 or step == 0 or last or out_of_time:
            log(f"{name}: step {step + 1}/{recipe.steps} loss {sum(window) / len(window):.6f} "
                f"lr {recipe.lr_at(step):.2g} {time.time() - t0:.0f}s")
            window = []
        if save is not None and save_every and (step + 1) % save_every == 0:
            save(ema if ema is not None else model)
        if out_of_time:
            log(f"{name}: --max-minutes {max_minutes} reached after {step + 1} steps")
            break
    exported = ema if ema is not None else model
    exported.eval()
    return exported, model, history


PREDICTORS = ("shortcut", "reuse", "taylor")


@torch.no_grad()
def heldout(model: nn.Module, groups: Iterable[Pairs], kl: KL | None = None, device="cpu") -> dict:
    """One-step prediction quality on held-out pairs of the shortcut (f_s + S(..)), feature reuse (f_s) and
    first-order Taylor (f_s + (f_s - f_{s-1})), each against f_{s+1} on the still-masked positions: per-row MSE
    and cosine (and the family's KL when given), averaged per step ("rows") and over every example (totals
    "<predictor>_mse", "<predictor>_cos"[, "<predictor>_kl"])."""
    was_training = model.training
    model.eval()
    per_step: dict[int, dict[str, list]] = {}
    for p in groups:
        p = p.to(device)
        f = p.feature
        preds = {"shortcut": f + velocity(model, f, p), "reuse": f,
                 "taylor": f + (f - p.prev) if p.prev is not None else f}
        acc = per_step.setdefault(p.step, {})
        w = p.still.float()
        for m, pred in preds.items():
            cos = torch.nn.functional.cosine_similarity(pred.float(), p.target.float(), dim=-1)
            acc.setdefault(f"{m}_mse", []).append(per_row_mse(pred, p.target, p.still).cpu())
            acc.setdefault(f"{m}_cos", []).append(((cos * w).sum(1) / w.sum(1).clamp(min=1)).cpu())
            if kl is not None:
                acc.setdefault(f"{m}_kl", []).append(kl(pred, p.target, p).reshape(-1).cpu())
    model.train(was_training)
    rows, totals = [], {}
    for s in sorted(per_step):
        acc = {k: torch.cat(v) for k, v in per_step[s].items()}
        rows.append({"step": s, "examples": len(acc["shortcut_mse"]), **{k: float(v.mean()) for k, v in acc.items()}})
        for k, v in acc.items():
            totals.setdefault(k, []).append(v)
    return {"rows": rows, **{k: float(torch.cat(v).mean()) for k, v in totals.items()}}
