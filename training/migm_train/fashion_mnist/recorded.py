"""Reads trajectories recorded by the TypeScript runtime (`migm record`, @migm/shortcut's TrajectoryRecorder).

Format: docs/trajectory-format.md. The result has the layout of trajectories.generate(), so the shortcut
trainer (shortcut_train.train, trajectories.pairs_at_step) takes it as is.
"""
from __future__ import annotations

import numpy as np
import torch

from ..shortcut.recording import Recording, RecordingError  # noqa: F401  (RecordingError: this loader's errors)


def load(directory: str) -> dict:
    """The whole recording in memory (features float16 [images, steps, branches, L, D]), read with the shared
    reader (migm_train.shortcut.recording), which checks the index and every file's size."""
    rec = Recording(directory)
    n_img, steps, branches, L, D = rec.images, rec.steps, rec.branches, rec.L, rec.P
    out = np.empty((n_img, steps, branches, L, D), dtype=np.float16)
    for run in rec.index["runs"]:
        b, first, off = run["images"], run["firstImage"], run["featureOffset"] // 4
        # A run is stored step-major as [steps, branches * images, L, D] (rows are [cond; uncond]).
        block = np.asarray(rec.features[off:off + steps * branches * b * L * D]).reshape(steps, branches, b, L, D)
        out[first:first + b] = block.transpose(2, 0, 1, 3, 4)
    return {"features": torch.from_numpy(out), "tokens": torch.from_numpy(rec.tokens),
            "reveal": torch.from_numpy(rec.reveal), "classes": torch.from_numpy(rec.classes),
            "steps": steps, "branches": branches, "index": rec.index}
