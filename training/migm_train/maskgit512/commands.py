"""MaskGIT-512's commands: `import-maskgit`, `train-maskgit-shortcut`, `record-maskgit` (no torch import until one
runs)."""
from __future__ import annotations

import os
import sys

from ..argtypes import non_negative_int, positive_int
from ..env import fail, needs_torch, wrote_bundle


def add_commands(sub) -> dict:
    """Adds this family's subcommands to `sub`; returns {command: (its parser, its handler(parser, args) -> exit code)}."""
    m = sub.add_parser("import-maskgit", help="released MaskGIT-512 (+ VQGAN, + MIGM-Shortcut) weights -> a bundle")
    m.add_argument("--vit", help="MaskGIT_ImageNet_512.pth (dict with model_state_dict)")
    m.add_argument("--vqgan", help="folder with model.yaml and last.ckpt (taming-transformers VQModel)")
    m.add_argument("--shortcut", help="maskgit-shortcut.pth (MaskGITShortcut state dict); optional")
    m.add_argument("--out", required=True, help="bundle folder to create (must not exist or be empty)")
    m.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32",
                   help="fp16: weights stored as float16 (compute, inputs and outputs stay float32)")
    m.add_argument("--heads", type=positive_int, default=16, help="transformer attention heads (not in the weights)")
    m.add_argument("--shortcut-heads", type=positive_int, default=16, help="shortcut attention heads")
    m.add_argument("--class-names", help="text file, one class name per line (default: the shipped ImageNet list)")
    m.add_argument("--random-init", action="store_true", help="random weights instead of --vit/--vqgan")
    m.add_argument("--config", choices=["paper", "small"], default="paper", help="architecture for --random-init")
    m.add_argument("--no-shortcut", action="store_true", help="with --random-init: leave the shortcut out")
    m.add_argument("--seed", type=non_negative_int, default=0, help="with --random-init")
    m.add_argument("--write-checkpoints", help="with --random-init: also save the weights in the released "
                                               "files' layout into this folder")
    t = sub.add_parser("train-maskgit-shortcut", help="train a MIGM-Shortcut for an imported MaskGIT bundle from "
                                                     "`migm record` trajectories -> a copy of the bundle with it")
    _train_shortcut_arguments(t)
    rm = sub.add_parser("record-maskgit", help="vanilla trajectories of an imported MaskGIT bundle's base, sampled "
                                              "in PyTorch (CUDA) in `migm record`'s format")
    _record_arguments(rm)
    return {"import-maskgit": (m, _import_maskgit), "train-maskgit-shortcut": (t, _train_maskgit_shortcut),
            "record-maskgit": (rm, _record_maskgit)}


@needs_torch
def _import_maskgit(parser, args) -> int:
    from .checkpoints import ImportMaskgitError
    from ..manifest import ManifestError
    from . import importer
    try:
        if args.random_init:
            if args.vit or args.vqgan or args.shortcut:
                parser.error("--random-init takes no --vit, --vqgan or --shortcut")
            cfg = importer.CONFIGS[args.config]()  # head counts come from the config
            base, vq, sc = importer.random_models(cfg, args.seed, not args.no_shortcut)
            if args.write_checkpoints:
                importer.write_reference_files(base, vq, sc, args.write_checkpoints)
            name, desc = f"maskgit-random-{args.config}", (
                f"MaskGIT ({args.config} architecture) with RANDOM weights: for tests and timing only.")
            prov = {"weights": "random", "seed": args.seed, "config": args.config}
        else:
            if not args.vit or not args.vqgan:
                parser.error("--vit and --vqgan are required (or --random-init)")
            base, vq, sc, skipped = importer.load_models(args.vit, args.vqgan, args.shortcut, args.heads,
                                                         args.shortcut_heads)
            name, desc = "maskgit-imagenet-512", (
                "valeoai MaskGIT-pytorch ImageNet class-conditional transformer with its taming VQGAN"
                + (" and the MIGM-Shortcut (Zhu et al. 2026)" if sc is not None else "")
                + ", imported with python -m migm_train import-maskgit.")
            prov = {"weights": {"vit": os.path.basename(args.vit), "vqgan": "VQGAN/last.ckpt + model.yaml",
                                **({"shortcut": os.path.basename(args.shortcut)} if args.shortcut else {})},
                    "vqganKeysNotUsed": skipped}
        names = importer.class_names(args.class_names, base.cfg.num_classes)
        mf = importer.write_bundle(base, vq, sc, args.out, dtype=args.dtype, names=names, name=name,
                                   description=desc, provenance=prov,
                                   log=lambda msg: print(msg, file=sys.stderr))
    except (ImportMaskgitError, ManifestError) as exc:
        return fail(exc)
    return wrote_bundle(args.out, mf)


def _train_shortcut_arguments(parser) -> None:
    from .train_shortcut_args import add_arguments
    add_arguments(parser)


def _record_arguments(parser) -> None:
    from .train_shortcut_args import add_record_arguments
    add_record_arguments(parser)


@needs_torch
def _train_maskgit_shortcut(parser, args) -> int:
    from .train_shortcut import main
    return main(parser, args)


@needs_torch
def _record_maskgit(parser, args) -> int:
    from .record import main
    return main(parser, args)
