"""Environment checks that turn missing system packages into actionable messages."""
from __future__ import annotations

import functools
import os
import sys


# training/: the toolkit's scripts and the parity fixtures' paths are relative to it.
TRAINING_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))


class SetupError(RuntimeError):
    """A missing prerequisite; the message says what to install or rerun."""


def require_torch():
    try:
        import torch  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the interpreter
        raise SetupError(
            "PyTorch is not importable from %s. Make the project's environment with\n"
            "  bash scripts/setup.sh\n"
            "and run the toolkit with training/.venv/bin/python (another python3 may lack torch)."
            % sys.executable
        ) from exc
    return __import__("torch")


def malloc_hint() -> str | None:
    # glibc malloc returning large activation buffers to the OS makes torch 3-4x slower here.
    if os.environ.get("MALLOC_MMAP_MAX_") != "0":
        return ("hint: set MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=34359738368 for 3-4x faster torch "
                "(training/build.sh does this)")
    return None


def fail(exc: BaseException) -> int:
    """A command's refusal: one `error:` line on stderr, exit code 2."""
    print(f"error: {exc}", file=sys.stderr)
    return 2


def needs_torch(handler):
    """A command handler (parser, args) -> exit code that first checks that torch imports (else one error line)."""
    @functools.wraps(handler)
    def run(parser, args) -> int:
        try:
            require_torch()
        except SetupError as exc:
            return fail(exc)
        return handler(parser, args)
    return run


def wrote_bundle(out: str, manifest: dict) -> int:
    """The importers' last line: the bundle's graphs and size; exit code 0."""
    total = sum(f["bytes"] for f in manifest["files"])
    print(f"wrote {out}: {', '.join(manifest['graphs'])} ({total / 1e6:.1f} MB)")
    return 0
