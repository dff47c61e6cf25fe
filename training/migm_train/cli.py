"""Command line: `python -m migm_train build|report|import-maskgit|import-amused|train-maskgit-shortcut|record-maskgit|
record-amused|train-amused-shortcut|quantize`."""
from __future__ import annotations

import argparse
import os
import sys

from .argtypes import non_negative_int, positive_int
from .env import SetupError, malloc_hint, require_torch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m migm_train", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="train, evaluate and export the bundle (resumable)")
    b.add_argument("--out", default="../packages/bundle-fashion-mnist/bundle", help="bundle directory")
    b.add_argument("--work", default="work", help="checkpoints and logs (resumable stages)")
    b.add_argument("--fixtures", default="test/fixtures/parity", help="PyTorch parity fixtures for vitest")
    b.add_argument("--config", default="full", choices=["full", "tiny"])
    b.add_argument("--only", nargs="*", help="run only these stages")
    b.add_argument("--no-report", action="store_true")
    b.add_argument("--docs", default="../docs", help="where the training report goes")
    r = sub.add_parser("report", help="write docs/training-report.md from a finished work dir")
    r.add_argument("--work", default="work")
    r.add_argument("--out", default="../packages/bundle-fashion-mnist/bundle")
    r.add_argument("--docs", default="../docs")
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
    t = sub.add_parser("train-maskgit-shortcut", help="train a MIGM-Shortcut for an imported MaskGIT bundle from "
                                                     "`migm record` trajectories -> a copy of the bundle with it")
    _train_shortcut_arguments(t)
    rm = sub.add_parser("record-maskgit", help="vanilla trajectories of an imported MaskGIT bundle's base, sampled "
                                              "in PyTorch (CUDA) in `migm record`'s format")
    _record_arguments(rm)
    ra = sub.add_parser("record-amused", help="vanilla trajectories of an aMUSEd bundle's base with prompts (both "
                                              "guidance branches), sampled in PyTorch, for train-amused-shortcut")
    ta = sub.add_parser("train-amused-shortcut", help="train aMUSEd's shortcut on record-amused trajectories (the "
                                                      "paper's recipe) -> a copy of the bundle with its shortcut graph")
    _amused_shortcut_arguments(ra, ta)
    q = sub.add_parser("quantize", help="a copy of a bundle with fp16, int8 or int4 variants of its graphs "
                                        "(onnxruntime's quantization tools; docs/bundle-format.md)")
    q.add_argument("--bundle", required=True, help="bundle folder (manifest.json)")
    q.add_argument("--out", required=True, help="bundle folder to create (must not exist or be empty)")
    q.add_argument("--precision", required=True, help="fp16, int8 or int4")
    q.add_argument("--graphs", help="comma-separated graph roles (default: base, shortcut, head, decoder where "
                                    "they have weights to quantize)")
    args = p.parse_args(argv)
    if args.cmd == "quantize":
        from .quantize import main as quantize_main
        return quantize_main(args)
    if args.cmd == "import-maskgit":
        return _import_maskgit(m, args)
    if args.cmd == "import-amused":
        return _import_amused(a, args)
    if args.cmd in ("record-amused", "train-amused-shortcut"):
        return _amused_shortcut(ra if args.cmd == "record-amused" else ta, args)
    if args.cmd == "train-maskgit-shortcut":
        return _train_maskgit_shortcut(t, args)
    if args.cmd == "record-maskgit":
        return _train_maskgit_shortcut(rm, args, record=True)
    try:
        require_torch()
        hint = malloc_hint()
        if hint:
            print(hint, file=sys.stderr)
        from .fashion_mnist.config import PRESETS
        from .fashion_mnist.pipeline import Build, StageError

        if args.cmd == "build":
            cfg = PRESETS[args.config]()
            build = Build(cfg, args.work, args.out, args.fixtures)
            build.run(args.only)
            if not args.no_report and not args.only:
                from .fashion_mnist.report import write_report
                write_report(args.work, args.out, args.docs)
        else:
            from .fashion_mnist.report import write_report
            write_report(args.work, args.out, args.docs)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


def _import_maskgit(parser, args) -> int:
    try:
        require_torch()
        from .maskgit512.checkpoints import ImportMaskgitError
        from .manifest import ManifestError
        from .maskgit512 import importer
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum(f["bytes"] for f in mf["files"])
    print(f"wrote {args.out}: {', '.join(mf['graphs'])} ({total / 1e6:.1f} MB)")
    return 0


def _import_amused(parser, args) -> int:
    try:
        require_torch()
        from .amused.errors import ImportAmusedError
        from .manifest import ManifestError
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    try:
        if args.random_init:
            if args.model or args.variant:
                parser.error("--random-init takes no --model or --variant (it writes a model folder at --out)")
            from .amused.random_init import CONFIGS, write_folder

            write_folder(CONFIGS[args.config](), args.out, args.seed, log=log)
            print(f"wrote {args.out}: an aMUSEd model folder ({args.config} architecture, RANDOM weights, seed "
                  f"{args.seed}); import it with --model {args.out}")
            return 0
        if not args.model:
            parser.error("--model is required (or --random-init)")
        from .amused import folder, importer

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
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum(f["bytes"] for f in mf["files"])
    print(f"wrote {args.out}: {', '.join(mf['graphs'])} ({total / 1e6:.1f} MB)")
    return 0


def _amused_shortcut_arguments(record, train) -> None:
    from .amused.shortcut_args import add_record_arguments, add_train_arguments
    add_record_arguments(record)
    add_train_arguments(train)


def _amused_shortcut(parser, args) -> int:
    try:
        require_torch()
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "record-amused":
        from .amused.record import main as run
    else:
        from .amused.shortcut_train import main as run
    return run(parser, args)


def _train_shortcut_arguments(parser) -> None:
    from .maskgit512.train_shortcut_args import add_arguments
    add_arguments(parser)


def _record_arguments(parser) -> None:
    from .maskgit512.train_shortcut_args import add_record_arguments
    add_record_arguments(parser)


def _train_maskgit_shortcut(parser, args, record: bool = False) -> int:
    try:
        require_torch()
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if record:
        from .maskgit512.record import main as run
    else:
        from .maskgit512.train_shortcut import main as run
    return run(parser, args)
