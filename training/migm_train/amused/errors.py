"""Typed errors of `import-amused`: every refusal is one ImportAmusedError, and nothing is written."""
from __future__ import annotations

from ..mismatch import describe_mismatch


class ImportAmusedError(ValueError):
    """A model folder, config, weight file or argument that cannot be imported; nothing is written."""


class WeightsMismatchError(ImportAmusedError):
    """Strict loading failed for one or more components: their weight files' keys or shapes are not the
    modules'. `parts` maps each failing component to (missing, unexpected, misshaped)."""

    def __init__(self, parts: dict[str, tuple[list[str], list[str], list[tuple]]]):
        self.parts = parts
        lines = [f"{what} does not match the module (strict loading): " + describe_mismatch(*lists, "file")
                 for what, lists in parts.items()]
        super().__init__("; ".join(lines) + "; nothing was written")


class PickleWeightsError(ImportAmusedError):
    """A component holds its weights only in a pickle-based file (.bin/.pt/.ckpt/.pth), which is never read."""
