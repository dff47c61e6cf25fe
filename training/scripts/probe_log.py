"""Output plumbing shared by the probe scripts: timestamped log lines, and result rows appended as JSON lines."""
from __future__ import annotations

import json
import time


class ProbeLog:
    """`log(msg)` prints msg with the seconds since start; `log.emit(row)` appends row to `out` as a JSON line
    (so a run cut short by its time limit keeps every finished row) and prints it."""

    def __init__(self, out: str):
        self.out, self.t0 = out, time.time()

    def __call__(self, msg: str) -> None:
        print(f"[{time.time() - self.t0:6.0f}s] {msg}", flush=True)

    def emit(self, row: dict) -> None:
        with open(self.out, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        self(json.dumps(row))
