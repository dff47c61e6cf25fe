"""Flags of `train-maskgit-shortcut` (no torch import: the CLI builds its parser before checking for torch)."""
from __future__ import annotations

from ..argtypes import non_negative_int, positive_int
from ..shortcut.recipe import Recipe

# The paper's recipe (PAPER.md section 4; the reference's training command in MaskGIT-Shortcut/README.md) is the
# shared trainer's default.
PAPER_RECIPE = Recipe().to_dict()


def add_arguments(p) -> None:
    r = PAPER_RECIPE
    p.add_argument("--bundle", required=True, help="a bundle written by import-maskgit (with or without a shortcut)")
    p.add_argument("--trajectories", required=True, help="a `migm record --bundle BUNDLE` directory (N = 15 as the paper)")
    p.add_argument("--out", required=True, help="the new bundle folder (must not exist or be empty)")
    p.add_argument("--vit", help="MaskGIT_ImageNet_512.pth the bundle was imported from (not needed for "
                                 "--random-init bundles: their seed is in the manifest)")
    p.add_argument("--heads", type=positive_int, help="with --vit: transformer heads (default: the bundle's)")
    p.add_argument("--shortcut-heads", type=positive_int, default=None, help="shortcut attention heads (default 16, or "
                                                                      "the bundle's shortcut's)")
    p.add_argument("--blocks", type=positive_int, default=None, help="shortcut blocks (default 1, or the bundle's shortcut's)")
    p.add_argument("--bottleneck-ratio", type=float, default=None, help="D / d (default 2, or the bundle's shortcut's)")
    p.add_argument("--steps", type=positive_int, default=r["steps"], help="optimizer steps (default: the reference "
                   "script's 100 x 100,000; the paper stopped after about 5 GPU-hours x 4: use --max-minutes)")
    p.add_argument("--max-minutes", type=float, help="stop after this much training time and export")
    p.add_argument("--batch", type=positive_int, default=r["batch"], help="examples (image, branch, step) per step")
    p.add_argument("--lr", type=float, default=r["lr"])
    p.add_argument("--lr-decay-step", type=positive_int, default=r["lr_decay_step"], help="lr x --lr-decay after this step")
    p.add_argument("--lr-decay", type=float, default=r["lr_decay"])
    p.add_argument("--weight-decay", type=float, default=r["weight_decay"])
    p.add_argument("--ema-decay", type=float, default=r["ema_decay"], help="0: export the raw weights")
    p.add_argument("--val-images", type=non_negative_int, help="last images of the recording held out (default: 2%%, at least 1)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--device", default="auto", help="auto: cuda when available, else cpu")
    p.add_argument("--init", help="start from a maskgit-shortcut.pth (released layout)")
    p.add_argument("--save", help="also write the exported weights here as a maskgit-shortcut.pth")
    p.add_argument("--save-every", type=positive_int, default=5000, help="with --save: also write them every this many steps")
    p.add_argument("--log-every", type=positive_int, default=100)
    p.add_argument("--workers", type=int, default=0, help="loader processes reading the recording ahead of the "
                                                          "optimizer (0: the main process; the reference used 8 per GPU)")


def add_record_arguments(p) -> None:
    p.add_argument("--bundle", required=True, help="a bundle written by import-maskgit")
    p.add_argument("--out", required=True, help="the recording folder to create (must not exist or be empty)")
    p.add_argument("--vit", help="MaskGIT_ImageNet_512.pth the bundle was imported from (not needed for "
                                 "--random-init bundles)")
    p.add_argument("--heads", type=positive_int, help="with --vit: transformer heads (default: the bundle's)")
    p.add_argument("--count", type=int, default=50_000, help="images (the paper: 50,000, and 1,000 for validation)")
    p.add_argument("--steps", type=positive_int, default=15, help="N of the vanilla trajectories (the paper: 15)")
    p.add_argument("--batch", type=positive_int, default=10, help="images per sampler call (the reference's makedata: 10)")
    p.add_argument("--classes", choices=["cycle", "random"], default="random",
                   help="random: uniform over the classes, as the reference's makedata; cycle: as migm record")
    p.add_argument("--seed", type=non_negative_int, default=1)
    p.add_argument("--device", default="auto", help="auto: cuda when available, else cpu")
