"""Issue 3 probe: which shortcut training recipe beats reuse and Taylor on samples? Runs on a GPU.

Retrains the shortcut under several recipes from a finished work dir's base model and scores each at the
default N with budgets 4 and 5, next to reuse, Taylor and vanilla on the same seeds, all on one device (a GPU
makes the search minutes long; `--device cpu --scale 0.01` is the smoke test). Recipes (shortcut_train.train):

- `mse`: MSE only (the recipe shipped before the KL term), as a check that the device reproduces the CPU result.
- `kl`, `kl3`, `kl10`: MSE + w x KL(guided target logits || guided predicted logits), w = 1, 3, 10.
- `*-data`: the same on 8x more trajectories and 4x larger batches.
- `wide-data`: d = 96, 2 blocks (over the cost budget: a capacity check, not a shipping candidate).

Also prints, per recipe, the one-step MSE and guided-logit KL on held-out trajectories (reuse and Taylor too).
Writes JSON lines to --out and the trained weights to --weights. The rows in docs/data/shortcut-search-h200.jsonl
came from this script at commit c38d1f6 (which also had a `taylor-kl` recipe: a shortcut correcting the Taylor
step; it lost, and was removed with the sampler hook it needed).

usage: python3 scripts/gpu_shortcut_search.py --work WORK --device cuda --out results.jsonl --weights w.pt
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

import torch

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(__file__), "..")))

from migm_train.fashion_mnist import shortcut_train  # noqa: E402
from migm_train.fashion_mnist.config import full  # noqa: E402
from migm_train.fashion_mnist.pipeline import Build  # noqa: E402
from migm_train.fashion_mnist.shortcut import ShortcutConfig  # noqa: E402
from migm_train.fashion_mnist.trajectories import generate  # noqa: E402
from probe_log import ProbeLog  # noqa: E402  (scripts/, next to this file)


@dataclass
class Recipe:
    name: str
    kl: float = 0.0            # weight of the guided-logit KL next to the MSE
    data: str = "small"        # small (the build's 1,400 images) | big
    width: int = 48
    blocks: int = 1
    heads: int = 2
    steps: int = 3500
    batch: int = 16            # images per step (both CFG branches of each: 32 feature rows, as the build)


RECIPES = [  # in priority order: a run cut short by its time limit still answers the first questions
    Recipe("mse"),
    Recipe("kl", kl=1.0),
    Recipe("kl3", kl=3.0),
    Recipe("kl10", kl=10.0),
    Recipe("kl-data", kl=1.0, data="big", batch=64, steps=7000),
    Recipe("mse-data", data="big", batch=64, steps=7000),
    Recipe("wide-data", kl=1.0, data="big", width=96, blocks=2, heads=4, batch=64, steps=7000),
]


def one_step(base, model, traj, idx, opts) -> dict:
    """Held-out one-step MSE and guided-logit KL (vanilla trajectories), mean over steps 1..N-2."""
    rows = shortcut_train.per_step_metrics(base, model, traj, idx, opts)[1:]
    return {m: {k: round(float(sum(r[f"{m}_{k}"] for r in rows) / len(rows)), 5) for k in ("mse", "kl")}
            for m in ("reuse", "taylor", "shortcut")}


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
    log = ProbeLog(args.out)
    emit = log.emit

    build = Build(full(), args.work, os.devnull, None, log_file=False)
    ev = build.evaluator()  # samples where its base model is (moved below), scores on the CPU
    base = ev.base.to(dev).requires_grad_(False)
    ev.batch = (args.images + 1) // 2
    ev.log = lambda _m: None
    opts = build.sampling()
    log(f"device {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}); options {opts}")

    def evaluate(label, o, model=None, seed=1) -> dict:
        ev.shortcut = model
        r = ev.run(o, args.images, [seed], label)
        return {"label": label, "steps": o.steps, "method": o.method, "budget": o.budget, "images": r["images"],
                "fd": round(r["fd_pooled"], 3), "class_acc": round(r["class_acc"], 4),
                "seconds": round(r["seconds_per_image"] * r["images"], 1)}

    # Baselines on this device's random stream.
    for n in (16, 4, 5):
        emit(evaluate(f"vanilla N={n}", opts.with_(steps=n, method="vanilla")))
    for m in ("reuse", "taylor"):
        for b in (4, 5):
            emit(evaluate(f"{m} B={b}", opts.with_(method=m, budget=b)))

    # Trajectories on the device: the first traj_small are the small set, heldout last.
    total = args.traj_big + args.heldout
    traj = generate(base, total, opts, seed=7, batch=1000, num_classes=10, log=lambda _m: None)
    log(f"trajectories: {total} images, features {tuple(traj['features'].shape)}")
    held = torch.arange(args.traj_big, total)

    weights = {}
    wanted = args.recipes.split(",")
    for r in RECIPES:
        if r.name not in wanted:
            continue
        r.steps = max(2, int(r.steps * args.scale))
        train_idx = torch.arange(args.traj_small if r.data == "small" else args.traj_big)
        t0 = time.time()
        cfg = ShortcutConfig(width=r.width, blocks=r.blocks, heads=r.heads)
        model = shortcut_train.train(base, traj, train_idx, cfg, r.steps, r.batch, 5e-4, 0, 0.995, rollout=2,
                                     kl_weight=r.kl, sampling=opts, log=log)
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
