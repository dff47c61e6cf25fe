"""aMUSEd's commands: `import-amused`, `record-amused`, `train-amused-shortcut` (no torch import until one runs)."""
from __future__ import annotations

import os
import sys

from ..env import fail, needs_torch, wrote_bundle


def add_commands(sub) -> dict:
    """Adds this family's subcommands to `sub`; returns {command: (its parser, its handler(parser, args) -> exit code)}."""
    a = sub.add_parser("import-amused", help="an aMUSEd model folder (huggingface.co/amused/amused-256 or -512 layout) "
                                             "-> a text-to-image bundle; or --random-init: such a folder from random weights")
    a.add_argument("--model", help="the model folder: model_index.json, transformer/, vqvae/, text_encoder/, tokenizer/, "
                                   "scheduler/ (safetensors weights)")
    a.add_argument("--out", required=True, help="bundle folder to create (with --random-init: the model folder); "
                                                "must not exist or be empty")
    a.add_argument("--variant", choices=["fp16"], help="read the fp16 weight files (*.fp16.safetensors)")
    a.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32",
                   help="fp16: weights stored as float16 in the graphs (compute, inputs and outputs stay float32)")
    a.add_argument("--chunk-mb", type=float, default=None,
                   help="graphs with more weight bytes than this keep them in external-data files of at most this "
                        "size (default 192 MiB)")
    a.add_argument("--random-init", action="store_true", help="write a model folder in the published layout with "
                                                              "RANDOM weights (fp32 + fp16 variant) at --out")
    a.add_argument("--config", choices=["small", "256", "512"], default="small", help="architecture for --random-init")
    a.add_argument("--seed", type=int, default=0, help="with --random-init")
    ra = sub.add_parser("record-amused", help="vanilla trajectories of an aMUSEd bundle's base with prompts (both "
                                              "guidance branches), sampled in PyTorch, for train-amused-shortcut")
    ta = sub.add_parser("train-amused-shortcut", help="train aMUSEd's shortcut on record-amused trajectories (the "
                                                      "paper's recipe) -> a copy of the bundle with its shortcut graph")
    _amused_shortcut_arguments(ra, ta)
    return {"import-amused": (a, _import_amused), "record-amused": (ra, _amused_shortcut),
            "train-amused-shortcut": (ta, _amused_shortcut)}


@needs_torch
def _import_amused(parser, args) -> int:
    from .errors import ImportAmusedError
    from ..manifest import ManifestError
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    try:
        if args.random_init:
            if args.model or args.variant:
                parser.error("--random-init takes no --model or --variant (it writes a model folder at --out)")
            from .random_init import CONFIGS, write_folder

            write_folder(CONFIGS[args.config](), args.out, args.seed, log=log)
            print(f"wrote {args.out}: an aMUSEd model folder ({args.config} architecture, RANDOM weights, seed "
                  f"{args.seed}); import it with --model {args.out}")
            return 0
        if not args.model:
            parser.error("--model is required (or --random-init)")
        from . import folder, importer

        models = folder.load_models(args.model, args.variant)
        base = os.path.basename(os.path.normpath(os.path.abspath(args.model)))
        name = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in f"amused-{base}".replace("amused-amused", "amused"))
        g = models.uvit.cfg.sample_size
        random = models.random  # set by --random-init's model_index.json
        prov = {"source": base, "variant": args.variant or "fp32", "weightFiles": models.sources}
        if random:
            prov["weights"] = dict(random, note="RANDOM weights: for tests and timing only")
        mf = importer.write_bundle(
            models, args.out, dtype=args.dtype, name=name,
            description=(f"aMUSEd text-to-image ({g} x {g} tokens): U-ViT, CLIP text encoder and VQ-GAN decoder"
                         + (f" with RANDOM weights ({random.get('config')} architecture): for tests and timing only"
                            if random else "") + ", imported with python -m migm_train import-amused."),
            license=("random weights" if random else
                     "the weights' own license (amused/amused-256 and -512: openrail++); see docs/amused.md"),
            provenance=prov,
            chunk_mb=args.chunk_mb or importer.CHUNK_MB, log=log)
    except (ImportAmusedError, ManifestError) as exc:
        return fail(exc)
    return wrote_bundle(args.out, mf)


def _amused_shortcut_arguments(record, train) -> None:
    from .shortcut_args import add_record_arguments, add_train_arguments
    add_record_arguments(record)
    add_train_arguments(train)


@needs_torch
def _amused_shortcut(parser, args) -> int:
    if args.cmd == "record-amused":
        from .record import main as run
    else:
        from .shortcut_train import main as run
    return run(parser, args)
