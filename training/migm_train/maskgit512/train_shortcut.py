"""`train-maskgit-shortcut`: train your own MIGM-Shortcut for an imported MaskGIT bundle and put it into a copy
of the bundle.

  migm record --bundle B --steps 15 --out T        (vanilla trajectories, recorded by the runtime itself)
  python -m migm_train train-maskgit-shortcut --bundle B --trajectories T --out B2 [--vit FILE]

The trajectories are read lazily (np.memmap of features.f32: a paper-size recording is terabytes), unpacked
from the bundle's [L, D + c] layout to the reference's [L + 1, D] (class position included), and turned into
single-step teacher-forced pairs as the reference trainer (MaskGIT-Shortcut/train_shortcut.py) does: input
f_s, the tokens revealed at s with their positions, the mask ratio after s; target f_{s+1}; MSE over the
positions still masked after s (the class position is never masked, so never in the loss). Every (image,
CFG branch, step) triple is one example. Training is the shared trainer's (migm_train.shortcut.train) with its
defaults, the paper's recipe (PAPER.md section 4 and the reference's README command): AdamW lr 1e-4, x0.1 after
1,000 optimizer steps, weight decay 0.01, EMA 0.9999 (the EMA weights are exported), batch 4, no KL, no rollout,
fp16 autocast on CUDA. This module is MaskGIT's adapter: the packed feature's unpacking, the class position, the
base's embeddings and the bundle.

The shortcut's frozen copies of the base's token and position embeddings (its `wte`/`wpe` buffers) come from
`--vit` (the released MaskGIT checkpoint the bundle was imported from) or, for a `--random-init` bundle, from
the seed and config its manifest records. Either way the base is checked against the recording (the base's
feature on a recorded token state must equal the recorded feature), so a wrong checkpoint stops before training.
"""
from __future__ import annotations

import copy
import functools
import os
import time
from dataclasses import asdict

import numpy as np
import torch

from .. import export, layers
from .. import manifest as man
from .checkpoints import ImportMaskgitError, load_strict, read_transformer, torch_load, transformer_config
from ..export import store_fp16
from .importer import CONFIGS, example_inputs, graph_specs, random_models
from .shortcut import MaskGitShortcut, ShortcutConfig, ShortcutGraph
from .transformer import MaskGitTransformer, packed_width, unpack

from ..shortcut.bundle import read_manifest, write_with_shortcut
from ..shortcut.recording import (Recording, RecordingError, StepBatches, by_step, heldout_groups,
                                  pairs_from_recording, split as split_recording)
from ..shortcut.train import Pairs, Recipe, chains_loss, heldout, train as shared_train
from .train_shortcut_args import PAPER_RECIPE  # noqa: F401  (re-exported)


class TrainShortcutError(ValueError):
    """Bad input (bundle, recording, checkpoint, flags): one error line, nothing written."""


# --- the recording: the shared reader, MaskGIT's feature layout ---------------------------------------

def open_recording(directory: str) -> Recording:
    """The shared reader, its errors as this command's."""
    try:
        return Recording(directory)
    except RecordingError as exc:
        raise TrainShortcutError(f"--trajectories: {exc}") from None


def _unpacked(cfg, packed: np.ndarray) -> torch.Tensor:
    """The bundle's packed [b, L, D + c] features -> the reference's [b, L + 1, D] (class position last)."""
    return unpack(torch.from_numpy(packed), cfg)


def _with_class_position(still: torch.Tensor) -> torch.Tensor:
    """The class position is never masked, so never in the loss."""
    return torch.cat([still, torch.zeros(len(still), 1, dtype=torch.bool)], 1)


def pairs_kwargs(cfg) -> dict:
    # functools.partial, not a closure: DataLoader workers may have to pickle it
    return {"feature_fn": functools.partial(_unpacked, cfg), "still_fn": _with_class_position}


def pair_batch(rec: Recording, triples, cfg) -> Pairs:
    """Examples (image, step s, branch) sharing one s -> Pairs: feature f_s and target f_{s+1} [b, L + 1, D],
    new tokens/positions [b, k_s], ratio after s [b], still-masked map [b, L + 1]."""
    return pairs_from_recording(rec, triples, **pairs_kwargs(cfg))


def batch_loss(model, rec: Recording, triples, cfg, device) -> torch.Tensor:
    """The shared trainer's loss of one optimizer step on these examples (each its own single-step chain)."""
    return chains_loss(model, [[pair_batch(rec, g, cfg).to(device)] for g in by_step(triples)])


@torch.no_grad()
def evaluate(model, rec: Recording, triples, cfg, device, chunk: int = 16) -> dict:
    """Held-out one-step MSE of the shortcut, of reuse (f_{s+1} = f_s) and of first-order Taylor, over the
    still-masked positions (means over the examples)."""
    res = heldout(model, heldout_groups(rec, triples, chunk, **pairs_kwargs(cfg)), device=device)
    return {k: res[k] for k in ("shortcut_mse", "reuse_mse", "taylor_mse")}


# --- the base: embeddings for wte/wpe, checked against the recording ------------------------------------

def load_bundle(bundle: str) -> dict:
    m = read_manifest(bundle, TrainShortcutError)
    arch = (m.get("training") or {}).get("architecture") or {}
    if m.get("family") != "maskgit" or "transformer" not in arch or "base" not in m.get("graphs", {}):
        raise TrainShortcutError(f"--bundle: {bundle} is not a bundle written by import-maskgit "
                                 "(no training.architecture.transformer)")
    return m


def load_base(m: dict, vit: str | None, heads: int | None) -> MaskGitTransformer:
    tr = m["training"]
    arch = tr["architecture"]["transformer"]
    if vit is not None:
        sd = read_transformer(vit)
        tc = transformer_config(sd, arch["codebook"], heads or arch["heads"], vit)
        if asdict(tc) != arch:
            raise TrainShortcutError(f"--vit {vit}: its architecture {asdict(tc)} is not the bundle's {arch}")
        base = MaskGitTransformer(tc)
        load_strict(base, sd, f"--vit {vit}")
        return base.eval()
    if tr.get("weights") == "random":
        cfg = CONFIGS[tr["config"]]()
        if asdict(cfg.transformer) != arch:
            raise TrainShortcutError("--bundle: its recorded random-init config does not rebuild its architecture")
        base, _, _ = random_models(cfg, tr["seed"], with_shortcut=False)
        return base.eval()
    raise TrainShortcutError("--vit FILE is required: the shortcut needs the base's token and position "
                             "embeddings (the MaskGIT_ImageNet_512.pth the bundle was imported from)")


@torch.no_grad()
def check_base(base: MaskGitTransformer, rec: Recording, dtype: str) -> float:
    """The base's feature on recorded token states (image 0, cond branch, the first and a middle step) must
    equal the recorded one: the embeddings then belong to the base that produced the trajectories."""
    tc = base.cfg
    worst = 0.0
    for s in sorted({0, rec.steps // 2}):
        toks = torch.from_numpy(rec.token_state(0, s, tc.codebook))[None]
        want = unpack(torch.from_numpy(rec.feature(0, s, 0))[None], tc)
        got = base.features(toks, torch.tensor([int(rec.classes[0])]))
        worst = max(worst, float((got - want).abs().max() / want.abs().max().clamp(min=1e-6)))
    tol = 2e-2 if dtype == "fp16" else 1e-3
    if not worst <= tol:
        raise TrainShortcutError(f"the base weights do not reproduce the recorded features (relative error "
                                 f"{worst:.2g} > {tol}): --vit is not the model this bundle and recording came from")
    return worst


# --- training --------------------------------------------------------------------------------------------

def split(rec: Recording, val_images: int):
    try:
        return split_recording(rec, val_images)
    except RecordingError:
        raise TrainShortcutError(f"--val-images {val_images} leaves no training images (the recording has "
                                 f"{rec.images})") from None


def train(base: MaskGitTransformer, rec: Recording, scfg: ShortcutConfig, train_triples, *, steps: int,
          batch: int, lr: float, lr_decay_step: int, lr_decay: float, weight_decay: float, ema_decay: float,
          seed: int, device: str = "cpu", init: dict | None = None, max_minutes: float | None = None,
          log_every: int = 100, save=None, save_every: int = 0, workers: int = 0, log=print):
    """The shared trainer with the paper's schedule (x lr_decay after lr_decay_step, no clipping, AMP on CUDA).
    Returns (exported model: the EMA, or the raw model when ema_decay = 0; the raw model; loss history)."""
    recipe = Recipe(steps=steps, batch=batch, lr=lr, weight_decay=weight_decay, schedule="step",
                    lr_decay_step=lr_decay_step, lr_decay=lr_decay, ema_decay=ema_decay,
                    # the reference's AveragedModel copies the weights at its first update; from --init it blends
                    ema_copy_first=init is None, seed=seed)

    def make_model() -> MaskGitShortcut:
        model = MaskGitShortcut.for_base(scfg, base)
        if init is not None:
            load_strict(model, init, "--init")
        return model

    # Reading features from the memory-mapped recording runs in `workers` processes, ahead of the optimizer.
    batches = torch.utils.data.DataLoader(StepBatches(rec, train_triples, batch, seed, steps, **pairs_kwargs(base.cfg)),
                                          batch_size=None, shuffle=False, num_workers=workers,
                                          pin_memory=str(device).startswith("cuda"),
                                          **({"prefetch_factor": 4, "persistent_workers": False} if workers else {}))
    return shared_train(make_model, batches, recipe, device=device, max_minutes=max_minutes, log_every=log_every,
                        save=save, save_every=save_every, log=log, name="train-maskgit-shortcut")


def released_state(model: MaskGitShortcut) -> dict:
    """The weights in maskgit-shortcut.pth's layout (wte/wpe are non-persistent, so not included)."""
    return {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}


# --- export into a copy of the bundle -------------------------------------------------------------------

def write_bundle(src: str, m: dict, model: MaskGitShortcut, base_cfg, out: str, provenance: dict, log=print) -> dict:
    """A copy of the bundle with `model` as its shortcut graph (migm_train.shortcut.bundle: hard links where
    possible, the manifest validated before the folder is moved into place; on failure nothing is left)."""
    dtype = m["training"].get("dtype", "fp32")

    def export_graph(path: str) -> None:
        graph = ShortcutGraph(copy.deepcopy(model).float().cpu().eval(), base_cfg).eval()
        if dtype == "fp16":
            graph = store_fp16(graph)
        export.export_module(graph, example_inputs("shortcut", base_cfg, 2, 5, 0), spec, path,
                             layers.FUSED_ATTENTION_EXPORT, fold=dtype == "fp32")

    spec = graph_specs(base_cfg, m["image"]["width"])["shortcut"]
    return write_with_shortcut(src, m, out, export=export_graph, spec=spec,
                               parameters=sum(p.numel() for p in model.parameters()),
                               compatibility={"codebookSize": base_cfg.codebook, "featureDim": packed_width(base_cfg)},
                               architecture=asdict(model.cfg), provenance=provenance, command="train-maskgit-shortcut",
                               error=TrainShortcutError, log=log)


# --- the command -----------------------------------------------------------------------------------------

def run(args, log=print) -> dict:
    m = load_bundle(args.bundle)
    rec = open_recording(args.trajectories)
    base_sha = next(f["sha256"] for f in m["files"] if f["path"] == m["graphs"]["base"]["file"])
    if rec.index.get("baseSha256") != base_sha:
        raise TrainShortcutError(f"--trajectories were recorded with another base model (baseSha256 "
                                 f"{str(rec.index.get('baseSha256'))[:12]}.., the bundle's is {base_sha[:12]}..)")
    if rec.P != m["featureDim"] or rec.L != m["tokens"]["count"]:
        raise TrainShortcutError("--trajectories: token count or featureDim differ from the bundle's")
    if rec.branches != 2:
        log("train-maskgit-shortcut: warning: an unguided recording (1 branch); the paper trains on both CFG branches")
    if args.workers < 0:
        raise TrainShortcutError("--workers must be >= 0")
    for name in ("steps", "batch", "lr_decay_step", "log_every"):
        if getattr(args, name) < 1:
            raise TrainShortcutError(f"--{name.replace('_', '-')} must be >= 1")
    base = load_base(m, args.vit, args.heads)
    err = check_base(base, rec, m["training"].get("dtype", "fp32"))
    log(f"train-maskgit-shortcut: base matches the recording (relative error {err:.1e})")
    have = m["training"]["architecture"].get("shortcut") or {}
    if not have and m["training"].get("weights") == "random":  # the shortcut its config would have had
        have = asdict(CONFIGS[m["training"]["config"]]().shortcut)
    D = base.cfg.dim
    ratio = args.bottleneck_ratio or (D / have["width"] if have else 2)
    scfg = ShortcutConfig.for_width(D, ratio, args.blocks or have.get("blocks", 1),
                                    args.shortcut_heads or have.get("heads", 16))
    if scfg.width % scfg.heads:
        raise TrainShortcutError(f"--shortcut-heads {scfg.heads} does not divide the width {scfg.width}")
    val_images = args.val_images if args.val_images is not None else max(1, rec.images // 50) if rec.images > 1 else 0
    tr, va = split(rec, val_images)
    init = None
    if args.init:
        init = torch_load(args.init, "--init")
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")

    def save(model):
        if args.save:
            tmp = args.save + ".tmp"
            torch.save(released_state(model), tmp)
            os.replace(tmp, args.save)

    if 0 < args.ema_decay < 1 and args.steps * (1 - args.ema_decay) < 3 and args.max_minutes is None:
        log(f"train-maskgit-shortcut: warning: --ema-decay {args.ema_decay} averages over about "
            f"{1 / (1 - args.ema_decay):,.0f} steps and this run has {args.steps}: the exported (EMA) weights stay "
            "close to the first steps'; lower --ema-decay (0: the raw weights) for a short run")
    log(f"train-maskgit-shortcut: {rec.images - val_images} training images ({len(tr)} examples), "
        f"{val_images} held out; shortcut width {scfg.width}, {scfg.blocks} block(s), {scfg.heads} heads; {device}")
    t0 = time.time()
    model, _, hist = train(base.to(device), rec, scfg, tr, steps=args.steps, batch=args.batch, lr=args.lr,
                           lr_decay_step=args.lr_decay_step, lr_decay=args.lr_decay,
                           weight_decay=args.weight_decay, ema_decay=args.ema_decay, seed=args.seed,
                           device=device, init=init, max_minutes=args.max_minutes, log_every=args.log_every,
                           save=save, save_every=args.save_every, workers=args.workers, log=log)
    minutes = (time.time() - t0) / 60
    metrics = evaluate(model, rec, va, base.cfg, device) if va else {}
    if metrics:
        log(f"train-maskgit-shortcut: held-out one-step MSE: shortcut {metrics['shortcut_mse']:.6g}, "
            f"reuse {metrics['reuse_mse']:.6g}, Taylor {metrics['taylor_mse']:.6g}")
    save(model)
    prov = {"trajectories": {"images": rec.images, "steps": rec.steps, "branches": rec.branches,
                             "heldOut": val_images},
            "steps": len(hist), "batch": args.batch, "lr": args.lr, "lrDecayStep": args.lr_decay_step,
            "lrDecay": args.lr_decay, "weightDecay": args.weight_decay, "emaDecay": args.ema_decay,
            "seed": args.seed, "device": str(device), "minutes": round(minutes, 2),
            "finalLoss": float(np.mean(hist[-min(len(hist), 100):])), **({"heldOut": metrics} if metrics else {})}
    mf = write_bundle(args.bundle, m, model, base.cfg, args.out, prov, log)
    return mf


def main(parser, args) -> int:
    import sys
    from .checkpoints import CheckpointMismatchError  # noqa: F401  (a subclass of ImportMaskgitError)

    try:
        run(args, log=lambda msg: print(msg, file=sys.stderr))
    except (TrainShortcutError, ImportMaskgitError, man.ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: the bundle with the trained shortcut")
    return 0
