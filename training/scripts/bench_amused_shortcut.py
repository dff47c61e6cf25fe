"""CPU benchmark of aMUSEd's shortcut at real size (random weights; speed only, never quality): ms per full step
and per skipped step (shortcut + head), rho = skipped / full, the ideal speed-up N / (B + (N - B) rho), and the
measured seconds per image of `migm generate` (the runtime's generate()) for vanilla and the shortcut at budgets
B, with achieved / ideal. Prints a Markdown table and writes the raw results as JSON.

usage (from training/; the shortcut graph is added to a hard-linked copy of each bundle, which needs the model
folder it was imported from: ~3 GB of memory for the U-ViT, so it runs under the torch lock):
    flock /tmp/torch.lock .venv/bin/python scripts/bench_amused_shortcut.py --prepare \\
        --bundle 256=/tmp/shared-amused/amused-256 --model 256=/tmp/shared-amused/amused-256-folder --work /tmp/d2/bench
    flock /tmp/bench.lock .venv/bin/python scripts/bench_amused_shortcut.py \\
        --bundle 256=... --model 256=... --work /tmp/d2/bench --json ../docs/data/amused-shortcut-bench.json

Seconds per image are generate()'s own time (`timings.totalMs` of `migm generate --json --count 1`): the text
encoding and the N steps, not the bundle's load (a new process per run) and not the decode, which every method
pays alike. The achieved speed-up is vanilla's seconds over the shortcut's at the same N; the text encoding (a few
hundred ms) keeps it slightly below the ideal, which counts steps only, and on a shared machine the load average
moves both (it is recorded per run, before and after).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
MIGM = os.path.join(TRAINING, "..", "packages", "cli", "bin", "migm.js")
PROMPT = "a photo of a red fox in the snow"
ENV = dict(os.environ, ORT_DISABLE_TELEMETRY="1")


def load() -> float:
    return os.getloadavg()[0]


def prepare(bundle: str, model: str, out: str) -> None:
    if os.path.isdir(out):
        return
    res = subprocess.run([sys.executable, "-m", "migm_train", "train-amused-shortcut", "--bundle", bundle, "--model",
                          model, "--untrained", "--out", out], cwd=TRAINING, env=ENV, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"preparing {out} failed:\n{res.stderr}")


def step_times(bundle: str, reps: int, new_tokens: int) -> dict:
    res = subprocess.run(["node", os.path.join(HERE, "ort-amused-step-times.mjs"), bundle, str(reps), str(new_tokens)],
                         cwd=TRAINING, env=ENV, capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def generate(bundle: str, steps: int, method: str, budget: int | None, out_png: str) -> dict:
    argv = ["node", MIGM, "generate", "--bundle", bundle, "--prompt", PROMPT, "--count", "1", "--steps", str(steps),
            "--method", method, "--seed", "1", "--json", "--out", out_png]
    if budget is not None:
        argv += ["--budget", str(budget)]
    before = load()
    t0 = time.time()
    res = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"migm generate failed: {res.stderr}")
    r = json.loads(res.stdout)
    return {"steps": steps, "method": method, "budget": budget, "seconds": r["timings"]["totalMs"] / 1e3,
            "processSeconds": round(time.time() - t0, 1), "calls": r["calls"], "load": [round(before, 2), round(load(), 2)]}


def ideal(n: int, b: int, rho: float) -> float:
    return n / (b + (n - b) * rho)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--bundle", action="append", required=True, help="SIZE=DIR (an import-amused bundle)")
    p.add_argument("--model", action="append", required=True, help="SIZE=DIR (the folder it was imported from)")
    p.add_argument("--work", required=True, help="where the copies with a shortcut graph go")
    p.add_argument("--prepare", action="store_true", help="only add the (random) shortcut graphs")
    p.add_argument("--steps", default="12,24", help="N values")
    p.add_argument("--budgets", default="4,6", help="B values of the shortcut")
    p.add_argument("--reps", type=int, default=3, help="runs per step-time median")
    p.add_argument("--json", help="write the raw results here")
    a = p.parse_args()
    bundles = dict(x.split("=", 1) for x in a.bundle)
    models = dict(x.split("=", 1) for x in a.model)
    os.makedirs(a.work, exist_ok=True)
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "host": platform.node(),
               "cpus": os.cpu_count(), "prompt": PROMPT, "note": "random weights (base and shortcut): speed only",
               "sizes": {}}
    for size, bundle in bundles.items():
        sc = os.path.join(a.work, f"amused-{size}-shortcut")
        prepare(bundle, models[size], sc)
        if a.prepare:
            print(f"prepared {sc}")
            continue
        m = json.load(open(os.path.join(sc, "manifest.json")))
        counts = json.load(open(os.path.join(sc, "manifest.json")))["tokens"]["count"]
        st = step_times(sc, a.reps, max(1, counts // 12))
        st["load"] = round(load(), 2)
        print(f"aMUSEd-{size}: full {st['fullMs']:.0f} ms, skipped {st['skippedMs']:.1f} ms (shortcut "
              f"{st['shortcutMs']:.1f} + head {st['headMs']:.1f}), rho {st['rho']:.4f}", flush=True)
        runs = []
        for n in (int(v) for v in a.steps.split(",")):
            if n > m["tokens"]["count"]:
                continue
            runs.append(generate(sc, n, "vanilla", None, os.path.join(a.work, "v.png")))
            print(json.dumps(runs[-1]), flush=True)
            for b in (int(v) for v in a.budgets.split(",")):
                runs.append(generate(sc, n, "shortcut", b, os.path.join(a.work, "s.png")))
                print(json.dumps(runs[-1]), flush=True)
        results["sizes"][size] = {"shortcutParameters": m["graphs"]["shortcut"]["parameters"],
                                  "baseParameters": m["graphs"]["base"]["parameters"], "stepTimes": st, "runs": runs}
    if a.prepare:
        return 0
    rows = ["| model | N | method | B | s / image | rho | ideal speed-up | achieved | achieved / ideal | load |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for size, r in results["sizes"].items():
        rho = r["stepTimes"]["rho"]
        van = {x["steps"]: x["seconds"] for x in r["runs"] if x["method"] == "vanilla"}
        for x in r["runs"]:
            if x["method"] == "vanilla":
                rows.append(f"| aMUSEd-{size} | {x['steps']} | vanilla | - | {x['seconds']:.1f} | | 1 | 1 | | {x['load'][0]} |")
            else:
                i = ideal(x["steps"], x["budget"], rho)
                ach = van[x["steps"]] / x["seconds"]
                x.update(ideal=round(i, 3), achieved=round(ach, 3))
                rows.append(f"| aMUSEd-{size} | {x['steps']} | shortcut | {x['budget']} | {x['seconds']:.1f} | {rho:.4f} | "
                            f"{i:.2f}x | {ach:.2f}x | {ach / i:.2f} | {x['load'][0]} |")
    table = "\n".join(rows)
    print(table)
    steps_rows = ["| model | full step (ms) | shortcut (ms) | head (ms) | skipped step (ms) | rho | load |", "|---|---|---|---|---|---|---|"]
    for size, r in results["sizes"].items():
        s = r["stepTimes"]
        steps_rows.append(f"| aMUSEd-{size} | {s['fullMs']:.0f} | {s['shortcutMs']:.1f} | {s['headMs']:.1f} | "
                          f"{s['skippedMs']:.1f} | {s['rho']:.4f} | {s['load']} |")
    print("\n".join(steps_rows))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
