"""Writes docs/training-report.md and sample grids (docs/img/*.png) from a finished work dir."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import torch
from PIL import Image

from .data import CLASS_NAMES
from ..schedules import full_step_plan
from .tokenizer import Tokenizer
from ..torch_files import load_own

NOTES = os.path.join(os.path.dirname(__file__), "..", "..", "report-notes.md")


def load_work_file(work: str, name: str):
    """A stage output of a work dir (JSON or torch file), or None when the stage has not run."""
    p = os.path.join(work, name)
    if not os.path.exists(p):
        return None
    if name.endswith(".json"):
        with open(p) as fh:
            return json.load(fh)
    return load_own(p)


def grid_png(tok: Tokenizer, tokens: torch.Tensor, path: str, per_class: int = 10, scale: int = 2) -> None:
    """Rows = classes (samples were generated with class i mod 10), columns = samples."""
    with torch.no_grad():
        px = tok.decode(tokens.long())[:, 0].numpy()
    rows = []
    per_class = min(per_class, len(px) // len(CLASS_NAMES))
    for c in range(len(CLASS_NAMES)):
        imgs = px[c::len(CLASS_NAMES)][:per_class]
        row = np.concatenate([np.pad(i, 1, constant_values=1.0) for i in imgs], axis=1)
        rows.append(row)
    img = (np.concatenate(rows, axis=0) * 255).round().astype(np.uint8)
    Image.fromarray(img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.NEAREST).save(path)


def _stage_times(work: str) -> dict:
    times = {}
    p = os.path.join(work, "build.log")
    if os.path.exists(p):
        for line in open(p):
            m = re.search(r"stage '(\w+)' done in (\d+)s", line)
            if m:  # resumed runs log skipped stages as 0 s: keep the run that did the work
                times[m.group(1)] = max(times.get(m.group(1), 0), int(m.group(2)))
    return times


def _background_wait(work: str) -> int | None:
    p = os.path.join(work, "build.log")
    found = None
    if os.path.exists(p):
        for line in open(p):
            m = re.search(r"waited (\d+)s for the background stage 'regime'", line)
            if m:
                found = int(m.group(1))
    return found


def _fd(r: dict) -> str:
    return f"{r['fd_pooled']:.2f} | {r['fd_seed_mean']:.2f} ± {r['fd_seed_std']:.2f}"


SEARCH = "shortcut-search-h200.jsonl"


def search_section(path: str) -> tuple[list[str], int]:
    """The shortcut recipe search (scripts/gpu_shortcut_search.py) as a table: baselines, then per recipe the
    held-out one-step MSE / guided KL and the FD / class accuracy at budgets 4 and 5."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["label"], r)  # the second run repeats the baselines with identical numbers
    n_img = next(r["images"] for r in rows if "images" in r)
    out = ["| setting | FD B=4 | acc B=4 | FD B=5 | acc B=5 | one-step MSE | one-step KL |", "|---|---|---|---|---|---|---|"]
    for n in (16, 4, 5):
        r = by[f"vanilla N={n}"]
        out.append(f"| vanilla N={n} | {r['fd']:.2f} | {r['class_acc'] * 100:.1f}% | | | | |")
    base_one = by["one-step baselines"]
    for m in ("reuse", "taylor"):
        a, b = by[f"{m} B=4"], by[f"{m} B=5"]
        out.append(f"| {m} | {a['fd']:.2f} | {a['class_acc'] * 100:.1f}% | {b['fd']:.2f} | {b['class_acc'] * 100:.1f}% | "
                   f"{base_one[m]['mse']:.4f} | {base_one[m]['kl']:.4f} |")
    names = [r["recipe"]["name"] for r in rows if "recipe" in r and r["budget"] == 4]
    for name in names:
        a, b, one = by[f"{name} B=4"], by[f"{name} B=5"], by.get(f"one-step {name}", {}).get("shortcut")
        rc = a["recipe"]
        desc = (f"shortcut `{name}`: KL x{rc['kl']:g}, {'8x data, ' if rc['data'] == 'big' else ''}d={rc['width']}"
                f"{', Taylor correction' if rc.get('taylor') else ''}, {rc['steps']} steps x {rc['batch']} images")
        one_s = f"{one['mse']:.4f} | {one['kl']:.4f}" if one else "- | -"
        out.append(f"| {desc} | {a['fd']:.2f} | {a['class_acc'] * 100:.1f}% | {b['fd']:.2f} | {b['class_acc'] * 100:.1f}% | "
                   f"{one_s} |")
    return out, n_img


VARIETY = "variety-probe-B4.jsonl"


def variety_section(path: str) -> list[str]:
    """scripts/diagnose_shortcut.py --velocity output as two tables: FD split into its mean and covariance terms
    with the within-class spread per sampler, and the held-out velocity decomposition of the shortcut."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    test = next(r for r in rows if r.get("variant") == "test set")
    samples = [r for r in rows if "fd" in r]
    vel = [r["velocity"] for r in rows if "velocity" in r]
    r0 = samples[0]
    fid = all("fd_vanilla" in r for r in samples)
    out = [f"{r0['images']} images per sampler (one seed), budget B = {r0['budget']} at N = {r0['steps']}; "
           f"within-class spread of the 10,000 test images: **{test['spread']:.1f}**."
           + (f" Last column: FD against {r0['images']} vanilla N = {r0['steps']} samples of another seed (fidelity to "
              "the base model; vanilla's own value is the sampling-noise floor)." if fid else ""), "",
           "| sampler | FD | mean term | covariance term | within-class spread | class acc |" + (" FD to vanilla |" if fid else ""),
           "|---|---|---|---|---|---|" + ("---|" if fid else "")]
    for r in samples:
        name = f"vanilla N={r['steps']}" if r["variant"].startswith("vanilla") else f"{r['variant']} B={r['budget']}"
        out.append(f"| {name} | {r['fd']:.2f} | {r['fd_mean']:.2f} | {r['fd_cov']:.2f} | {r['spread']:.1f} | "
                   f"{r['class_acc'] * 100:.1f}% |" + (f" {r['fd_vanilla']:.2f} |" if fid else ""))
    if vel:
        out += ["", f"Held-out velocity f_(s+1) - f_s at the still-masked positions ({rows[0]['images']} images x 2 "
                "CFG branches), split into its image-average part (mean over the images, per branch and position) "
                "and the image-specific rest; explained = 1 - error energy / energy (0 = what reuse gets); speed = "
                "|predicted velocity| / |true velocity| (RMS).", "",
                "| step s | image-specific share of the energy | average part explained | image-specific part explained "
                "| speed |", "|---|---|---|---|---|"]
        out += [f"| {v['step']} | {v['specific_share'] * 100:.1f}% | {v['average_explained'] * 100:.1f}% | "
                f"{v['specific_explained'] * 100:.1f}% | {v['speed_ratio']:.2f} |" for v in vel]
    seg = [r["segment"] for r in rows if "segment" in r]
    if seg:
        out += ["", f"The budgeted sampler replayed on the same held-out trajectories (plan of B = {r0['budget']}): at "
                "each skipped step i after full step b, the displacement f_i - f_b predicted by the chained shortcut "
                "(fed the true revealed tokens), by Taylor (from the last two full steps) and by reuse (none); "
                "image-specific part explained, and the guided KL at step i.", "",
                "| step i | from b | shortcut: specific explained | Taylor: specific explained | KL shortcut | KL Taylor "
                "| KL reuse |", "|---|---|---|---|---|---|---|"]
        for g in seg:
            sc, t = g["shortcut"], g.get("taylor")  # no Taylor before the second full step
            t_cells = f"{t['specific_explained'] * 100:.1f}% | {sc['kl']:.3f} | {t['kl']:.3f}" if t else f"- | {sc['kl']:.3f} | -"
            out.append(f"| {g['step']} | {g['from']} | {sc['specific_explained'] * 100:.1f}% | {t_cells} | "
                       f"{g['reuse']['kl']:.3f} |")
    return out


NOISE = "sampler-noise-probe-h200.jsonl"


def noise_section(path: str) -> list[str]:
    """The confidence-noise probe (docs/data/sampler-noise-probe-h200.jsonl) as one table: each setting with its FD
    on the selection seed (3) and the check seed (1), and the check seed's fidelity, spread and class accuracy."""
    rows = [r for r in (json.loads(line) for line in open(path) if line.strip()) if "legend" not in r]
    r_temp = 7.0
    by_seed: dict = {}
    for r in rows:
        key = (r["full_noise"], r["method"], r["steps"], r["budget"] or 0, r["skip_noise"], r["fd_vanilla_ref_noise"])
        by_seed.setdefault(key, {})[r["seed"]] = r
    has_ref = {k[0] for k in by_seed if k[1] == "vanilla" and k[0] == k[5]}  # full-step noise levels with a reference
    out = [f"{rows[0]['images']:,} images per row; r_temp = {r_temp:g} x the multiplier at full steps / at skipped steps "
           "(7 / 7 = the shipped sampler); FD to vanilla: against vanilla N = 16 of another seed drawn with the same "
           "r_temp at full steps.", "",
           "| method | N | B | r_temp full | r_temp skipped | FD (seed 3) | FD (seed 1) | FD to vanilla (seed 1) | spread "
           "(seed 1) | class acc (seed 1) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(by_seed, key=lambda k: (k[0], k[1] != "vanilla", k[2], k[3], k[1], k[4])):
        kf, method, steps, budget, k, ref = key
        s3, s1 = by_seed[key].get(3), by_seed[key].get(1)
        if s3 is None or s1 is None or (kf != ref and (method != "vanilla" or kf in has_ref)):
            continue  # each setting once, beside the vanilla reference drawn with its own r_temp
        fid = f"{s1['fd_vanilla']:.2f}" if kf == ref else "-"
        skipped = "-" if method == "vanilla" else f"{r_temp * k:g}"
        out.append(f"| {method} | {steps} | {budget or '-'} | {r_temp * kf:g} | {skipped} | {s3['fd']:.2f} | "
                   f"{s1['fd']:.2f} | {fid} | {s1['spread']:.1f} | {s1['class_acc'] * 100:.1f}% |")
    return out


RETUNE = "retune-r14-cpu.jsonl"


def retune_section(path: str) -> list[str]:
    """A build in another work dir with a wider tune grid and the shortcut retrained on its trajectories
    (scripts/work_rows.py output plus scripts/skipped_noise_rows.py rows): the tune candidates, then every
    2,010-image row with the vanilla N = 16 limit."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    legend = next(r["legend"] for r in rows if "legend" in r)
    tune = [r for r in rows if r.get("stage") == "tune"]
    sampled = [r for r in rows if r.get("stage") in ("regime", "compare", "probe")]
    r_temp = legend["sampler"]["randomize_temperature"]
    out = [legend["what"], "",
           f"Tune stage ({legend['tune_images']} images, one seed; the pick: the lowest FD at N = 16 among candidates "
           "whose N = 4 is at least 10% worse):", "",
           "| guidance | r_temp | FD N=16 | FD N=4 | class acc N=16 |", "|---|---|---|---|---|"]
    for r in sorted(tune, key=lambda r: (-r["guidance"], -r["randomize_temperature"])):
        pick = " (picked)" if r["randomize_temperature"] == r_temp and r["guidance"] == legend["sampler"]["guidance"] else ""
        out.append(f"| {r['guidance']:g} {r['guidance_schedule']} | {r['randomize_temperature']:g}{pick} | {r['fd']:.2f} | "
                   f"{r['fd_few']:.2f} | {r['class_acc'] * 100:.1f}% |")
    ref = next((r for r in sampled if r["method"] == "vanilla" and r["steps"] == 16), None)
    out += ["", f"Sampling at r_temp {r_temp:g}, {sampled[0]['images']:,} images per row over seeds "
            f"{', '.join(str(s) for s in sampled[0]['seeds'])} (the compare stage's images and seeds)"
            + (f"; the target, within 10% of vanilla N = 16, is FD <= {ref['fd'] * 1.1:.2f}" if ref else "") + ":", "",
            "| sampler | N | B | r_temp at skipped steps | FD | seed std | class acc | spread | vs vanilla N=16 |",
            "|---|---|---|---|---|---|---|---|---|"]
    seen = set()
    order = {"vanilla": 0, "shortcut": 1, "reuse": 2, "taylor": 3}
    for r in sorted(sampled, key=lambda r: (r["method"] != "vanilla", r["budget"] or r["steps"], order[r["method"]],
                                            r.get("label") or "", r.get("skipped_rtemp") or 0)):
        skipped_rtemp = r_temp if r.get("skipped_rtemp") is None else r["skipped_rtemp"]
        key = (r["method"], r["steps"], r["budget"], skipped_rtemp, r.get("label"))
        if key in seen:
            continue  # vanilla N = 4 is in both the regime and the compare rows
        seen.add(key)
        name = r["method"] if r["method"] != "shortcut" else (r.get("label") or "shortcut (retrained)")
        skipped = "-" if r["method"] == "vanilla" else f"{skipped_rtemp:g}"
        rel = f"{(r['fd'] / ref['fd'] - 1) * 100:+.1f}%" if ref else "-"
        std = f"{r['fd_seed_std']:.2f}" if "fd_seed_std" in r else "-"
        spread = f"{r['spread']:.1f}" if "spread" in r else "-"
        out.append(f"| {name} | {r['steps']} | {r['budget'] or '-'} | {skipped} | {r['fd']:.2f} | {std} | "
                   f"{r['class_acc'] * 100:.1f}% | {spread} | {rel} |")
    held = [r for r in rows if r.get("stage") == "heldout" and 1 <= r["step"] <= 14]
    if held:
        mean = lambda k: sum(r[k] for r in held) / len(held)  # noqa: E731
        out += ["", f"Held-out one-step prediction ({held[0]['images']} images, mean over steps 1-14): KL shortcut "
                f"{mean('shortcut_kl'):.3f}, reuse {mean('reuse_kl'):.3f}, Taylor {mean('taylor_kl'):.3f}; cosine "
                f"{mean('shortcut_cos'):.4f} / {mean('reuse_cos'):.4f} / {mean('taylor_cos'):.4f}."]
    return out


def write_report(work: str, bundle: str, docs: str) -> str:
    os.makedirs(os.path.join(docs, "img"), exist_ok=True)
    cfg = load_work_file(work, "config.json")
    tk = load_work_file(work, "tokenizer.pt")
    tok = Tokenizer(tk["codebook"], tk["patch"])
    clf = load_work_file(work, "classifier.pt")
    base = load_work_file(work, "base.pt")
    tune = load_work_file(work, "tune.json")
    regime = load_work_file(work, "regime.pt")
    held = load_work_file(work, "heldout.json")
    comp = load_work_file(work, "compare.pt")
    bench = load_work_file(work, "bench.json")
    sc = load_work_file(work, "shortcut.pt")
    times = _stage_times(work)
    n_default = cfg["sampling"]["steps"]
    L = base["config"]["length"]
    out = ["# Training report: the default bundle (Fashion-MNIST MIGM + shortcut)", "",
           "Generated by `python -m migm_train report` from `training/work` after `training/build.sh` "
           "(config `%s`, seed %d). All numbers are measured on the 2-core CPU build machine; nothing is "
           "copied from elsewhere." % (cfg["name"], cfg["seed"]), ""]
    if os.path.exists(NOTES):
        out += [open(NOTES).read().strip(), ""]
    total = sum(times.values())
    waited = _background_wait(work)
    out += ["## Build", "", "| stage | seconds |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in times.items()]
    out += [f"| **sum of stages** | **{total}** ({total / 60:.0f} min) |", ""]
    if waited is not None and "regime" in times:
        wall = total - times["regime"] + waited
        out += [f"The regime check ran in a background process beside trajectories, shortcut, held-out and compare "
                f"(one core each); the build then waited {waited} s for it, so the wall time was about "
                f"**{wall} s ({wall / 60:.0f} min)**.", ""]

    out += ["## Tokenizer", "",
            f"k-means codebook on {tk['patch']}x{tk['patch']} pixel patches: {L} tokens per image "
            f"({28 // tk['patch']}x{28 // tk['patch']}), K = {tok.size} ({tk['codes_used']} codes used), "
            f"{cfg['kmeans_iters']} Lloyd iterations on {cfg['kmeans_sample']} random training patches.", "",
            f"- Test-set PSNR of decode(encode(x)): **{tk['psnr_test']:.2f} dB**", ""]

    out += ["## Evaluation classifier", "",
            f"- Test accuracy: **{clf['test_acc'] * 100:.2f}%** (on tokenizer reconstructions of the test set: "
            f"{clf['recon_acc'] * 100:.2f}%)",
            f"- FD (penultimate 128-d features) of the tokenizer reconstructions vs. the test set: "
            f"{clf['fd_recon']:.3f}: the floor for any sampler with this tokenizer.", "",
            "FD below = Frechet distance between Gaussian fits of the classifier's penultimate features of "
            "generated images and of the 10,000 Fashion-MNIST test images.", ""]

    bc = base["config"]
    out += ["## Base MIGM", "",
            f"Bidirectional transformer, width D = {bc['dim']}, {bc['depth']} layers, {bc['heads']} heads, MLP x"
            f"{bc['mlp_ratio']:g}, class token + {L} image tokens, tied head + per-position bias"
            + (", a depthwise 3x3 convolution branch over the token grid before each block (local mixing)"
               if bc.get("local_mixing") else "") + "; "
            f"{base['parameters']:,} parameters. AdamW lr {cfg['base_lr']} (warm-up + cosine), batch "
            f"{cfg['base_batch']}, {cfg['base_steps']} steps ({cfg['base_steps'] * cfg['base_batch'] / 60000:.2f} "
            f"epochs), arccos mask ratios, 10% label dropout; {base['train_seconds'] / 60:.1f} min.", "",
            "Masked-token top-1 accuracy on the test set (conditional, random masks at a fixed ratio):", "",
            "| mask ratio | " + " | ".join(base["masked_acc"]) + " |",
            "|---|" + "---|" * len(base["masked_acc"]),
            "| accuracy | " + " | ".join(f"{v * 100:.1f}%" for v in base["masked_acc"].values()) + " |", ""]

    if tune and tune["rows"]:
        few = tune.get("few_steps")
        out += ["## Sampler tuning (brief)", ""]
        if few:
            out += [f"Vanilla at N = {tune['steps']} and N = {few}, {tune['images']} images each (one seed; FD on few "
                    "images is biased upwards, so only comparisons at equal image counts mean anything). Rule "
                    f"(`pipeline.pick_sampler`): the lowest FD at N = {tune['steps']} among the candidates whose "
                    f"FD at N = {few} is at least {tune['min_gap'] * 100:.0f}% worse (the regime a shortcut can "
                    "accelerate); if none, the largest relative gap.", "",
                    f"| candidate | FD N={tune['steps']} | class acc | FD N={few} | gap |", "|---|---|---|---|---|"]
            out += [f"| {json.dumps(r['candidate'])} | {r['fd']:.2f} | {r['class_acc'] * 100:.1f}% | {r['fd_few']:.2f} | "
                    f"{(r['fd_few'] - r['fd']) / r['fd'] * 100:+.1f}% |" for r in tune["rows"]]
        else:
            out += [f"Vanilla N = {tune['steps']}, {tune['images']} images each (one seed; FD on few images is biased "
                    "upwards, only the ranking is used):", "", "| candidate | FD | class acc |", "|---|---|---|"]
            out += [f"| {json.dumps(r['candidate'])} | {r['fd']:.2f} | {r['class_acc'] * 100:.1f}% |" for r in tune["rows"]]
        out += ["", f"Chosen: `{json.dumps(tune['best'])}`.", ""]

    if regime:
        rows = {r["options"]["steps"]: r for r in regime["rows"]}
        o = regime["rows"][0]["options"]
        out += ["## Regime check (vanilla sampler)", "",
                f"Guidance {o['guidance']} ({o['guidance_schedule']}), inverse temperature "
                f"{o['inverse_temperature']}, r_temp {o['randomize_temperature']}, arccos schedule. "
                f"{regime['rows'][0]['images']} images per N = 3 seeds x {regime['rows'][0]['images'] // 3} "
                "(balanced classes). FD pooled over all images; per-seed FD mean ± std shows the seed noise "
                "(per-seed FDs use a third of the images and are therefore higher).", "",
                "| N | FD (pooled) | per-seed FD | class acc | torch ms/img |", "|---|---|---|---|---|"]
        for n, r in rows.items():
            out.append(f"| {n} | {_fd(r)} | {r['class_acc'] * 100:.1f}% | {r['seconds_per_image'] * 1000:.1f} |")
        if 4 in rows and n_default in rows:
            a, b = rows[4], rows[n_default]
            gap = a["fd_pooled"] - b["fd_pooled"]
            noise = max(a["fd_seed_std"], b["fd_seed_std"])
            verdict = "PASS" if gap > 3 * noise and gap > 0 else "FAIL"
            out += ["", f"**{verdict}**: FD(N=4) - FD(N={n_default}) = {gap:.2f}, against a seed-to-seed std of "
                        f"at most {noise:.2f} (criterion: gap > 3 x std).", ""]
        for n in (4, n_default):
            if n in rows:
                grid_png(tok, rows[n]["grid_tokens"], os.path.join(docs, "img", f"vanilla-N{n}.png"))

    if bench:
        fl = bench["flops"]
        out += ["## Cost of a shortcut step", "",
                f"Shortcut: {sc['parameters']:,} parameters (bottleneck d = {sc['config']['width']}, "
                f"{sc['config']['blocks']} block, {sc['config']['heads']} heads, MLP x{sc['config']['mlp_ratio']:g}). "
                f"Trained {cfg['shortcut_steps']} steps of {cfg['shortcut_batch']} images x 2 CFG branches (lr "
                f"{cfg['shortcut_lr']}, EMA {cfg['shortcut_ema']}, {cfg.get('shortcut_rollout', 1)}-step rollout, loss MSE"
                f" + {cfg.get('shortcut_kl', 0):g} x guided-logit KL) on "
                f"{cfg['traj_train']} trajectories. "
                "A shortcut step = shortcut graph + head graph; a base step = base graph (which includes the head).",
                "", f"- FLOPs per sequence: base {fl['base'] / 1e6:.1f} M, shortcut {fl['shortcut'] / 1e6:.1f} M + "
                    f"head {fl['head'] / 1e6:.1f} M -> **ratio {fl['ratio']:.3f}**",
                "", f"onnxruntime-node 1.30 CPU, {bench['threads']} intra-op thread(s), "
                    f"{bench['results'][0]['newTokens']} new tokens:", "",
                "| batch | base ms | shortcut ms | head ms | shortcut step / base step |", "|---|---|---|---|---|"]
        out += [f"| {r['batch']} | {r['baseMs']:.3f} | {r['shortcutMs']:.3f} | {r['headMs']:.3f} | "
                f"**{r['ratio']:.3f}** |" for r in bench["results"]]
        out.append("")

    if held:
        out += ["## One-step feature prediction on held-out trajectories", "",
                f"{held['images']} held-out images x 2 CFG branches, vanilla N = {n_default}. Error of the predicted "
                "f_{s+1} at the positions still masked after step s. Reuse: f_s. Taylor (first order): "
                "f_s + (f_s - f_{s-1}) (equals reuse at s = 0). Shortcut (EMA weights): f_s + S(f_s, u_s, r_s).", "",
                "KL: KL(target || prediction) of the guided token distributions the sampler reads at step s + 1.", "",
                "| step s | MSE shortcut | MSE reuse | MSE Taylor | cos shortcut | cos reuse | cos Taylor | KL shortcut "
                "| KL reuse | KL Taylor |", "|---|---|---|---|---|---|---|---|---|---|"]
        cols = [f"{m}_{k}" for k in ("mse", "cos", "kl") for m in ("shortcut", "reuse", "taylor")]
        for r in held["rows"]:
            out.append(f"| {r['step']} | " + " | ".join(f"{r[c]:.4f}" for c in cols) + " |")
        mean = {c: np.mean([r[c] for r in held["rows"]]) for c in cols}
        out += ["| mean | " + " | ".join(f"{mean[c]:.4f}" for c in cols) + " |", ""]

    if comp and regime:
        rows = {r["options"]["steps"]: r for r in regime["rows"]}
        ref = rows.get(n_default)
        ort = {r["batch"]: r for r in bench["results"]} if bench else {}
        b2 = ort.get(2)
        out += ["## Sample-level comparison at the default N = %d" % n_default, "",
                f"{comp['rows'][0]['images']} images per row (3 seeds). torch ms/img: measured wall time of the "
                f"PyTorch reference sampler at batch {comp['rows'][0]['batch']} on this machine. ort ms/img: "
                "estimate from the onnxruntime-node timings above at batch 2 (one image with its CFG twin): "
                "B base steps + (N - B) shortcut steps (reuse/Taylor: head only; shortcut-taylor: shortcut steps "
                "before the second full step, head only after it).", "",
                "| budget B | method | full steps | FD (pooled) | per-seed FD | class acc | torch ms/img | ort ms/img |",
                "|---|---|---|---|---|---|---|---|"]
        if ref:
            est = n_default * b2["baseMs"] if b2 else float("nan")
            out.append(f"| - | vanilla N={n_default} | {n_default} | {_fd(ref)} | {ref['class_acc'] * 100:.1f}% | "
                       f"{ref['seconds_per_image'] * 1000:.1f} | {est:.2f} |")
        for r in comp["rows"]:
            b, m = r["budget"], r["options"]["method"]
            if m == "vanilla":
                name, est = f"vanilla N={b}", (b * b2["baseMs"] if b2 else float("nan"))
            else:
                plan = full_step_plan(n_default, b)
                # shortcut-taylor runs the shortcut at the skipped steps before the second full step.
                learned = (n_default - b if m == "shortcut" else
                           (plan[1] - 1 if len(plan) > 1 else n_default - 1) if m == "shortcut-taylor" else 0)
                heads = n_default - b - learned
                name, est = m, (b * b2["baseMs"] + learned * b2["shortcutStepMs"] + heads * b2["headMs"]
                                if b2 else float("nan"))
            out.append(f"| {b} | {name} | {b} | {_fd(r)} | {r['class_acc'] * 100:.1f}% | "
                       f"{r['seconds_per_image'] * 1000:.1f} | {est:.2f} |")
        out.append("")
        checks = []
        for b in sorted({r["budget"] for r in comp["rows"]}):
            by = {r["options"]["method"]: r for r in comp["rows"] if r["budget"] == b}
            s = by["shortcut"]["fd_pooled"]
            beats = s < by["reuse"]["fd_pooled"] and s < by["taylor"]["fd_pooled"]
            within = ref and s <= 1.1 * ref["fd_pooled"]
            checks.append(f"- B = {b}: shortcut FD {s:.2f} vs reuse {by['reuse']['fd_pooled']:.2f}, Taylor "
                          f"{by['taylor']['fd_pooled']:.2f}, vanilla N={b} {by['vanilla']['fd_pooled']:.2f} -> beats "
                          f"reuse and Taylor: **{'yes' if beats else 'no'}**; within 10% of vanilla N={n_default} "
                          f"({ref['fd_pooled']:.2f}, limit {1.1 * ref['fd_pooled']:.2f}): "
                          f"**{'yes' if within else 'no'}**")
            if "shortcut-taylor" in by:
                h = by["shortcut-taylor"]
                checks.append(f"  - shortcut-taylor (the shortcut until the second full step, then Taylor): FD "
                              f"{h['fd_pooled']:.2f}, class acc {h['class_acc'] * 100:.1f}% -> within 10% of vanilla "
                              f"N={n_default}: **{'yes' if ref and h['fd_pooled'] <= 1.1 * ref['fd_pooled'] else 'no'}**")
            for m in ("shortcut", "reuse"):
                grid_png(tok, by[m]["grid_tokens"], os.path.join(docs, "img", f"{m}-N{n_default}-B{b}.png"))
        out += ["Targets:", ""] + checks + [""]

    search = os.path.join(docs, "data", SEARCH)
    if os.path.exists(search):
        table, n_img = search_section(search)
        out += ["## Shortcut recipe search (on a GPU)", "",
                f"`training/scripts/gpu_shortcut_search.py` on one NVIDIA H200 (lent for 15 minutes), from this "
                f"build's base model: each recipe trained from scratch, then {n_img} images (one seed) per budget at "
                "N = 16, next to reuse, Taylor and vanilla on the same random stream (the GPU's, so FDs differ from "
                "the CPU tables above by the sampling noise). One-step: held-out trajectories sampled on the GPU, "
                "mean over steps 1-14 (for `kl3` and `kl10`, from a second run with its own held-out set). `mse` ran "
                "with the trainer as it was before the KL term (32 rows of random CFG branches per step). Raw rows: "
                "`docs/data/" + SEARCH + "`.", ""] + table + [""]

    variety = os.path.join(docs, "data", VARIETY)
    if os.path.exists(variety):
        out += ["## Where the shortcut loses: variety inside a class", "",
                "`training/scripts/diagnose_shortcut.py --velocity --fidelity` on this build (raw: `docs/data/" + VARIETY + "`).",
                ""] + variety_section(variety) + [""]

    noise = os.path.join(docs, "data", NOISE)
    if os.path.exists(noise):
        out += ["## Confidence noise at skipped steps (a GPU probe)", "",
                "One-off probe on a lent H200 (raw rows and setup: `docs/data/" + NOISE + "`; the script was not "
                "kept). What it shows is in the summary above.", ""] + noise_section(noise) + [""]

    retune = os.path.join(docs, "data", RETUNE)
    if os.path.exists(retune):
        out += ["## The retune shipped in bundle 2.0.0 (with skipped-step noise probes)", "",
                "Raw rows: `docs/data/" + RETUNE + "` (`scripts/work_rows.py` and `scripts/skipped_noise_rows.py`). "
                "It ran first as an experiment in another work dir; bundle 2.0.0 was exported from that work dir, so "
                "its rows are the regime and compare tables above plus the probes. What it shows is in the summary "
                "above.", ""] + retune_section(retune) + [""]

    imgs = sorted(f for f in os.listdir(os.path.join(docs, "img"))
                  if f.endswith(".png") and f.split("-")[0] in ("vanilla", "shortcut", "reuse"))
    if imgs:
        out += ["## Samples", "", "Rows: " + ", ".join(CLASS_NAMES) + " (top to bottom); 10 samples each.", ""]
        for f in imgs:
            out += [f"### {f[:-4]}", "", f"![{f[:-4]}](img/{f})", ""]
    path = os.path.join(docs, "training-report.md")
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")
    return path
