"""MaskGIT token-count schedules and the full-step plan (PAPER.md sections 1 and 5).

Computed in float32 with round-half-to-even, exactly like the PyTorch reference, so the counts
match shared/reference-vectors.json and the TypeScript core bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

SCHEDULES = ("arccos", "cosine", "linear", "square", "root")


def mask_fraction(r: np.ndarray, mode: str) -> np.ndarray:
    """Fraction revealed so far as a function of r = linspace(1, 0, N) (float32 throughout)."""
    r = r.astype(np.float32)
    if mode == "arccos":
        return (np.arccos(r) / np.float32(math.pi * 0.5)).astype(np.float32)
    if mode == "cosine":
        return np.cos(r * np.float32(math.pi * 0.5)).astype(np.float32)
    if mode == "linear":
        return (np.float32(1) - r).astype(np.float32)
    if mode == "square":
        return (np.float32(1) - r * r).astype(np.float32)
    if mode == "root":
        return (np.float32(1) - np.sqrt(r)).astype(np.float32)
    raise ValueError(f"unknown schedule {mode!r}; expected one of {SCHEDULES}")


def token_counts(steps: int, tokens: int, mode: str = "arccos") -> list[int]:
    """k_i: tokens committed at step i; sums to `tokens`."""
    if steps < 1:
        raise ValueError("steps must be >= 1")
    import torch  # torch.linspace defines the exact float32 grid the reference used

    r = torch.linspace(1, 0, steps, dtype=torch.float32).numpy()
    v = mask_fraction(r, mode)
    total = v.sum(dtype=np.float32)
    # N = 1 gives v = [0] (NaN in the reference); as in @migm/core, count 0 there and the fix-ups make it [L].
    sched = np.zeros_like(v) if total == 0 else np.round(v / total * np.float32(tokens)).astype(np.float32)  # half-to-even
    sched[sched == 0] = 1
    sched[-1] += np.float32(tokens) - sched.sum(dtype=np.float32)
    counts = [int(x) for x in sched]
    # With N close to L the "zeros become 1" fix-up overshoots and leaves a last count < 1 (the reference then
    # reveals nothing, or a negative count, at its last step). As @migm/core does: move the excess off the
    # latest of the largest counts, so every step reveals at least one token.
    while counts[-1] < 1:
        j = max(range(len(counts) - 1), key=lambda i: (counts[i], i))
        counts[j] -= 1
        counts[-1] += 1
    return counts


def full_step_plan(steps: int, budget: int) -> list[int]:
    """Indices of the steps that run the base model: step 0, then max(prev + 1, round(N k / B))."""
    if budget < 1:
        raise ValueError("budget must be >= 1")
    budget = min(budget, steps)
    plan = [0]
    for k in range(1, budget):
        plan.append(max(plan[-1] + 1, int(np.round(np.float64(steps) * k / budget))))
    return plan


def progress(i: int, steps: int) -> float:
    """i / (N - 1), taken as 1 when N = 1 (so the Gumbel factor 1 - t is 0 and linear guidance is w)."""
    return 1.0 if steps <= 1 else i / (steps - 1)
