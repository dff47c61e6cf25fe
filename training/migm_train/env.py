"""Environment checks that turn missing system packages into actionable messages."""
from __future__ import annotations

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
