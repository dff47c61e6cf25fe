"""`train-amused-shortcut`: trains aMUSEd's shortcut (migm_train.amused.shortcut) on a `record-amused` recording
with the one shared trainer (migm_train.shortcut.train, the paper's recipe as defaults) and writes a copy of the
bundle with the shortcut graph.

  python -m migm_train record-amused --bundle B --model M --prompts prompts.txt --count 2000 --out T
  python -m migm_train train-amused-shortcut --bundle B --model M --trajectories T --out B2

Pairs (PAPER.md section 4, single-step teacher forcing): input f_s (the base's feature entering the head) with
the tokens revealed at s and their positions and the mask ratio after s; target f_{s+1}; MSE over the positions
still masked after s. Every (image, guidance branch, step) triple is one example: both the prompt's and the
negative prompt's rows, which the runtime's shortcut steps also advance.

`--model` is the folder the bundle was imported from: the shortcut keeps a frozen copy of the base's token
embedding (embed.embeddings -> RMSNorm -> 1x1 conv), and the base must reproduce the recorded features (checked
on two recorded states before training), so that a wrong folder stops before anything is trained.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import torch

from . import record as rec_mod
from .shortcut import AmusedShortcut, ShortcutConfig, count_parameters
from .shortcut_bundle import write_bundle
from .shortcut_errors import AmusedShortcutError


def shortcut_config(uvit_cfg, args) -> ShortcutConfig:
    try:
        return ShortcutConfig.for_uvit(uvit_cfg, args.bottleneck_ratio, args.blocks, args.shortcut_heads)
    except ValueError as exc:
        raise AmusedShortcutError(f"--shortcut-heads / --bottleneck-ratio: {exc}") from None


@torch.no_grad()
def check_base(models, bundle: str, m: dict, rec, device) -> float:
    """The folder's base on recorded token states (image 0, the prompt's branch, step 0 and a middle step) must
    give the recorded features (relative 1e-3; 2e-2 for an fp16 bundle)."""
    from .uvit import BaseGraph

    cond = rec_mod.TextConditioner(bundle, m, models, device)
    g = m["tokens"]["grid"]
    base = BaseGraph(models.uvit, (g[0], g[1])).eval()
    states, pooled = cond(rec_mod.prompt_of(rec, 0))
    micro = torch.tensor([rec.index["condition"]["microConds"]], dtype=torch.float32, device=device)
    worst = 0.0
    for s in sorted({0, rec.steps // 2}):
        toks = torch.from_numpy(rec.token_state(0, s, m["tokens"]["maskId"]).astype(np.int32))[None].to(device)
        _, got = base(toks, states, pooled, micro)
        want = torch.from_numpy(rec.feature(0, s, 0))[None].to(device)
        worst = max(worst, float((got - want).abs().max() / want.abs().max().clamp(min=1e-6)))
    tol = 2e-2 if m["training"].get("dtype") == "fp16" else 1e-3
    if not worst <= tol:
        raise AmusedShortcutError(f"--model: its base does not reproduce the recorded features (relative error "
                                  f"{worst:.2g} > {tol}): not the model this bundle and recording came from")
    return worst


def load_init(path: str) -> dict:
    """--init: a state dict of tensors, read with weights_only (a pickle payload is refused, never run)."""
    import pickle

    if not os.path.isfile(path):
        raise AmusedShortcutError(f"--init: {path} is not a file")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise AmusedShortcutError(f"--init: {path} is not a weights-only state dict ({str(exc).splitlines()[0]})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise AmusedShortcutError(f"--init: {path} is not a state dict of tensors")
    return sd


def recipe_from(args):
    from ..shortcut.train import Recipe

    return Recipe(steps=args.steps, batch=args.batch, lr=args.lr, weight_decay=args.weight_decay,
                  schedule=args.lr_schedule, lr_decay_step=args.lr_decay_step, lr_decay=args.lr_decay,
                  ema_decay=args.ema_decay, seed=args.seed)


def fit(models, rec, scfg: ShortcutConfig, recipe, *, val_images: int, device: str = "cpu",
        max_minutes: float | None = None, log_every: int = 100, workers: int = 0, init: dict | None = None,
        save=None, save_every: int = 0, log=print):
    """Trains with the shared trainer; returns (exported model, held-out metrics or {}, loss history)."""
    from ..shortcut import recording as shared_rec
    from ..shortcut import train as shared

    tr, va = shared_rec.split(rec, val_images)
    table = None

    def make_model() -> AmusedShortcut:
        nonlocal table
        model = AmusedShortcut.for_base(scfg, models.uvit) if table is None else AmusedShortcut(scfg, table)
        table = model.table
        return model

    cuda = str(device).startswith("cuda")
    batches = torch.utils.data.DataLoader(
        shared_rec.StepBatches(rec, tr, recipe.batch, recipe.seed, recipe.steps), batch_size=None, shuffle=False,
        num_workers=workers, pin_memory=cuda, **({"prefetch_factor": 4} if workers else {}))
    model, _, hist = shared.train(make_model, batches, recipe, device=device, init=init, max_minutes=max_minutes,
                                  log_every=log_every, save=save, save_every=save_every, log=log,
                                  name="train-amused-shortcut")
    metrics = {}
    if va:
        groups = [shared_rec.pairs_from_recording(rec, g, with_prev=True) for g in shared_rec.by_step(va)]
        metrics = shared.heldout(model.to(device), groups)
    return model, metrics, hist


def run(args, log=print) -> dict:
    from ..shortcut import recording as shared_rec
    m = rec_mod.load_bundle(args.bundle)
    try:
        rec = shared_rec.Recording(args.trajectories)
    except shared_rec.RecordingError as exc:
        raise AmusedShortcutError(f"--trajectories: {exc}") from None
    if (rec.index.get("condition") or {}).get("type") != "text":
        raise AmusedShortcutError(f"--trajectories: {args.trajectories} was not recorded with prompts "
                                  "(python -m migm_train record-amused)")
    if rec.index.get("baseSha256") != rec_mod.base_sha(m):
        raise AmusedShortcutError(f"--trajectories were recorded with another base model (baseSha256 "
                                  f"{str(rec.index.get('baseSha256'))[:12]}.., the bundle's is {rec_mod.base_sha(m)[:12]}..)")
    if rec.P != m["featureDim"] or rec.L != m["tokens"]["count"]:
        raise AmusedShortcutError("--trajectories: token count or feature width differ from the bundle's")
    for name in ("steps", "batch", "lr_decay_step", "log_every"):
        if getattr(args, name) < 1:
            raise AmusedShortcutError(f"--{name.replace('_', '-')} must be >= 1")
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    models = rec_mod.load_models(m, args.model, args.variant)
    models.uvit.to(device)
    err = check_base(models, args.bundle, m, rec, device)
    log(f"train-amused-shortcut: the base matches the recording (relative error {err:.1e})")
    scfg = shortcut_config(models.uvit.cfg, args)
    val = args.val_images if args.val_images is not None else (max(1, rec.images // 50) if rec.images > 1 else 0)
    if val >= rec.images:
        raise AmusedShortcutError(f"--val-images {val} leaves no training images (the recording has {rec.images})")
    init = load_init(args.init) if args.init else None
    recipe = recipe_from(args)

    def save(model):
        if args.save:
            tmp = args.save + ".tmp"
            torch.save({k: v.detach().float().cpu() for k, v in model.state_dict().items()}, tmp)
            os.replace(tmp, args.save)

    log(f"train-amused-shortcut: {rec.images - val} training images, {val} held out; shortcut width {scfg.width}, "
        f"{scfg.blocks} block(s), {scfg.heads} heads; {device}")
    t0 = time.time()
    model, metrics, hist = fit(models, rec, scfg, recipe, val_images=val, device=device, max_minutes=args.max_minutes,
                               log_every=args.log_every, workers=args.workers, init=init, save=save,
                               save_every=args.save_every, log=log)
    if metrics:
        log(f"train-amused-shortcut: held-out one-step MSE: shortcut {metrics['shortcut_mse']:.6g}, reuse "
            f"{metrics['reuse_mse']:.6g}, taylor {metrics['taylor_mse']:.6g}")
    save(model)
    held = {k: v for k, v in metrics.items() if k != "rows"}
    prov = {"trajectories": {"images": rec.images, "steps": rec.steps, "branches": rec.branches, "heldOut": val,
                             "prompts": len(rec.index["condition"]["prompts"])},
            "recipe": {k: getattr(recipe, k) for k in ("batch", "lr", "weight_decay", "schedule", "lr_decay_step",
                                                       "lr_decay", "ema_decay", "seed")},
            "steps": len(hist), "device": str(device), "minutes": round((time.time() - t0) / 60, 2),
            "finalLoss": float(np.mean(hist[-min(len(hist), 100):])) if hist else None,
            **({"heldOut": held} if held else {})}
    return write_bundle(args.bundle, m, model.float().cpu(), args.out, prov, log)


def add_bundle_only(args, log=print) -> dict:
    """`--steps 0`-free path for benchmarks: a bundle with an untrained (random) shortcut, for speed only."""
    m = rec_mod.load_bundle(args.bundle)
    models = rec_mod.load_models(m, args.model, args.variant)
    scfg = shortcut_config(models.uvit.cfg, args)
    torch.manual_seed(args.seed)
    model = AmusedShortcut.for_base(scfg, models.uvit)
    log(f"train-amused-shortcut: --untrained: a RANDOM shortcut ({count_parameters(model):,} parameters), for timing")
    prov = {"trajectories": {"images": 0, "steps": m["sampling"]["steps"], "branches": 2, "heldOut": 0},
            "untrained": "RANDOM shortcut weights: for timing only", "seed": args.seed}
    return write_bundle(args.bundle, m, model, args.out, prov, log)


def main(parser, args) -> int:
    import sys

    from .. import manifest as man
    from .errors import ImportAmusedError

    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    try:
        if args.untrained:
            if args.trajectories:
                parser.error("--untrained takes no --trajectories")
            mf = add_bundle_only(args, log)
        else:
            if not args.trajectories:
                parser.error("--trajectories is required (or --untrained)")
            mf = run(args, log)
    except (AmusedShortcutError, ImportAmusedError, man.ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    g = mf["graphs"]["shortcut"]
    print(f"wrote {args.out}: the bundle with a shortcut graph ({g['parameters']:,} parameters)")
    held = (mf["training"]["shortcutTraining"].get("heldOut") or {})
    if held:
        print(json.dumps({k: held[k] for k in ("shortcut_mse", "reuse_mse", "taylor_mse") if k in held}))
    return 0
