"""Command line: `python -m migm_train COMMAND`. Each model family (migm_train/families.py) adds its own commands
from its folder's commands.py; `quantize` works on any family's bundle."""
from __future__ import annotations

import argparse
import importlib

from .families import FAMILIES


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m migm_train", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    commands = {}
    for family in FAMILIES:
        commands.update(importlib.import_module(f".{family.folder}.commands", __package__).add_commands(sub))
    q = sub.add_parser("quantize", help="a copy of a bundle with fp16, int8 or int4 variants of its graphs "
                                        "(onnxruntime's quantization tools; docs/bundle-format.md)")
    q.add_argument("--bundle", required=True, help="bundle folder (manifest.json)")
    q.add_argument("--out", required=True, help="bundle folder to create (must not exist or be empty)")
    q.add_argument("--precision", required=True, help="fp16, int8 or int4")
    q.add_argument("--graphs", help="comma-separated graph roles (default: textEncoder, base, shortcut, head, decoder "
                                    "where the precision quantizes enough of their weights)")
    q.add_argument("--keep-tables", action="store_true",
                   help="leave embedding tables (Gather) in float32: only matrix weights (and int8 convolutions) are "
                        "quantized")
    args = p.parse_args(argv)
    if args.cmd == "quantize":
        from .quantize import main as quantize_main
        return quantize_main(args)
    parser, run = commands[args.cmd]
    return run(parser, args)
