"""Writes packages/core/test/fixtures/amused-counts.json: AmusedScheduler's masked-token counts after each step
(mask_len = floor(L cos(pi/2 (i+1)/N)) clamped to [1, masked - 1], 0 after the last step), computed with the
scheduler's own float32 arithmetic (migm_train.amused.sampling.mask_counts), for the JavaScript
"cosine-floor" schedule's tests. Where float64 arithmetic gives another count, the entry says so
("float64" holds those counts): L cos(...) then lies within float32 rounding of an integer.

usage (from training/): .venv/bin/python scripts/amused_counts_fixture.py [--check]
  --check: exit 1 if the committed file differs from what this writes (tests/test_amused.py runs it).
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from migm_train.amused.sampling import mask_counts, mask_counts_float64  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packages", "core", "test", "fixtures",
                   "amused-counts.json")
CASES = [(L, N) for L in (1, 2, 3, 4, 16, 64, 100, 256, 1024) for N in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)] + \
    [(196, 12), (256, 7), (1024, 48), (1024, 5), (9, 12), (30, 12)]


def build() -> dict:
    cases = []
    for L, N in CASES:
        entry = {"length": L, "steps": N, "masked": mask_counts(L, N)}
        f64 = mask_counts_float64(L, N)
        if f64 != entry["masked"]:
            entry["float64"] = f64
        cases.append(entry)
    return {"description": "AmusedScheduler (diffusers) masked-token counts after each of N steps from L masked: "
                           "floor(L cos(pi/2 (i+1)/N)) clamped to [1, masked - 1], 0 after the last step; computed in "
                           "float32 as the scheduler does (written by training/scripts/amused_counts_fixture.py; "
                           "'float64' lists the counts float64 arithmetic gives where they differ, e.g. L = 256, N = 12 at i = 7). "
                           "Rounding every operation to float32 reproduces all of them: with f = Math.fround, "
                           "r = f(f(i + 1) / f(N)), a = f(f(r * f(PI)) / 2), c = f(cos(a)), "
                           "mask_len = floor(f(f(L) * c))",
            "cases": cases}


def main() -> int:
    text = json.dumps(build(), indent=1) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as fh:
            return 0 if fh.read() == text else 1
    with open(OUT, "w") as fh:
        fh.write(text)
    print(f"wrote {os.path.normpath(OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
