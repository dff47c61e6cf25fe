"""Issue 3 probe: does a *sampled* velocity close the shortcut's FD gap to vanilla? Runs on a GPU.

The training report traces the gap to variety inside a class: trained with MSE (+ KL), the shortcut predicts
the average velocity over images and little of each image's own, so at skipped steps every image drifts alike.
This probe gives the shortcut a noise input z ~ N(0, I) per image and token position (shared by both guidance
branches, so guidance does not amplify independent noise) and trains it with the energy score, a proper
scoring rule whose minimiser is the conditional distribution of the velocity rather than its mean:

    ES = (|v(z1) - v| + |v(z2) - v|) / 2 - |v(z1) - v(z2)| / 2,

over the still-masked positions, with a 2-step rollout in which each sample follows its own noise (as the build's
trainer, `shortcut_train.train`). Recipes:

- `es-pos`: the norm per token position (D = 128 values); the mean over positions.
- `es-image`: one norm per image over all its still-masked positions and both branches (the joint score).
- `es-pos-kl`: `es-pos` plus the guided-logit KL of each sample (weight 1), which pulls samples toward
  the target distribution at the cost of spread.

Each is scored at the default N with budgets 4 and 5 (2,010 images, one seed, FD against the test set and
within-class spread) next to vanilla, Taylor and the build's shipped shortcut on the same random stream; the
first recipe also with z = 0 at sampling time (what the noise input adds). Writes JSON lines to --out.

usage: python3 scripts/gpu_stochastic_shortcut.py --work WORK --device cuda --out rows.jsonl
       (smoke test: --device cpu --images 40 --traj 24 --heldout 8 --scale 0.002)
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(__file__), "..")))

from migm_train.fashion_mnist.config import full  # noqa: E402
from migm_train.fashion_mnist.pipeline import Build  # noqa: E402
from migm_train.fashion_mnist.shortcut import Shortcut, ShortcutConfig  # noqa: E402
from migm_train.fashion_mnist.shortcut_train import both_branches, guided_kl, recipe  # noqa: E402
from migm_train.shortcut.train import optimizer_step  # noqa: E402
from migm_train.fashion_mnist.trajectories import generate  # noqa: E402
from probe_log import ProbeLog  # noqa: E402  (scripts/, next to this file)

RECIPES = {"es-pos": ("pos", 0.0), "es-image": ("image", 0.0), "es-pos-kl": ("pos", 1.0)}


class NoisyShortcut(nn.Module):
    """The build's shortcut plus a noise input: z [images, L, zdim] -> Linear -> added to the projected feature.
    Called as the sampler calls a shortcut (feature rows [cond; uncond]), it draws z itself from `generator`,
    the same z for both halves; `scale` multiplies it (0: the mean-like prediction)."""

    def __init__(self, cfg: ShortcutConfig, base, zdim: int):
        super().__init__()
        self.net = Shortcut(cfg, base)
        self.zdim = zdim
        self.noise = nn.Linear(zdim, cfg.width)
        self.generator: torch.Generator | None = None
        self.scale = 1.0

    def draw(self, images: int, length: int, device) -> torch.Tensor:
        z = torch.randn(images, length, self.zdim, generator=self.generator, device=device)
        return torch.cat([z, z]) * self.scale

    def forward(self, feature, new_tokens, new_positions, ratio, z=None):
        if z is None:
            z = self.draw(feature.shape[0] // 2, feature.shape[1], feature.device)
        return self.net(feature, new_tokens, new_positions, ratio, extra=self.noise(z))


def energy_score(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, still: torch.Tensor, mode: str) -> torch.Tensor:
    """a, b: two sampled predictions, t: target, all [2n, L, D] ([cond; uncond]); still: [2n, L]."""
    m = still.float()[..., None]
    if mode == "pos":
        norm = lambda x: x.norm(dim=-1)  # noqa: E731  [2n, L]
        es = 0.5 * (norm(a - t) + norm(b - t)) - 0.5 * norm(a - b)
        return (es * still).sum() / still.sum().clamp(min=1)
    n = a.shape[0] // 2
    flat = lambda x: torch.cat([(x * m)[:n], (x * m)[n:]], dim=1).reshape(n, -1)  # noqa: E731  [n, 2 L D]
    fa, fb, ft = flat(a), flat(b), flat(t)
    es = 0.5 * ((fa - ft).norm(dim=1) + (fb - ft).norm(dim=1)) - 0.5 * (fa - fb).norm(dim=1)
    per_image = still.float().reshape(2, n, -1).sum(dim=(0, 2)).clamp(min=1)  # masked positions of both branches
    return (es / per_image.sqrt()).mean()  # so both modes weigh an image alike regardless of how much is masked


def train(base, traj, train_idx, zdim, mode, kl_weight, steps, batch, opts, dev, log) -> NoisyShortcut:
    """As shortcut_train.train (AdamW 5e-4, warm-up + cosine, EMA 0.995, 2-step rollout, 16 images x 2 branches),
    with two noise samples per example and the energy score instead of the MSE."""
    torch.manual_seed(0)
    base.requires_grad_(False)
    model = NoisyShortcut(ShortcutConfig(), base, zdim).to(dev)
    ema = copy.deepcopy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)
    rcp = recipe(steps, batch, 5e-4, 0, 0.995)  # the default bundle's schedule, clipping and EMA
    n_pairs = traj["steps"] - 1
    L = traj["features"].shape[-2]
    t0 = time.time()
    for step in range(steps):
        s = int(torch.randint(0, n_pairs, (1,), generator=g))
        idx = train_idx[torch.randint(0, len(train_idx), (batch,), generator=g)]
        losses, preds = [], None
        for j in range(s, min(s + 2, n_pairs)):
            f, ids, pos, ratio, target, still = (x.to(dev) for x in both_branches(traj, idx, j))
            preds = [f, f] if preds is None else preds
            preds = [p + model(p, ids, pos, ratio, z=model.draw(batch, L, dev)) for p in preds]
            loss = energy_score(preds[0], preds[1], target, still, mode)
            if kl_weight > 0:
                loss = loss + kl_weight * 0.5 * sum(guided_kl(base, p, target, still, j + 1, opts) for p in preds)
            losses.append(loss)
        loss = torch.stack(losses).mean()
        optimizer_step(model, ema, opt, loss, rcp, step)
        if step % 500 == 0 or step == steps - 1:
            log(f"{mode} kl {kl_weight}: step {step + 1}/{steps} loss {loss.item():.5f} {time.time() - t0:.0f}s")
    ema.eval()
    return ema


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--work", default="work")
    p.add_argument("--device", default="cuda")
    p.add_argument("--images", type=int, default=2010)
    p.add_argument("--traj", type=int, default=1400)
    p.add_argument("--heldout", type=int, default=200)
    p.add_argument("--zdim", type=int, default=16)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies training steps (smoke tests)")
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--out", default="stochastic.jsonl")
    args = p.parse_args()
    dev = torch.device(args.device)
    log = ProbeLog(args.out)
    emit = log.emit

    build = Build(full(), args.work, os.devnull, None, log_file=False)
    ev = build.evaluator(with_shortcut=True)
    shipped = ev.shortcut.to(dev)
    base = ev.base.to(dev).requires_grad_(False)
    ev.batch = (args.images + 1) // 2
    ev.log = lambda _m: None
    opts = build.sampling()
    log(f"device {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}); options {opts}")

    def evaluate(label, o, model=None, seed=1, **extra) -> None:
        ev.shortcut = model
        r = ev.run(o, args.images, [seed], label)
        emit({"label": label, "steps": o.steps, "method": o.method, "budget": o.budget, "images": r["images"],
              "fd": round(r["fd_pooled"], 3), "spread": round(r["spread"], 2), "class_acc": round(r["class_acc"], 4),
              **extra})

    # The reference rows on this device's random stream (reuse: see the training report; left out for GPU time).
    evaluate("vanilla N=16", opts.with_(method="vanilla"))
    for b in (4, 5):
        evaluate(f"shipped shortcut B={b}", opts.with_(method="shortcut", budget=b), shipped)
        evaluate(f"taylor B={b}", opts.with_(method="taylor", budget=b))

    total = args.traj + args.heldout
    traj = generate(base, total, opts, seed=7, batch=1000, num_classes=10, log=lambda _m: None)
    log(f"trajectories: {total} images, features {tuple(traj['features'].shape)}")
    train_idx = torch.arange(args.traj)

    for name in args.recipes.split(","):
        mode, kl = RECIPES[name]
        t0 = time.time()
        model = train(base, traj, train_idx, args.zdim, mode, kl, max(2, int(3500 * args.scale)), 16, opts, dev, log)
        secs = round(time.time() - t0, 1)
        model.generator = torch.Generator(device=dev).manual_seed(99)
        # Sampled velocities at both budgets; z = 0 (what the noise adds) at B = 4 for the first recipe only.
        for scale, budgets in ((1.0, (4, 5)), (0.0, (4,) if name == args.recipes.split(",")[0] else ())):
            model.scale = scale
            for b in budgets:
                evaluate(f"{name} z x{scale:g} B={b}", opts.with_(method="shortcut", budget=b), model,
                         recipe=name, zdim=args.zdim, noise_scale=scale, train_seconds=secs)
    log("done")


if __name__ == "__main__":
    main()
