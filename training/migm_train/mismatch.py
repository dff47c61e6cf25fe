"""The text of a strict-loading refusal, shared by the importers: which keys a weight file lacks, which it has
beyond the module's, and which have another shape, each list cut to its first few names."""
from __future__ import annotations


def some(items: list[str], n: int = 12) -> str:
    """The first `n` items, comma separated, and how many more there are."""
    return ", ".join(items[:n]) + (f" ... and {len(items) - n} more" if len(items) > n else "")


def describe_mismatch(missing: list[str], unexpected: list[str], misshaped: list[tuple], source: str) -> str:
    """'missing keys (n): ...; unexpected keys (n): ...; mis-shaped keys (n): K is [..] in the SOURCE, the module
    needs [..]', leaving out the empty lists. `misshaped` holds (key, shape in the file, shape of the module)."""
    bits = []
    if missing:
        bits.append(f"missing keys ({len(missing)}): {some(missing)}")
    if unexpected:
        bits.append(f"unexpected keys ({len(unexpected)}): {some(unexpected)}")
    if misshaped:
        bits.append(f"mis-shaped keys ({len(misshaped)}): " + some(
            [f"{k} is {list(got)} in the {source}, the module needs {list(want)}" for k, got, want in misshaped]))
    return "; ".join(bits)
