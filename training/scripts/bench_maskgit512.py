"""Benchmark of the paper-size MaskGIT-512 bundle on this machine (issue 17; a script, not a test).

    cd training && .venv/bin/python -m migm_train import-maskgit --random-init --config paper --out /tmp/mg-paper
    .venv/bin/python -m migm_train import-maskgit --random-init --config paper --dtype fp16 --out /tmp/mg-paper16
    .venv/bin/python scripts/bench_maskgit512.py --bundle /tmp/mg-paper --fp16 /tmp/mg-paper16 --images 1

Prints a markdown table (BENCHMARKS.md): onnxruntime-node ms per full step (base on the doubled CFG batch) and
per skipped step (shortcut on 2 rows + the head on the guided row), rho, the ideal speed-up N / (B + (N - B) rho)
at N = 32, B = 12, vanilla N = 32 against shortcut N = 32, B = 12 end to end through `migm generate` (tokens are
meaningless with random weights; time is not), the same step shapes with our PyTorch modules, and the peak RSS
of the Node process with the fp32 and the fp16 bundle.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
MIGM = os.path.join(TRAINING, "..", "packages", "cli", "bin", "migm.js")
ENV = dict(os.environ, ORT_DISABLE_TELEMETRY="1")
N, B, NEW = 32, 12, 32  # NEW: tokens revealed per step on average (1024 / 32)
PAPER_SPEEDUP = 0.105 / 0.046  # PAPER.md section 6: vanilla N=32 0.105 s/img, shortcut N=32 B=12 0.046 s/img


def ort_steps(bundle: str, reps: int) -> dict:
    res = subprocess.run(["node", os.path.join(HERE, "ort-step-times.mjs"), bundle, str(reps), str(NEW)],
                         capture_output=True, text=True, check=True, env=ENV, cwd=TRAINING)
    return json.loads(res.stdout)


def torch_steps(reps: int) -> dict:
    sys.path.insert(0, TRAINING)
    import numpy as np
    import torch
    from migm_train.maskgit512 import importer

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    base, vq, sc = importer.random_models(importer.CONFIGS["paper"](), 0)
    mods = importer.graph_modules(base, vq, sc)
    tc = base.cfg

    def med(fn):
        with torch.no_grad():
            fn()
            t = []
            for _ in range(reps):
                t0 = time.perf_counter()
                fn()
                t.append((time.perf_counter() - t0) * 1000)
        return float(np.median(t))

    t = lambda role, batch, n=NEW: {k: torch.from_numpy(v) for k, v in importer.example_inputs(role, tc, batch, n, 0).items()}  # noqa: E731
    bi, si, hi, di = t("base", 2), t("shortcut", 2), t("head", 1), t("decoder", 1)
    return {"fullMs": med(lambda: mods["base"](*bi.values())), "shortcutMs": med(lambda: mods["shortcut"](*si.values())),
            "headMs": med(lambda: mods["head"](*hi.values())), "decodeMs": med(lambda: mods["decoder"](*di.values()))}


def generate(bundle: str, method: str, images: int, steps: int, budget: int | None, out: str) -> dict:
    cmd = ["/usr/bin/time", "-v", "node", MIGM, "generate", "--bundle", bundle, "--class", "golden retriever",
           "--count", str(images), "--steps", str(steps), "--method", method, "--seed", "1", "--out", out, "--quiet"]
    if budget is not None:
        cmd += ["--budget", str(budget)]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    per_image = float(re.search(r"\(([\d.]+) (ms|s)/image\)", res.stdout).group(1))
    unit = re.search(r"\(([\d.]+) (ms|s)/image\)", res.stdout).group(2)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
    return {"msPerImage": per_image * (1000 if unit == "s" else 1), "rssMB": rss / 1024, "wallS": wall,
            "line": res.stdout.strip().splitlines()[-1]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", required=True, help="paper-size fp32 bundle")
    p.add_argument("--fp16", help="the same bundle exported with --dtype fp16 (peak RSS row)")
    p.add_argument("--images", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--json", help="also write the raw numbers here")
    a = p.parse_args()
    raw = {"ort": ort_steps(a.bundle, a.reps)}
    print("onnxruntime steps:", raw["ort"], file=sys.stderr)
    if not a.no_torch:
        raw["torch"] = torch_steps(a.reps)
        print("torch steps:", raw["torch"], file=sys.stderr)
    raw["vanilla"] = generate(a.bundle, "vanilla", a.images, N, None, "/tmp/mg-bench-vanilla.png")
    print("vanilla:", raw["vanilla"], file=sys.stderr)
    raw["shortcut"] = generate(a.bundle, "shortcut", a.images, N, B, "/tmp/mg-bench-shortcut.png")
    print("shortcut:", raw["shortcut"], file=sys.stderr)
    if a.fp16:
        raw["rss"] = {dt: generate(b, "shortcut", 1, 4, 2, f"/tmp/mg-bench-rss-{dt}.png")["rssMB"]
                      for dt, b in (("fp32", a.bundle), ("fp16", a.fp16))}
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(raw, fh, indent=1)
    print(table(raw, a.images))
    return 0


def table(raw: dict, images: int) -> str:
    rows = ["| | onnxruntime-node (CPU) | PyTorch 1.13 (CPU) |", "|---|---|---|"]
    o, t = raw["ort"], raw.get("torch")

    def both(key, fmt="{:.0f}"):
        return f"| {{}} | {fmt.format(o[key])} | {fmt.format(t[key]) if t else '-'} |"

    skipped = lambda r: r["shortcutMs"] + r["headMs"]  # noqa: E731
    rho = lambda r: skipped(r) / r["fullMs"]  # noqa: E731
    ideal = lambda r: N / (B + (N - B) * rho(r))  # noqa: E731
    rows.append(both("fullMs").format("full step, ms (base, 2 rows = 1 image with CFG)"))
    rows.append(f"| skipped step, ms (shortcut 2 rows, n = {NEW} + head 1 row) | {skipped(o):.0f} | "
                f"{skipped(t):.0f} |" if t else f"| skipped step, ms | {skipped(o):.0f} | - |")
    rows.append(both("shortcutMs").format("  of which shortcut, ms"))
    rows.append(both("headMs").format("  of which head, ms"))
    rows.append(f"| rho = skipped / full | {rho(o):.3f} | {rho(t):.3f} |" if t else f"| rho | {rho(o):.3f} | - |")
    rows.append(f"| ideal speed-up N / (B + (N - B) rho), N = 32, B = 12 | {ideal(o):.2f}x | "
                + (f"{ideal(t):.2f}x |" if t else "- |"))
    rows.append(both("decodeMs").format("VQGAN decode, ms per image (512 x 512)"))
    v, s = raw["vanilla"], raw["shortcut"]
    rows.append(f"| `migm generate` vanilla N = 32, s/image ({images} image{'s' if images > 1 else ''}) | "
                f"{v['msPerImage'] / 1000:.1f} | |")
    rows.append(f"| `migm generate` shortcut N = 32, B = 12, s/image | {s['msPerImage'] / 1000:.1f} | |")
    rows.append(f"| measured speed-up (paper, GPU: {PAPER_SPEEDUP:.2f}x) | "
                f"{v['msPerImage'] / s['msPerImage']:.2f}x | |")
    if "rss" in raw:
        rows.append(f"| peak RSS of node, fp32 bundle / fp16 bundle (N = 4, B = 2, 1 image), MB | "
                    f"{raw['rss']['fp32']:.0f} / {raw['rss']['fp16']:.0f} | |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
