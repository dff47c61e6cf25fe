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
from .shortcut import AmusedShortcut, ShortcutConfig, count_parameters, token_table
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
    from ..shortcut.recipe import Recipe

    return Recipe(steps=args.steps, batch=args.batch, lr=args.lr, weight_decay=args.weight_decay,
                  schedule=args.lr_schedule, lr_decay_step=args.lr_decay_step, lr_decay=args.lr_decay,
                  ema_decay=args.ema_decay, seed=args.seed)


class SameStepBatches(torch.utils.data.Dataset):
    """Optimizer step i -> one single-step chain of `batch` examples that share one step s: s drawn uniformly
    from the steps, then `batch` (image, branch) examples of it uniformly, with np.random.default_rng([seed, i]).
    Every (image, branch, step) example is as likely as under the shared StepBatches (each step has the same
    number of examples), but a step's batch runs as one module call instead of one per step present, which is
    what makes small batches of a small model fast on a CPU. `--batch-steps same` (the default, `mixed`, is
    StepBatches: the paper's uniform draw)."""

    def __init__(self, rec, ts: list, batch: int, seed: int, steps: int):
        from ..shortcut import recording as shared_rec

        self.rec, self.groups, self.batch, self.seed, self.steps = rec, shared_rec.by_step(ts), batch, seed, steps

    def __len__(self):
        return self.steps

    def __getitem__(self, i: int):
        from ..shortcut import recording as shared_rec

        rng = np.random.default_rng([self.seed, i])
        g = self.groups[int(rng.integers(0, len(self.groups)))]
        return [[shared_rec.pairs_from_recording(self.rec, [g[j] for j in rng.integers(0, len(g), size=self.batch)])]]


def fit(models, rec, scfg: ShortcutConfig, recipe, *, val_images: int, device: str = "cpu",
        max_minutes: float | None = None, log_every: int = 100, workers: int = 0, init: dict | None = None,
        save=None, save_every: int = 0, same_step: bool = False, log=print):
    """Trains with the shared trainer on the recording's (image, branch, step) examples, the last `val_images`
    images held out; returns (exported model, held-out metrics or {}, loss history)."""
    from ..shortcut import recording as shared_rec
    from ..shortcut import train as shared

    try:
        tr, va = shared_rec.split(rec, val_images)
    except shared_rec.RecordingError as exc:
        raise AmusedShortcutError(f"--val-images: {exc}") from None
    table = token_table(models.uvit)
    cuda = str(device).startswith("cuda")
    source = (SameStepBatches(rec, tr, recipe.batch, recipe.seed, recipe.steps) if same_step else
              shared_rec.StepBatches(rec, tr, recipe.batch, recipe.seed, recipe.steps))
    batches = torch.utils.data.DataLoader(source, batch_size=None, shuffle=False,
        num_workers=workers, pin_memory=cuda, **({"prefetch_factor": 4} if workers else {}))
    model, _, hist = shared.train(lambda: AmusedShortcut(scfg, table), batches, recipe, device=device, init=init,
                                  max_minutes=max_minutes, log_every=log_every, save=save, save_every=save_every,
                                  log=log, name="train-amused-shortcut")
    metrics = shared.heldout(model, shared_rec.heldout_groups(rec, va), device=device) if va else {}
    return model, metrics, hist


def run(args, log=print) -> dict:
    from ..shortcut import recording as shared_rec
    m = rec_mod.load_bundle(args.bundle)
    try:
        rec = shared_rec.Recording(args.trajectories)
    except (shared_rec.RecordingError, OSError) as exc:
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
                               save_every=args.save_every, same_step=args.batch_steps == "same", log=log)
    if metrics:
        log(f"train-amused-shortcut: held-out one-step MSE: shortcut {metrics['shortcut_mse']:.6g}, reuse "
            f"{metrics['reuse_mse']:.6g}, taylor {metrics['taylor_mse']:.6g}")
    save(model)
    held = {k: v for k, v in metrics.items() if k != "rows"}
    prov = {"trajectories": {"images": rec.images, "steps": rec.steps, "branches": rec.branches, "heldOut": val,
                             "prompts": len(rec.index["condition"]["prompts"])},
            "recipe": {k: getattr(recipe, k) for k in ("batch", "lr", "weight_decay", "schedule", "lr_decay_step",
                                                       "lr_decay", "ema_decay", "seed")},
            "batchSteps": args.batch_steps,
            "steps": len(hist), "device": str(device), "minutes": round((time.time() - t0) / 60, 2),
            "finalLoss": float(np.mean(hist[-min(len(hist), 100):])) if hist else None,
            **({"heldOut": held} if held else {})}
    return write_bundle(args.bundle, m, model.float().cpu(), args.out, prov, log)


def embedding_only(m: dict, model: str, variant: str | None):
    """A U-ViT of the bundle's architecture holding only the folder's token-embedding weights (embed.*, read
    alone from the safetensors file, a few MB): enough for the shortcut's frozen token table without loading
    the 600 M-parameter model."""
    from dataclasses import fields

    from safetensors import safe_open

    from .folder import weight_file
    from .uvit import UVit2DConvEmbed, UVitConfig

    arch = m["training"]["architecture"]["transformer"]
    cfg = UVitConfig(**{f.name: arch[f.name] for f in fields(UVitConfig) if f.name in arch})
    path = weight_file(model, "transformer", variant if variant is not None else rec_mod._bundle_variant(m))
    embed = UVit2DConvEmbed(cfg)
    with safe_open(path, framework="pt") as fh:
        state = {k[len("embed."):]: fh.get_tensor(k).float() for k in fh.keys() if k.startswith("embed.")}
    try:
        embed.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise AmusedShortcutError(f"--model: {path}: its embed.* weights are not the bundle's architecture "
                                  f"({str(exc).splitlines()[0]})") from None
    holder = torch.nn.Module()
    holder.embed, holder.cfg = embed, cfg
    return holder


def add_bundle_only(args, log=print) -> dict:
    """--untrained: a bundle with a RANDOM shortcut (only its token table is the base's), for speed only."""
    m = rec_mod.load_bundle(args.bundle)
    base = embedding_only(m, args.model, args.variant)
    scfg = shortcut_config(base.cfg, args)
    torch.manual_seed(args.seed)
    model = AmusedShortcut(scfg, token_table(base))
    log(f"train-amused-shortcut: --untrained: a RANDOM shortcut ({count_parameters(model):,} parameters), for timing")
    prov = {"trajectories": {"images": 0, "steps": m["sampling"]["steps"], "branches": 2, "heldOut": 0},
            "untrained": "RANDOM shortcut weights: for timing only", "seed": args.seed}
    return write_bundle(args.bundle, m, model, args.out, prov, log)


def main(parser, args) -> int:
    import sys

    from .. import manifest as man
    from ..env import fail
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
        return fail(exc)
    g = mf["graphs"]["shortcut"]
    print(f"wrote {args.out}: the bundle with a shortcut graph ({g['parameters']:,} parameters)")
    held = (mf["training"]["shortcutTraining"].get("heldOut") or {})
    if held:
        print(json.dumps({k: held[k] for k in ("shortcut_mse", "reuse_mse", "taylor_mse") if k in held}))
    return 0
