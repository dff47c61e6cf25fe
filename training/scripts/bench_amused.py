"""CPU benchmark of aMUSEd at real size (random weights) with onnxruntime: load time, text encoding, ms per full
step with guidance, decode, seconds per image at N = 12, peak RSS; fp32 and fp16 bundles. Prints a table and
writes it into BENCHMARKS.md between the amused-bench markers (one row per config and dtype; rows of configs not
run this time are kept).

usage (from training/; each config writes ~5 GB under --work, deleted afterwards unless --keep):
    flock /tmp/torch.lock .venv/bin/python scripts/bench_amused.py --config 256 [--config 512] --work /tmp/amused-bench
    .venv/bin/python scripts/bench_amused.py --bench-only BUNDLE   # one bundle, one JSON line (used internally)

Steps: `import-amused --random-init --config C` (fp32 files only), `import-amused` to an fp32 and an fp16 bundle
(each timed, with its peak RSS), then each bundle in a fresh process: load the three graphs a generation needs
(textEncoder, base, decoder), encode the prompt and the negative prompt (batch 2), N = 12 full steps of the base
on 2 rows (prompt + negative prompt: guidance) with AmusedScheduler's sampling in numpy, decode one image.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
sys.path.insert(0, TRAINING)
BENCH_MD = os.path.join(TRAINING, "..", "BENCHMARKS.md")
START, END = "<!-- amused-bench:start -->", "<!-- amused-bench:end -->"


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)


def _counts(length: int, steps: int) -> list[int]:
    from migm_train.amused.sampling import mask_counts

    return mask_counts(length, steps)


def bench_bundle(bundle: str, steps: int, reps: int) -> dict:
    """One bundle in this process: load, encode, N full steps with guidance, decode (times in ms)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    mf = json.load(open(os.path.join(bundle, "manifest.json")))
    g = mf["graphs"]
    opts = ort.SessionOptions()
    t0 = time.perf_counter()
    sess = {r: ort.InferenceSession(os.path.join(bundle, g[r]["file"]), opts, providers=["CPUExecutionProvider"])
            for r in ("textEncoder", "base", "decoder")}
    tok = Tokenizer.from_file(os.path.join(bundle, mf["condition"]["tokenizer"]["file"]))
    load_s = time.perf_counter() - t0
    prompt = "a photo of a red fox in the snow"
    ids = np.array([e.ids for e in tok.encode_batch([prompt, mf["condition"]["negativePrompt"]])], dtype=np.int32)
    enc = []
    for _ in range(reps + 1):
        t = time.perf_counter()
        text, pooled = sess["textEncoder"].run(["textStates", "pooled"], {"inputIds": ids})
        enc.append(time.perf_counter() - t)
    L, K = mf["tokens"]["count"], mf["tokens"]["codebookSize"]
    micro = np.tile(np.array(mf["condition"]["microConditioning"]["default"], dtype=np.float32), (2, 1))
    counts = _counts(L, steps)
    temps = np.linspace(2.0, 0.0, steps)
    rng = np.random.default_rng(0)
    w = mf["sampling"]["guidance"]["scale"]
    runs, base_ms = [], []
    for _ in range(reps):
        tokens = np.full((1, L), K, dtype=np.int32)
        t_run = time.perf_counter()
        for i in range(steps):
            t = time.perf_counter()
            logits, _ = sess["base"].run(["logits", "feature"], {"tokens": np.repeat(tokens, 2, 0), "textStates": text,
                                                                 "pooled": pooled, "microConds": micro})
            base_ms.append((time.perf_counter() - t) * 1e3)
            x = (1 + w) * logits[0].astype(np.float64) - w * logits[1]
            p = np.exp(x - x.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            cdf = np.cumsum(p, -1)
            drawn = np.minimum((cdf < rng.random((L, 1))).sum(-1), K - 1).astype(np.int32)
            unknown = tokens[0] == K
            drawn = np.where(unknown, drawn, tokens[0])
            if i == steps - 1:
                tokens = drawn[None]
                break
            conf = np.log(np.maximum(p[np.arange(L), drawn], 1e-20))
            conf = np.where(unknown, conf, np.inf) - temps[i] * np.log(-np.log(rng.random(L)))
            keep_masked = np.argsort(conf)[:counts[i]]
            tokens = drawn[None].copy()
            tokens[0, keep_masked] = K
        runs.append(time.perf_counter() - t_run)
    dec = []
    for _ in range(reps + 1):
        t = time.perf_counter()
        (pixels,) = sess["decoder"].run(["pixels"], {"tokens": tokens})
        dec.append(time.perf_counter() - t)
    size = sum(f["bytes"] for f in mf["files"])
    enc_ms, dec_ms = float(np.median(enc[1:])) * 1e3, float(np.median(dec[1:])) * 1e3
    loop_s = float(np.median(runs))
    return {"bundleMB": size / 1e6, "loadS": load_s, "textMs": enc_ms, "stepMs": float(np.median(base_ms)),
            "stepMsWithSampler": loop_s * 1e3 / steps, "decodeMs": dec_ms,
            "imageS": enc_ms / 1e3 + loop_s + dec_ms / 1e3, "peakRssGB": peak_rss_gb(),
            "pixels": list(pixels.shape), "steps": steps, "reps": reps, "loadAvg": os.getloadavg()[0]}


_PEAK = ("import resource, runpy, sys\nsys.argv = sys.argv[1:]\ntry:\n    runpy.run_module(sys.argv[0], run_name='__main__')\n"
         "finally:\n    print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")


def _run(argv: list[str], module: bool = False) -> tuple[float, float, str]:
    """Runs `python argv` (`python -m argv[0] ...` when module); returns (seconds, its peak RSS in GB, stdout)."""
    cmd = [sys.executable, "-c", _PEAK, *argv] if module else [sys.executable, *argv]
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=TRAINING, capture_output=True, text=True,
                         env=dict(os.environ, MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_="34359738368",
                                  ORT_DISABLE_TELEMETRY="1"))
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{res.stderr[-3000:]}")
    peak = [int(line.split()[1]) for line in res.stderr.splitlines() if line.startswith("PEAK_RSS_KB ")]
    return time.perf_counter() - t, (peak[-1] / (1 << 20)) if peak else float("nan"), res.stdout


def run_config(config: str, work: str, steps: int, reps: int, keep: bool) -> list[dict]:
    from migm_train.amused.random_init import CONFIGS, write_folder

    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, f"amused-{config}-random")
    rows = []
    try:
        t = time.perf_counter()
        if not os.path.isdir(model):
            write_folder(CONFIGS[config](), model, seed=0, variants=("",), log=lambda m: print(m, file=sys.stderr))
        folder_s = time.perf_counter() - t
        for dtype in ("fp32", "fp16"):
            out = os.path.join(work, f"bundle-{config}-{dtype}")
            shutil.rmtree(out, ignore_errors=True)
            imp_s, imp_rss, _ = _run(["migm_train", "import-amused", "--model", model, "--out", out, "--dtype", dtype],
                                     module=True)
            print(f"{config} {dtype}: import {imp_s:.0f} s (peak RSS <= {imp_rss:.1f} GB)", file=sys.stderr)
            _, _, stdout = _run([os.path.join(HERE, "bench_amused.py"), "--bench-only", out, "--steps", str(steps),
                                 "--reps", str(reps)])
            row = json.loads(stdout.strip().splitlines()[-1])
            row.update(config=config, dtype=dtype, importS=imp_s, importRssGB=imp_rss, folderS=folder_s)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
            if not keep:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if not keep:
            shutil.rmtree(model, ignore_errors=True)
    return rows


def table(rows: list[dict]) -> str:
    head = ("| model | weights | bundle MB | import s (peak GB) | load s | text encoding ms (2 prompts) | full step ms "
            "(base, 2 rows = guidance) | step incl. sampling ms | decode ms | s / image (N = 12) | peak RSS GB | load avg |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        lines.append(f"| aMUSEd-{r['config']} | {r['dtype']} | {r['bundleMB']:,.0f} | {r['importS']:.0f} "
                     f"({r['importRssGB']:.1f}) | {r['loadS']:.1f} | {r['textMs']:,.0f} | {r['stepMs']:,.0f} | "
                     f"{r['stepMsWithSampler']:,.0f} | {r['decodeMs']:,.0f} | {r['imageS']:.1f} | {r['peakRssGB']:.1f} | "
                     + (f"{r['loadAvg']:.1f} |" if r.get("loadAvg") is not None else "- |"))
    return "\n".join(lines)


def write_md(rows: list[dict], md: str) -> None:
    import onnxruntime
    import torch

    raw = os.path.join(TRAINING, "..", "docs", "data", "amused-bench.json")
    old = []
    if os.path.isfile(raw):
        old = [r for r in json.load(open(raw)) if r["config"] not in {x["config"] for x in rows}]
    rows = sorted(old + rows, key=lambda r: (r["config"], r["dtype"] != "fp32"))
    os.makedirs(os.path.dirname(raw), exist_ok=True)
    with open(raw, "w") as fh:
        json.dump(rows, fh, indent=1)
    body = "\n".join([
        START,
        "## aMUSEd at real size, random weights (CPU, onnxruntime)",
        "",
        "aMUSEd-256 (603.5 M-parameter U-ViT, 16 x 16 tokens) and aMUSEd-512 (608.3 M, 32 x 32 tokens) with CLIP-L/14's "
        "text encoder and the f16 VQ-GAN decoder, all with **random weights** (`import-amused --random-init`; the "
        "published weights were not available here): the images are noise, the times are real. "
        f"Written by `training/scripts/bench_amused.py` on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, onnxruntime {onnxruntime.__version__} (Python, CPU provider, default threads), "
        f"torch {torch.__version__.split('+')[0]} for the import; "
        + "the machine was shared with other jobs (the last column: the 1-minute load average at the end of each "
        "row's run, where recorded). One image = the prompt and the negative prompt encoded together, "
        "N = 12 full steps of the base on 2 rows (guidance), AmusedScheduler's sampling in numpy, one decode; "
        "s / image is their sum (the sessions' load excluded). Load = creating the textEncoder, base and decoder "
        "sessions from the files (head unused). Full step: the median of the 12 steps of a run; text encoding and "
        "decode: a run after a warm-up run. Import: `import-amused` of the random folder's fp32 files, with its peak "
        "RSS. Raw rows in docs/data/amused-bench.json.",
        "",
        table(rows),
        "",
        END,
    ])
    text = open(md).read() if os.path.isfile(md) else ""
    if START in text and END in text:
        text = text[:text.index(START)] + body + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    with open(md, "w") as fh:
        fh.write(text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", choices=["256", "512"])
    p.add_argument("--work", default="/tmp/amused-bench")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--bench-only")
    p.add_argument("--rewrite", action="store_true", help="only rewrite the BENCHMARKS.md section from the raw rows")
    p.add_argument("--markdown", default=BENCH_MD)
    a = p.parse_args()
    if a.rewrite:
        write_md([], a.markdown)
        print(f"rewrote {os.path.normpath(a.markdown)} (amused-bench section) from docs/data/amused-bench.json")
        return 0
    if a.bench_only:
        print(json.dumps(bench_bundle(a.bench_only, a.steps, a.reps)))
        return 0
    rows = []
    for config in a.config or ["256"]:
        rows += run_config(config, a.work, a.steps, a.reps, a.keep)
    print(table(rows))
    write_md(rows, a.markdown)
    print(f"wrote {os.path.normpath(a.markdown)} (amused-bench section)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
