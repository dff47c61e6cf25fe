"""`record-amused`: vanilla trajectories of an imported aMUSEd bundle's base, with prompts, for training its
shortcut (PAPER.md section 4: per image and per guidance branch the feature of every step, the final tokens and
the step at which each token was revealed).

The sampling is the bundle's (its manifest's `sampling`, which is AmusedPipeline's in migm's terms, and what
`generate()` runs): N steps on the cosine-floor counts (float32, as AmusedScheduler), guided logits
(1 + w) l_c - w l_u with constant w, a candidate per masked position drawn from softmax(l * inverseTemperature),
confidence log p(candidate) + r_temp (1 - i / (N - 1)) Gumbel, the most confident masked positions committed.
The guidance branch is the pipeline's negative branch: the manifest's negative prompt ("" for aMUSEd) through
the same text encoder, the same micro-conditioning. Rows are [cond; uncond] as in `migm record`.

The modules are PyTorch's (so the paper's 2,000-prompt recording can run on CUDA), read from the model folder
the bundle was imported from (`--model`); before recording, the bundle's own base and text-encoder graphs are run
in onnxruntime on one input and must give the PyTorch modules' outputs, so that the trajectories are the
bundle's. Prompts come from a text file, one per line (empty lines and lines starting with '#' skipped), used in
order and cycled when --count exceeds them.

Format: docs/trajectory-format.md (`migm record`'s, written by the shared RecordingWriter); `classes.i32` holds
each image's prompt index into the index's `condition.prompts` (with the negative prompt and the
micro-conditioning there too).
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..staging import check_out
from .errors import ImportAmusedError
from .sampling import mask_counts
from .shortcut_errors import AmusedShortcutError


def read_prompts(path: str) -> list[str]:
    if not os.path.isfile(path):
        raise AmusedShortcutError(f"--prompts: {path} is not a file (one prompt per line)")
    with open(path, encoding="utf-8") as fh:
        lines = [ln.strip() for ln in fh.read().splitlines()]
    prompts = [ln for ln in lines if ln and not ln.startswith("#")]
    if not prompts:
        raise AmusedShortcutError(f"--prompts: {path} holds no prompt (one per line)")
    return prompts


def load_bundle(bundle: str) -> dict:
    from ..shortcut.bundle import read_manifest

    m = read_manifest(bundle, AmusedShortcutError)
    arch = (m.get("training") or {}).get("architecture") or {}
    if m.get("family") != "amused" or "transformer" not in arch or (m.get("condition") or {}).get("type") != "text":
        raise AmusedShortcutError(f"--bundle: {bundle} is not a bundle written by import-amused")
    return m


def base_sha(m: dict) -> str:
    return next(f["sha256"] for f in m["files"] if f["path"] == m["graphs"]["base"]["file"])


def load_models(m: dict, model: str, variant: str | None):
    """The model folder's modules, checked against the bundle's architecture."""
    from . import folder

    models = folder.load_models(model, variant if variant is not None else _bundle_variant(m))
    if models.uvit.cfg.to_json() != m["training"]["architecture"]["transformer"]:
        raise AmusedShortcutError(f"--model {model}: its U-ViT config is not the bundle's (another model folder)")
    return models


def _bundle_variant(m: dict) -> str | None:
    v = m["training"].get("variant")
    return "fp16" if v == "fp16" else None


class TextConditioner:
    """Prompt -> (textStates [1, 77, E], pooled [1, P]) with the bundle's tokenizer.json and the PyTorch text
    encoder graph module; cached per prompt."""

    def __init__(self, bundle: str, m: dict, models, device):
        from tokenizers import Tokenizer

        from .text import TextEncoderGraph

        self.tok = Tokenizer.from_file(os.path.join(bundle, m["condition"]["tokenizer"]["file"]))
        self.enc = TextEncoderGraph(models.text).eval().to(device)
        self.device, self.cache = device, {}

    def ids(self, prompt: str) -> np.ndarray:
        return np.asarray(self.tok.encode(prompt).ids, dtype=np.int32)

    @torch.no_grad()
    def __call__(self, prompt: str):
        if prompt not in self.cache:
            ids = torch.from_numpy(self.ids(prompt))[None].to(self.device)
            self.cache[prompt] = tuple(t.float() for t in self.enc(ids))
        return self.cache[prompt]


def reveal_counts(m: dict, steps: int) -> list[int]:
    if m["sampling"]["schedule"] != "cosine-floor":
        raise AmusedShortcutError(f"record-amused: the bundle's schedule {m['sampling']['schedule']!r} is not "
                                  "cosine-floor (aMUSEd's)")
    L = m["tokens"]["count"]
    masked = mask_counts(L, steps)
    return [L - masked[0]] + [masked[i - 1] - masked[i] for i in range(1, steps)]


@torch.no_grad()
def check_against_bundle(bundle: str, m: dict, models, cond: TextConditioner, prompt: str) -> float:
    """Runs the bundle's textEncoder and base graphs in onnxruntime on one prompt and half-masked tokens; the
    PyTorch modules must give the same text states and feature (relative 1e-3; 2e-2 for fp16-stored weights).
    Returns the worst relative error."""
    import onnxruntime as ort

    from .uvit import BaseGraph

    so = ort.SessionOptions()
    so.log_severity_level = 3
    run = lambda role, feeds: ort.InferenceSession(os.path.join(bundle, m["graphs"][role]["file"]), so,  # noqa: E731
                                                   providers=["CPUExecutionProvider"]).run(None, feeds)
    ids = cond.ids(prompt)[None]
    states, pooled = run("textEncoder", {"inputIds": ids})
    ts, tp = cond(prompt)
    L, K = m["tokens"]["count"], m["tokens"]["codebookSize"]
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, K, size=(1, L)).astype(np.int32)
    tokens[rng.random((1, L)) < 0.5] = K
    micro = np.asarray([m["condition"]["microConditioning"]["default"]], dtype=np.float32)
    _, feature = run("base", {"tokens": tokens, "textStates": states, "pooled": pooled, "microConds": micro})
    g = m["tokens"]["grid"]
    base = BaseGraph(models.uvit, (g[0], g[1])).eval()
    dev = next(base.parameters()).device
    _, want = base(torch.from_numpy(tokens).to(dev), torch.from_numpy(states).to(dev),
                   torch.from_numpy(pooled).to(dev), torch.from_numpy(micro).to(dev))
    rel = lambda a, b: float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-6))  # noqa: E731
    worst = max(rel(ts.cpu().numpy(), states), rel(tp.cpu().numpy(), pooled), rel(want.cpu().numpy(), feature))
    tol = 2e-2 if m["training"].get("dtype") == "fp16" else 1e-3
    if not worst <= tol:
        raise AmusedShortcutError(f"--model: its modules do not reproduce the bundle's graphs (relative error "
                                  f"{worst:.2g} > {tol}): not the folder this bundle was imported from")
    return worst


def _gumbel(shape, gen: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=gen, device=gen.device).clamp_(1e-20, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


@torch.no_grad()
def sample_recorded(base_graph, text: tuple, neg: tuple, micro: torch.Tensor, m: dict, steps: int,
                    gen: torch.Generator):
    """One batch of vanilla sampling at the bundle's settings. text / neg: (textStates [b, 77, E], pooled [b, P])
    of the prompts and the negative prompts. Returns features [N, 2b, L, C] (rows [cond; uncond]), tokens [b, L]
    and reveal steps [b, L]."""
    s = m["sampling"]
    K, L = m["tokens"]["codebookSize"], m["tokens"]["count"]
    w = float((s.get("guidance") or {"scale": 0.0})["scale"])
    if (s.get("guidance") or {}).get("schedule", "constant") != "constant":
        raise AmusedShortcutError("record-amused: only a constant guidance scale (aMUSEd's) is supported")
    inv_t, r_temp = float(s.get("inverseTemperature", 1.0)), float(s.get("randomizeTemperature", 0.0))
    counts = reveal_counts(m, steps)
    b = text[0].shape[0]
    dev = text[0].device
    tokens = torch.full((b, L), K, dtype=torch.int32, device=dev)
    reveal = torch.full((b, L), -1, dtype=torch.int32, device=dev)
    states, pooled = torch.cat([text[0], neg[0]]), torch.cat([text[1], neg[1]])
    micro2 = torch.cat([micro, micro])
    feats = []
    for i in range(steps):
        logits, feature = base_graph(torch.cat([tokens, tokens]), states, pooled, micro2)
        feats.append(feature.float())
        guided = (1.0 + w) * logits[:b] - w * logits[b:]
        logp = torch.log_softmax(guided.float() * inv_t, dim=-1)
        cand = (logp + _gumbel(logp.shape, gen)).argmax(-1)  # Gumbel-max: a categorical draw
        conf = logp.gather(-1, cand[..., None])[..., 0]
        conf = conf + r_temp * (1.0 - i / (steps - 1)) * _gumbel(conf.shape, gen)
        conf = conf.masked_fill(tokens != K, float("-inf"))
        pos = conf.topk(counts[i], dim=1).indices
        tokens.scatter_(1, pos, cand.gather(1, pos).to(torch.int32))
        reveal.scatter_(1, pos, torch.full_like(pos, i, dtype=torch.int32))
    return torch.stack(feats), tokens, reveal


def record(bundle: str, m: dict, models, prompts: list[str], out: str, *, count: int, steps: int, batch: int,
           seed: int, device: str, check: bool = True, log=print) -> dict:
    """Writes the recording into a temporary folder beside `out`, then moves it into place."""
    from .uvit import BaseGraph

    check_out(out, AmusedShortcutError)
    L, K, C = m["tokens"]["count"], m["tokens"]["codebookSize"], m["featureDim"]
    if not 2 <= steps <= L:
        raise AmusedShortcutError(f"--steps must be from 2 to the token count {L}")
    if not float((m["sampling"].get("guidance") or {"scale": 0})["scale"]):
        raise AmusedShortcutError("record-amused: the bundle's sampling has no guidance; the paper records both branches")
    models.uvit.to(device)
    cond = TextConditioner(bundle, m, models, device)
    neg_prompt = m["condition"].get("negativePrompt", "")
    if check:
        err = check_against_bundle(bundle, m, models, cond, prompts[0])
        log(f"record-amused: the model folder reproduces the bundle's graphs (relative error {err:.1e})")
    g = m["tokens"]["grid"]
    base_graph = BaseGraph(models.uvit, (g[0], g[1])).eval()
    micro = torch.tensor([m["condition"]["microConditioning"]["default"]], dtype=torch.float32, device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    s = m["sampling"]
    index = {"format": "migm-trajectories", "version": 1, "bundle": m["name"], "baseSha256": base_sha(m),
             "tokens": L, "grid": g, "featureDim": C, "codebookSize": K, "maskId": K, "steps": steps,
             "counts": reveal_counts(m, steps), "branches": 2,
             "recorder": "python -m migm_train record-amused (PyTorch, float32 features)",
             "sampling": {"steps": steps, "schedule": s["schedule"], "guidance": s["guidance"],
                          "inverseTemperature": s.get("inverseTemperature", 1.0),
                          "randomizeTemperature": s.get("randomizeTemperature", 0.0)},
             "condition": {"type": "text", "prompts": prompts, "negativePrompt": neg_prompt,
                           "microConds": m["condition"]["microConditioning"]["default"]}}
    from ..shortcut.recording import record as record_runs

    neg = cond(neg_prompt)

    def sample(first: int, n: int):
        which = [(first + j) % len(prompts) for j in range(n)]
        text = [cond(prompts[p]) for p in which]
        text = (torch.cat([t[0] for t in text]), torch.cat([t[1] for t in text]))
        feats, tokens, reveal = sample_recorded(base_graph, text, (neg[0].expand(n, -1, -1), neg[1].expand(n, -1)),
                                                micro.expand(n, -1), m, steps, gen)
        return feats, tokens, reveal, np.asarray(which)

    return record_runs(out, index, count=count, batch=batch, seed=seed, sample=sample, name="record-amused", log=log)


def main(parser, args) -> int:
    import sys

    from .. import manifest as man
    from ..env import fail
    from ..shortcut.recording import RecordingError

    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    try:
        if args.count < 1 or args.batch < 1:
            raise AmusedShortcutError("--count and --batch must be >= 1")
        m = load_bundle(args.bundle)
        prompts = read_prompts(args.prompts)
        models = load_models(m, args.model, args.variant)
        device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        index = record(args.bundle, m, models, prompts, args.out, count=args.count,
                       steps=args.steps or m["sampling"]["steps"], batch=args.batch, seed=args.seed, device=device,
                       log=log)
    except (AmusedShortcutError, ImportAmusedError, man.ManifestError, RecordingError) as exc:
        return fail(exc)
    print(f"wrote {args.out}: {index['images']} trajectories, N={index['steps']}, 2 branches, "
          f"{len(index['condition']['prompts'])} prompts")
    return 0



def prompt_of(rec, image: int) -> str:
    """The prompt of image `image` of a record-amused recording (classes.i32 holds its index into the index's
    condition.prompts)."""
    return rec.index["condition"]["prompts"][int(rec.classes[image])]
