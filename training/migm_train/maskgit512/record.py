"""`record-maskgit`: vanilla trajectories of an imported MaskGIT bundle's base, sampled by the PyTorch
reference sampler (migm_train.sampler, the semantics of @migm/core) over the imported modules, written in
`migm record`'s format (docs/trajectory-format.md) so that train-maskgit-shortcut reads either.

Why a second recorder: `migm record` runs the bundle itself (the recommended path, and the one a CPU-only
user has), but the paper's data set is 50,000 images of 15 steps with guidance at 1,024 tokens; onnxruntime-node's
CUDA provider is unverified in this project, while PyTorch on CUDA is the reference's own setting. Features are
sampled in float32 and stored through the sampler's float16 trajectory buffer (relative rounding about 5e-4),
then written as float32 like `migm record`'s.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from ..sampler import SamplerOptions, sample
from ..schedules import token_counts
from ..shortcut.recording import RecordingError, record as record_runs
from .transformer import MaskGitTransformer, pack


class PackedBase(torch.nn.Module):
    """The sampler's base-model interface over MaskGitTransformer, on the bundle's packed feature (what the
    base graph outputs and `migm record` stores): features [b, L, D + c], logits = the head graph's."""

    def __init__(self, model: MaskGitTransformer, packed: int):
        super().__init__()
        self.model = model
        c = model.cfg
        self.cfg = SimpleNamespace(length=c.length, codebook=c.codebook, mask_id=c.codebook, null_class=c.num_classes,
                                   dim=packed)

    def features(self, tokens, classes):
        return pack(self.model.features(tokens, classes), self.model.cfg)

    def logits(self, feature):
        m = self.model
        L, K, D = m.cfg.length, m.cfg.codebook, m.cfg.dim
        return feature[..., :D] @ m.tok_emb.weight[:K].T + m.bias[:L, :K]


def sampler_options(manifest: dict, steps: int) -> SamplerOptions:
    s = manifest["sampling"]
    g = s.get("guidance") or {"scale": 0.0, "schedule": "constant"}
    return SamplerOptions(steps=steps, schedule=s["schedule"], guidance=float(g["scale"]),
                          guidance_schedule=g.get("schedule", "constant"),
                          inverse_temperature=float(s.get("inverseTemperature", 1.0)),
                          randomize_temperature=float(s.get("randomizeTemperature", 0.0)), method="vanilla")


def record(base: MaskGitTransformer, manifest: dict, out: str, *, count: int, steps: int, batch: int, seed: int,
           device: str, classes: str = "cycle", log=print) -> dict:
    """Writes the recording with the shared writer (a temporary folder beside `out`, moved into place)."""
    from .train_shortcut import TrainShortcutError
    packed = manifest["featureDim"]
    pb = PackedBase(base, packed).to(device).eval()
    opts = sampler_options(manifest, steps)
    L, C = base.cfg.length, base.cfg.num_classes
    base_sha = next(f["sha256"] for f in manifest["files"] if f["path"] == manifest["graphs"]["base"]["file"])
    g = torch.Generator(device=device).manual_seed(seed)
    pick = np.random.default_rng(seed)
    index = {"format": "migm-trajectories", "version": 1, "bundle": manifest["name"], "baseSha256": base_sha,
             "tokens": L, "grid": manifest["tokens"]["grid"], "featureDim": packed,
             "codebookSize": base.cfg.codebook, "maskId": base.cfg.codebook, "steps": steps,
             "counts": token_counts(steps, L, opts.schedule), "branches": 2 if opts.guidance else 1,
             "images": 0, "runs": [], "recorder": "python -m migm_train record-maskgit (PyTorch, float16-rounded features)",
             "sampling": opts.to_dict()}
    if index["branches"] != 2:
        raise TrainShortcutError("record-maskgit: the bundle's sampling has no guidance; the paper records both CFG branches")

    def sample_run(first: int, n: int):
        cls = (np.arange(first, first + n) % C if classes == "cycle" else pick.integers(0, C, size=n))
        res = sample(pb, torch.as_tensor(cls, device=device), opts, g, record=True)
        # [b, N, 2, L, P] -> a run's layout [N, 2 * b, L, P] (rows [cond b_0..; uncond b_0..])
        feats = res.features.float().permute(1, 2, 0, 3, 4).reshape(steps, 2 * n, L, packed)
        return feats, res.tokens, res.reveal_step, cls

    return record_runs(out, index, count=count, batch=batch, seed=seed, sample=sample_run, name="record-maskgit", log=log)


def main(parser, args) -> int:
    import sys

    from .. import manifest as man
    from .checkpoints import ImportMaskgitError
    from .train_shortcut import TrainShortcutError, check_base, load_base, load_bundle  # noqa: F401

    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    try:
        if args.count < 1 or args.steps < 2 or args.batch < 1:
            raise TrainShortcutError("--count and --batch must be >= 1, --steps >= 2")
        m = load_bundle(args.bundle)
        if args.steps > m["tokens"]["count"]:
            raise TrainShortcutError(f"--steps {args.steps} exceeds the token count {m['tokens']['count']}")
        base = load_base(m, args.vit, args.heads)
        device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        index = record(base, m, args.out, count=args.count, steps=args.steps, batch=args.batch, seed=args.seed,
                       device=device, classes=args.classes, log=log)
    except (TrainShortcutError, RecordingError, ImportMaskgitError, man.ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {index['images']} trajectories, N={index['steps']}, 2 branches")
    return 0
