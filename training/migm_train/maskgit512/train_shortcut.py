"""`train-maskgit-shortcut`: train your own MIGM-Shortcut for an imported MaskGIT bundle and put it into a copy
of the bundle.

  migm record --bundle B --steps 15 --out T        (vanilla trajectories, recorded by the runtime itself)
  python -m migm_train train-maskgit-shortcut --bundle B --trajectories T --out B2 [--vit FILE]

The trajectories are read lazily (np.memmap of features.f32: a paper-size recording is terabytes), unpacked
from the bundle's [L, D + c] layout to the reference's [L + 1, D] (class position included), and turned into
single-step teacher-forced pairs as the reference trainer (MaskGIT-Shortcut/train_shortcut.py) does: input
f_s, the tokens revealed at s with their positions, the mask ratio after s; target f_{s+1}; MSE over the
positions still masked after s (the class position is never masked, so never in the loss). Every (image,
CFG branch, step) triple is one example. Defaults are the paper's recipe (PAPER.md section 4 and the
reference's README command): AdamW lr 1e-4, x0.1 after 1,000 optimizer steps, weight decay 0.01, EMA 0.9999
(the EMA weights are exported), batch 4 (the reference asserts 1 example per GPU, on 4 GPUs under DDP: its
gradient is the mean of 4 examples' losses, which is what a batch of 4 here computes), no KL, no rollout.

The shortcut's frozen copies of the base's token and position embeddings (its `wte`/`wpe` buffers) come from
`--vit` (the released MaskGIT checkpoint the bundle was imported from) or, for a `--random-init` bundle, from
the seed and config its manifest records. Either way the base is checked against the recording (the base's
feature on a recorded token state must equal the recorded feature), so a wrong checkpoint stops before training.
"""
from __future__ import annotations

import copy
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict

import numpy as np
import torch

from .. import export, layers
from .. import manifest as man
from .checkpoints import ImportMaskgitError, load_strict, read_transformer, torch_load, transformer_config
from .importer import CONFIGS, example_inputs, graph_specs, random_models, store_fp16
from .shortcut import MaskGitShortcut, ShortcutConfig, ShortcutGraph
from .transformer import MaskGitTransformer, packed_width, unpack

from .train_shortcut_args import PAPER_RECIPE  # noqa: F401  (re-exported)


class TrainShortcutError(ValueError):
    """Bad input (bundle, recording, checkpoint, flags): one error line, nothing written."""


# --- the recording ---------------------------------------------------------------------------------------

class Recording:
    """A `migm record` directory (docs/trajectory-format.md), features memory-mapped (never read whole)."""

    def __init__(self, directory: str):
        path = os.path.join(directory, "trajectories.json")
        if not os.path.exists(path):
            raise TrainShortcutError(f"--trajectories: {directory} has no trajectories.json "
                                     f"(record one with `migm record --bundle BUNDLE --steps 15 --out {directory}`)")
        with open(path) as fh:
            ix = json.load(fh)
        if ix.get("format") != "migm-trajectories" or ix.get("version") != 1:
            raise TrainShortcutError(f"--trajectories: {path} is not a version-1 migm trajectory recording")
        self.index = ix
        self.images, self.steps, self.branches = ix["images"], ix["steps"], ix["branches"]
        self.L, self.P = ix["tokens"], ix["featureDim"]
        if self.steps < 2:
            raise TrainShortcutError(f"--trajectories: N = {self.steps}; training pairs need at least 2 steps")

        def ints(name: str, count: int) -> np.ndarray:
            p = os.path.join(directory, name)
            a = np.fromfile(p, dtype="<i4") if os.path.exists(p) else np.zeros(0, np.int32)
            if a.size < count:
                raise TrainShortcutError(f"--trajectories: {p} holds {a.size} values, the index needs {count} "
                                         "(interrupted recording?)")
            return a[:count].astype(np.int64)

        self.tokens = ints("tokens.i32", self.images * self.L).reshape(self.images, self.L)
        self.reveal = ints("reveal_step.i32", self.images * self.L).reshape(self.images, self.L)
        self.classes = ints("classes.i32", self.images)
        counts = np.stack([(self.reveal == s).sum(1) for s in range(self.steps)], 1)
        if not (counts == np.asarray(ix["counts"])[None]).all():
            raise TrainShortcutError(f"--trajectories: {directory}: reveal steps disagree with the recorded counts")
        fpath = os.path.join(directory, "features.f32")
        per_run = self.steps * self.branches * self.L * self.P
        need = max(r["featureOffset"] // 4 + r["images"] * per_run for r in ix["runs"])
        have = os.path.getsize(fpath) // 4 if os.path.exists(fpath) else 0
        if have < need:
            raise TrainShortcutError(f"--trajectories: {fpath} holds {have} values, the index needs {need} "
                                     "(interrupted recording?)")
        self.features = np.memmap(fpath, dtype="<f4", mode="r", shape=(have,))
        # image -> (run offset in values, run size, row in the run)
        self._where = np.zeros((self.images, 3), dtype=np.int64)
        for r in ix["runs"]:
            for j in range(r["images"]):
                self._where[r["firstImage"] + j] = (r["featureOffset"] // 4, r["images"], j)

    def feature(self, image: int, step: int, branch: int) -> np.ndarray:
        """[L, featureDim] float32: the base's packed feature at `step` (before its reveal) on `branch`."""
        off, n, j = (int(v) for v in self._where[image])
        size = self.L * self.P
        start = off + ((step * self.branches + branch) * n + j) * size  # a run is [steps, branches * n, L, P]
        return np.array(self.features[start:start + size]).reshape(self.L, self.P)

    def token_state(self, image: int, step: int, mask_id: int) -> np.ndarray:
        """The tokens the base saw at `step`: those revealed before it, the rest masked."""
        t = self.tokens[image].copy()
        t[self.reveal[image] >= step] = mask_id
        return t


def pair_batch(rec: Recording, triples, cfg) -> dict:
    """Examples (image, step s, branch) sharing one s -> stacked tensors: feature f_s and target f_{s+1}
    [b, L + 1, D], new tokens/positions [b, k_s], ratio after s [b], still-masked map [b, L + 1]."""
    s = triples[0][1]
    assert all(t[1] == s for t in triples)
    f = np.stack([rec.feature(i, s, b) for i, _, b in triples])
    y = np.stack([rec.feature(i, s + 1, b) for i, _, b in triples])
    imgs = [i for i, _, _ in triples]
    reveal = torch.from_numpy(rec.reveal[imgs])
    new = reveal == s
    k = int(new[0].sum())
    pos = new.float().argsort(1, descending=True)[:, :k]
    ids = torch.from_numpy(rec.tokens[imgs]).gather(1, pos)
    still = reveal > s
    ratio = still.float().mean(1)
    still = torch.cat([still, torch.zeros(len(imgs), 1, dtype=torch.bool)], 1)  # the class position: never
    return {"feature": unpack(torch.from_numpy(f), cfg), "target": unpack(torch.from_numpy(y), cfg),
            "ids": ids, "pos": pos, "ratio": ratio, "still": still}


def example_losses(model: MaskGitShortcut, batch: dict, device) -> torch.Tensor:
    """Per-example MSE of f_s + S(...) against f_{s+1}, mean over the still-masked positions and the width
    (the reference's F.mse_loss on the masked rows of one example)."""
    f = batch["feature"].to(device)
    pred = f + model(f, batch["ids"].to(device), batch["pos"].to(device), batch["ratio"].to(device))
    still = batch["still"].to(device).float()
    err = ((pred.float() - batch["target"].to(device)) ** 2).mean(-1)
    return (err * still).sum(1) / still.sum(1).clamp(min=1)


def by_step(triples) -> list[list]:
    groups: dict[int, list] = {}
    for t in triples:
        groups.setdefault(t[1], []).append(t)
    return list(groups.values())


def batch_loss(model, rec: Recording | None, triples, cfg, device, groups: list[dict] | None = None) -> torch.Tensor:
    """Mean over the examples of their own losses (examples of different steps run as separate groups, as
    the reference's one-example-per-GPU batches do). `groups`: the pair batches, already read."""
    groups = groups if groups is not None else [pair_batch(rec, g, cfg) for g in by_step(triples)]
    return torch.cat([example_losses(model, g, device) for g in groups]).mean()


class _Batches(torch.utils.data.Dataset):
    """Optimizer step i -> its examples' pair batches. The examples of step i depend only on (seed, i), so
    the batches are the same with any number of loader workers."""

    def __init__(self, rec: Recording, triples, cfg, batch: int, seed: int, steps: int):
        self.rec, self.triples, self.cfg, self.batch, self.seed, self.steps = rec, triples, cfg, batch, seed, steps

    def __len__(self):
        return self.steps

    def __getitem__(self, i: int) -> list[dict]:
        picks = np.random.default_rng([self.seed, i]).integers(0, len(self.triples), size=self.batch)
        return [pair_batch(self.rec, g, self.cfg) for g in by_step([self.triples[p] for p in picks])]


@torch.no_grad()
def evaluate(model, rec: Recording, triples, cfg, device, chunk: int = 16) -> dict:
    """Held-out one-step MSE of the shortcut and of reuse (f_{s+1} = f_s), over the still-masked positions."""
    sc, ru = [], []
    for g in by_step(triples):
        for c in range(0, len(g), chunk):
            b = pair_batch(rec, g[c:c + chunk], cfg)
            sc.append(example_losses(model, b, device))
            still = b["still"].float()
            ru.append(((((b["feature"] - b["target"]) ** 2).mean(-1) * still).sum(1) / still.sum(1).clamp(min=1)))
    return {"shortcut_mse": float(torch.cat(sc).mean()), "reuse_mse": float(torch.cat([r.to(device) for r in ru]).mean())}


# --- the base: embeddings for wte/wpe, checked against the recording ------------------------------------

def load_bundle(bundle: str) -> dict:
    path = os.path.join(bundle, "manifest.json")
    if not os.path.exists(path):
        raise TrainShortcutError(f"--bundle: {bundle} has no manifest.json")
    with open(path) as fh:
        m = json.load(fh)
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
    n_train = rec.images - val_images
    if n_train < 1:
        raise TrainShortcutError(f"--val-images {val_images} leaves no training images (the recording has "
                                 f"{rec.images})")
    pairs = lambda imgs: [(i, s, b) for i in imgs for s in range(rec.steps - 1) for b in range(rec.branches)]  # noqa
    return pairs(range(n_train)), pairs(range(n_train, rec.images))


def train(base: MaskGitTransformer, rec: Recording, scfg: ShortcutConfig, train_triples, *, steps: int,
          batch: int, lr: float, lr_decay_step: int, lr_decay: float, weight_decay: float, ema_decay: float,
          seed: int, device: str = "cpu", init: dict | None = None, max_minutes: float | None = None,
          log_every: int = 100, save=None, save_every: int = 0, workers: int = 0, log=print):
    """Returns (exported model: the EMA, or the raw model when ema_decay = 0; the raw model; loss history)."""
    torch.manual_seed(seed)
    model = MaskGitShortcut.for_base(scfg, base).to(device)
    if init is not None:
        load_strict(model, init, "--init")
    model.train()
    ema = copy.deepcopy(model).eval() if ema_decay > 0 else None
    ema_started = init is not None  # the reference's AveragedModel copies the weights at its first update
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[lr_decay_step], gamma=lr_decay)
    cuda = str(device).startswith("cuda")
    scaler = torch.cuda.amp.GradScaler(enabled=cuda)  # the reference trains under fp16 autocast on CUDA
    # Reading features from the memory-mapped recording runs in `workers` processes, ahead of the optimizer.
    loader = torch.utils.data.DataLoader(_Batches(rec, train_triples, base.cfg, batch, seed, steps), batch_size=None,
                                         shuffle=False, num_workers=workers, pin_memory=cuda,
                                         **({"prefetch_factor": 4, "persistent_workers": False} if workers else {}))
    history, t0, window = [], time.time(), []
    for step, groups in enumerate(loader):
        with torch.autocast("cuda", enabled=cuda):
            loss = batch_loss(model, None, None, base.cfg, device, groups=groups)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        if ema is not None:
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    if ema_started:
                        pe.mul_(ema_decay).add_(pm.detach(), alpha=1 - ema_decay)
                    else:
                        pe.copy_(pm.detach())
            ema_started = True
        history.append(float(loss))
        window.append(float(loss))
        last = step == steps - 1
        out_of_time = max_minutes is not None and time.time() - t0 > 60 * max_minutes
        if (step + 1) % log_every == 0 or last or out_of_time:
            log(f"train-maskgit-shortcut: step {step + 1}/{steps} loss {np.mean(window):.6f} "
                f"lr {opt.param_groups[0]['lr']:.2g} {time.time() - t0:.0f}s")
            window = []
        if save is not None and save_every and (step + 1) % save_every == 0:
            save(ema if ema is not None else model)
        if out_of_time:
            log(f"train-maskgit-shortcut: --max-minutes {max_minutes} reached after {step + 1} steps")
            break
    return (ema if ema is not None else model), model, history


def released_state(model: MaskGitShortcut) -> dict:
    """The weights in maskgit-shortcut.pth's layout (wte/wpe are non-persistent, so not included)."""
    return {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}


# --- export into a copy of the bundle -------------------------------------------------------------------

def write_bundle(src: str, m: dict, model: MaskGitShortcut, base_cfg, out: str, provenance: dict, log=print) -> dict:
    """Copies the bundle (hard links where possible) with `model` as its shortcut graph into a temporary
    folder beside `out`, validates the manifest and moves it into place: on failure nothing is left."""
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise TrainShortcutError(f"--out: {out} exists and is not an empty folder; nothing was written")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise TrainShortcutError(f"--out: the folder {parent} does not exist")
    if os.path.abspath(out) == os.path.abspath(src):
        raise TrainShortcutError("--out must be a new folder, not the --bundle")
    m = copy.deepcopy(m)
    old = m["graphs"].get("shortcut")
    files = [f for f in m["files"] if old is None or f["path"] != old["file"]]
    dtype = m["training"].get("dtype", "fp32")
    tmp = tempfile.mkdtemp(prefix=".train-maskgit-shortcut-", dir=parent)
    try:
        for f in files:
            dst = os.path.join(tmp, f["path"])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                os.link(os.path.join(src, f["path"]), dst)
            except OSError:
                shutil.copy2(os.path.join(src, f["path"]), dst)
        rel = "shortcut.onnx"
        if any(f["path"] == rel for f in files):
            raise TrainShortcutError(f"--bundle: another graph already uses the file name {rel}")
        graph = ShortcutGraph(copy.deepcopy(model).float().cpu().eval(), base_cfg).eval()
        if dtype == "fp16":
            graph = store_fp16(graph)
        specs = graph_specs(base_cfg, m["image"]["width"])
        log(f"train-maskgit-shortcut: exporting shortcut ({sum(p.numel() for p in model.parameters()):,} "
            f"parameters, {dtype})")
        export.export_module(graph, example_inputs("shortcut", base_cfg, 2, 5, 0), specs["shortcut"],
                             os.path.join(tmp, rel), layers.FUSED_ATTENTION_EXPORT, fold=dtype == "fp32")
        entry = man.file_entry(tmp, rel)
        base_sha = next(f["sha256"] for f in files if f["path"] == m["graphs"]["base"]["file"])
        ins, outs = specs["shortcut"]
        m["graphs"]["shortcut"] = {
            "file": rel, "opset": export.OPSET, "parameters": sum(p.numel() for p in model.parameters()),
            "inputs": ins, "outputs": outs, "trainedSteps": provenance["trajectories"]["steps"],
            "compatibility": {"baseSha256": base_sha, "codebookSize": base_cfg.codebook,
                              "featureDim": packed_width(base_cfg)}}
        m["files"] = files + [entry]
        m["training"]["architecture"]["shortcut"] = asdict(model.cfg)
        m["training"]["shortcutTraining"] = provenance
        weights = m["training"].get("weights")
        if isinstance(weights, dict):
            weights = dict(weights)
            weights["shortcut"] = "trained with python -m migm_train train-maskgit-shortcut"
            m["training"]["weights"] = weights
        note = "shortcut trained with train-maskgit-shortcut"
        if note not in m["description"]:
            m["description"] = m["description"].rstrip(".") + f"; {note}."
        man.write(m, tmp)
        os.chmod(tmp, 0o755)
        if os.path.isdir(out):
            os.rmdir(out)
        os.rename(tmp, out)
        return m
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- the command -----------------------------------------------------------------------------------------

def run(args, log=print) -> dict:
    m = load_bundle(args.bundle)
    rec = Recording(args.trajectories)
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
            f"reuse {metrics['reuse_mse']:.6g}")
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
