"""PyTorch peer of `migm bench`: times the reference sampler at the benchmark's settings.

`python -m migm_train.fashion_mnist.bench_peer --work work --batch 16 --configs '[{"method": "vanilla", "steps": 16, "budget": null}]'`
prints one JSON line {"rows": [{method, steps, budget, msPerImage, msPerImageMin, msPerImageMax}], "note": "..."}:
median (and range) over timed runs of one batch each, after a warm-up run, with the build's own sampling options
(guidance, temperatures). The range is reported because PyTorch on this machine varies by up to 1.5x between
runs of the same setting.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from .config import full
from .pipeline import Build
from ..sampler import sample


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m migm_train.fashion_mnist.bench_peer")
    p.add_argument("--work", required=True)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--configs", required=True)
    args = p.parse_args()
    build = Build(full(), args.work, os.devnull, None, log_file=False)
    base = build.base_model()
    shortcut = build.shortcut_model(base) if os.path.exists(build.path("shortcut.pt")) else None
    opts0 = build.sampling()
    classes = torch.arange(args.batch) % 10
    rows = []
    for c in json.loads(args.configs):
        if c["method"] in ("shortcut", "shortcut-taylor") and shortcut is None:
            continue
        opts = opts0.with_(method=c["method"], steps=c["steps"], budget=c["budget"])
        g = torch.Generator().manual_seed(0)
        sample(base, classes, opts, g, shortcut=shortcut)  # warm-up
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            sample(base, classes, opts, g, shortcut=shortcut)
            times.append((time.perf_counter() - t0) * 1000 / args.batch)
        rows.append({"method": c["method"], "steps": c["steps"], "budget": c["budget"],
                     "msPerImage": statistics.median(times), "msPerImageMin": min(times), "msPerImageMax": max(times)})
    note = (f"training/migm_train/sampler.py (PyTorch {torch.__version__}, {torch.get_num_threads()} torch thread(s) + "
            f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')} OpenBLAS thread(s)), "
            f"median (min-max) of {args.runs} runs of batch {args.batch} after a warm-up, same N, B and sampling options.")
    print(json.dumps({"rows": rows, "note": note}))


if __name__ == "__main__":
    main()
