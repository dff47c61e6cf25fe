"""Reference sampler in PyTorch: vanilla MaskGIT, and budgeted shortcut / reuse / Taylor / shortcut-taylor.

Same semantics as @migm/core: [cond; uncond] batch, guided logits (1 + w_i) l_c - w_i l_u,
candidates ~ softmax(l * inverseTemperature), confidence log p + r_temp * Gumbel * (1 - i/(N-1)),
revealed positions never re-chosen, top-k_i committed (k_i from the token-count schedule).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Callable

import torch

from .schedules import full_step_plan, progress, token_counts

if TYPE_CHECKING:  # any base with .cfg, .features() and .logits() samples here (MaskGIT's PackedBase too)
    from .fashion_mnist.base_model import BaseModel

METHODS = ("vanilla", "shortcut", "reuse", "taylor", "shortcut-taylor")


@dataclass
class SamplerOptions:
    steps: int = 16
    schedule: str = "arccos"
    guidance: float = 2.0
    guidance_schedule: str = "linear"       # constant | linear
    inverse_temperature: float = 1.0
    randomize_temperature: float = 2.0
    # r_temp at skipped steps (None: randomize_temperature). A skipped step's confidences come from a stale or
    # predicted feature, so without extra noise the same class-typical positions win in every image.
    skipped_randomize_temperature: float | None = None
    method: str = "vanilla"
    budget: int | None = None               # full steps for shortcut/reuse/taylor

    def with_(self, **kw) -> "SamplerOptions":
        return replace(self, **kw)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SampleResult:
    tokens: torch.Tensor                      # [B, L] final tokens
    reveal_step: torch.Tensor                 # [B, L] step at which each position was revealed
    features: torch.Tensor | None = None      # [B, N, 2, L, D] float16 when recorded
    full_steps: list[int] = field(default_factory=list)


def guidance_weight(opts: SamplerOptions, step: int) -> float:
    """w_i: the guidance scale, times i / (N - 1) under the linear schedule."""
    return opts.guidance if opts.guidance_schedule == "constant" else opts.guidance * progress(step, opts.steps)


def guided_logp(logits: torch.Tensor, w: float, inverse_temperature: float) -> torch.Tensor:
    """[cond; uncond] logits [2b, L, K] -> log softmax of ((1 + w) l_c - w l_u) * inverseTemperature, [b, L, K]."""
    b = logits.shape[0] // 2
    return torch.log_softmax(((1.0 + w) * logits[:b] - w * logits[b:]) * inverse_temperature, dim=-1)


def _gumbel(shape, generator: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=generator.device).clamp_(1e-20, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


@torch.no_grad()
def sample(base: BaseModel, classes: torch.Tensor, opts: SamplerOptions, generator: torch.Generator,
           shortcut: torch.nn.Module | None = None, record: bool = False,
           on_step: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
           guided_head: bool = True) -> SampleResult:
    """on_step(i, logp, tokens), if given, sees each step's guided log-probabilities [b, L, K] and the tokens
    [b, L] (mask id where still masked) before the step commits (diagnostics).

    guided_head: at skipped steps, guide the feature and run the head on b rows instead of 2b (the head
    f E^T + b is affine, so the guided logits are the same up to float rounding), as @migm/core's guidedHead."""
    cfg = base.cfg
    b, length, k_size, n_steps = len(classes), cfg.length, cfg.codebook, opts.steps
    if opts.method not in METHODS:
        raise ValueError(f"unknown method {opts.method!r}")
    if opts.method in ("shortcut", "shortcut-taylor") and shortcut is None:
        raise ValueError(f"method {opts.method!r} needs a shortcut model")
    # Runs where `classes` lives (the generator must be on the same device).
    dev = classes.device
    tokens = torch.full((b, length), cfg.mask_id, dtype=torch.long, device=dev)
    reveal = torch.full((b, length), -1, dtype=torch.long, device=dev)
    counts = token_counts(n_steps, length, opts.schedule)
    if opts.method == "vanilla":
        full = list(range(n_steps))
    else:
        full = full_step_plan(n_steps, opts.budget or n_steps)
    full_set = set(full)
    skipped_r_temp = (opts.randomize_temperature if opts.skipped_randomize_temperature is None
                      else opts.skipped_randomize_temperature)
    if skipped_r_temp < 0:
        raise ValueError(f"skipped_randomize_temperature must be >= 0, got {skipped_r_temp}")
    cls2 = torch.cat([classes.long(), torch.full_like(classes.long(), cfg.null_class)])
    traj = torch.empty((b, n_steps, 2, length, cfg.dim), dtype=torch.float16, device=dev) if record else None
    feat: torch.Tensor | None = None
    history: list[tuple[int, torch.Tensor]] = []
    new_ids = new_pos = ratio = None
    for i in range(n_steps):
        if i in full_set:
            feat = base.features(torch.cat([tokens, tokens]), cls2)
            history = (history + [(i, feat)])[-2:]
        elif opts.method in ("taylor", "shortcut-taylor") and len(history) == 2:
            (ja, fa), (jb, fb) = history
            feat = fb + (i - jb) * (fb - fa) / (jb - ja)
        elif opts.method in ("shortcut", "shortcut-taylor") and new_ids.shape[1] > 0:
            # Both CFG halves get the same new tokens; predictions chain across skipped steps. shortcut-taylor
            # (@migm/core's 'shortcut-taylor') gets here only before its second full step. A step after one that
            # revealed nothing keeps feat, as in @migm/core (no control input to condition on).
            feat = feat + shortcut(feat, torch.cat([new_ids, new_ids]), torch.cat([new_pos, new_pos]),
                                   torch.cat([ratio, ratio]))
        # reuse (and Taylor with one full step so far): keep feat as is.
        if traj is not None:
            traj[:, i] = feat.reshape(2, b, length, -1).transpose(0, 1).half()
        t = progress(i, n_steps)
        w = guidance_weight(opts, i)
        if guided_head and i not in full_set:
            logp = torch.log_softmax(base.logits((1.0 + w) * feat[:b] - w * feat[b:]) * opts.inverse_temperature, dim=-1)
        else:
            logp = guided_logp(base.logits(feat), w, opts.inverse_temperature)
        cand = (logp + _gumbel(logp.shape, generator)).argmax(-1)          # Gumbel-max = categorical draw
        conf = logp.gather(-1, cand[..., None])[..., 0]
        r_temp = opts.randomize_temperature if i in full_set else skipped_r_temp
        conf = conf + r_temp * _gumbel(conf.shape, generator) * (1.0 - t)
        masked = tokens == cfg.mask_id
        if on_step is not None:
            on_step(i, logp, tokens)
        conf = conf.masked_fill(~masked, float("-inf"))
        k = min(counts[i], int(masked.sum(1).min()))
        pos = conf.topk(k, dim=1).indices
        ids = cand.gather(1, pos)
        tokens.scatter_(1, pos, ids)
        reveal.scatter_(1, pos, torch.full_like(pos, i))
        new_ids, new_pos = ids, pos
        ratio = (tokens == cfg.mask_id).float().mean(1)
    return SampleResult(tokens=tokens, reveal_step=reveal, features=traj, full_steps=full)
