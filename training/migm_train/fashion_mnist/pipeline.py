"""The resumable build: each stage writes its output into the work dir and is skipped when it exists."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict

import numpy as np
import torch

from .. import manifest as man
from . import classifier as clf_mod
from ..env import TRAINING_DIR
from .evaluate import Evaluator
from ..sampler import SamplerOptions
from ..schedules import token_counts
from ..torch_files import load_own
from . import base_train, data, export, shortcut_train, tokenizer
from .base_model import BaseConfig, BaseModel, count_parameters, flops_per_sequence
from .config import BuildConfig
from .shortcut import Shortcut, ShortcutConfig, flops_per_step
from .trajectories import generate

STAGES = ["tokenizer", "classifier", "base", "tune", "regime", "trajectories", "shortcut", "heldout",
          "compare", "export", "bench"]


class StageError(RuntimeError):
    pass


class Build:
    def __init__(self, cfg: BuildConfig, work: str, out: str, fixtures: str | None, log_file: bool = True):
        self.cfg, self.work, self.out, self.fixtures = cfg, work, out, fixtures
        os.makedirs(work, exist_ok=True)
        self.log_path = os.path.join(work, "build.log") if log_file else None
        self._data: data.FashionMnist | None = None
        torch.set_num_threads(int(os.environ.get("MIGM_TORCH_THREADS", "1")))

    # ---- plumbing -------------------------------------------------------------------------------
    def log(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(line + "\n")

    def path(self, name: str) -> str:
        return os.path.join(self.work, name)

    @property
    def dataset(self) -> data.FashionMnist:
        if self._data is None:
            self._data = data.load()
        return self._data

    def train_arrays(self):
        d = self.dataset
        n = self.cfg.train_subset or len(d.train_images)
        return d.train_images[:n], d.train_labels[:n]

    def save(self, obj, name: str) -> None:
        tmp = self.path(name + ".tmp")
        if name.endswith(".json"):
            with open(tmp, "w") as fh:
                json.dump(obj, fh, indent=1)
        else:
            torch.save(obj, tmp)
        os.replace(tmp, self.path(name))  # atomic: a half-written checkpoint never counts as done

    def load(self, name: str):
        if name.endswith(".json"):
            with open(self.path(name)) as fh:
                return json.load(fh)
        return load_own(self.path(name))

    def run(self, only: list[str] | None = None) -> None:
        """Runs the stages in order. In a full run the regime check (sampling only; nothing but the report
        needs it) goes to a child process while trajectories, shortcut, held-out and compare run here: one
        torch thread per process, so the two cores work on both (one process with two threads gained ~3%)."""
        with open(self.path("config.json"), "w") as fh:
            json.dump(self.cfg.to_dict(), fh, indent=1)
        background: subprocess.Popen | None = None
        try:
            for stage in STAGES:
                if only and stage not in only:
                    continue
                if stage == "regime" and not only and not os.path.exists(self.path("regime.pt")):
                    background = self._start_background("regime")
                    continue
                if stage == "export" and background is not None:
                    self._wait_background(background, "regime")
                    background = None
                self._run_stage(stage)
        finally:
            if background is not None and background.poll() is None:
                background.terminate()
                background.wait()

    def _run_stage(self, stage: str) -> None:
        marker = self.path(f"{stage}.running")
        if os.path.exists(marker):
            self.log(f"stage '{stage}' was interrupted last time; running it again from its start")
        open(marker, "w").close()
        t0 = time.time()
        try:
            getattr(self, f"stage_{stage}")()
        except (KeyboardInterrupt, Exception) as exc:
            self.log(f"stage '{stage}' stopped: {type(exc).__name__}: {exc}")
            raise StageError(
                f"stage '{stage}' did not finish. Completed stages are kept in {self.work}; rerun the same "
                f"build command to resume at '{stage}' (or add --only {stage})."
            ) from exc
        os.remove(marker)
        self.log(f"stage '{stage}' done in {time.time() - t0:.0f}s")

    def _start_background(self, stage: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "migm_train", "build", "--config", self.cfg.name, "--work",
               os.path.abspath(self.work), "--out", os.path.abspath(self.out), "--only", stage, "--no-report"]
        self.log(f"stage '{stage}' started in a background process (output: {self.path(stage + '.out')})")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        with open(self.path(stage + ".out"), "w") as out:
            return subprocess.Popen(cmd, cwd=TRAINING_DIR, stdout=out, stderr=subprocess.STDOUT, env=env)

    def _wait_background(self, proc: subprocess.Popen, stage: str) -> None:
        t0 = time.time()
        code = proc.wait()
        self.log(f"waited {time.time() - t0:.0f}s for the background stage '{stage}'")
        if code != 0:
            raise StageError(f"the background stage '{stage}' failed (exit {code}); see {self.path(stage + '.out')}. "
                             f"Rerun the same build command to resume.")

    # ---- loaders --------------------------------------------------------------------------------
    def tok(self) -> tokenizer.Tokenizer:
        t = self.load("tokenizer.pt")
        return tokenizer.Tokenizer(t["codebook"], t["patch"])

    def base_model(self) -> BaseModel:
        ck = self.load("base.pt")
        m = BaseModel(BaseConfig(**ck["config"]))
        m.load_state_dict(ck["state"])
        return m.eval()

    def classifier(self) -> clf_mod.Classifier:
        ck = self.load("classifier.pt")
        m = clf_mod.Classifier(feature_dim=ck["feature_dim"])
        m.load_state_dict(ck["state"])
        return m.eval()

    def shortcut_model(self, base: BaseModel) -> Shortcut:
        ck = self.load("shortcut.pt")
        m = Shortcut(ShortcutConfig(**ck["config"]), base)
        m.load_state_dict(ck["state"])
        return m.eval()

    def sampling(self) -> SamplerOptions:
        opts = self.cfg.sampling
        if os.path.exists(self.path("tune.json")):
            opts = opts.with_(**self.load("tune.json")["best"])
        return opts

    def evaluator(self, with_shortcut: bool = False) -> Evaluator:
        base = self.base_model()
        ck = self.load("classifier.pt")
        return Evaluator(base, self.tok(), self.classifier(), ck["ref_features"], len(data.CLASS_NAMES),
                         self.cfg.eval_batch, self.shortcut_model(base) if with_shortcut else None, self.log)

    # ---- stages ---------------------------------------------------------------------------------
    def stage_tokenizer(self) -> None:
        if os.path.exists(self.path("tokenizer.pt")):
            return self.log("tokenizer: exists, skipped")
        c = self.cfg
        imgs, _ = self.train_arrays()
        tok = tokenizer.fit(imgs, c.patch, c.codebook, c.kmeans_iters, c.kmeans_sample, c.seed)
        train_tokens = tok.encode(torch.from_numpy(data.to_float(imgs)))
        test_x = torch.from_numpy(data.to_float(self.dataset.test_images))
        test_tokens = tok.encode(test_x)
        psnr = tokenizer.psnr(tok.decode(test_tokens), test_x)
        usage = int((torch.bincount(train_tokens.flatten(), minlength=tok.size) > 0).sum())
        self.log(f"tokenizer: K={tok.size} patch={c.patch} L={train_tokens.shape[1]} test PSNR {psnr:.2f} dB, "
                 f"{usage} codes used")
        self.save({"codebook": tok.codebook, "patch": c.patch, "psnr_test": psnr, "codes_used": usage,
                   "train_tokens": train_tokens.short(), "test_tokens": test_tokens.short()}, "tokenizer.pt")

    def stage_classifier(self) -> None:
        if os.path.exists(self.path("classifier.pt")):
            return self.log("classifier: exists, skipped")
        c = self.cfg
        imgs, labels = self.train_arrays()
        model = clf_mod.train(imgs, labels, c.clf_epochs, c.clf_batch, c.clf_lr, c.seed, log=self.log)
        test_x = torch.from_numpy(data.to_float(self.dataset.test_images))
        pred, feats = clf_mod.predict(model, test_x)
        acc = float((pred == torch.from_numpy(self.dataset.test_labels)).float().mean())
        # FD of the tokenizer's reconstructions: the floor any generator can reach in this space.
        recon = self.tok().decode(self.load("tokenizer.pt")["test_tokens"].long())
        rpred, rfeats = clf_mod.predict(model, recon)
        from ..fd import frechet, stats
        fd_recon = frechet(*stats(rfeats.numpy()), *stats(feats.numpy()))
        racc = float((rpred == torch.from_numpy(self.dataset.test_labels)).float().mean())
        self.log(f"classifier: test accuracy {acc:.4f}; on tokenizer reconstructions {racc:.4f}, FD {fd_recon:.3f}")
        self.save({"state": model.state_dict(), "feature_dim": 128, "test_acc": acc, "recon_acc": racc,
                   "fd_recon": fd_recon, "ref_features": feats.numpy()}, "classifier.pt")

    def stage_base(self) -> None:
        if os.path.exists(self.path("base.pt")):
            return self.log("base: exists, skipped")
        c = self.cfg
        t = self.load("tokenizer.pt")
        _, labels = self.train_arrays()
        t0 = time.time()
        model = base_train.train(t["train_tokens"].long(), torch.from_numpy(labels), c.base, c.base_steps,
                                 c.base_batch, c.base_lr, c.seed, log=self.log)
        seconds = time.time() - t0
        acc = base_train.masked_accuracy(model, t["test_tokens"].long(), torch.from_numpy(self.dataset.test_labels),
                                         [0.25, 0.5, 0.75, 0.95], seed=c.seed)
        self.log(f"base: {count_parameters(model)} parameters, masked-token accuracy {acc}")
        self.save({"config": c.base.to_dict(), "state": model.state_dict(), "masked_acc": acc,
                   "train_seconds": seconds, "parameters": count_parameters(model)}, "base.pt")

    def stage_tune(self) -> None:
        if os.path.exists(self.path("tune.json")):
            return self.log("tune: exists, skipped")
        c = self.cfg
        rows = []
        n_default, n_few = c.sampling.steps, c.tune_few_steps
        if len(c.tune_candidates) > 1:
            ev = self.evaluator()
            # Per-candidate results are cached so that adding a candidate does not redo the others.
            cache_path = self.path("tune-rows.json")
            cache = self.load("tune-rows.json") if os.path.exists(cache_path) else {}
            for cand in c.tune_candidates:
                key = json.dumps(cand, sort_keys=True)
                if key not in cache:
                    opts = c.sampling.with_(**cand)
                    r = ev.run(opts, c.tune_images, [c.seed + 100], f"tune {cand} N={n_default}")
                    few = ev.run(opts.with_(steps=n_few), c.tune_images, [c.seed + 100], f"tune {cand} N={n_few}")
                    cache[key] = {"candidate": cand, "fd": r["fd_pooled"], "class_acc": r["class_acc"],
                                  "fd_few": few["fd_pooled"], "class_acc_few": few["class_acc"]}
                    self.save(cache, "tune-rows.json")
                rows.append(cache[key])
            best = pick_sampler(rows, c.tune_min_gap)
        else:
            best = c.tune_candidates[0] if c.tune_candidates else {}
        self.log(f"tune: best {best}")
        self.save({"rows": rows, "best": best, "images": c.tune_images, "steps": n_default, "few_steps": n_few,
                   "min_gap": c.tune_min_gap}, "tune.json")

    def stage_regime(self) -> None:
        if os.path.exists(self.path("regime.pt")):
            return self.log("regime: exists, skipped")
        c, ev, opts = self.cfg, self.evaluator(), self.sampling()
        # Rows are cached one by one (regime-rows.pt): an interrupted check resumes mid-way, and the compare
        # stage, running beside it in a full build, takes a finished vanilla row instead of sampling it again.
        cache = self.load("regime-rows.pt") if os.path.exists(self.path("regime-rows.pt")) else {}
        rows = []
        for n in c.regime_steps:
            if n not in cache:
                cache[n] = self._sample_row(ev, opts.with_(steps=n), c.regime_images, f"vanilla N={n}")
                self.save(cache, "regime-rows.pt")
            rows.append(cache[n])
        self.save({"rows": rows}, "regime.pt")

    def finished_regime_row(self, steps: int, images: int) -> dict | None:
        """The regime check's vanilla row at N = `steps` over `images` images, if it is done (also while the
        check is still running in the background); else None."""
        # Work dirs from before the row cache have only regime.pt.
        if os.path.exists(self.path("regime-rows.pt")):
            rows = self.load("regime-rows.pt")
        elif os.path.exists(self.path("regime.pt")):
            rows = {r["options"]["steps"]: r for r in self.load("regime.pt")["rows"]}
        else:
            return None
        found = rows.get(steps)
        return dict(found) if found is not None and found["images"] == images else None

    def _sample_row(self, ev, opts: SamplerOptions, images: int, label: str) -> dict:
        """One evaluated sampler setting as the regime and compare stages store it (first 100 images' tokens)."""
        r = ev.run(opts, images, self.cfg.seeds, label)
        r["grid_tokens"] = r.pop("_tokens")[:100]
        r.pop("_classes")
        return r

    def stage_trajectories(self) -> None:
        if os.path.exists(self.path("traj.pt")):
            return self.log("trajectories: exists, skipped")
        c = self.cfg
        traj = generate(self.base_model(), c.traj_train + c.traj_heldout, self.sampling(), c.seed + 7,
                        c.eval_batch, len(data.CLASS_NAMES), log=self.log)
        traj["train_count"] = c.traj_train
        self.save(traj, "traj.pt")

    def stage_shortcut(self) -> None:
        if os.path.exists(self.path("shortcut.pt")):
            return self.log("shortcut: exists, skipped")
        c = self.cfg
        base, traj = self.base_model(), self.load("traj.pt")
        t0 = time.time()
        model = shortcut_train.train(base, traj, torch.arange(traj["train_count"]), c.shortcut, c.shortcut_steps,
                                     c.shortcut_batch, c.shortcut_lr, c.seed, c.shortcut_ema, rollout=c.shortcut_rollout,
                                     kl_weight=c.shortcut_kl, sampling=self.sampling(), log=self.log)
        self.save({"config": c.shortcut.to_dict(), "state": model.state_dict(), "train_seconds": time.time() - t0,
                   "parameters": count_parameters(model) , "trained_steps": traj["steps"]}, "shortcut.pt")

    def stage_heldout(self) -> None:
        if os.path.exists(self.path("heldout.json")):
            return self.log("heldout: exists, skipped")
        base, traj = self.base_model(), self.load("traj.pt")
        sc = self.shortcut_model(base)
        idx = torch.arange(traj["train_count"], len(traj["tokens"]))
        rows = shortcut_train.per_step_metrics(base, sc, traj, idx, self.sampling())
        for r in rows:
            self.log("heldout step {step}: mse shortcut {shortcut_mse:.4f} reuse {reuse_mse:.4f} taylor "
                     "{taylor_mse:.4f} | cos {shortcut_cos:.4f} {reuse_cos:.4f} {taylor_cos:.4f} | kl "
                     "{shortcut_kl:.4f} {reuse_kl:.4f} {taylor_kl:.4f}".format(**r))
        self.save({"rows": rows, "images": len(idx)}, "heldout.json")

    def stage_compare(self) -> None:
        if os.path.exists(self.path("compare.pt")):
            return self.log("compare: exists, skipped")
        c, ev, opts = self.cfg, self.evaluator(with_shortcut=True), self.sampling()
        # Rows are cached one by one (compare-rows.pt) so an interrupted comparison resumes mid-way.
        cache = self.load("compare-rows.pt") if os.path.exists(self.path("compare-rows.pt")) else {}
        rows = []
        for b in c.budgets:
            for method in ("shortcut", "reuse", "taylor", "shortcut-taylor", "vanilla"):
                key = f"{method}/B={b}"
                if key not in cache:
                    # A vanilla row equal to a regime row (same N, seeds and image count) is taken from it when
                    # the regime check has got that far (it runs beside this stage in a full build).
                    regime = self.finished_regime_row(b, c.compare_images) if method == "vanilla" else None
                    if regime is not None:
                        r = regime
                    else:
                        o = opts.with_(steps=b) if method == "vanilla" else opts.with_(method=method, budget=b)
                        r = self._sample_row(ev, o, c.compare_images, key)
                    r["budget"] = b
                    cache[key] = r
                    self.save(cache, "compare-rows.pt")
                rows.append(cache[key])
        self.save({"rows": rows}, "compare.pt")

    def stage_export(self) -> None:
        os.makedirs(self.out, exist_ok=True)
        base = self.base_model()
        t = self.load("tokenizer.pt")
        dec = tokenizer.Decoder(t["codebook"], t["patch"], 28, 28)
        sc = self.shortcut_model(base)
        clf = self.classifier()
        specs = export.graph_specs(base, 128)
        mods = export.modules(base, dec, sc, clf)
        files = {}
        for role, mod in mods.items():
            rel = f"{role}.onnx"
            export.export_graph(role, mod, specs[role], base, os.path.join(self.out, rel))
            files[role] = rel
            if self.fixtures:
                export.write_fixture(self.fixtures, role, mod, specs[role], base, seed=123)
        mf = self.build_manifest(base, sc, clf, specs, files)
        man.write(mf, self.out)
        self.log(f"export: wrote {self.out} ({sum(f['bytes'] for f in mf['files'])} bytes)")

    def build_manifest(self, base, sc, clf, specs, files) -> dict:
        c, bc = self.cfg, base.cfg
        opts = self.sampling()
        sck = self.load("shortcut.pt")
        graphs = {}
        entries = [man.file_entry(self.out, f) for f in files.values()]
        sha = {e["path"]: e["sha256"] for e in entries}
        params = {"base": count_parameters(base), "head": bc.length * bc.codebook + bc.codebook * bc.dim,
                  "decoder": int(t_numel(self.load("tokenizer.pt")["codebook"])),
                  "shortcut": count_parameters(sc), "classifier": count_parameters(clf)}
        for role, rel in files.items():
            ins, outs = specs[role]
            g = {"file": rel, "opset": export.OPSET, "parameters": params[role], "inputs": ins, "outputs": outs}
            if role == "head":
                # Head is f E^T + b (base_model.Head): affine, so runtimes may guide the feature and run the
                # head once per image (@migm/core's guidedHead); they check this on random inputs.
                g["affine"] = True
            if role == "shortcut":
                g["trainedSteps"] = int(sck["trained_steps"])
                g["compatibility"] = {"baseSha256": sha[files["base"]], "codebookSize": bc.codebook,
                                      "featureDim": bc.dim}
            graphs[role] = g
        grid = 28 // c.patch
        tk = self.load("tokenizer.pt")
        return {
            "schemaVersion": 1,
            "name": "migm-fashion-mnist-s",
            "version": "2.0.0",
            "description": "Class-conditional MaskGIT on Fashion-MNIST (k-means 2x2-patch tokenizer) with a "
                           "learned MIGM-Shortcut, trained with training/ (see docs/training-report.md).",
            "license": "MIT",
            "family": "maskgit",
            "image": {"width": 28, "height": 28, "channels": 1, "range": [0, 1]},
            "tokens": {"grid": [grid, grid], "count": bc.length, "codebookSize": bc.codebook,
                       "maskId": bc.mask_id, "patchSize": c.patch},
            "condition": {"type": "class", "numClasses": bc.num_classes, "nullClassId": bc.null_class,
                          "classNames": list(data.CLASS_NAMES)},
            "featureDim": bc.dim,
            "sampling": {"steps": opts.steps, "schedule": opts.schedule,
                         "guidance": {"scale": opts.guidance, "schedule": opts.guidance_schedule},
                         "inverseTemperature": opts.inverse_temperature,
                         "randomizeTemperature": opts.randomize_temperature, "budget": c.default_budget,
                         **({"skippedRandomizeTemperature": opts.skipped_randomize_temperature}
                            if opts.skipped_randomize_temperature is not None else {})},
            "graphs": graphs,
            "files": entries,
            "training": {"seed": c.seed, "data": "Fashion-MNIST (Debian dataset-fashion-mnist), 60k train / 10k test",
                         "tokenizerPsnrDb": round(float(tk["psnr_test"]), 3),
                         "baseMaskedAccuracy": self.load("base.pt")["masked_acc"],
                         "classifierTestAccuracy": round(float(self.load("classifier.pt")["test_acc"]), 4),
                         "config": self.cfg.name},
        }

    def stage_bench(self) -> None:
        """onnxruntime-node timing of a base step vs a shortcut step (shortcut + head)."""
        script = os.path.join(TRAINING_DIR, "scripts", "ort-bench.mjs")
        env = dict(os.environ, ORT_DISABLE_TELEMETRY="1")
        try:
            res = subprocess.run(["node", script, self.out, "2", "16"], capture_output=True, text=True, env=env,
                                 check=True, cwd=TRAINING_DIR, timeout=900)
        except (OSError, subprocess.CalledProcessError) as exc:
            err = getattr(exc, "stderr", "") or str(exc)
            raise StageError("onnxruntime-node benchmark failed (needs node and `pnpm install` in the repo): "
                             + err[-2000:]) from exc
        bench = json.loads(res.stdout)
        bc = self.base_model().cfg
        n_new = max(1, round(bc.length / 16))
        fl = flops_per_sequence(bc)
        bench["flops"] = {"base": fl["base"], "head": fl["head"],
                          "shortcut": flops_per_step(ShortcutConfig(**self.load("shortcut.pt")["config"]),
                                                     bc.length, n_new)}
        bench["flops"]["ratio"] = (bench["flops"]["shortcut"] + fl["head"]) / fl["base"]
        self.log(f"bench: {json.dumps(bench)}")
        self.save(bench, "bench.json")


def pick_sampler(rows: list[dict], min_gap: float) -> dict:
    """The sampler setting to ship: the lowest FD at the default N among the candidates for which fewer
    steps are clearly worse (FD(few) >= (1 + min_gap) * FD(default)), so that the setting lives in the regime
    a shortcut can accelerate. If no candidate shows that gap, the one with the largest relative gap."""
    def gap(r: dict) -> float:
        return (r["fd_few"] - r["fd"]) / r["fd"]
    ok = [r for r in rows if gap(r) >= min_gap]
    best = min(ok, key=lambda r: r["fd"]) if ok else max(rows, key=gap)
    return best["candidate"]


def t_numel(t) -> int:
    return int(np.prod(list(t.shape)))
