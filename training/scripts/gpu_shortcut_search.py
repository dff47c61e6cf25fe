"""Issue 3 probe: which shortcut training recipe beats reuse and Taylor on samples? Runs on a GPU.

The shipped recipe (MSE on still-masked positions, 2-step rollout, d = 48, 1,400 trajectories) predicts the
next feature better than reuse and Taylor but samples worse than both. This script retrains the shortcut under
several recipes from a finished work dir's base model and scores each at the default N with budgets 4 and 5,
next to reuse, Taylor and vanilla on the same seeds, all on one device (a GPU makes the search minutes long;
`--device cpu --scale 0.01` is the smoke test). Recipes:

- `mse`: the shipped recipe (shortcut_train.train), as a check that this device reproduces the CPU result.
- `kl`: MSE + KL(guided target logits || guided predicted logits) on still-masked positions: trains what the
  sampler reads (the head's guided distribution), both CFG branches of an image in one example.
- `*-data`: the same on 8x more trajectories and 4x larger batches.
- `wide-data`: d = 96, 2 blocks (over the cost budget: a capacity check, not a shipping candidate).
- `taylor-kl`: the shortcut corrects the Taylor step (extra input: the per-step velocity between the last two
  full steps, as the budgeted sampler has it); trained on the plans of budgets 4 and 5.

Also prints, per recipe, the one-step MSE and guided-logit KL on held-out trajectories (reuse and Taylor too).
Writes JSON lines to --out and the trained weights to --weights.

usage: python3 scripts/gpu_shortcut_search.py --work WORK --device cuda --out results.jsonl --weights w.pt
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from dataclasses import dataclass

import torch
from torch import nn

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(__file__), "..")))

from migm_train import classifier as clf_mod, shortcut_train  # noqa: E402
from migm_train.config import full  # noqa: E402
from migm_train.fd import frechet, stats  # noqa: E402
from migm_train.pipeline import Build  # noqa: E402
from migm_train.sampler import sample  # noqa: E402
from migm_train.schedules import full_step_plan, progress  # noqa: E402
from migm_train.shortcut import Shortcut, ShortcutConfig  # noqa: E402
from migm_train.tokenizer import Decoder  # noqa: E402
from migm_train.trajectories import pairs_at_step  # noqa: E402


class TaylorShortcut(Shortcut):
    """velocity = taylor + S(f, new tokens, r, taylor): starts as the Taylor step (S's output is zero-initialised)."""

    takes_taylor_velocity = True

    def __init__(self, cfg: ShortcutConfig, base):
        super().__init__(cfg, base)
        self.in_vel = nn.Linear(cfg.dim, cfg.width)

    def forward(self, feature, new_tokens, new_positions, ratio, taylor):
        ctx = self.in_tok(self.tok_emb[new_tokens.long()] + self.pos_emb[new_positions.long()])
        x = self.in_feat(feature) + self.in_vel(taylor)
        for cross, blk in zip(self.cross, self.selfs):
            x = blk(cross(x, ctx))
        x = self.post(x)
        from migm_train.layers import sinusoidal
        scale, shift = self.time(sinusoidal(ratio * 1000.0, self.cfg.time_dim)).chunk(2, dim=-1)
        return taylor + self.out(x * (1.0 + scale[:, None, :]) + shift[:, None, :])


@dataclass
class Recipe:
    name: str
    kl: float = 0.0            # weight of the guided-logit KL next to the MSE
    data: str = "small"        # small (the build's 1,400 images) | big
    width: int = 48
    blocks: int = 1
    heads: int = 2
    taylor: bool = False
    steps: int = 3500
    batch: int = 16            # images per step (both CFG branches of each: 32 feature rows, as the build)


RECIPES = [  # in priority order: a run cut short by its time limit still answers the first questions
    Recipe("mse"),
    Recipe("kl", kl=1.0),
    Recipe("kl3", kl=3.0),
    Recipe("kl10", kl=10.0),
    Recipe("taylor-kl", kl=1.0, taylor=True),
    Recipe("kl-data", kl=1.0, data="big", batch=64, steps=7000),
    Recipe("taylor-kl-data", kl=1.0, taylor=True, data="big", batch=64, steps=7000),
    Recipe("mse-data", data="big", batch=64, steps=7000),
    Recipe("wide-data", kl=1.0, data="big", width=96, blocks=2, heads=4, batch=64, steps=7000),
]


def guided(logits: torch.Tensor, w: float) -> torch.Tensor:
    b = logits.shape[0] // 2
    return (1.0 + w) * logits[:b] - w * logits[b:]


def guided_kl(base, pred, target, still, step, opts) -> torch.Tensor:
    """KL(p_target || p_pred) of the guided, tempered distributions at step `step`, mean over still-masked."""
    t = progress(step, opts.steps)
    w = opts.guidance if opts.guidance_schedule == "constant" else opts.guidance * t
    lp = torch.log_softmax(guided(base.logits(pred), w) * opts.inverse_temperature, -1)
    with torch.no_grad():
        lt = torch.log_softmax(guided(base.logits(target), w) * opts.inverse_temperature, -1)
    kl = (lt.exp() * (lt - lp)).sum(-1)
    return (kl * still).sum() / still.sum().clamp(min=1)


def both_branches(traj, idx, s):
    """Both CFG halves of images idx at step s, stacked [cond; uncond] like the sampler's batch."""
    zero = torch.zeros(len(idx), dtype=torch.long)
    fc, ids, pos, ratio, tc, still = pairs_at_step(traj, idx, zero, s)
    fu, _, _, _, tu, _ = pairs_at_step(traj, idx, zero + 1, s)
    cat = lambda a: torch.cat([a, a])  # noqa: E731
    return torch.cat([fc, fu]), cat(ids), cat(pos), cat(ratio), torch.cat([tc, tu]), still


def plan_taylor(traj, idx, plan, s):
    """The Taylor velocity a budgeted run has at a skipped step after s: from the last two full steps <= s."""
    fulls = [p for p in plan if p <= s]
    if len(fulls) < 2:
        f = traj["features"][idx, 0].float()
        return torch.zeros_like(torch.cat([f[:, 0], f[:, 1]]))
    ja, jb = fulls[-2], fulls[-1]
    fa = traj["features"][idx, ja].float()
    fb = traj["features"][idx, jb].float()
    v = (fb - fa) / (jb - ja)
    return torch.cat([v[:, 0], v[:, 1]])


def train_recipe(r: Recipe, base, traj, train_idx, opts, seed: int, log) -> nn.Module:
    cfg = ShortcutConfig(width=r.width, blocks=r.blocks, heads=r.heads)
    lr, ema_decay, rollout = 5e-4, 0.995, 2
    if r.name == "mse":  # the library trainer, as shipped
        return shortcut_train.train(base, traj, train_idx, cfg, r.steps, 32, lr, seed, ema_decay, rollout, log=log)
    torch.manual_seed(seed)
    dev = traj["features"].device
    model = (TaylorShortcut if r.taylor else Shortcut)(cfg, base).to(dev)
    ema = copy.deepcopy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    n_steps = traj["steps"]
    plans = [full_step_plan(n_steps, b) for b in (4, 5)]
    t0 = time.time()
    for step in range(r.steps):
        idx = train_idx[torch.randint(0, len(train_idx), (r.batch,), generator=g)]
        if r.taylor:
            plan = plans[int(torch.randint(0, len(plans), (1,), generator=g))]
            starts = [s for s in range(n_steps - 1) if s + 1 not in plan]
            s = starts[int(torch.randint(0, len(starts), (1,), generator=g))]
            vt = plan_taylor(traj, idx, plan, s)
        else:
            plan, s = None, int(torch.randint(0, n_steps - 1, (1,), generator=g))
        f, ids, pos, ratio, target, still = both_branches(traj, idx, s)
        still2 = torch.cat([still, still])
        pred = f + (model(f, ids, pos, ratio, vt) if r.taylor else model(f, ids, pos, ratio))
        losses = []
        j = s
        while True:
            loss = shortcut_train.masked_mse(pred, target, still2)
            if r.kl:
                loss = loss + r.kl * guided_kl(base, pred, target, still, j + 1, opts)
            losses.append(loss)
            j += 1
            if len(losses) >= rollout or j >= n_steps - 1 or (plan is not None and j + 1 in plan):
                break
            _, ids, pos, ratio, target, still = both_branches(traj, idx, j)
            still2 = torch.cat([still, still])
            pred = pred + (model(pred, ids, pos, ratio, vt) if r.taylor else model(pred, ids, pos, ratio))
        loss = torch.stack(losses).mean()
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / r.steps))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(ema_decay).add_(pm, alpha=1 - ema_decay)
        if step % 1000 == 0 or step == r.steps - 1:
            log(f"{r.name} step {step + 1}/{r.steps} loss {loss.item():.5f} {time.time() - t0:.0f}s")
    return ema.eval()


@torch.no_grad()
def one_step(base, model, traj, idx, opts) -> dict:
    """Held-out one-step MSE and guided-logit KL (vanilla trajectories), mean over steps 1..N-2."""
    acc = {}
    for s in range(1, traj["steps"] - 1):
        f, ids, pos, ratio, target, still = both_branches(traj, idx, s)
        prev = torch.cat([traj["features"][idx, s - 1, 0], traj["features"][idx, s - 1, 1]]).float()
        preds = {"reuse": f, "taylor": f + (f - prev)}
        if model is not None and not getattr(model, "takes_taylor_velocity", False):
            preds["shortcut"] = f + model(f, ids, pos, ratio)
        still2 = torch.cat([still, still])
        for m, p in preds.items():
            a = acc.setdefault(m, [0.0, 0.0, 0])
            a[0] += float(shortcut_train.masked_mse(p, target, still2))
            a[1] += float(guided_kl(base, p, target, still, s + 1, opts))
            a[2] += 1
    return {m: {"mse": round(a[0] / a[2], 5), "kl": round(a[1] / a[2], 5)} for m, a in acc.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--work", default="work")
    p.add_argument("--device", default="cuda")
    p.add_argument("--images", type=int, default=2010)
    p.add_argument("--traj-small", type=int, default=1400)
    p.add_argument("--traj-big", type=int, default=11200)
    p.add_argument("--heldout", type=int, default=200)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies training steps (smoke tests)")
    p.add_argument("--recipes", default=",".join(r.name for r in RECIPES))
    p.add_argument("--out", default="search.jsonl")
    p.add_argument("--weights", default="search-weights.pt")
    args = p.parse_args()
    dev = torch.device(args.device)
    t_start = time.time()

    def log(msg):
        print(f"[{time.time() - t_start:6.0f}s] {msg}", flush=True)

    def emit(row):
        with open(args.out, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        log(json.dumps(row))

    build = Build(full(), args.work, os.devnull, None, log_file=False)
    base = build.base_model().to(dev).requires_grad_(False)
    opts = build.sampling()
    ck = build.load("classifier.pt")
    clf = build.classifier().to(dev)
    ref = stats(ck["ref_features"])
    t = build.load("tokenizer.pt")
    dec = Decoder(t["codebook"], t["patch"], 28, 28).to(dev)
    log(f"device {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}); options {opts}")

    def score(tokens, classes) -> dict:
        pred, feats = clf_mod.predict(clf, dec(tokens))
        return {"fd": round(frechet(*stats(feats.cpu().numpy()), *ref), 3),
                "class_acc": round(float((pred == classes).float().mean()), 4)}

    def evaluate(label, o, model=None, seed=1) -> dict:
        g = torch.Generator(device=dev).manual_seed(seed)
        classes = torch.arange(args.images, device=dev) % 10
        t0 = time.time()
        half = (args.images + 1) // 2
        toks = torch.cat([sample(base, classes[s:s + half], o, g, shortcut=model).tokens
                          for s in range(0, args.images, half)])
        return {"label": label, "steps": o.steps, "method": o.method, "budget": o.budget, "images": args.images,
                **score(toks, classes), "seconds": round(time.time() - t0, 1)}

    # Baselines on this device's random stream.
    for n in (16, 4, 5):
        emit(evaluate(f"vanilla N={n}", opts.with_(steps=n, method="vanilla")))
    for m in ("reuse", "taylor"):
        for b in (4, 5):
            emit(evaluate(f"{m} B={b}", opts.with_(method=m, budget=b)))

    # Trajectories: big = small + more, heldout last; on the device.
    total = args.traj_big + args.heldout
    g = torch.Generator(device=dev).manual_seed(7)
    feats, toks, reveal = [], [], []
    classes = torch.arange(total, device=dev) % 10
    for s in range(0, total, 1000):
        res = sample(base, classes[s:s + 1000], opts.with_(method="vanilla"), g, record=True)
        feats.append(res.features)
        toks.append(res.tokens)
        reveal.append(res.reveal_step)
    traj = {"features": torch.cat(feats), "tokens": torch.cat(toks), "reveal": torch.cat(reveal), "steps": opts.steps}
    log(f"trajectories: {total} images, features {tuple(traj['features'].shape)}")
    held = torch.arange(args.traj_big, total)
    emit({"label": "one-step baselines", **one_step(base, None, traj, held, opts)})

    weights = {}
    wanted = args.recipes.split(",")
    for r in RECIPES:
        if r.name not in wanted:
            continue
        r.steps = max(2, int(r.steps * args.scale))
        train_idx = torch.arange(args.traj_small if r.data == "small" else args.traj_big)
        t0 = time.time()
        model = train_recipe(r, base, traj, train_idx, opts, seed=0, log=log).to(dev)
        secs = time.time() - t0
        weights[r.name] = {"recipe": r.__dict__, "config": model.cfg.to_dict(),
                           "state": {k: v.cpu() for k, v in model.state_dict().items()}}
        torch.save(weights, args.weights)
        emit({"label": f"one-step {r.name}", **one_step(base, model, traj, held, opts)})
        for b in (4, 5):
            row = evaluate(f"{r.name} B={b}", opts.with_(method="shortcut", budget=b), model)
            emit({**row, "recipe": r.__dict__, "train_seconds": round(secs, 1)})
    log("done")


if __name__ == "__main__":
    main()
