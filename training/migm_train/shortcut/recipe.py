"""The shortcut trainer's recipe (no torch import: the CLI builds its flags' defaults from it before torch loads)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

SCHEDULES = ("step", "warmup-cosine")


@dataclass(frozen=True)
class Recipe:
    """The optimiser recipe. Every default is the paper's (PAPER.md section 4 and the reference's README
    training command): AdamW lr 1e-4, x0.1 after 1,000 steps, weight decay 0.01, EMA 0.9999 (exported), 4
    examples per step, single-step teacher forcing, MSE only, fp16 autocast on CUDA."""
    # The reference script's default length (100 epochs of 100,000 iterations per GPU). The paper reports about
    # 5 hours on 4 GPUs and does not say how many iterations that was: stop early with `max_minutes`.
    steps: int = 10_000_000
    # Examples per optimizer step: the reference asserts 1 example per GPU on 4 GPUs under DDP, so its gradient
    # is the mean of 4 examples' losses, which a batch of 4 here computes.
    batch: int = 4
    lr: float = 1e-4
    weight_decay: float = 0.01
    schedule: str = "step"          # "step": x lr_decay from lr_decay_step on; "warmup-cosine": see lr_at
    lr_decay_step: int = 1000
    lr_decay: float = 0.1
    warmup: int = 50                # linear warm-up steps of "warmup-cosine"
    ema_decay: float = 0.9999       # 0: no EMA (the raw weights are exported)
    # The reference's AveragedModel copies the weights at its first update; False blends from the start weights.
    ema_copy_first: bool = True
    clip_norm: float | None = None  # gradient-norm clipping (the paper: none)
    amp: bool = True                # fp16 autocast + loss scaling on CUDA, as the reference trains; off on CPU
    rollout: int = 1                # chained steps per example (1: the paper's single-step teacher forcing)
    kl_weight: float = 0.0          # guided-logit KL next to the MSE (off in the paper's release)
    seed: int = 0

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.steps < 1 or self.batch < 1 or self.rollout < 1:
            raise ValueError("steps, batch and rollout must be >= 1")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.kl_weight < 0:
            raise ValueError(f"kl_weight must be >= 0, got {self.kl_weight}")

    def lr_at(self, step: int) -> float:
        """The learning rate of optimizer step `step` (0-based)."""
        if self.schedule == "step":
            return self.lr * self.lr_decay if step >= self.lr_decay_step else self.lr
        return self.lr * min(1.0, (step + 1) / self.warmup) * 0.5 * (1 + math.cos(math.pi * step / self.steps))

    def to_dict(self) -> dict:
        return asdict(self)


PAPER_RECIPE = Recipe()
