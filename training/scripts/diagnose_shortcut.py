"""Why does the shortcut lose to reuse/Taylor on samples while it wins one-step? Sample-level probes.

Runs budgeted sampling (default N, budget B) from a finished work dir with variants of how the learned
velocity is applied to the two classifier-free-guidance branches, next to reuse and Taylor, on the same
seeds and images, and prints FD / class accuracy per variant as JSON lines:

- `shortcut`: the shipped behaviour (each branch gets its own velocity).
- `shared`: the conditional branch's velocity is added to both branches, so the guided feature
  (1 + w) f_c - w f_u moves by exactly v_c and the branch difference stays as at the last full step.
- `cond-only`: the conditional branch follows the shortcut, the unconditional one is reused.
- `reuse`, `taylor`: the training-free baselines; `vanilla`: every step full (the reference at this image count).

With --per-step, each variant also reports per sampler step, over the still-masked positions of its own
trajectory: the entropy and top-1 probability of the guided distribution it samples from, and the KL from the
distribution the base model would give at that point (one extra base call per step; 0 at full steps, so
vanilla's row is a check). That separates "wrong on states vanilla visits" (one-step metrics on vanilla
trajectories) from "wrong on the states budgeted sampling itself visits".

usage (from training/): MALLOC_MMAP_MAX_=0 /usr/bin/python3 scripts/diagnose_shortcut.py --work work \
    --images 500 --budget 4 [--guidance 5] [--variants shortcut,shared,reuse] [--per-step]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(__file__), "..")))

from migm_train.config import full  # noqa: E402
from migm_train.pipeline import Build  # noqa: E402
from migm_train.sampler import guidance_weight, guided_logp, sample  # noqa: E402

VARIANTS = ("shortcut", "shared", "cond-only", "reuse", "taylor", "vanilla")


class BranchVelocity(torch.nn.Module):
    """The shortcut with its velocity rearranged over the [cond; uncond] halves ('shared' or 'cond-only')."""

    def __init__(self, shortcut: torch.nn.Module, mode: str):
        super().__init__()
        self.shortcut, self.mode = shortcut, mode

    def forward(self, feature, new_tokens, new_positions, ratio):
        v = self.shortcut(feature, new_tokens, new_positions, ratio)
        b = v.shape[0] // 2
        if self.mode == "shared":
            return torch.cat([v[:b], v[:b]])
        if self.mode == "cond-only":
            return torch.cat([v[:b], torch.zeros_like(v[b:])])
        return v


class PerStep:
    """on_step callback: per-step sums over still-masked positions of entropy, top-1 probability and the KL from
    the base model's own guided distribution at the current tokens."""

    def __init__(self, base, opts, steps: int):
        self.base, self.opts = base, opts
        self.sums = {k: [0.0] * steps for k in ("entropy", "top1", "kl_base")}
        self.count = [0.0] * steps
        self.classes: torch.Tensor | None = None

    @torch.no_grad()
    def __call__(self, i: int, logp: torch.Tensor, tokens: torch.Tensor) -> None:
        cfg, o = self.base.cfg, self.opts
        masked = (tokens == cfg.mask_id).float()
        cls2 = torch.cat([self.classes, torch.full_like(self.classes, cfg.null_class)])
        logits = self.base.logits(self.base.features(torch.cat([tokens, tokens]), cls2))
        true = guided_logp(logits, guidance_weight(o, i), o.inverse_temperature)
        p = logp.exp()
        per = {"entropy": -(p * logp).sum(-1), "top1": p.max(-1).values,
               "kl_base": (true.exp() * (true - logp)).sum(-1)}
        for k, v in per.items():
            self.sums[k][i] += float((v * masked).sum())
        self.count[i] += float(masked.sum())

    def means(self) -> dict:
        return {k: [round(v / max(c, 1.0), 4) for v, c in zip(vals, self.count)] for k, vals in self.sums.items()}


def sample_variant(base, shortcut, classes, opts, budget: int, variant: str, g: torch.Generator,
                   probe: PerStep | None = None) -> torch.Tensor:
    if probe is not None:
        probe.classes = classes.long()
    if variant == "vanilla":
        return sample(base, classes, opts.with_(method="vanilla"), g, on_step=probe).tokens
    if variant in ("reuse", "taylor"):
        return sample(base, classes, opts.with_(method=variant, budget=budget), g, on_step=probe).tokens
    return sample(base, classes, opts.with_(method="shortcut", budget=budget), g,
                  shortcut=BranchVelocity(shortcut, variant), on_step=probe).tokens


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--work", default="work")
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--budget", type=int, default=4)
    p.add_argument("--guidance", type=float, default=None, help="override the build's guidance weight")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--per-step", action="store_true", help="per-step entropy, top-1 and KL from the base model")
    args = p.parse_args()
    torch.set_num_threads(1)
    build = Build(full(), args.work, os.devnull, None, log_file=False)
    ev = build.evaluator(with_shortcut=True)
    opts = build.sampling()
    if args.guidance is not None:
        opts = opts.with_(guidance=args.guidance)
    classes_all = torch.arange(args.images) % 10
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            raise SystemExit(f"unknown variant {variant!r}; allowed: {', '.join(VARIANTS)}")
        g = torch.Generator().manual_seed(args.seed)
        t0 = time.time()
        probe = PerStep(ev.base, opts, opts.steps) if args.per_step else None
        toks = torch.cat([sample_variant(ev.base, ev.shortcut, classes_all[s:s + 250], opts, args.budget, variant, g,
                                         probe) for s in range(0, args.images, 250)])
        sc = ev.score(toks, classes_all)
        row = {"variant": variant, "budget": args.budget, "steps": opts.steps, "guidance": opts.guidance,
               "images": args.images, "fd": round(sc["fd"], 3), "class_acc": round(sc["class_acc"], 4),
               "seconds": round(time.time() - t0, 1)}
        print(json.dumps({**row, **(probe.means() if probe else {})}), flush=True)


if __name__ == "__main__":
    main()
