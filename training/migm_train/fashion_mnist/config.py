"""Build configurations: `full` (the shipped bundle, ~75 min on 2 cores) and `tiny` (tests, seconds)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .base_model import BaseConfig
from ..sampler import SamplerOptions
from .shortcut import ShortcutConfig


@dataclass
class BuildConfig:
    name: str = "full"
    seed: int = 0
    # tokenizer
    patch: int = 2
    codebook: int = 256
    kmeans_iters: int = 25
    kmeans_sample: int = 400_000
    # classifier
    clf_epochs: int = 3
    clf_batch: int = 128
    clf_lr: float = 2e-3
    # base
    base: BaseConfig = field(default_factory=lambda: BaseConfig(local_mixing=True))
    base_steps: int = 1200
    base_batch: int = 64
    base_lr: float = 1e-3
    train_subset: int = 0                     # 0 = all 60k training images
    # sampling defaults (guidance/temperatures may be replaced by the tune stage)
    sampling: SamplerOptions = field(default_factory=SamplerOptions)
    # r_temp 21, 14 and 10.5 were added after bundle 1.0.0 was built (it picked 7 from the other five); with them
    # the tune stage picks 14, which bundle 2.0.0 ships (docs/training-report.md, "The retune shipped in bundle 2.0.0").
    tune_candidates: list = field(default_factory=lambda: [
        {"guidance": 5.0, "guidance_schedule": "linear", "randomize_temperature": 21.0},
        {"guidance": 5.0, "guidance_schedule": "linear", "randomize_temperature": 14.0},
        {"guidance": 5.0, "guidance_schedule": "linear", "randomize_temperature": 10.5},
        {"guidance": 5.0, "guidance_schedule": "linear", "randomize_temperature": 7.0},
        {"guidance": 5.0, "guidance_schedule": "linear", "randomize_temperature": 4.5},
        {"guidance": 3.0, "guidance_schedule": "linear", "randomize_temperature": 4.5},
        {"guidance": 3.0, "guidance_schedule": "linear", "randomize_temperature": 2.0},
        {"guidance": 2.0, "guidance_schedule": "constant", "randomize_temperature": 4.5},
    ])
    # Each candidate is scored at the default N and at tune_few_steps; see pipeline.pick_sampler.
    tune_few_steps: int = 4
    tune_min_gap: float = 0.10
    tune_images: int = 250
    eval_batch: int = 200
    regime_steps: list = field(default_factory=lambda: [4, 8, 16, 32])
    regime_images: int = 2010                 # per N, split over the 3 seeds (670 each)
    seeds: list = field(default_factory=lambda: [1, 2, 3])
    # trajectories + shortcut
    traj_train: int = 1400
    traj_heldout: int = 200
    shortcut: ShortcutConfig = field(default_factory=ShortcutConfig)
    shortcut_steps: int = 3500
    shortcut_batch: int = 16                 # images per step, both CFG branches each (32 feature rows)
    shortcut_lr: float = 5e-4
    shortcut_ema: float = 0.995
    # Chained steps per training example: the loss of the 1..R-step predictions, each step fed the previous
    # prediction (a budgeted run chains 2-3 skipped steps; single-step teacher forcing never sees its own
    # errors).
    shortcut_rollout: int = 2
    # Weight of the KL between the guided token distributions of target and prediction (next to the MSE). A
    # recipe search on a GPU (docs/training-report.md) measured it: FD at budget 4 from 21.3 (MSE only) to 18.9;
    # weights 1, 3 and 10 within noise of each other.
    shortcut_kl: float = 1.0
    # comparison at the default N
    budgets: list = field(default_factory=lambda: [4, 5])
    compare_images: int = 2010
    default_budget: int = 5

    def to_dict(self) -> dict:
        return asdict(self)


def full() -> BuildConfig:
    return BuildConfig()


def tiny() -> BuildConfig:
    """Seconds-scale config for the end-to-end test: 7x7 patches = 16 tokens, width 32."""
    return BuildConfig(
        name="tiny", patch=7, codebook=16, kmeans_iters=3, kmeans_sample=20_000,
        clf_epochs=1, clf_batch=256, train_subset=2000,
        base=BaseConfig(length=16, codebook=16, dim=32, depth=2, heads=2, mlp_ratio=2.0, local_mixing=True), base_steps=6,
        base_batch=32, sampling=SamplerOptions(steps=4), tune_candidates=[], tune_images=20, tune_few_steps=2,
        eval_batch=50, regime_steps=[2, 4], regime_images=30, seeds=[1, 2, 3],
        traj_train=12, traj_heldout=6, shortcut=ShortcutConfig(dim=32, width=16, heads=2),
        shortcut_steps=5, shortcut_batch=4, budgets=[2], compare_images=20, default_budget=2,
    )


PRESETS = {"full": full, "tiny": tiny}
