"""AmusedScheduler + AmusedPipeline's sampling, as a PyTorch reference (what the bundle's sampling defaults mean).

Per step i of N (timesteps N-1 .. 0): every masked position draws a token by multinomial at temperature 1 from
softmax(u + g (c - u)) (u: the negative prompt's logits, g = 10); known tokens are kept. Unless this is the last
step, mask_len = floor(L cos(pi/2 (i+1)/N)) clamped to [1, masked - 1] positions are masked again: those with
the lowest log p(drawn) + t_i * Gumbel, t_i = linspace(2, 0, N)[i]; known positions are never re-masked. The
last step reveals every position. The scheduler computes mask_len in float32 (ratio, cos and the product are
float32 tensors), which `mask_counts` reproduces exactly; float64 arithmetic differs where L cos(...) is within
float32 rounding of an integer (aMUSEd-256 at N = 12: 127 masked after step 8 in float32, 128 in float64).
"""
from __future__ import annotations

import math

import torch

GUIDANCE = 10.0  # AmusedPipeline's default guidance_scale, applied as u + g (c - u)
STEPS = 12
TEMPERATURE = (2.0, 0.0)  # AmusedScheduler.set_timesteps' default confidence-noise range
AESTHETIC_SCORE = 6.0


def mask_counts(length: int, steps: int) -> list[int]:
    """Masked positions after each step (the last is 0), starting from all `length` masked, computed with the
    scheduler's float32 arithmetic."""
    out, masked = [], length
    timesteps = torch.arange(steps).flip(0)
    for i in range(steps):
        if i == steps - 1:
            masked = 0
        else:
            step_idx = (timesteps == timesteps[i]).nonzero()
            ratio = (step_idx + 1) / len(timesteps)  # float32
            mask_len = (length * torch.cos(ratio * math.pi / 2)).floor()
            masked = int(max(1, min(masked - 1, int(mask_len.item()))))
        out.append(masked)
    return out


def mask_counts_float64(length: int, steps: int) -> list[int]:
    """The same rule in float64 (what a JavaScript port computes without Math.fround); differs from
    `mask_counts` only where L cos(...) lies within float32 rounding of an integer."""
    out, masked = [], length
    for i in range(steps):
        masked = 0 if i == steps - 1 else max(1, min(masked - 1, math.floor(length * math.cos(math.pi / 2 * (i + 1) / steps))))
        out.append(masked)
    return out


def gumbel(shape, gen: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=gen)
    return -torch.log((-torch.log(u.clamp(1e-20))).clamp(1e-20))


@torch.no_grad()
def sample(base, cond: tuple, uncond: tuple, micro: torch.Tensor, length: int, codebook: int, gen: torch.Generator,
           steps: int = STEPS, guidance: float = GUIDANCE) -> torch.Tensor:
    """Tokens [b, L] from the `base` graph module (tokens, textStates, pooled, microConds -> logits, feature),
    with `cond` / `uncond` = (textStates, pooled) rows of the prompt and the negative prompt."""
    b = cond[0].shape[0]
    tokens = torch.full((b, length), codebook, dtype=torch.int32)
    temps = torch.linspace(TEMPERATURE[0], TEMPERATURE[1], steps)
    counts = mask_counts(length, steps)
    text = torch.cat([uncond[0], cond[0]])
    pooled = torch.cat([uncond[1], cond[1]])
    micro2 = torch.cat([micro, micro])
    for i in range(steps):
        logits, _ = base(torch.cat([tokens, tokens]), text, pooled, micro2)
        u, c = logits[:b], logits[b:]
        probs = (u + guidance * (c - u)).softmax(-1)
        unknown = tokens == codebook
        drawn = torch.multinomial(probs.reshape(-1, codebook), 1, generator=gen).reshape(b, length).to(torch.int32)
        drawn = torch.where(unknown, drawn, tokens)
        if i == steps - 1:
            tokens = drawn
            break
        p = torch.gather(probs, -1, drawn.long()[..., None])[..., 0]
        p = torch.where(unknown, p, torch.finfo(p.dtype).max)
        conf = torch.log(p.clamp(1e-20)) + temps[i] * gumbel(p.shape, gen)
        cut = torch.sort(conf, dim=-1).values[:, counts[i]:counts[i] + 1]
        tokens = torch.where(conf < cut, torch.full_like(drawn, codebook), drawn)
    return tokens
