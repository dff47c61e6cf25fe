"""Typed errors of `import-amused`: every refusal is one ImportAmusedError, and nothing is written."""
from __future__ import annotations


class ImportAmusedError(ValueError):
    """A model folder, config, weight file or argument that cannot be imported; nothing is written."""


def _some(items: list[str], n: int = 12) -> str:
    return ", ".join(items[:n]) + (f" ... and {len(items) - n} more" if len(items) > n else "")


class WeightsMismatchError(ImportAmusedError):
    """Strict loading failed for one or more components: their weight files' keys or shapes are not the
    modules'. `parts` maps each failing component to (missing, unexpected, misshaped)."""

    def __init__(self, parts: dict[str, tuple[list[str], list[str], list[tuple]]]):
        self.parts = parts
        lines = []
        for what, (missing, unexpected, misshaped) in parts.items():
            bits = []
            if missing:
                bits.append(f"missing keys ({len(missing)}): {_some(missing)}")
            if unexpected:
                bits.append(f"unexpected keys ({len(unexpected)}): {_some(unexpected)}")
            if misshaped:
                bits.append(f"mis-shaped keys ({len(misshaped)}): " + _some(
                    [f"{k} is {list(got)} in the file, the module needs {list(want)}" for k, got, want in misshaped]))
            lines.append(f"{what} does not match the module (strict loading): " + "; ".join(bits))
        super().__init__("; ".join(lines) + "; nothing was written")


class PickleWeightsError(ImportAmusedError):
    """A component holds its weights only in a pickle-based file (.bin/.pt/.ckpt/.pth), which is never read."""
