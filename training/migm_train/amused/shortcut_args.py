"""Flags of `record-amused` and `train-amused-shortcut` (no torch import: the CLI builds its parser before
checking for torch). The training defaults are the shared trainer's PAPER_RECIPE (PAPER.md section 4)."""
from __future__ import annotations

from ..argtypes import non_negative_int, positive_int
from ..shortcut.recipe import PAPER_RECIPE, SCHEDULES


def _model(p) -> None:
    p.add_argument("--bundle", required=True, help="a bundle written by import-amused")
    p.add_argument("--model", required=True, help="the model folder the bundle was imported from (published layout, "
                                                  "or an import-amused --random-init folder)")
    p.add_argument("--variant", choices=["fp16"], default=None,
                   help="read the folder's fp16 weight files (default: the variant the bundle was imported from)")
    p.add_argument("--device", default="auto", help="auto: cuda when available, else cpu")
    p.add_argument("--seed", type=non_negative_int, default=0)


def add_record_arguments(p) -> None:
    _model(p)
    p.add_argument("--prompts", required=True, help="a text file, one prompt per line (empty lines and '#' lines "
                                                    "skipped); used in order, cycled when --count is larger")
    p.add_argument("--out", required=True, help="the recording folder to create (must not exist or be empty)")
    p.add_argument("--count", type=positive_int, default=2000, help="images (the paper's DiMOO shortcut: 2,000 prompts)")
    p.add_argument("--steps", type=positive_int, default=None, help="N (default: the bundle's, 12 for aMUSEd)")
    p.add_argument("--batch", type=positive_int, default=8, help="images per base call (x2 rows with guidance)")


def add_train_arguments(p) -> None:
    r = PAPER_RECIPE
    _model(p)
    p.add_argument("--trajectories", help="a record-amused folder")
    p.add_argument("--out", required=True, help="the new bundle folder (must not exist or be empty)")
    p.add_argument("--untrained", action="store_true", help="no training: a RANDOM shortcut graph (for timing only)")
    p.add_argument("--blocks", type=positive_int, default=1, help="shortcut blocks (the paper: 1 or 2)")
    p.add_argument("--bottleneck-ratio", type=float, default=2.0, help="feature width / shortcut width (the paper: 2)")
    p.add_argument("--shortcut-heads", type=positive_int, default=None,
                   help="attention heads (default: the U-ViT's block_num_heads, 12 for aMUSEd)")
    p.add_argument("--steps", type=positive_int, default=r.steps, help="optimizer steps (default: the reference "
                   "script's 100 x 100,000; stop earlier with --max-minutes)")
    p.add_argument("--max-minutes", type=float, help="stop after this much training time and export")
    p.add_argument("--batch", type=positive_int, default=r.batch, help="examples (image, branch, step) per step")
    p.add_argument("--batch-steps", choices=["mixed", "same"], default="mixed",
                   help="mixed: a batch's examples drawn uniformly over every (image, branch, step), the paper's; same: "
                        "all of one step (one module call per optimizer step: fast for small batches on a CPU)")
    p.add_argument("--lr", type=float, default=r.lr)
    p.add_argument("--lr-schedule", choices=SCHEDULES, default=r.schedule,
                   help="step: lr x --lr-decay after --lr-decay-step (the paper's)")
    p.add_argument("--lr-decay-step", type=positive_int, default=r.lr_decay_step)
    p.add_argument("--lr-decay", type=float, default=r.lr_decay)
    p.add_argument("--weight-decay", type=float, default=r.weight_decay)
    p.add_argument("--ema-decay", type=float, default=r.ema_decay, help="0: export the raw weights")
    p.add_argument("--val-images", type=non_negative_int, help="last images held out (default: 2%%, at least 1)")
    p.add_argument("--init", help="start from a state dict written by --save")
    p.add_argument("--save", help="also write the exported weights here (a state dict)")
    p.add_argument("--save-every", type=positive_int, default=5000, help="with --save: every this many steps")
    p.add_argument("--log-every", type=positive_int, default=100)
    p.add_argument("--workers", type=non_negative_int, default=0, help="loader processes reading the recording")
