"""Sample-level evaluation: FD in the classifier's feature space and class accuracy of samples."""
from __future__ import annotations

import time

import numpy as np
import torch

from .base_model import BaseModel
from .classifier import Classifier, predict
from ..fd import class_spread, frechet, frechet_terms, stats
from ..sampler import SamplerOptions, sample
from .tokenizer import Tokenizer


class Evaluator:
    def __init__(self, base: BaseModel, tok: Tokenizer, clf: Classifier, ref_features: np.ndarray,
                 num_classes: int, batch: int, shortcut: torch.nn.Module | None = None, log=print):
        self.base, self.tok, self.clf, self.shortcut = base, tok, clf, shortcut
        self.ref = stats(ref_features)
        self.num_classes, self.batch, self.log = num_classes, batch, log

    def generate(self, opts: SamplerOptions, count: int, seed: int) -> dict:
        """Balanced classes (i mod 10). Returns tokens, classes and wall time spent sampling."""
        dev = self.base.tok.weight.device  # sampling runs where the base model is; scoring on the CPU
        g = torch.Generator(device=dev).manual_seed(seed)
        classes = torch.arange(count, device=dev) % self.num_classes
        toks, sample_time = [], 0.0
        for s in range(0, count, self.batch):
            t0 = time.perf_counter()
            toks.append(sample(self.base, classes[s:s + self.batch], opts, g, shortcut=self.shortcut).tokens)
            sample_time += time.perf_counter() - t0
        return {"tokens": torch.cat(toks), "classes": classes, "seconds": sample_time}

    def score(self, tokens: torch.Tensor, classes: torch.Tensor) -> dict:
        tokens, classes = tokens.cpu(), classes.cpu()
        with torch.no_grad():
            pixels = torch.cat([self.tok.decode(tokens[s:s + 1000]) for s in range(0, len(tokens), 1000)])
        pred, feats = predict(self.clf, pixels)
        mu, sig = stats(feats.numpy())
        fd_mean, fd_cov = frechet_terms(mu, sig, *self.ref)
        return {"fd": fd_mean + fd_cov, "fd_mean": fd_mean, "fd_cov": fd_cov, "stats": (mu, sig),
                "class_acc": float((pred == classes).float().mean()),
                "spread": class_spread(feats.numpy(), classes.numpy(), self.num_classes), "features": feats.numpy()}

    def run(self, opts: SamplerOptions, count: int, seeds: list[int], label: str) -> dict:
        """count images split evenly over seeds: per-seed FD (noise) and the pooled FD."""
        per, feats, classes_all, preds_acc, secs, toks_all = [], [], [], [], 0.0, []
        share = count // len(seeds)
        for seed in seeds:
            gen = self.generate(opts, share, seed)
            sc = self.score(gen["tokens"], gen["classes"])
            per.append({"seed": seed, "fd": sc["fd"], "class_acc": sc["class_acc"]})
            feats.append(sc["features"])
            preds_acc.append(sc["class_acc"])
            secs += gen["seconds"]
            toks_all.append(gen["tokens"])
            classes_all.append(gen["classes"])
        feats_all, classes_cat = np.concatenate(feats), torch.cat(classes_all).cpu().numpy()
        mu, sig = stats(feats_all)
        fds = [p["fd"] for p in per]
        out = {"label": label, "options": opts.to_dict(), "images": share * len(seeds), "per_seed": per,
               "fd_pooled": frechet(mu, sig, *self.ref),
               "spread": class_spread(feats_all, classes_cat, self.num_classes), "fd_seed_mean": float(np.mean(fds)),
               "fd_seed_std": float(np.std(fds, ddof=1)) if len(fds) > 1 else 0.0,
               "class_acc": float(np.mean(preds_acc)), "seconds_per_image": secs / (share * len(seeds)),
               "batch": self.batch}
        self.log(f"eval {label}: FD {out['fd_pooled']:.2f} (seeds {out['fd_seed_mean']:.2f} +- "
                 f"{out['fd_seed_std']:.2f}) spread {out['spread']:.1f} acc {out['class_acc']:.3f} {out['seconds_per_image'] * 1000:.1f} ms/img")
        out["_tokens"] = torch.cat(toks_all)
        out["_classes"] = torch.cat(classes_all)
        return out
