"""Budgeted sampling rows with more confidence noise at skipped steps, scored like the compare stage.

Runs each (method, budget, skipped r_temp) on the same images and seeds as the build's compare stage
(`compare_images` split over `seeds`, classes i mod 10), so a row with the sampler's own r_temp reproduces the
compare row and the others differ only by the noise at skipped steps. Prints one JSON line per row (FD against
the test set, per-seed FDs, class accuracy, within-class spread) and appends it to --out when given.

usage (from training/): MALLOC_MMAP_MAX_=0 OPENBLAS_NUM_THREADS=1 .venv/bin/python scripts/skipped_noise_rows.py \
    --work work --methods shortcut,reuse --budgets 4,5 --skipped-rtemp 21,28 [--images 2010] [--out rows.jsonl]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(__file__), "..")))

from migm_train.fashion_mnist.config import full  # noqa: E402
from migm_train.fashion_mnist.pipeline import Build  # noqa: E402

METHODS = ("shortcut", "reuse", "taylor")


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--work", default="work")
    p.add_argument("--methods", default="shortcut")
    p.add_argument("--budgets", default="5")
    p.add_argument("--skipped-rtemp", required=True, help="comma-separated r_temp values for skipped steps")
    p.add_argument("--images", type=int, default=None, help="default: the build's compare_images")
    p.add_argument("--out", default=None)
    p.add_argument("--label", default=None, help="stored in each row (e.g. which shortcut this work dir holds)")
    args = p.parse_args()
    methods = args.methods.split(",")
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise SystemExit(f"unknown method(s) {', '.join(bad)}; allowed: {', '.join(METHODS)}")
    torch.set_num_threads(int(os.environ.get("MIGM_TORCH_THREADS", "1")))
    build = Build(full(), args.work, os.devnull, None, log_file=False)
    cfg = build.cfg
    ev = build.evaluator(with_shortcut="shortcut" in methods)
    opts = build.sampling()
    images = args.images or cfg.compare_images
    for budget in [int(b) for b in args.budgets.split(",")]:
        for method in methods:
            for rt in floats(args.skipped_rtemp):
                o = opts.with_(method=method, budget=budget, skipped_randomize_temperature=rt)
                r = ev.run(o, images, cfg.seeds, f"{method}/B={budget} skipped r_temp {rt}")
                row = {"stage": "probe", **({"label": args.label} if args.label else {}), "method": method,
                       "steps": o.steps, "budget": budget, "guidance": o.guidance, "rtemp": o.randomize_temperature,
                       "skipped_rtemp": rt, "images": r["images"], "seeds": cfg.seeds,
                       "fd": round(r["fd_pooled"], 3), "fd_per_seed": [round(s["fd"], 3) for s in r["per_seed"]], "fd_seed_std": round(r["fd_seed_std"], 3),
                       "class_acc": round(r["class_acc"], 4), "spread": round(r["spread"], 2)}
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as fh:
                        fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
