"""The default bundle's commands: `build` and `report` (no torch import until one runs)."""
from __future__ import annotations

import sys

from ..env import SetupError, malloc_hint, require_torch


def add_commands(sub) -> dict:
    """Adds this family's subcommands to `sub`; returns {command: (its parser, its handler(parser, args) -> exit code)}."""
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
    return {"build": (b, _build_or_report), "report": (r, _build_or_report)}


def _build_or_report(parser, args) -> int:
    try:
        require_torch()
        hint = malloc_hint()
        if hint:
            print(hint, file=sys.stderr)
        from .config import PRESETS
        from .pipeline import Build, StageError

        if args.cmd == "build":
            cfg = PRESETS[args.config]()
            build = Build(cfg, args.work, args.out, args.fixtures)
            build.run(args.only)
            if not args.no_report and not args.only:
                from .report import write_report
                write_report(args.work, args.out, args.docs)
        else:
            from .report import write_report
            write_report(args.work, args.out, args.docs)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0
