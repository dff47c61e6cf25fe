"""Why does the shortcut lose to reuse/Taylor on samples while it wins one-step? Sample-level probes.

Runs budgeted sampling (default N, budget B) from a finished work dir with variants of how the learned
velocity is applied to the two classifier-free-guidance branches, next to reuse and Taylor, on the same
seeds and images, and prints FD / class accuracy per variant as JSON lines:

- `shortcut`: the shipped behaviour (each branch gets its own velocity).
- `shared`: the conditional branch's velocity is added to both branches, so the guided feature
  (1 + w) f_c - w f_u moves by exactly v_c and the branch difference stays as at the last full step.
- `cond-only`: the conditional branch follows the shortcut, the unconditional one is reused.
- `reuse`, `taylor`: the training-free baselines; `vanilla`: every step full (the reference at this image count).

usage (from training/): MALLOC_MMAP_MAX_=0 /usr/bin/python3 scripts/diagnose_shortcut.py --work work \
    --images 500 --budget 4 [--guidance 5] [--variants shortcut,shared,reuse]
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
from migm_train.sampler import _gumbel  # noqa: E402
from migm_train.schedules import full_step_plan, progress, token_counts  # noqa: E402

VARIANTS = ("shortcut", "shared", "cond-only", "reuse", "taylor", "vanilla")


@torch.no_grad()
def sample_variant(base, shortcut, classes, opts, budget: int, variant: str, g: torch.Generator) -> torch.Tensor:
    cfg = base.cfg
    b, length, n_steps = len(classes), cfg.length, opts.steps
    tokens = torch.full((b, length), cfg.mask_id, dtype=torch.long)
    counts = token_counts(n_steps, length, opts.schedule)
    full = set(range(n_steps)) if variant == "vanilla" else set(full_step_plan(n_steps, budget))
    cls2 = torch.cat([classes.long(), torch.full_like(classes.long(), cfg.null_class)])
    feat = None
    history: list[tuple[int, torch.Tensor]] = []
    new_ids = new_pos = ratio = None
    for i in range(n_steps):
        if i in full:
            feat = base.features(torch.cat([tokens, tokens]), cls2)
            history = (history + [(i, feat)])[-2:]
        elif variant in ("shortcut", "shared", "cond-only"):
            v = shortcut(feat, torch.cat([new_ids, new_ids]), torch.cat([new_pos, new_pos]), torch.cat([ratio, ratio]))
            if variant == "shared":
                v = torch.cat([v[:b], v[:b]])
            elif variant == "cond-only":
                v = torch.cat([v[:b], torch.zeros_like(v[b:])])
            feat = feat + v
        elif variant == "taylor" and len(history) == 2:
            (ja, fa), (jb, fb) = history
            feat = fb + (i - jb) * (fb - fa) / (jb - ja)
        logits = base.logits(feat)
        t = progress(i, n_steps)
        w = opts.guidance if opts.guidance_schedule == "constant" else opts.guidance * t
        guided = (1.0 + w) * logits[:b] - w * logits[b:]
        logp = torch.log_softmax(guided * opts.inverse_temperature, dim=-1)
        cand = (logp + _gumbel(logp.shape, g)).argmax(-1)
        conf = logp.gather(-1, cand[..., None])[..., 0]
        conf = conf + opts.randomize_temperature * _gumbel(conf.shape, g) * (1.0 - t)
        masked = tokens == cfg.mask_id
        conf = conf.masked_fill(~masked, float("-inf"))
        k = min(counts[i], int(masked.sum(1).min()))
        pos = conf.topk(k, dim=1).indices
        ids = cand.gather(1, pos)
        tokens.scatter_(1, pos, ids)
        new_ids, new_pos = ids, pos
        ratio = (tokens == cfg.mask_id).float().mean(1)
    return tokens


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--work", default="work")
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--budget", type=int, default=4)
    p.add_argument("--guidance", type=float, default=None, help="override the build's guidance weight")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seed", type=int, default=11)
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
        toks = torch.cat([sample_variant(ev.base, ev.shortcut, classes_all[s:s + 250], opts, args.budget, variant, g)
                          for s in range(0, args.images, 250)])
        sc = ev.score(toks, classes_all)
        print(json.dumps({"variant": variant, "budget": args.budget, "steps": opts.steps, "guidance": opts.guidance,
                          "images": args.images, "fd": round(sc["fd"], 3), "class_acc": round(sc["class_acc"], 4),
                          "seconds": round(time.time() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
