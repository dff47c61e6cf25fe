"""Why does the shortcut lose to reuse/Taylor on samples while it wins one-step? Sample-level probes.

Runs budgeted sampling (default N, budget B) from a finished work dir with variants of how the learned
velocity is applied to the two classifier-free-guidance branches, next to reuse and Taylor, on the same
seeds and images, and prints FD / class accuracy per variant as JSON lines:

- `shortcut`: the shipped behaviour (each branch gets its own velocity).
- `shared`: the conditional branch's velocity is added to both branches, so the guided feature
  (1 + w) f_c - w f_u moves by exactly v_c and the branch difference stays as at the last full step.
- `cond-only`: the conditional branch follows the shortcut, the unconditional one is reused.
- `reuse`, `taylor`: the training-free baselines; `vanilla`: every step full (the reference at this image count);
  `vanilla-few`: vanilla with N = budget steps (as many base calls as the budgeted methods).

Each row also splits FD into its mean and covariance terms and gives the within-class spread of the classifier
features (the test set's own spread is printed first, as the target): a sampler can match the base model's
mean image and still lose the variety inside a class.

With --per-step, each variant also reports per sampler step, over the still-masked positions of its own
trajectory: the entropy and top-1 probability of the guided distribution it samples from, and the KL from the
distribution the base model would give at that point (one extra base call per step; 0 at full steps, so
vanilla's row is a check). That separates "wrong on states vanilla visits" (one-step metrics on vanilla
trajectories) from "wrong on the states budgeted sampling itself visits".

With --fidelity, each row also gets `fd_vanilla`: the FD against the base model's own samples (vanilla at the
default N, the same image count, sampled with seed + 1 so no variant shares its random stream) instead of the
test set. That is fidelity to what the base model generates; the `vanilla` variant's value is the floor that
sampling noise alone gives at this image count.

With --velocity, first prints the held-out decomposition of the true per-step velocity into its image-average
and image-specific parts and how much of each the shortcut reproduces (shortcut_train.velocity_decomposition),
and the same for the displacement from the last full step at each skipped step of the budget's plan, for the
chained shortcut, Taylor and reuse (shortcut_train.segment_decomposition).

--rtemp and --skipped-rtemp override the sampler's confidence noise (all steps / skipped steps only).

usage (from training/): MALLOC_MMAP_MAX_=0 .venv/bin/python scripts/diagnose_shortcut.py --work work \
    --images 500 --budget 4 [--guidance 5] [--rtemp 14] [--skipped-rtemp 21] [--variants shortcut,shared,reuse]
    [--per-step] [--velocity] [--fidelity]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(__file__), "..")))

from migm_train.fashion_mnist.config import full  # noqa: E402
from migm_train.fd import class_spread, frechet  # noqa: E402
from migm_train.fashion_mnist.pipeline import Build  # noqa: E402
from migm_train.sampler import guidance_weight, guided_logp, sample  # noqa: E402
from migm_train.schedules import full_step_plan  # noqa: E402
from migm_train.fashion_mnist.shortcut_train import segment_decomposition, velocity_decomposition  # noqa: E402

VARIANTS = ("shortcut", "shared", "cond-only", "reuse", "taylor", "vanilla", "vanilla-few")


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
    if variant == "vanilla-few":
        return sample(base, classes, opts.with_(method="vanilla", steps=budget), g, on_step=probe).tokens
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
    p.add_argument("--rtemp", type=float, default=None, help="override the build's r_temp")
    p.add_argument("--skipped-rtemp", type=float, default=None, help="r_temp at skipped steps (default: r_temp)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--per-step", action="store_true", help="per-step entropy, top-1 and KL from the base model")
    p.add_argument("--velocity", action="store_true", help="held-out velocity decomposition of the shortcut first")
    p.add_argument("--fidelity", action="store_true", help="also FD against vanilla samples of another seed")
    args = p.parse_args()
    torch.set_num_threads(1)
    build = Build(full(), args.work, os.devnull, None, log_file=False)
    ev = build.evaluator(with_shortcut=True)
    opts = build.sampling()
    if args.guidance is not None:
        opts = opts.with_(guidance=args.guidance)
    if args.rtemp is not None:
        opts = opts.with_(randomize_temperature=args.rtemp)
    if args.skipped_rtemp is not None:
        opts = opts.with_(skipped_randomize_temperature=args.skipped_rtemp)
    if args.velocity:
        traj = build.load("traj.pt")
        held = torch.arange(traj["train_count"], len(traj["tokens"]))
        for r in velocity_decomposition(ev.shortcut, traj, held):
            print(json.dumps({"velocity": {k: round(v, 4) for k, v in r.items()}, "images": len(held)}), flush=True)
        plan = full_step_plan(opts.steps, args.budget)
        for r in segment_decomposition(ev.base, ev.shortcut, traj, held, plan, opts):
            seg = {k: ({m: round(x, 4) for m, x in v.items()} if isinstance(v, dict) else v) for k, v in r.items()}
            print(json.dumps({"segment": seg, "budget": args.budget, "images": len(held)}), flush=True)
        del traj
    test_labels = build.dataset.test_labels
    ref_feats = build.load("classifier.pt")["ref_features"]
    print(json.dumps({"variant": "test set", "images": len(ref_feats),
                      "spread": round(class_spread(ref_feats, test_labels, 10), 2)}), flush=True)
    classes_all = torch.arange(args.images) % 10
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(unknown)}; allowed: {', '.join(VARIANTS)}")
    vanilla_ref = None
    if args.fidelity:
        g = torch.Generator().manual_seed(args.seed + 1)
        toks = torch.cat([sample_variant(ev.base, None, classes_all[s:s + 250], opts, args.budget, "vanilla", g)
                          for s in range(0, args.images, 250)])
        vanilla_ref = ev.score(toks, classes_all)["stats"]
    for variant in variants:
        g = torch.Generator().manual_seed(args.seed)
        t0 = time.time()
        probe = PerStep(ev.base, opts, opts.steps) if args.per_step else None
        toks = torch.cat([sample_variant(ev.base, ev.shortcut, classes_all[s:s + 250], opts, args.budget, variant, g,
                                         probe) for s in range(0, args.images, 250)])
        sc = ev.score(toks, classes_all)
        row = {"variant": variant, "budget": args.budget, "steps": args.budget if variant == "vanilla-few" else opts.steps,
               "guidance": opts.guidance, "rtemp": opts.randomize_temperature,
               "skipped_rtemp": opts.skipped_randomize_temperature, "images": args.images, "fd": round(sc["fd"], 3), "fd_mean": round(sc["fd_mean"], 3),
               "fd_cov": round(sc["fd_cov"], 3), "spread": round(sc["spread"], 2), "class_acc": round(sc["class_acc"], 4),
               "seconds": round(time.time() - t0, 1)}
        if vanilla_ref is not None:
            row["fd_vanilla"] = round(frechet(*sc["stats"], *vanilla_ref), 3)
        print(json.dumps({**row, **(probe.means() if probe else {})}), flush=True)


if __name__ == "__main__":
    main()
